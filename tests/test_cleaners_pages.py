"""The cleaners on real pages: exact texts, metadata, no chrome, no invented cables."""

from __future__ import annotations

import re

import pytest

from cleaners import clean, clean_page

from conftest import PAGES, truth_cases

# Phrases of blog and viewer chrome that never belong in a cable's text.
CHROME = [
    "Leave a Reply",
    "Fill in your details below",
    "You are commenting using your",
    "Connecting to %s",
    "bloggers like this",
    "Post a comment or leave a trackback",
    "Notify me of new comments",
    "Your email address will not be published",
    "Share this:",
    "Like this:",
    "Related posts",
    "Post a Comment",
    "Newer Post",
    "Older Post",
    "Subscribe to: Post Comments",
    "Log Out /",
    "WikiLeaks Link",
    "To understand the justification used for the classification",
    "Discussing cables",
    "If you find meaningful or important information in a cable",
    "Please mark messages for social networking services",
    "Currently released so far",
    "Browse latest releases",
    "courage is contagious",
    "Understanding cables",
    "Every cable message consists of three parts",
    "Keep Us Strong",
    "Trackback URL",
    "This record is a partial extract of the original cable",
    # the blogger's own words around the cables in these fixtures
    "Filed under the cablegate tag",
    "Let me know in the comments",
    "(End of cable.)",
    "The cable below was published today",
    "Here is the full text of the cable",
    "Andrew Montalenti",
    "Categories:",
]
META = ("reference_id", "classification", "created", "released", "origin")


def _fold(text: str) -> str:
    return " ".join(text.split())


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").split("\n")]


def _cases(*folders: str) -> list:
    return [
        pytest.param(page, truth, id=page.stem) for folder in folders for page, truth in truth_cases(folder)
    ]


@pytest.mark.parametrize(
    ("page", "truth"), _cases("cablegate", "mirrors", "viewer2011", "dumps", "pdftext", "blogchrome")
)
def test_every_cable_exactly(page, truth):
    """Each page gives exactly its cables, with the true text and metadata and no chrome."""
    cables = clean(page.read_bytes(), url=truth["url"])
    assert [c.reference_id for c in cables] == [c["reference_id"] for c in truth["cables"]]
    for cable, want in zip(cables, truth["cables"], strict=True):
        expected = (page.parent / f"{truth['id']}.{want['reference_id']}.txt").read_text(encoding="utf-8")
        if truth.get("lines_preserved", True):
            assert _lines(cable.text) == _lines(expected)
        else:
            assert _fold(cable.text) == _fold(expected)
        for key in META:
            if key in want:
                assert getattr(cable, key) == want[key], key
        for phrase in CHROME:
            assert phrase not in cable.text, phrase
        assert cable.ruleset is not None and cable.ruleset.digest.startswith("sha256:")


def test_same_cables_without_the_url():
    """IDs come from the page itself (table, title, heading, header) when the URL is unknown."""
    for page, truth in truth_cases("mirrors"):
        refs = [c.reference_id for c in clean(page.read_bytes())]
        assert refs == [c["reference_id"] for c in truth["cables"]], page.name


@pytest.mark.parametrize(("page", "truth"), _cases("negatives"))
def test_no_cable_invented(page, truth):
    """A blog's own posts hold no cable, and none is made up."""
    result = clean_page(page.read_bytes(), url=truth["url"])
    assert result.cables == []
    assert any("no cable" in w for w in result.warnings)


def test_viewer_partial_extract_is_metadata():
    """The partial-extract note sets the flag; its box (the viewer's date header) is not text."""
    (cable,) = clean((PAGES / "cablegate" / "00HARARE6677.html").read_bytes())
    assert cable.partial is True
    assert "partial extract" not in cable.text
    assert cable.text.startswith("Wednesday, 29 November 2000, 13:59")
    assert cable.id_source == "table"
    assert cable.family == "cablegate"


def test_viewer_table_beats_a_garbled_header():
    """09HAVANA132's header names MOSCOW 512; the viewer's table names the cable."""
    (cable,) = clean((PAGES / "cablegate" / "09HAVANA132.html").read_bytes())
    assert cable.reference_id == "09HAVANA132"
    assert any("MOSCOW" in w for w in cable.warnings)


def test_debris_in_viewer_text_is_kept():
    """What the page says, the text keeps: a stray '<' and '<<218634>>' stay."""
    (madrid,) = clean((PAGES / "cablegate" / "10MADRID87.html").read_bytes())
    assert "\n <\nREF: A. 2009 MADRID 59" in madrid.text
    (khartoum,) = clean((PAGES / "cablegate" / "09KHARTOUM881.html").read_bytes())
    assert "<<218634>>" in khartoum.text


def test_br_markup_inside_pre():
    """A <br> before the <pre>'s own newline adds no line (the viewer's text has one break)."""
    page = PAGES / "history" / "1_61f51579.html"
    (cable,) = clean(page.read_bytes())
    assert _lines(cable.text) == _lines(page.with_suffix(".txt").read_text(encoding="utf-8"))


def test_header_metadata_from_the_cable():
    """SUBJECT on one line, TAGS as a list, references, signer, sections, paragraph count."""
    (cable,) = clean((PAGES / "cablegate" / "09BRASILIA1447.html").read_bytes())
    assert cable.subject and "\n" not in cable.subject
    assert cable.tags and all(t == t.strip() for t in cable.tags)
    assert cable.paragraphs > 3
    assert cable.signers == ["KUBISKE"]


@pytest.mark.parametrize(
    ("name", "must", "must_not"),
    [
        (
            "01_wpcom_twentyeleven_denkanstoos.00.viewer_paste",
            ["SUBJECT: UNDERSTANDING BRAZIL'S FOREIGN MINISTRY, PART 1:"],
            ["WikiLeaks Link", "Reference ID"],
        ),
        ("05_wp_kubrick-alterorabolish_pixelmonkey.13.viewer_render", ["FEINSTEIN"], ["Parse.ly", "RSS 2.0"]),
        ("18_hugo_ananke_pluralsight.04.pre_only", ["EIKENBERRY"], ["Categories:", "Tags: python"]),
        ("13_blogofile_disqus_gregoryszorc.14.pre_only", ["CLINTON"], ["Disqus", "Cable 09STATE15113"]),
        ("02_wpcom_vip_techcrunch.06.br_paragraphs", ["¶1."], ["Â¶", "Sponsored Ads", "Got a Tip?"]),
    ],
)
def test_must_and_must_not(name, must, must_not):
    """Passages that must survive cleaning, and chrome that must not."""
    text = "\n".join(c.text for c in clean((PAGES / "mirrors" / f"{name}.html").read_bytes()))
    for passage in must:
        assert passage in text
    for passage in must_not:
        assert passage not in text


def test_mojibake_repaired_and_recorded():
    """UTF-8 read as cp1252 (Â¶) is repaired, and the repair is in the provenance."""
    page = PAGES / "mirrors" / "02_wpcom_vip_techcrunch.06.br_paragraphs.html"
    assert "Â¶".encode() in page.read_bytes()
    (cable,) = clean(page.read_bytes())
    assert "Â" not in cable.text and "¶" in cable.text
    assert any(r.startswith("mojibake") for r in cable.repairs)


def test_several_cables_in_one_post():
    """A post with three cables gives three, each with its own text and ID."""
    page = PAGES / "mirrors" / "04_wpcom_vip_wikimedia.19.pre_only.html"
    cables = clean(page.read_bytes())
    assert [c.reference_id for c in cables] == ["09TRIPOLI771", "08STATE37957", "08BUENOSAIRES235"]
    # Only the second cable has a heading above it; the others are named by their own headers.
    assert [c.id_source for c in cables] == ["dtg+serial", "heading", "dtg+serial"]
    assert not any(re.search(r"^Cable \d", c.text, re.M) for c in cables)


def test_seed_viewer_render_as_markdown():
    """Seed 000: markdown undone, ¶ markers restored; no year on the page, so the ID is inferred, and says so."""
    (cable,) = clean((PAGES / "seeds" / "000_d89db4d110e0bcd4.txt").read_bytes())
    # DECL 02/28/2015 with REF 05 ALMATY 4441: not 2005 (it cites a 2005 cable by year), so 2006.
    assert cable.reference_id == "06ALMATY808"
    assert cable.id_source == "inferred"
    assert any("inferred" in w and "2006" in w and "(2005)" in w for w in cable.warnings)
    assert cable.partial is True
    assert cable.text.startswith("C O N F I D E N T I A L SECTION 01 OF 02 ALMATY 000808")
    assert cable.text.rstrip().endswith("ORDWAY")
    assert "¶6. (C) On March 1" in cable.text and "\n16. (C)" not in cable.text
    assert "**" not in cable.text and "](#)" not in cable.text
    assert cable.tags == ["PREL", "PHUM", "PREF", "PTER", "KZ", "POLITICAL"]
    assert any(r.startswith("pilcrows") for r in cable.repairs)


def test_seed_wordpress_text():
    """Seed 003: the viewer's table gives the ID and metadata; the comment form is dropped."""
    (cable,) = clean((PAGES / "seeds" / "003_f16c3b64a04b1e57.txt").read_bytes())
    assert cable.reference_id == "08ASTANA611"
    assert cable.id_source == "table"
    assert cable.classification == "UNCLASSIFIED//FOR OFFICIAL USE ONLY"
    assert cable.created == "2008-03-21 05:37"
    assert cable.origin == "Embassy Astana"
    assert cable.text.startswith("DE RUEHTA #0611/01 0810537")
    assert cable.text.rstrip().endswith("End Comment.")
    for phrase in ("Leave a Reply", "Trackback", "bloggers like this", "WikiLeaks Link"):
        assert phrase not in cable.text


def _header(decl: str, refs: str = "") -> str:
    """A dateless cable header with a DECL line and, optionally, a REF line."""
    ref_line = f"REF: {refs}\n\n" if refs else ""
    return (
        "C O N F I D E N T I A L ALMATY 000808\n\nSIPDIS\n\n"
        f"E.O. 12958: DECL: {decl}\nTAGS: PREL PHUM KZ\nSUBJECT: KAZAKHSTAN: A TEST\n\n{ref_line}"
        "Classified By: DCM FOR REASONS 1.4(B) and (D)\n\n"
        "1. (C) The meeting took place as planned and nothing more was said about it.\n\nORDWAY\n"
    )


@pytest.mark.parametrize(
    ("decl", "refs", "expected"),
    [
        ("02/28/2015", "", "05ALMATY808"),  # ten years before the DECL date
        ("02/28/2015", "A. 05 ALMATY 4441", "06ALMATY808"),  # 2005 ruled out by its reference
        ("02/28/2015", "A. 10 ALMATY 12", None),  # every candidate ruled out or weak: no guess
        ("02/28/2015", "A. 02 ALMATY 12", "05ALMATY808"),  # an old reference changes nothing
        ("02/28/2029", "", None),  # not 2019 (after the last cable); 25 or 20 years: left open
    ],
)
def test_year_inference_from_declassification_and_references(decl: str, refs: str, expected: str | None):
    """A dateless cable gets an inferred ID only when DECL and its dated references settle the year."""
    (cable,) = clean(_header(decl, refs).encode())
    assert cable.reference_id == expected
    if expected:
        assert cable.id_source == "inferred"
        assert any(w.startswith("reference ID inferred") for w in cable.warnings)
    else:
        assert any("not established" in w for w in cable.warnings)
