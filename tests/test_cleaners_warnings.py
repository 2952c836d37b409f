"""Cleaner warnings carry a kind that consumers decide on; the kind survives worker processes."""

from __future__ import annotations

import gzip
import json
import pickle

import pytest

from cleaners import Cable, CleanerWarning, Warn, clean_page

from conftest import PAGES

CABLE_PAGE = (PAGES / "cablegate" / "09BRASILIA1447.html").read_bytes()


@pytest.mark.parametrize(
    ("body", "headers", "kind"),
    [
        (b"", None, Warn.EMPTY),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, None, Warn.BAD_INPUT),
        (gzip.compress(CABLE_PAGE), None, Warn.BAD_INPUT),
        (b"<html>" + b"x" * (17 * 1024 * 1024), None, Warn.BAD_INPUT),
        (b"<html><body><p>hello</p></body></html>", [("Content-Type", "image/jpeg")], Warn.CONTENT_TYPE),
        (b"<html><body><p>no cable here</p></body></html>", None, Warn.NO_CABLE),
    ],
)
def test_each_page_warning_has_its_kind(body, headers, kind):
    """Bad bodies, odd media types and pages without a cable each say so by kind, not by wording."""
    result = clean_page(body, headers=headers)
    assert result.has_warning(kind), [(w.kind, w) for w in result.warnings]
    assert all(isinstance(w, CleanerWarning) and w.kind in Warn.ALL for w in result.warnings)


def test_a_media_type_warning_names_the_type():
    """The detail of a Content-Type warning is the declared type itself."""
    result = clean_page(b"<html><body>x</body></html>", headers=[("Content-Type", "application/rss+xml")])
    (warning,) = [w for w in result.warnings if w.kind == Warn.CONTENT_TYPE]
    assert warning.detail == "application/rss+xml"


def test_a_cable_without_an_id_says_so_by_kind():
    """A cable whose year cannot be established is reported with a NO_ID warning."""
    text = "CONFIDENTIAL ALMATY 000808\n\nSUBJECT: A TEST\n\n1. (C) Body text of the cable.\n"
    cables = clean_page(text.encode()).cables
    assert cables and cables[0].reference_id is None
    assert any(w.kind == Warn.NO_ID for w in cables[0].warnings)


def test_kinds_survive_pickling_and_json_keeps_the_text():
    """Warnings cross to worker processes whole; provenance JSON keeps the plain message."""
    w = CleanerWarning(Warn.CONTENT_TYPE, "Content-Type x for a body that is HTML", detail="x")
    back = pickle.loads(pickle.dumps(w))
    assert (back.kind, back.detail, str(back)) == (w.kind, w.detail, str(w))
    assert json.loads(json.dumps([w])) == [str(w)]
    cable = Cable(text="t", reference_id=None, warnings=[w])
    again = Cable.from_json(json.loads(json.dumps(cable.to_json())))
    assert again.warnings == [str(w)] and again.warnings[0].kind == Warn.OTHER


def test_an_unknown_kind_is_refused():
    """A kind outside Warn.ALL is a programming error, caught where it is made."""
    with pytest.raises(ValueError):
        CleanerWarning("made up", "text")


def test_undated_cable_of_a_rare_year_gets_no_id():
    """DECL 2010 with no date on the page: ten years back is 2000, five is 2005, a far commoner
    year of the release; neither is sure, so no ID rather than a guessed one."""
    text = (
        "CONFIDENTIAL TEL AVIV 001580\n\nSIPDIS\n\nE.O. 12958: DECL: 03/15/2010\nTAGS: PREL IS\n"
        "SUBJECT: A CABLE WITHOUT A DATE\n\nClassified By: DCM X for reasons 1.4 (b,d)\n\n"
        "1. (C) Text of the cable.\n"
    )
    (cable,) = clean_page(text.encode()).cables
    assert cable.reference_id is None
    assert any(w.kind == Warn.NO_ID and "does not settle the year" in w for w in cable.warnings)
    (later,) = clean_page(text.replace("03/15/2010", "03/15/2016").encode()).cables
    assert later.reference_id == "06TELAVIV1580" and later.id_source == "inferred"
