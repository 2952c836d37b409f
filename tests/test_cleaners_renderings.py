"""Renderings of the cables beyond the December-2010 viewer: its 2011 builds, text dumps, PDF text."""

from __future__ import annotations

import json

import pytest

from cleaners import clean, clean_page
from cleaners.model import Warn

from conftest import PAGES


def _text(folder: str, name: str) -> str:
    return (PAGES / folder / name).read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").split("\n")]


# --- the viewer's 2011 builds ------------------------------------------------------------


@pytest.mark.parametrize("ref", ["10STATE284", "08TRIPOLI220"])
def test_viewer_2011_build(ref: str):
    """The 2011 builds ("6093 / 251,287", an Articles sidebar, <code><pre> boxes): the boxes, nothing else."""
    page = PAGES / "viewer2011" / f"{ref}.html"
    assert b"/ 251,287" in page.read_bytes() and b"<h3>Articles</h3>" in page.read_bytes()
    (cable,) = clean(page.read_bytes())
    assert cable.reference_id == ref and cable.id_source == "table"
    assert cable.family == "cablegate"
    assert _lines(cable.text) == _lines(_text("viewer2011", f"{ref}.{ref}.txt"))
    for chrome in ("251,287", "Articles", "Browse latest releases", "Viewing cable", "Reference ID"):
        assert chrome not in cable.text


def test_viewer_full_release_chrome():
    """The full release's chrome (251287 / 251,287, one release date for all) changes nothing in the text."""
    page = (PAGES / "viewer2011" / "08TRIPOLI220.html").read_text(encoding="utf-8")
    page = page.replace("6094 / 251,287", "251287 / 251,287").replace("2011-01-31 21:09", "2011-08-30 01:44")
    page = page.replace(
        "Viewing cable 08TRIPOLI220,", "Viewing cable 08TRIPOLI220, DETAINED HUMAN RIGHTS ACTIVIST"
    )
    (cable,) = clean(page.encode())
    assert cable.released == "2011-08-30 01:44" and cable.reference_id == "08TRIPOLI220"
    assert _lines(cable.text) == _lines(_text("viewer2011", "08TRIPOLI220.08TRIPOLI220.txt"))


@pytest.mark.parametrize(
    "bad_id", ["7575LIBREVILLE1895", "09SECTION01OF03SANJOSE525", "06MADRID002583ZFR2585", "092OF5"]
)
def test_viewer_table_names_a_malformed_id(bad_id: str):
    """The viewer names some cables by malformed IDs; the table's ID is the page's name for the cable."""
    page = (PAGES / "viewer2011" / "10STATE284.html").read_text(encoding="utf-8")
    page = page.replace(">10STATE284<", f">{bad_id}<").replace(
        "Viewing cable 10STATE284,", f"Viewing cable {bad_id},"
    )
    (cable,) = clean(page.encode())
    assert cable.reference_id == bad_id
    assert cable.id_source == "table"
    assert cable.origin == "Secretary of State" and cable.created == "2010-01-04 18:06"


# --- plain-text dumps: a header block above the glued <pre> boxes -------------------------


def test_dump_partial_extract_glued_to_the_cable():
    """`...not available.UNCLAS AMMAN 002221`: the note is metadata, the cable starts at UNCLAS."""
    raw = (PAGES / "dumps" / "02AMMAN2221.txt").read_bytes()
    assert b"not available.UNCLAS AMMAN 002221" in raw
    result = clean_page(raw)
    (cable,) = result.cables
    assert result.profile == "dump"
    assert cable.reference_id == "02AMMAN2221" and cable.id_source == "table"
    assert cable.partial is True
    assert (cable.classification, cable.origin, cable.created) == ("UNCLASSIFIED", "Embassy Amman", None)
    assert cable.text.startswith("UNCLAS AMMAN 002221\n")
    assert cable.text.endswith("anti-normalizers.\nBERRY")
    for header in ("DEMARCHE ON BOYCOTT OF U.S. AND ISRAELI PRODUCTS\nMon", "+0200 2002", "partial extract"):
        assert header not in cable.text
    assert any(r.startswith("dump:") and "boundary" in r for r in cable.repairs)


def test_dump_routing_box_glued_to_the_cable_box():
    """`...NSC WASHDC PRIORITYC O N F I D E N T I A L ANKARA 004688`: split as the viewer's two boxes."""
    (cable,) = clean((PAGES / "dumps" / "06ANKARA4688.txt").read_bytes())
    assert "RHEHAAA/NSC WASHDC PRIORITY\n\nC O N F I D E N T I A L ANKARA 004688" in cable.text
    assert "PRIORITYC O N F" not in cable.text
    assert cable.text.startswith("VZCZCXYZ0015\nPP RUEHWEB\n")
    assert cable.classification == "CONFIDENTIAL//NOFORN"
    assert cable.partial is False


def test_dump_teletype_boxes_of_a_partial_extract():
    """00HOCHIMINHCITY838: note, a box with the date, record and teletype head, then the cable box glued to it."""
    (cable,) = clean((PAGES / "dumps" / "00HOCHIMINHCITY838.txt").read_bytes())
    assert cable.partial is True and cable.reference_id == "00HOCHIMINHCITY838"
    assert cable.text.startswith("170856Z May 00\n\n2000HOCHI00838 - UNCLASSIFIED\n")
    assert "INFO AMEMBASSY HANOI\n\nUNCLAS SECTION 01 OF 03 HO CHI MINH CITY 000838" in cable.text
    assert cable.text.rstrip().endswith("RAY\n\n                       UNCLASSIFIED")


@pytest.mark.parametrize("date", ["2006-08-11 00:00:00 +0200", "2006-08-11 14:53", "Date: 2006-08-11"])
def test_dump_date_formats(date: str):
    """The date line as other Ruby versions and dumpers wrote it."""
    raw = (PAGES / "dumps" / "06ANKARA4688.txt").read_text(encoding="utf-8").split("\n")
    raw[2] = date
    result = clean_page("\n".join(raw).encode())
    assert result.profile == "dump"
    (cable,) = result.cables
    assert cable.id_source == "table" and cable.classification == "CONFIDENTIAL//NOFORN"


def test_dump_block_needs_its_shape():
    """A text that opens with an ID and no date or classification line is not read as a dump header."""
    raw = (PAGES / "dumps" / "06ANKARA4688.txt").read_text(encoding="utf-8").split("\n")
    del raw[2:4]  # no date, no classification
    result = clean_page("\n".join(raw).encode())
    assert result.profile != "dump"
    assert all(c.id_source != "table" for c in result.cables)


@pytest.mark.parametrize(
    ("ref", "expected_id"),
    [("02AMMAN2221", None), ("06ANKARA4688", "06ANKARA4688"), ("00HOCHIMINHCITY838", "00HOCHIMINHCITY838")],
)
def test_dump_without_its_header_block(ref: str, expected_id: str | None):
    """Only the boxes' text, glued as the dumper wrote them: the cable is found, its ID from its own text.

    02AMMAN2221 is a partial extract with no date at all: no ID rather than a guessed year.
    """
    raw = _text("dumps", f"{ref}.txt").split("\n")[5:]  # the ID, subject, date, classification, origin
    result = clean_page("\n".join(raw).encode())
    (cable,) = result.cables
    assert _lines(cable.text) == _lines(_text("dumps", f"{ref}.{ref}.txt"))
    assert cable.reference_id == expected_id
    if expected_id is None:
        assert any(w.kind == Warn.NO_ID for w in cable.warnings)
    else:
        assert cable.id_source == "dtg+serial"
    assert cable.partial is (ref != "06ANKARA4688")


def test_viewer_page_copied_to_text_without_header_markers():
    """A viewer page as text whose box shows no SUBJECT, TAGS or E.O. (the tail of a long cable):
    the box under the table row is the cable, to the end of the text, named by the row."""
    body = (
        "Reference ID  Created  Released  Classification  Origin\n"
        "78TEHRAN389  1978-01-12 07:00  2010-12-05 12:12  CONFIDENTIAL  Embassy Tehran\n\n"
        "CONFIDENTIAL TEHRAN 000389\n\n"
        "SHAH AND/OR USG. BY THE SAME TOKEN, IT IS POSSIBLE TO\n"
        "CONCLUDE THAT RELATIVE POLICE LENIENCY ENCOURAGED MORE\n"
        "VIOLENT DEMONSTRATION. Re\n"
        "cent months show it.\n\n"
        "SULLIVAN\n\nCONFIDENTIAL\n\n"
        "Declassified/Released US Department of State EO Systematic\nReview 30 JUN 2006\n"
    )
    (cable,) = clean(body.encode())
    assert cable.reference_id == "78TEHRAN389" and cable.id_source == "table"
    assert cable.text.startswith("CONFIDENTIAL TEHRAN 000389\n\nSHAH AND/OR")
    assert cable.text.endswith("Review 30 JUN 2006")
    assert cable.signers == ["SULLIVAN"]


def test_blog_page_saved_as_text_ends_before_its_chrome():
    """A blog page saved as text, the viewer's table and box pasted in it: the comment form is not the cable's."""
    body = (
        "Reference ID Created Released Classification Origin\n"
        "08ASTANA611 2008-03-21 05:37 2011-08-30 01:44 UNCLASSIFIED Embassy Astana\n\n"
        "UNCLAS ASTANA 000611\n\nTags: prel, pgov\n\nSome text of the cable.\n\n"
        "Leave a Reply\n\nConnecting to %s\n"
    )
    (cable,) = clean(body.encode())
    assert cable.text == "UNCLAS ASTANA 000611\n\nTags: prel, pgov\n\nSome text of the cable."


# --- text converted from the cablegate PDFs (CRLF, cp1252, page footers) ------------------


def test_pdf_text_last_line_after_a_page_footer():
    """The page footer stands just before the cable's last line; that line is the cable's, not chrome."""
    raw = (PAGES / "pdftext" / "09UNVIEVIENNA285.txt").read_bytes()
    assert b"\r\n" in raw and b"\xb6" in raw  # CRLF and cp1252's pilcrow
    result = clean_page(raw)
    (cable,) = result.cables
    assert result.encoding == "cp1252"
    assert cable.reference_id == "09UNVIEVIENNA285"
    assert "\r" not in cable.text and "¶" in cable.text
    assert cable.text.endswith(
        "IAEA safety\n\nUNVIE VIEN 00000285  036.2 OF 036\n\n\nstandards are generally followed."
    )


def test_pdf_text_page_footer_before_the_signer():
    """A page footer, blank lines, then the signer: all of it is the cable's."""
    (cable,) = clean((PAGES / "pdftext" / "09PARIS1040.txt").read_bytes())
    assert cable.text.endswith("PARIS 00001040  003 OF 003\n\n\n\n\nPEKALA")


# --- blog chrome inside the post body -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "must_not"),
    [
        (
            "wp_gruen-digital.br_paragraphs",
            ["Previous post", "Next post", "Related Posts", "Fachgespräch Legal Tech"],
        ),
        ("wpcom_buchperlen.br_paragraphs", ["20. Oktober 2013", "Leandra-Lou", "Kategorie"]),
        ("wp_meedia.br_paragraphs", ["Anzeige"]),
    ],
)
def test_theme_chrome_inside_the_post_body(name: str, must_not: list[str]):
    """Real themes put links, bylines and ad labels inside the post body, right after the cable."""
    truth = json.loads((PAGES / "blogchrome" / f"{name}.json").read_text(encoding="utf-8"))
    (cable,) = clean((PAGES / "blogchrome" / f"{name}.html").read_bytes(), url=truth["url"])
    ref = truth["cables"][0]["reference_id"]
    assert cable.reference_id == ref
    want = _text("blogchrome", f"{name}.{ref}.txt")
    assert cable.text.split() == want.split()
    for phrase in must_not:
        assert phrase not in cable.text


@pytest.mark.parametrize(
    "widget",
    [
        "<p>Share this video</p><p><a>Facebook</a> <a>Twitter</a> <a>Copy link</a></p>",
        "<ul class='social'><li>Facebook</li><li>Twitter</li><li>WhatsApp</li><li>Email</li></ul>",
        "<div><span>Share this:</span> <a>Facebook</a> <a>Twitter</a> <a>Email</a></div>",
        "<div class='related'><h3>You may also like</h3><ul><li>The oil deal nobody mentioned</li></ul></div>",
        "<div><h4>Get the newsletter</h4><p>Sign up to receive our weekly digest of declassified documents.</p></div>",
        "<div><p>3 Likes</p><p>Reply</p></div>",
    ],
)
def test_widgets_after_a_cable_without_signer(widget: str):
    """Share bars, "Share this video", related posts, newsletter boxes after a cable that ends without a signer."""
    cable_text = _text("pdftext", "09UNVIEVIENNA285.09UNVIEVIENNA285.txt")
    tail = "\n".join(cable_text.strip("\n").split("\n")[-12:])
    head = (
        "UNCLAS SECTION 01 OF 36 UNVIE VIENNA 000285\n\nSIPDIS\n\nE.O. 12958: N/A\nTAGS: ENRG KNNP IAEA\n"
        "SUBJECT: A TEST\n\n¶1. (U) Summary.  The meeting took place.\n\n"
    )
    import html

    paras = [p for p in (head + tail).split("\n\n") if p.strip()]
    body = "".join("<p>" + "<br>".join(html.escape(x) for x in p.split("\n")) + "</p>" for p in paras)
    page = f"<html><body><article class='post'><div class='post-content'>{body}{widget}</div></article></body></html>"
    (cable,) = clean(page.encode(), url="https://example.org/2010/12/09unvievienna285/")
    assert cable.text.rstrip().endswith("standards are generally followed.")


# --- pre-2004 teletype headers and message-handling preambles ----------------------------

_CORPUS_LIKE = {
    # A teletype page head above the routing (a 1990 cable as the viewer published it).
    "teletype": "CONFIDENTIAL\n\nPAGE 01        CAPE T  00097  01 OF 03  182017Z\nACTION AF-00\n\n"
    "INFO  LOG-00   ADS-00   INR-05   EUR-00   SS-00    CIAE-00  DODE-00\n"
    "                    ------------------352654  200910Z /23\nR 171512Z JAN 90\n"
    "FM AMCONSUL CAPE TOWN\nTO SECSTATE WASHDC 5365\n\n"
    "C O N F I D E N T I A L SECTION 01 OF 03 CAPE TOWN 00097\n\n\n"
    "E.O. 12356:  DECL:  OADR\nTAGS: PGOV PHUM SF\nSUBJ:  ESSA MOOSA TALKS ABOUT MANDELA\n\n"
    "¶1.  CONFIDENTIAL - ENTIRE TEXT.\n\n¶2.  ATTORNEY ESSA MOOSA SAYS MANDELA FULLY EXPECTS THE UNBANNING.\n"
    "SPIEGEL\n",
    # A post's message-handling preamble above the cable (a 2009 Doha cable as published).
    "preamble": "Stephen H Rogerson  12/02/2009 11:08:08 AM  From  DB/Inbox:  Search\nResults\n\n"
    "Cable\nText:\n\n\nS E C R E T        DOHA 00214\nCXDOHA:\n    ACTION: AMB\n"
    "    INFO:   RSO RAO P/E OMC LEGATT DAO DCM\n\nDISSEMINATION: AMB /1\nCHARGE: PROG\n\n"
    "APPROVED: AMB:JLABARON\nDRAFTED: P/E:MZEBLEY\n\nVZCZCDOI550\nRR RUEHC\nDE RUEHDO #0214/01 0851529\n"
    "R 261529Z MAR 09\nFM AMEMBASSY DOHA\nTO SECSTATE WASHDC 8737\n\nS E C R E T SECTION 01 OF 02 DOHA 000214\n\n"
    "SIPDIS\n\nE.O. 12958: DECL: 03/26/2019\nTAGS: PTER PREL QA\nSUBJECT: A TEST OF THE PREAMBLE\n\n"
    "Classified By: Ambassador Joseph LeBaron, reasons 1.4 (b) and (d).\n\n"
    "¶1. (S) The meeting took place as planned and nothing more was said about it.\n\nLEBARON\n",
}


def _as_page(text: str, style: str) -> bytes:
    """The cable as a text file, in a <pre>, or as <br> paragraphs in a blog post."""
    import html

    if style == "text":
        return text.encode()
    if style == "pre":
        body = f"<pre>{html.escape(text)}</pre>"
    else:
        paras = [p for p in text.split("\n\n") if p.strip()]
        body = "\n".join("<p>" + "<br>\n".join(html.escape(x) for x in p.split("\n")) + "</p>" for p in paras)
    return (
        "<html><head><title>From the release</title></head><body><div class='entry-content'>"
        f"<p>Another one from the archive, posted without comment.</p>\n{body}\n<p>More soon.</p></div></body></html>"
    ).encode()


@pytest.mark.parametrize("style", ["text", "pre", "br"])
@pytest.mark.parametrize(
    ("kind", "ref", "first"),
    [("teletype", "90CAPETOWN97", "CONFIDENTIAL"), ("preamble", "09DOHA214", "Stephen H Rogerson")],
)
def test_header_and_preamble_stay_in_the_text(kind: str, ref: str, first: str, style: str):
    """A teletype page head and a message-handling preamble are part of the cable as published."""
    (cable,) = clean(_as_page(_CORPUS_LIKE[kind], style))
    assert cable.reference_id == ref
    assert cable.text.startswith(first)
    assert " ".join(cable.text.split()) == " ".join(_CORPUS_LIKE[kind].split())
    assert "posted without comment" not in cable.text and "More soon" not in cable.text


def test_fixture_truths_are_complete():
    """Every rendering fixture has its truth and text (the test data itself is checked)."""
    for folder in ("viewer2011", "dumps", "pdftext"):
        truths = sorted((PAGES / folder).glob("*.json"))
        assert len(truths) >= 2, folder
        for t in truths:
            data = json.loads(t.read_text(encoding="utf-8"))
            for c in data["cables"]:
                assert (PAGES / folder / f"{data['id']}.{c['reference_id']}.txt").exists()


def test_a_decade_is_no_mention_of_a_year():
    """`the 1980s and 1990s` names no year: a dateless cable's year is not pulled to 1990 (05PARIS1807)."""
    text = (
        "C O N F I D E N T I A L PARIS 001807\n\nSIPDIS\n\nE.O. 12958: DECL: 03/16/2015\n"
        "TAGS: PTER PREL FR\nSUBJECT: FRANCE: A TEST\n\nClassified By: Political Minister Counselor.\n\n"
        "¶1. (C) Investigating judges in the 1980s and 1990s had wide powers; the 1990s saw reforms.\n\n"
        "¶2. (C) Leonnet described the 1980s and 1990s as decades of change.\n\nSTAPLETON\n"
    )
    (cable,) = clean(text.encode())
    assert cable.reference_id == "05PARIS1807"
    assert cable.id_source == "inferred"


@pytest.mark.parametrize("style", ["text", "br"])
def test_a_name_before_a_page_break_is_no_signer(style: str):
    """`... international law." Sarkozy` / `PARIS 00000130 003.2 OF 003` / `confirmed that ...`: the text goes on."""
    text = (
        "C O N F I D E N T I A L SECTION 03 OF 03 PARIS 000130\n\nSIPDIS\n\nE.O. 12958: DECL: 01/23/2018\n"
        "TAGS: PREL FR\nSUBJECT: SARKOZY ON FOREIGN POLICY\n\n"
        "¶9. (C) He called for sanctions against Iran, while aiming to return Iran to full\n"
        'respectability "once it respects international law." Sarkozy\n\nPARIS 00000130 003.2 OF 003\n\n\n'
        "confirmed that France would host the next Afghanistan donors\nconference.\n\n"
        "The speech sets the course for the French Presidency of the EU this summer. END COMMENT.\n"
    )
    (cable,) = clean(_as_page(text, style))
    assert "confirmed that France" in cable.text and "END COMMENT." in cable.text


def test_blogger_aside_before_long_page_text():
    """A cable without signer, the blogger's one-liner, then long teasers of other posts: cut at the one-liner."""
    text = (
        "C O N F I D E N T I A L PARIS 000130\n\nSIPDIS\n\nE.O. 12958: DECL: 01/23/2018\nTAGS: PREL FR\n"
        "SUBJECT: SARKOZY ON FOREIGN POLICY\n\n¶1. (C) Summary. The speech sets the course for the French\n"
        "Presidency of the European Union that begins in July. END COMMENT.\n"
    )
    teasers = (
        "<p>That's all for today.</p><h3>Diesel-Umtauschprämien</h3><p>Fragen und Antworten zur Umweltprämie "
        "und zu den Sonderrabatten der Hersteller: wir vergleichen die Angebote aller Marken und erklären, "
        "für wen sich der Umtausch lohnt und wann nicht, mit Beispielen aus der Praxis.</p>"
        "<p>Kindersitze im Test: die besten Modelle für jedes Alter, von der Babyschale bis zur Sitzerhöhung, "
        "geprüft in Crashtests und bewertet nach Handhabung, Ergonomie und Schadstoffen.</p>"
    )
    page = _as_page(text, "br").replace(b"<p>More soon.</p>", teasers.encode())
    (cable,) = clean(page)
    assert cable.text.rstrip().endswith("END COMMENT.")
    assert "That's all" not in cable.text and "Kindersitze" not in cable.text


def test_blog_tags_line_is_no_cable_header():
    """A cable reflowed without paragraph numbers, then the blog's own Tags line: the signer still ends it."""
    routing = "VZCZCXRO9083 OO RUEHLH RUEHPW DE RUEHPW #0002/01 0030902 ZNY SSSSS ZZH O 030902Z JAN 09 " + (
        "FM AMCONSUL PESHAWAR TO RUEHC/SECSTATE WASHDC IMMEDIATE 0001 INFO RUEHIL/AMEMBASSY ISLAMABAD "
        "PRIORITY 0002 RUEHLH/AMCONSUL LAHORE PRIORITY 0003 RUEHKP/AMCONSUL KARACHI PRIORITY 0004 " * 6
    )
    cable = (
        "S E C R E T SECTION 01 OF 03 PESHAWAR 000002 SIPDIS E.O. 12958: DECL: 01/05/2019 TAGS: PGOV PTER PK "
        "SUBJECT: MILITANTS GAIN GROUND Classified By: Principal Officer, reasons 1.4 (b) and (d). "
        + "1. (S) A long paragraph of the cable's own text that goes on and on about the situation. " * 6
        + "XXXXXXXXXXXX believes the militants are winning in both FATA and NWFP. VIA"
    )
    page = (
        "<html><body><div class='entry-content'><p>Aus den Depeschen.</p>"
        f"<p>{routing}</p><p>{cable}</p><p>20 Cent 1 Bilt</p><p>Tags: Bilt, Cent, Eimsbüttel</p></div></body></html>"
    )
    (c,) = clean(page.encode(), url="https://example.org/2010/12/09peshawar2/")
    assert c.text.endswith("NWFP. VIA")


def test_post_url_names_the_cable_whose_header_is_another():
    """09HAVANA132's header names MOSCOW 512: a post whose URL names 09HAVANA132 keeps that ID, with a warning."""
    import html

    text = _text("cablegate", "09HAVANA132.09HAVANA132.txt")
    page = f"<html><body><div class='entry-content'><pre>{html.escape(text)}</pre></div></body></html>"
    (cable,) = clean(page.encode(), url="https://example.org/2010/12/us-embassy-cable-09havana132/")
    assert cable.reference_id == "09HAVANA132" and cable.id_source == "url"
    assert any(w.kind == "id conflict" for w in cable.warnings)


def test_hostile_dump_lines():
    """A dump header over huge glued lines: cleaned without a crash, nothing invented."""
    head = "02AMMAN2221\nSUBJECT\nMon May 06 00:00:00 +0200 2002\nUNCLASSIFIED\nEmbassy Amman\n"
    for body in (
        "X" + " SECRET AMMAN" * 20000 + "\n",
        "RUEHXX/AMEMBASSY FOO PRIORITYUNCLAS AMMAN 002221\n" * 3000,
    ):
        result = clean_page((head + body).encode())
        assert result.cables == [] and result.has_warning("no cable")
