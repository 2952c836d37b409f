"""The reference parser's test tables, through the same path as `cablearchive clean`.

Each case's cable content is put on a viewer page, cleaned, and the field read from the
metadata `clean --json` writes. Where our convention differs from cablemap's on purpose, or we
fall short, the case is listed in tests/data/cablemap/differences.json with its reason; every
other case must agree, and every listed one must still differ (so that the list stays true).
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from cleaners import clean_page, load_rules

from cablemap_cases import DATA, FIELDS, cases, run, template

DIFFERENCES = json.loads((DATA / "differences.json").read_text(encoding="utf-8"))


@cache
def _rows(field: str, render: str = "page") -> tuple[dict, ...]:
    """Every case of a field, cleaned and judged once per test session."""
    return tuple(run(field, render, clean_page, load_rules(), template()))


def _params() -> list:
    out = []
    for field in FIELDS:
        known = DIFFERENCES["cases"].get(field, {})
        for n, case in enumerate(cases(field)):
            name = f"{field}-{n}-{case.get('cable') or case.get('reference_id') or ''}"
            out.append(pytest.param(field, n, known.get(str(n)), id=name))
    return out


def test_every_difference_has_a_reason():
    """The list of differences names a known reason for each case, and only cases that exist."""
    for field, known in DIFFERENCES["cases"].items():
        assert field in FIELDS
        total = len(cases(field))
        for n, reason in known.items():
            assert reason in DIFFERENCES["reasons"], (field, n, reason)
            assert 0 <= int(n) < total


@pytest.mark.parametrize(("field", "n", "reason"), _params())
def test_cablemap_case(field, n, reason):
    """A case agrees with cablemap's expected value, unless it is a listed difference."""
    (row,) = [r for r in _rows(field) if r["n"] == n]
    if reason is None:
        assert row["ok"], f"got {row['got']!r}, cablemap expects {row['want']!r}"
    else:
        assert not row["ok"], f"listed as a difference ({reason}) but now agrees: update differences.json"


@pytest.mark.parametrize(
    ("field", "goal"), [("subject", 0.95), ("signers", 0.95), ("references", 0.90), ("tags", 0.65)]
)
def test_agreement_goals(field, goal):
    """The judged fields reach their agreement goals on the ported tables."""
    rows = _rows(field)
    assert sum(r["ok"] for r in rows) / len(rows) >= goal


@pytest.mark.parametrize(
    ("field", "goal"), [("subject", 0.95), ("signers", 0.95), ("references", 0.90), ("tags", 0.65)]
)
def test_agreement_goals_as_text(field, goal):
    """The same goals when each case's viewer page is a text file (table row, classification line, content)."""
    rows = _rows(field, "text")
    assert sum(r["ok"] for r in rows) / len(rows) >= goal


@pytest.mark.parametrize("field", [f for f in FIELDS if f not in ("malformed_ids", "id_c14n")])
def test_text_rendering_reads_as_the_page(field):
    """A viewer page copied to text gives every field the page gives: the box is the cable, markers or not."""
    page = {r["n"]: r for r in _rows(field)}
    differ = [(r["n"], r["got"]) for r in _rows(field, "text") if r["ok"] != page[r["n"]]["ok"]]
    assert differ == []
