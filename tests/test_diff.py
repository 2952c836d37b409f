"""Diff and hunk classification on real cables whose text changed between viewer builds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html
import pytest

from archive.classify import body_start, classify_change, header_mask
from archive.diff import diff_texts
from archive.render import html, render, unified, words

HISTORY = Path(__file__).parent / "fixtures" / "history"


def builds(ref: str) -> list[str]:
    """The texts of a cable's builds, oldest first."""
    files = sorted(HISTORY.joinpath(ref).glob("*.txt"), key=lambda p: int(p.name.split("_")[0]))
    return [p.read_text(encoding="utf-8") for p in files]


def pair(ref: str, n: int = 1):
    """The diff of build n against build n+1 of a cable, by lines."""
    texts = builds(ref)
    return diff_texts(texts[n - 1], texts[n], title=f"{ref} v{n}→v{n + 1}")


# Hunk counts per kind for each real pair, checked by reading each diff.
# Kinds: wording, unredaction, redaction, header, typography, whitespace (whitespace-only hunks).
EXPECTED = {
    ("10HARARE93", 1): {"redaction": 1},
    ("07STATE164120", 1): {"redaction": 1},
    ("09KABUL2246", 1): {"redaction": 1},
    ("09CASABLANCA226", 1): {"unredaction": 1, "whitespace": 1},
    ("09CASABLANCA226", 2): {"unredaction": 1},
    ("07PARIS322", 1): {"redaction": 1},
    ("07PARIS322", 2): {"unredaction": 1},
    ("09LONDON2198", 1): {"header": 1},
    ("08RIYADH7", 1): {"header": 1},
    ("09KUWAIT110", 1): {"header": 1},
    ("08LONDON930", 1): {"whitespace": 1},
    ("10MADRID154", 1): {"whitespace": 1},
    ("07MADRID520", 1): {"whitespace": 2},
    ("09PARIS1097", 1): {"wording": 1},
    ("07TELAVIV2652", 1): {"wording": 1, "redaction": 1},
    ("10MOSCOW266", 1): {"redaction": 2, "header": 1, "typography": 1},
    ("09NAIROBI2497", 1): {"redaction": 4, "header": 2, "typography": 1},
    ("09TRIPOLI771", 1): {"unredaction": 1, "redaction": 1, "header": 1, "typography": 1},
    ("09BANGKOK1998", 1): {"redaction": 1, "header": 1},
    ("06MADRID76", 1): {"unredaction": 1, "whitespace": 3},
}

# The same pairs compared by words: re-wrapping and spacing vanish.
EXPECTED_WORDS = {
    ("10HARARE93", 1): {"redaction": 1},
    ("09CASABLANCA226", 1): {"unredaction": 1},
    ("08LONDON930", 1): {},
    ("10MADRID154", 1): {},
    ("07MADRID520", 1): {},
    ("09LONDON2198", 1): {"header": 1},
    ("06MADRID76", 1): {"unredaction": 1},
    ("07PARIS322", 1): {"redaction": 2},
}


@pytest.mark.parametrize(("ref", "n"), sorted(EXPECTED))
def test_real_pairs_are_classified(ref: str, n: int) -> None:
    d = pair(ref, n)
    assert d.counts() == EXPECTED[(ref, n)], d.summary()


@pytest.mark.parametrize(("ref", "n"), sorted(EXPECTED_WORDS))
def test_real_pairs_by_words(ref: str, n: int) -> None:
    texts = builds(ref)
    d = diff_texts(texts[n - 1], texts[n], ignore_wrapping=True)
    assert d.counts() == EXPECTED_WORDS[(ref, n)], d.summary()
    assert d.changed == bool(EXPECTED_WORDS[(ref, n)])


def test_every_kind_is_covered_twice() -> None:
    seen: dict[str, int] = {}
    for counts in EXPECTED.values():
        for kind in counts:
            seen[kind] = seen.get(kind, 0) + 1
    assert set(seen) == {"wording", "unredaction", "redaction", "header", "typography", "whitespace"}
    assert min(seen.values()) >= 2, seen


def test_harare_redaction_names_the_word() -> None:
    d = pair("10HARARE93")
    assert d.summary() == "10HARARE93 v1→v2: 1 redaction"
    (hunk,) = d.hunks
    (change,) = [c for c in hunk.changes if c.kind != "whitespace"]
    assert (change.kind, change.old, change.new) == ("redaction", "Mudarikwa,", "XXXXXXXXXXXX,")
    assert change.old_lines == change.new_lines == (39, 39)


def test_london_date_line_removed_is_a_header_reformat() -> None:
    d = pair("09LONDON2198")
    (hunk,) = d.hunks
    assert hunk.kind == "header"
    content = [c for c in hunk.changes if c.kind != "whitespace"]
    assert [(c.kind, c.old, c.new) for c in content] == [("header", "Tuesday, 22 September 2009, 14:13", "")]


def test_wording_change_in_body() -> None:
    d = pair("09PARIS1097")
    (change,) = [c for h in d.hunks for c in h.changes]
    assert (change.kind, change.old, change.new) == ("wording", "d'Affaires", "d'Affairs")


def test_word_freed_from_marker_is_unredaction() -> None:
    d = pair("09CASABLANCA226", 1)
    changes = [c for h in d.hunks for c in h.changes if c.kind != "whitespace"]
    assert [(c.kind, c.old, c.new) for c in changes] == [("unredaction", "", "said")]


def test_redaction_in_subject_line_is_a_redaction_not_a_header_reformat() -> None:
    d = pair("07STATE164120")
    changes = [c for h in d.hunks for c in h.changes if c.kind != "whitespace"]
    assert [c.kind for c in changes] == ["redaction"]
    assert changes[0].old.split() == ["RUSSIAN", "OPPOSITION", "FIGURE", "VLADIMIR", "RYZHKOV"]


def test_mixed_hunk_lists_every_kind() -> None:
    d = pair("07TELAVIV2652")
    (hunk,) = d.hunks
    assert hunk.kinds == ["wording", "redaction"]
    assert {(c.kind, c.old, c.new) for c in hunk.changes if c.kind != "whitespace"} == {
        ("redaction", "", "XXXXXXXXXXXX"),
        ("wording", "economically", "economicall"),
    }


def test_large_unredaction_labels_hunk_by_its_bulk() -> None:
    d = pair("06MADRID76")
    kinds = [h.kind for h in d.hunks]
    assert kinds == ["whitespace", "whitespace", "whitespace", "unredaction"]
    restored = d.hunks[-1].changes[0]
    assert restored.old == "XXXXXXXXXXXX" and restored.new.startswith("//EVO MORALES VISIT//")


def test_header_mask_ends_at_first_paragraph() -> None:
    lines = builds("09LONDON2198")[0].split("\n")
    start = body_start(lines)
    assert lines[start].startswith("¶1. (S/NF) Summary")
    assert lines[start - 1].startswith("Classified By:")
    mask = header_mask(lines)
    assert all(mask[:start]) and not any(mask[start : start + 5])
    # Continuation-page headers deep in the body count as header lines.
    page = lines.index("LONDON 00002198 002 OF 005")
    assert page > start and mask[page]


def test_classify_marker_restyle_and_adjacent_words() -> None:
    assert classify_change(["xxxxxxxxx"], ["XXXXXXXXXXXX"]) == "redaction"
    assert classify_change(["[Source removed],"], ["xxxxxxxxxxxx,"]) == "redaction"
    assert classify_change(["(protect)"], [], next_to_marker=True) == "redaction"
    assert classify_change(["(protect)"], []) == "wording"
    assert classify_change(["Bush.Spaniards"], ["Bush.", "Spaniards"]) == "whitespace"
    assert classify_change(["MFA’s", "“strong"], ["MFA's", '"strong']) == "typography"
    assert classify_change(["E.O.", "12958:"], ["EO", "12958"], in_header=True) == "header"


def test_identical_texts_have_no_hunks() -> None:
    text = builds("10HARARE93")[0]
    d = diff_texts(text, text, title="10HARARE93 v1→v1")
    assert not d.changed and d.hunks == []
    assert d.summary() == "10HARARE93 v1→v1: identical"


def _apply_unified(old: str, patch: str) -> str:
    """Apply our unified output to `old` (a tiny patch(1)), to check it is a real diff."""
    old_lines = old.split("\n")
    out: list[str] = []
    pos = 0
    lines = patch.split("\n")
    for line in lines:
        m = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", line)
        if m:
            start = int(m.group(1))
            count = int(m.group(2)) if m.group(2) is not None else 1
            begin = start - 1 if count else start
            out.extend(old_lines[pos:begin])
            pos = begin
        elif line.startswith((" ", "-")) and not line.startswith("--- "):
            assert old_lines[pos] == line[1:]
            if line.startswith(" "):
                out.append(line[1:])
            pos += 1
        elif line.startswith("+") and not line.startswith("+++ "):
            out.append(line[1:])
    out.extend(old_lines[pos:])
    return "\n".join(out)


@pytest.mark.parametrize("ref", ["10HARARE93", "09NAIROBI2497", "06MADRID76", "09LONDON2198"])
def test_unified_output_is_a_patch_that_rebuilds_the_new_text(ref: str) -> None:
    old, new = builds(ref)[:2]
    d = diff_texts(old, new)
    patch = unified(d)
    assert "\x1b[" not in patch
    assert _apply_unified(old, patch) == new


def test_unified_colour_and_labels() -> None:
    d = pair("10HARARE93")
    plain = unified(d)
    assert "@@ -36,7 +36,7 @@ [redaction]" in plain
    assert plain.rstrip().endswith("10HARARE93 v1→v2: 1 redaction")
    coloured = unified(d, color=True)
    assert "\x1b[31m-" in coloured and "\x1b[32m+" in coloured
    # The changed word itself is highlighted inside the added line.
    assert "\x1b[30;42mXXXXXXXXXXXX,\x1b[0;32m" in coloured


def test_words_format_marks_changes_inline() -> None:
    out = words(pair("10HARARE93"))
    assert "As such, said [-Mudarikwa,-] {+XXXXXXXXXXXX,+}" in out
    out = words(pair("09CASABLANCA226", 1))
    assert 'waste of time", XXXXXXXXXXXX {+said+} that,' in out


def test_json_format() -> None:
    d = pair("09NAIROBI2497")
    data = json.loads(render(d, "json"))
    assert data["summary"] == d.summary()
    assert data["counts"] == {"redaction": 4, "header": 2, "typography": 1}
    old_lines = builds("09NAIROBI2497")[0].split("\n")
    for hunk in data["hunks"]:
        assert hunk["kind"] in hunk["kinds"]
        start, count = hunk["old_start"], hunk["old_count"]
        assert hunk["old_text"] == "\n".join(old_lines[start - 1 : start - 1 + count])
        for change in hunk["changes"]:
            assert set(change) == {"kind", "old", "new", "old_lines", "new_lines"}
            a, b = change["old_lines"]
            if change["old"]:
                assert change["old"].split("\n")[0] in old_lines[a - 1]
                assert start <= a <= b < start + count
    redactions = [c for h in data["hunks"] for c in h["changes"] if c["kind"] == "redaction"]
    assert {"old": "Kameru", "new": "xxxxxxxxxxxx"}.items() <= redactions[2].items()


def test_html_page_is_self_contained_and_labelled() -> None:
    d = pair("09TRIPOLI771")
    page = html(d)
    doc = lxml.html.fromstring(page)
    assert doc.findtext(".//title") == "09TRIPOLI771 v1→v2"
    assert d.summary() in doc.text_content()
    # No external assets: no scripts, stylesheets, images or fonts fetched from anywhere.
    assert not doc.xpath("//script[@src] | //link | //img | //iframe")
    assert "url(" not in page and "@import" not in page
    assert all(h.startswith("#") for h in doc.xpath("//a/@href"))
    # Both texts are there in full, side by side (folded runs included).
    old, new = builds("09TRIPOLI771")[:2]
    old_cells = doc.xpath("//td[@class='o']")
    new_cells = doc.xpath("//td[@class='w']")
    assert len(old_cells) == len(old.split("\n")) and len(new_cells) == len(new.split("\n"))
    # Changed words are highlighted with their kind.
    dels = {e.text_content() for e in doc.xpath("//del[contains(@class, 'k-redaction')]")}
    ins = {e.text_content() for e in doc.xpath("//ins[contains(@class, 'k-redaction')]")}
    assert "Gene A. Cretz," in dels and "XXXXXXXXXXXX," in ins
    labels = doc.xpath("//tr[@class='hunk']//span/text()")
    assert labels == ["unredaction", "redaction", "header reformat", "typography"]


def test_text_without_a_header_is_all_body() -> None:
    # A fragment of a cable body (as a blog might quote it): a changed word is wording,
    # not a header reformat, although no paragraph marker says where the body starts.
    body = builds("09PARIS1097")[0].split("\n")[300:310]
    old = "\n".join(body)
    new = old.replace("d'Affaires", "d'Affairs")
    assert old != new
    assert header_mask(body) == [False] * len(body)
    assert diff_texts(old, new).counts() == {"wording": 1}


def test_deleted_passage_holding_markers_is_wording() -> None:
    text = builds("10HARARE93")[0]
    lines = text.split("\n")
    cut = next(i for i, line in enumerate(lines) if line.startswith("¶9. (C) XXXXXXXXXXXX"))
    d = diff_texts(text, "\n".join(lines[:cut] + lines[cut + 1 :]))
    # The paragraph went away with its marker: nothing was redacted in its place.
    assert d.counts() == {"wording": 1}
