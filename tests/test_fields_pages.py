"""Header fields on real pages: what must be read, and what must not leak into a field."""

from __future__ import annotations

import io
import json
import re

import pytest

from cleaners import clean
from crawler.cleanfiles import clean_paths

from cablemap_cases import render_page, template
from conftest import PAGES

# Viewer pages from cablemap's test data (data-subject): the viewer's text dumps end every line
# with a backslash, and some dump other cables' rows after the cable.
CABLEMAP = PAGES / "cablemap"


def _one(path):
    (cable,) = clean(path.read_bytes())
    return cable


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("07BERN881", 'FM CALMY-REY "TAKES NOTE" OF USG CONCERNS REGARDING IRAN/IAEA AND IRAN/EGL'),
        ("08BRASILIA93", "BRAZIL'S NUCLEAR SUBMARINE AMBITIONS"),
        (
            "08REYKJAVIK195",
            'ICELAND: PEACEKEEPING TAKES ON A MORE CIVILIAN LOOK AFTER REPORT ON 2004 "CHICKEN STREET INCIDENT"',
        ),
        ("08TRIPOLI220", None),  # no SUBJECT line; the cables dumped after it have theirs
        ("10STATE284", None),
    ],
)
def test_subjects_of_viewer_dumps(name, subject):
    assert _one(CABLEMAP / f"{name}.html").subject == subject


def test_bern_header_through_continuation_marks():
    """07BERN881: the header fields are read through the backslash marks, the dumped rows left alone."""
    cable = _one(CABLEMAP / "07BERN881.html")
    assert cable.tags == ["MNUC", "KNNP", "ETTC", "IR", "SZ"]
    assert [(r["label"], r["kind"], r["id"]) for r in cable.references] == [
        ("A", "cable", "07STATE124823"),
        ("B", "other", None),
        ("C", "cable", "07BERN860"),
        ("D", "cable", "07STATE123352"),
    ]
    assert cable.references[1]["text"] == "GUHA-CARTER E-MAIL (07SEP07)"
    assert cable.classified_by == ["Leigh Carter"]
    assert cable.classified_reasons == ["1.4(b)", "1.4(d)"]
    assert cable.transmission_id == "VZCZCXRO4549"
    assert cable.recipients == [{"route": "RUEHC", "name": "SECSTATE WASHDC", "precedence": "IMMEDIATE"}]
    assert cable.info[0] == {"route": "RUCNMEU", "name": "EU INTEREST COLLECTIVE", "precedence": "PRIORITY"}
    assert cable.info[-1]["name"] == "DEPT OF TREASURY WASHINGTON DC"
    assert cable.decl == {"date": "2027-09-10", "raw": "09/10/2027"}
    assert cable.summary and cable.summary.startswith("Per instructions in reftel A, CDA met FM Calmy-Rey")
    for value in (cable.subject, *cable.tags, *(r["text"] for r in cable.references), cable.summary):
        assert "\\" not in value and "¶" not in value
    assert not any("TBILISI" in (r["id"] or "") for r in cable.references)


def test_reykjavik_classifier_with_a_particle():
    cable = _one(CABLEMAP / "08REYKJAVIK195.html")
    assert cable.classified_by == ["Carol van Voorst"]
    assert cable.signers == ["VAN VOORST"]
    assert [r["id"] for r in cable.references] == ["06REYKJAVIK431"]


def test_brasilia_fields():
    cable = _one(PAGES / "cablegate" / "09BRASILIA1447.html")
    assert cable.canonical_id == cable.reference_id == "09BRASILIA1447"
    assert cable.signers == ["KUBISKE"]
    assert cable.transmission_id == "VZCZCXRO7348"
    assert cable.recipients == [{"route": "RUEHC", "name": "SECSTATE WASHDC", "precedence": None}]
    assert cable.info[0]["name"] == "WESTERN HEMISPHERIC AFFAIRS DIPL POSTS"
    assert cable.subject and "\n" not in cable.subject


def test_old_telegram_header_page_break_inside_the_subject():
    """00HARARE6677: the subject goes on after the page break (marking, PAGE 02 ... 291400Z)."""
    cable = _one(PAGES / "cablegate" / "00HARARE6677.html")
    assert cable.subject == "ASSISTANT SECRETARY MEETS WITH ZIMBABWE OPPOSITION LEADER"
    assert cable.tags == ["PGOV", "PREL", "ECON", "PINR", "ZI", "SA"]
    assert [r["id"] for r in cable.references] == ["00HARARE6584"]
    assert cable.classified_by == ["TOM MCDONALD"]
    assert cable.signers == ["MCDONALD"]


def test_lower_case_flat_header():
    """04ANKARA348: a header in small letters, its fields on one line."""
    cable = _one(PAGES / "cablegate" / "04ANKARA348.html")
    assert cable.tags == ["prel", "pgov", "pins", "tu"]
    assert (
        cable.subject
        == "turkish p.m. Erdogan goes to washington: how strong a leader in the face of strong challenges?"
    )
    assert cable.decl == {"date": "2014-01-07", "raw": "01/07/2014"}


def test_markdown_tags_of_a_re_rendering_viewer():
    (cable,) = clean((PAGES / "seeds" / "000_d89db4d110e0bcd4.txt").read_bytes())
    assert cable.tags == ["PREL", "PHUM", "PREF", "PTER", "KZ", "POLITICAL"]
    assert [r["id"] for r in cable.references] == ["05ALMATY4441", "05ALMATY4393"]
    assert cable.signers == ["ORDWAY"]


def test_malformed_viewer_id_is_kept_and_repaired():
    """The viewer names a 1975 cable 7575LIBREVILLE1895: that ID is kept, and the canonical one is repaired."""
    content = "C O N F I D E N T I A L LIBREVILLE 1895\n\n4. AMBASSADOR KIM WILL CALL PARK.\nSTEIGMAN\nCONFIDENTIAL\n"
    page = render_page(template(), content, "7575LIBREVILLE1895", 1975, "Embassy Libreville")
    (cable,) = clean(page)
    assert cable.reference_id == "7575LIBREVILLE1895"
    assert cable.canonical_id == "75LIBREVILLE1895"
    assert cable.id_source == "table"
    assert cable.signers == ["STEIGMAN"]


def test_clean_json_writes_every_field():
    """`clean --json` writes the fields with exactly these names, the scorer's keys unchanged."""
    out, err = io.StringIO(), io.StringIO()
    summary = clean_paths([str(PAGES / "cablegate" / "09BRASILIA1447.html")], as_json=True, out=out, err=err)
    assert summary.failed == 0
    record = json.loads(out.getvalue().splitlines()[0])
    for key in (
        "reference_id",
        "classification",
        "created",
        "released",
        "origin",
        "canonical_id",
        "subject",
        "tags",
        "references",
        "signers",
        "classified_by",
        "classified_reasons",
        "summary",
        "recipients",
        "info",
        "decl",
        "transmission_id",
    ):
        assert key in record, key
    assert "signer" not in record
    assert all(set(r) == {"label", "text", "kind", "id"} for r in record["references"])
    assert all(set(r) == {"route", "name", "precedence"} for r in record["recipients"] + record["info"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["decl"]["date"])
