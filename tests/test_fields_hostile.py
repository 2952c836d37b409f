"""Hostile headers (huge lines, endless REF fields, marking floods) never crash and stay bounded.

The field readers look at a bounded part of a cable (its header lines, capped line lengths, its
last lines); these inputs are big enough that reading them whole, or with a regular expression
that backtracks, would take minutes instead of a moment.
"""

from __future__ import annotations

import pytest

from cleaners import clean_page, load_rules
from cleaners.fields import read_fields
from cleaners.fields.refs import MAX_ITEMS

from cablemap_cases import render_page, template

RULES = load_rules()


def _read(text: str):
    return read_fields(
        text.split("\n"), RULES.stations, RULES.common, RULES.fields, year=2009, own_station="PARIS"
    )


HOSTILE = {
    "huge subject line": "SUBJECT: " + "A VERY LONG SUBJECT " * 60_000 + "\n\n1. (C) Text.",
    "endless REF lines": "REF: A. STATE 1234\n" + "B. PARIS 5678 AND 9012 AND 3456\n" * 50_000,
    "one REF line of items": "REF: " + "A. STATE 1234; " * 100_000,
    "REF of digits": "REF: " + "1 2 3 4 5 6 7 8 9 " * 50_000,
    "REF of station names": "REF: " + "RIO DE JAN " * 50_000 + "12",
    "unclosed parentheses in TAGS": "TAGS: " + "(" * 100_000 + "\nSUBJECT: X",
    "tags without end": "TAGS: " + "PREL, " * 100_000,
    "classified by flood": "Classified By: " + "Ambassador Mr. X. " * 50_000,
    "summary without end": "1. (C) Summary: " + "words " * 200_000,
    "marking flood at the end": "1. (C) Text.\nNAME\n" + "CONFIDENTIAL\n" * 100_000,
    "routing flood": "FM AMEMBASSY PARIS\nTO " + "RUEHC/SECSTATE WASHDC IMMEDIATE 1234\n" * 100_000,
    "backslashes": "SUBJECT: X " + "\\" * 200_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_headers_are_read_boundedly(name):
    f = _read(HOSTILE[name])
    assert len(f.references) <= MAX_ITEMS
    assert f.subject is None or len(f.subject) <= 10_000
    assert len(f.tags) <= 100
    assert all(len(t) <= 4_000 for t in f.tags)
    assert len(f.signers) <= 2
    assert f.summary is None or len(f.summary) <= 1_000_000


def test_hostile_header_through_a_page():
    """The same inputs on a viewer page: cleaned, the text kept whole, the fields bounded."""
    content = HOSTILE["endless REF lines"][:2_000_000]
    (cable,) = clean_page(render_page(template(), content, "09PARIS1", 2009, "Embassy Paris")).cables
    assert cable.reference_id == "09PARIS1"
    assert len(cable.text) > 1_000_000
    assert 1 <= len(cable.references) <= MAX_ITEMS
    assert cable.references[0]["id"] == "09STATE1234"
