"""Diff two texts of a cable and classify each hunk; diff an archived cable's versions or its mirrors.

The result is data (`Diff`, with a JSON form); archive.render shows it to people.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archive.classify import (
    KIND_LABELS,
    KINDS,
    TOKEN_RE,
    WHITESPACE,
    classify_change,
    header_mask,
    hunk_kind,
    is_marker,
)

if TYPE_CHECKING:
    from archive.store import Archive

__all__ = [
    "KINDS",
    "KIND_LABELS",
    "Change",
    "Diff",
    "Hunk",
    "NothingToCompare",
    "diff_sources",
    "diff_texts",
    "diff_versions",
]


class Text:
    """A text split into lines and words, with each word's line and character span (`.text`, `.lines`)."""

    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.lines = self.text.split("\n")
        self.line_starts: list[int] = []
        pos = 0
        for line in self.lines:
            self.line_starts.append(pos)
            pos += len(line) + 1
        self.words: list[str] = []
        self.spans: list[tuple[int, int]] = []
        self.word_line: list[int] = []
        self.line_first_word: list[int] = []
        for i, line in enumerate(self.lines):
            self.line_first_word.append(len(self.words))
            base = self.line_starts[i]
            for m in TOKEN_RE.finditer(line):
                self.words.append(m.group())
                self.spans.append((base + m.start(), base + m.end()))
                self.word_line.append(i)
        self.line_first_word.append(len(self.words))
        self._header: list[bool] | None = None

    @property
    def header(self) -> list[bool]:
        """Header mask of the lines, computed on first use."""
        if self._header is None:
            self._header = header_mask(self.lines)
        return self._header

    def words_of_lines(self, first: int, last: int) -> tuple[int, int]:
        """Word index range [start, end) of lines first..last-1."""
        return self.line_first_word[first], self.line_first_word[last]

    def slice_words(self, i1: int, i2: int) -> str:
        """The original text from word i1 to word i2-1, spacing and line breaks kept."""
        if i1 >= i2:
            return ""
        return self.text[self.spans[i1][0] : self.spans[i2 - 1][1]]


@dataclass
class Change:
    """One aligned word change inside a hunk: old words replaced by new words."""

    kind: str
    old: str
    new: str
    old_lines: tuple[int, int]  # 1-based first and last line; (n, n-1) for a pure insertion
    new_lines: tuple[int, int]
    old_words: tuple[int, int]  # word index range [start, end) in the old text
    new_words: tuple[int, int]

    @property
    def moves_only_spacing(self) -> bool:
        """True when the same words are on both sides: only line breaks or spaces moved."""
        return self.old.split() == self.new.split()

    @property
    def size(self) -> int:
        """Number of words the change touches on its larger side."""
        return max(self.old_words[1] - self.old_words[0], self.new_words[1] - self.new_words[0])

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "old_lines": list(self.old_lines),
            "new_lines": list(self.new_lines),
        }


@dataclass
class Hunk:
    """A region of the two texts that differs, with context lines, and its classification."""

    old_start: int  # 0-based first line of the region (context included)
    old_end: int  # exclusive
    new_start: int
    new_end: int
    changes: list[Change]
    # Line opcodes for rendering: ("equal"|"replace"|"delete"|"insert", i1, i2, j1, j2).
    ops: list[tuple[str, int, int, int, int]] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        """Every kind of change the hunk holds, most significant first."""
        present = {c.kind for c in self.changes} or {WHITESPACE}
        if present != {WHITESPACE}:
            present.discard(WHITESPACE)
        return [k for k in KINDS if k in present]

    @property
    def kind(self) -> str:
        """The hunk's classification: its most significant kind of change."""
        return hunk_kind([(c.kind, c.size) for c in self.changes])

    @property
    def label(self) -> str:
        """Human name of the hunk's kind, with the lesser kinds it also holds."""
        main = self.kind
        rest = [KIND_LABELS[k] for k in self.kinds if k != main]
        return KIND_LABELS[main] + (f" (also {', '.join(rest)})" if rest else "")

    def range_header(self) -> str:
        """The unified-diff range line, e.g. `@@ -36,7 +36,7 @@`."""

        def rng(start: int, end: int) -> str:
            count = end - start
            first = start + 1 if count else start
            return f"{first}" if count == 1 else f"{first},{count}"

        return f"@@ -{rng(self.old_start, self.old_end)} +{rng(self.new_start, self.new_end)} @@"


@dataclass
class Diff:
    """The difference between two texts of a cable, hunk by hunk, each hunk classified."""

    old: Text
    new: Text
    hunks: list[Hunk]
    title: str = ""
    old_label: str = "old"
    new_label: str = "new"
    ignore_wrapping: bool = False

    @property
    def changed(self) -> bool:
        """True when the texts differ in a way this diff reports."""
        return bool(self.hunks)

    def counts(self) -> dict[str, int]:
        """For each kind, how many hunks hold a change of that kind (whitespace: whitespace-only hunks)."""
        out: dict[str, int] = {}
        for kind in KINDS:
            if kind == WHITESPACE:
                n = sum(1 for h in self.hunks if h.kind == WHITESPACE)
            else:
                n = sum(1 for h in self.hunks if kind in h.kinds)
            if n:
                out[kind] = n
        return out

    def summary(self) -> str:
        """One line, e.g. `10HARARE93 v1→v2: 1 redaction, 2 whitespace-only`."""
        counts = self.counts()
        if not counts:
            what = "identical" if self.old.text == self.new.text else "no changes beyond wrapping"
        else:
            what = ", ".join(f"{n} {KIND_LABELS[k]}" for k, n in counts.items())
        title = self.title or f"{self.old_label}→{self.new_label}"
        return f"{title}: {what}"

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for scripts: summary, counts, hunks with line ranges and texts."""
        hunks = []
        for h in self.hunks:
            hunks.append(
                {
                    "kind": h.kind,
                    "kinds": h.kinds,
                    "old_start": h.old_start + 1,
                    "old_count": h.old_end - h.old_start,
                    "new_start": h.new_start + 1,
                    "new_count": h.new_end - h.new_start,
                    "old_text": "\n".join(self.old.lines[h.old_start : h.old_end]),
                    "new_text": "\n".join(self.new.lines[h.new_start : h.new_end]),
                    "changes": [c.to_json() for c in h.changes if c.kind != WHITESPACE],
                }
            )
        return {
            "title": self.title,
            "old": self.old_label,
            "new": self.new_label,
            "ignore_wrapping": self.ignore_wrapping,
            "summary": self.summary(),
            "counts": self.counts(),
            "hunks": hunks,
        }


# -- building the diff -------------------------------------------------------------------


def _word_changes(old: Text, new: Text, i_lo: int, i_hi: int, j_lo: int, j_hi: int) -> list[Change]:
    """Aligned, classified word changes between old words [i_lo, i_hi) and new words [j_lo, j_hi)."""
    sm = difflib.SequenceMatcher(None, old.words[i_lo:i_hi], new.words[j_lo:j_hi], autojunk=False)
    changes = []
    for tag, a1, a2, b1, b2 in sm.get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = a1 + i_lo, a2 + i_lo, b1 + j_lo, b2 + j_lo
        changes.append(_make_change(old, new, i1, i2, j1, j2))
    return changes


def _make_change(old: Text, new: Text, i1: int, i2: int, j1: int, j2: int) -> Change:
    """Classify the change of old words [i1, i2) into new words [j1, j2)."""
    o_words, n_words = old.words[i1:i2], new.words[j1:j2]
    old_lines = _line_span(old, i1, i2)
    new_lines = _line_span(new, j1, j2)
    # A pure insertion or deletion is judged by the lines of the side that has words.
    in_header = (not o_words or all(old.header[k] for k in range(old_lines[0], old_lines[1] + 1))) and (
        not n_words or all(new.header[k] for k in range(new_lines[0], new_lines[1] + 1))
    )
    # A word is "next to a marker" when a marker stands right before or after the change
    # in both texts: the marker swallowed or gave back the words.
    next_to_marker = False
    if not o_words or not n_words:
        before = i1 > 0 and j1 > 0 and is_marker(old.words[i1 - 1]) and is_marker(new.words[j1 - 1])
        after = (
            i2 < len(old.words)
            and j2 < len(new.words)
            and is_marker(old.words[i2])
            and is_marker(new.words[j2])
        )
        next_to_marker = before or after
    kind = classify_change(o_words, n_words, in_header=in_header, next_to_marker=next_to_marker)
    return Change(
        kind=kind,
        old=old.slice_words(i1, i2),
        new=new.slice_words(j1, j2),
        old_lines=(old_lines[0] + 1, old_lines[1] + 1) if o_words else (old_lines[0] + 1, old_lines[0]),
        new_lines=(new_lines[0] + 1, new_lines[1] + 1) if n_words else (new_lines[0] + 1, new_lines[0]),
        old_words=(i1, i2),
        new_words=(j1, j2),
    )


def _line_span(t: Text, i1: int, i2: int) -> tuple[int, int]:
    """0-based first and last line of words [i1, i2); for an empty range, the line of the gap."""
    if i1 < i2:
        return t.word_line[i1], t.word_line[i2 - 1]
    line = t.word_line[i1 - 1] if i1 > 0 else 0
    return line, line


def _line_hunks(old: Text, new: Text, context: int) -> list[Hunk]:
    """Hunks of a line diff (as `diff -u`), each classified on its aligned words."""
    sm = difflib.SequenceMatcher(None, old.lines, new.lines, autojunk=False)
    hunks = []
    for group in sm.get_grouped_opcodes(context):
        i_lo, i_hi = group[0][1], group[-1][2]
        j_lo, j_hi = group[0][3], group[-1][4]
        # Words of the changed stretch only: context lines are equal by construction.
        first = next(op for op in group if op[0] != "equal")
        last = next(op for op in reversed(group) if op[0] != "equal")
        wi = old.words_of_lines(first[1], last[2])
        wj = new.words_of_lines(first[3], last[4])
        changes = _word_changes(old, new, wi[0], wi[1], wj[0], wj[1])
        if not changes:
            # Only line breaks, blank lines or spacing moved: one whitespace change.
            changes = [
                Change(
                    kind=WHITESPACE,
                    old="\n".join(old.lines[first[1] : last[2]]),
                    new="\n".join(new.lines[first[3] : last[4]]),
                    old_lines=(first[1] + 1, last[2]),
                    new_lines=(first[3] + 1, last[4]),
                    old_words=wi,
                    new_words=wj,
                )
            ]
        hunks.append(Hunk(i_lo, i_hi, j_lo, j_hi, changes, ops=list(group)))
    return hunks


def _word_hunks(old: Text, new: Text, context: int) -> list[Hunk]:
    """Hunks of a word diff: re-wrapped lines are not changes; nearby changes share a hunk."""
    changes = [
        c for c in _word_changes(old, new, 0, len(old.words), 0, len(new.words)) if c.kind != WHITESPACE
    ]
    # Each change's lines, 0-based and inclusive; an insertion sits on the line of its gap.
    spans = [(_line_span(old, *c.old_words), _line_span(new, *c.new_words)) for c in changes]
    groups: list[list[int]] = []
    for k, (o_span, _n_span) in enumerate(spans):
        if groups and o_span[0] - spans[groups[-1][-1]][0][1] <= 2 * context:
            groups[-1].append(k)
        else:
            groups.append([k])
    hunks = []
    for group in groups:
        o_first = min(spans[k][0][0] for k in group)
        o_last = max(spans[k][0][1] for k in group) + 1  # exclusive
        n_first = min(spans[k][1][0] for k in group)
        n_last = max(spans[k][1][1] for k in group) + 1
        before = min(context, o_first, n_first)
        after = max(0, min(context, len(old.lines) - o_last, len(new.lines) - n_last))
        # With re-wrapping, context lines need not be equal line for line; they are shown
        # from the old text (unified) or the new text (words), as context only.
        ops: list[tuple[str, int, int, int, int]] = []
        if before:
            ops.append(("equal", o_first - before, o_first, n_first - before, n_first))
        ops.append(("replace", o_first, o_last, n_first, n_last))
        if after:
            ops.append(("equal", o_last, o_last + after, n_last, n_last + after))
        members = [changes[k] for k in group]
        hunks.append(
            Hunk(o_first - before, o_last + after, n_first - before, n_last + after, members, ops=ops)
        )
    return hunks


def diff_texts(
    old: str,
    new: str,
    *,
    title: str = "",
    old_label: str = "old",
    new_label: str = "new",
    ignore_wrapping: bool = False,
    context: int = 3,
) -> Diff:
    """Diff two texts of a cable and classify each hunk.

    By default the diff is by lines (re-wrapped lines show up as whitespace-only hunks);
    with `ignore_wrapping` it is by words, so line breaks and spacing are not changes.
    """
    a, b = Text(old), Text(new)
    hunks = _word_hunks(a, b, context) if ignore_wrapping else _line_hunks(a, b, context)
    return Diff(
        a, b, hunks, title=title, old_label=old_label, new_label=new_label, ignore_wrapping=ignore_wrapping
    )


# -- archived versions -------------------------------------------------------------------


class NothingToCompare(ValueError):
    """A cable with a single version (or a single source): there is no second text."""


def _version_number(v: str | int) -> int:
    """`3`, `"3"` or `"v3"` as 3; ValueError otherwise."""
    try:
        n = v if isinstance(v, int) else int(str(v).strip().lower().removeprefix("v"))
    except ValueError:
        raise ValueError(f"{v!r} is not a version (write v2 or 2)") from None
    if n < 1:
        raise ValueError(f"version {v!r}: versions are numbered from v1")
    return n


def _check_version(ref: str, n: int, head: int) -> None:
    """ValueError unless version n exists."""
    if n > head:
        raise ValueError(f"{ref} has no version v{n} (its versions are v1 to v{head})")


def diff_versions(
    arch: Archive,
    ref: str,
    v1: str | int | None = None,
    v2: str | int | None = None,
    *,
    ignore_wrapping: bool = False,
    context: int = 3,
    source: str | None = None,
) -> Diff:
    """Diff the preferred text of an archived cable (or one mirror's, `source`) between two versions.

    No versions: the newest against the one before. `v1` alone: `v1` against the newest.
    Raises ArchiveError for a cable not in the archive, ValueError for a version it lacks.
    """
    record = arch.cable(ref)
    head = record.head
    if v1 is None:
        if head < 2:
            raise NothingToCompare(f"{ref} has a single version (v1); nothing to compare it with")
        a, b = head - 1, head
    else:
        a = _version_number(v1)
        b = _version_number(v2) if v2 is not None else head
    for n in (a, b):
        _check_version(ref, n, head)
    if source is None:
        old_text, new_text, what = record.text(a), record.text(b), ""
    else:
        for n in (a, b):
            if source not in record.source_keys(n):
                raise ValueError(
                    f"{ref} v{n} has no source {source!r} (see `cablearchive show {ref} --json`)"
                )
        old_text, new_text, what = record.source(source, a)[0], record.source(source, b)[0], f" {source}"
    return diff_texts(
        old_text,
        new_text,
        title=f"{ref}{what} v{a}→v{b}",
        old_label=f"{ref}{what} v{a}",
        new_label=f"{ref}{what} v{b}",
        ignore_wrapping=ignore_wrapping,
        context=context,
    )


def diff_sources(
    arch: Archive,
    ref: str,
    version: str | int | None = None,
    *,
    ignore_wrapping: bool = False,
    context: int = 3,
) -> list[Diff]:
    """Diff each mirror's text of a cable against the preferred source's, at a version (default newest).

    Sources whose text is the same as the preferred one's are included as diffs without
    hunks, so their summaries say so.
    """
    record = arch.cable(ref)
    n = _version_number(version) if version is not None else record.head
    _check_version(ref, n, record.head)
    state = record.state(n)
    if len(state.sources) < 2:
        return []
    preferred = (state.metadata.get("preferred") or {}).get("source")
    if preferred not in state.sources:
        preferred = sorted(state.sources)[0]
    base_text, _prov = state.sources[preferred]
    diffs = []
    for key in sorted(state.sources):
        if key == preferred:
            continue
        text, prov = state.sources[key]
        url = prov.get("final_url") or prov.get("url") or key
        diffs.append(
            diff_texts(
                base_text,
                text,
                title=f"{ref} v{n}: {preferred} (preferred)→{key}",
                old_label=f"{ref} v{n} {preferred} (preferred)",
                new_label=f"{ref} v{n} {key} <{url}>",
                ignore_wrapping=ignore_wrapping,
                context=context,
            )
        )
    return diffs
