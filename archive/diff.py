"""Diff two texts of a cable, classify each hunk, and render the result (unified, words, html, json)."""

from __future__ import annotations

import difflib
import html as html_lib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
    "render_many",
]

FORMATS = ("unified", "words", "html", "json")


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

    def render(self, fmt: str = "unified", color: bool = False) -> str:
        """The diff in one of FORMATS."""
        if fmt == "unified":
            return self.unified(color=color)
        if fmt == "words":
            return self.words(color=color)
        if fmt == "html":
            return self.html()
        if fmt == "json":
            return json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"
        raise ValueError(f"unknown diff format {fmt!r}; use one of {', '.join(FORMATS)}")

    # -- renderers ----------------------------------------------------------------------

    def unified(self, color: bool = False) -> str:
        """Unified diff with each hunk's classification after its range line."""
        c = _Ansi(color)
        marks_old, marks_new = _word_marks(self) if color else ({}, {})
        out = [c.bold(f"--- {self.old_label}"), c.bold(f"+++ {self.new_label}")]
        for h in self.hunks:
            out.append(c.cyan(h.range_header()) + " " + c.kind(h.kind, h.label))
            for tag, i1, i2, j1, j2 in h.ops:
                if tag == "equal":
                    out.extend(" " + line for line in self.old.lines[i1:i2])
                    continue
                out.extend(c.line("-", self.old.lines[i], marks_old.get(i, ())) for i in range(i1, i2))
                out.extend(c.line("+", self.new.lines[j], marks_new.get(j, ())) for j in range(j1, j2))
        out.append(c.dim(self.summary()))
        return "\n".join(out) + "\n"

    def words(self, color: bool = False) -> str:
        """Inline word diff: the new text of each hunk with [-removed-]{+added+} words."""
        c = _Ansi(color)
        out = [c.bold(f"--- {self.old_label}"), c.bold(f"+++ {self.new_label}")]
        for h in self.hunks:
            out.append(c.cyan(h.range_header()) + " " + c.kind(h.kind, h.label))
            out.append(self._inline_hunk(h, c))
        out.append(c.dim(self.summary()))
        return "\n".join(out) + "\n"

    def _inline_hunk(self, h: Hunk, c: _Ansi) -> str:
        """One hunk's new lines with the changed words marked in place."""
        new_first = (
            self.new.line_starts[h.new_start] if h.new_start < len(self.new.lines) else len(self.new.text)
        )
        new_last = (
            self.new.line_starts[h.new_end - 1] + len(self.new.lines[h.new_end - 1])
            if h.new_end > h.new_start
            else new_first
        )
        pieces: list[str] = []
        pos = new_first
        for ch in sorted(h.changes, key=lambda ch: (ch.new_words[0], ch.old_words[0])):
            if ch.moves_only_spacing:
                continue
            j1, j2 = ch.new_words
            at = self.new.spans[j1][0] if j1 < len(self.new.words) else new_last
            at = max(at, pos)
            pieces.append(self.new.text[pos:at])
            if ch.old:
                pieces.append(c.removed(ch.old.replace("\n", " ")))
            if ch.new:
                if ch.old:
                    pieces.append(" ")
                pieces.append(c.added(ch.new))
                pos = max(at, self.new.spans[j2 - 1][1])
            else:
                if j1 < len(self.new.words):
                    pieces.append(" ")
                pos = at
        pieces.append(self.new.text[pos:new_last])
        return "".join(pieces)

    def html(self) -> str:
        """A self-contained page: summary, then both texts side by side with changes highlighted."""
        return _render_html(self)


_KIND_COLOURS = {
    "wording": "1;33",
    "unredaction": "1;35",
    "redaction": "1;31",
    "header": "1;34",
    "typography": "36",
    "whitespace": "2",
}


class _Ansi:
    """ANSI colouring that turns into plain text (with word markers) when off."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.on and text else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def kind(self, kind: str, text: str) -> str:
        return self._wrap(_KIND_COLOURS.get(kind, "1"), f"[{text}]")

    def line(self, sign: str, text: str, marks: Sequence[tuple[int, int, str, str]]) -> str:
        """A removed (-) or added (+) line; with colour, its changed words stand out."""
        if not self.on:
            return sign + text
        base, hot = ("31", "97;41") if sign == "-" else ("32", "30;42")
        out, pos = [f"\x1b[{base}m{sign}"], 0
        for s, e, kind, _tag in sorted(marks):
            if kind == WHITESPACE or s < pos:
                continue
            out.append(text[pos:s] + f"\x1b[{hot}m{text[s:e]}\x1b[0;{base}m")
            pos = e
        out.append(text[pos:] + "\x1b[0m")
        return "".join(out)

    def removed(self, text: str) -> str:
        return self._wrap("9;31", text) if self.on else f"[-{text}-]"

    def added(self, text: str) -> str:
        return self._wrap("4;32", text) if self.on else f"{{+{text}+}}"


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


def render_many(diffs: Sequence[Diff], fmt: str = "unified", color: bool = False, title: str = "") -> str:
    """Several diffs as one output: concatenated text, one JSON list, or one html page."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown diff format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps([d.to_json() for d in diffs], ensure_ascii=False, indent=2) + "\n"
    if fmt == "html":
        esc = html_lib.escape
        listing = "".join(f'<li><a href="#d{k}">{esc(d.summary())}</a></li>' for k, d in enumerate(diffs, 1))
        sections = "".join(
            f'<div id="d{k}">{_html_section(d, f"d{k}h")}</div>' for k, d in enumerate(diffs, 1)
        )
        top = f"<header><h1>{esc(title)}</h1><ol class=nav>{listing}</ol></header>" if title else ""
        return _html_page(title or "diffs", top + sections)
    return "".join(d.render(fmt, color=color) for d in diffs)


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
    arch: Any,
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
    arch: Any,
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


# -- html ----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2228;background:#f6f7f9}
header{padding:16px 24px;background:#fff;border-bottom:1px solid #d9dde3}
.nav ol{margin:4px 0 0;padding-left:2em;font:12px ui-monospace,Menlo,Consolas,monospace}.nav a{color:#2b6cb0}
h1{font-size:18px;margin:0 0 6px}
.summary{font-size:15px;margin:0 0 8px}
.badges span,.lab{display:inline-block;border-radius:10px;padding:1px 9px;margin:2px 6px 2px 0;font-size:12px;color:#fff}
.k-wording{background:#b7791f}.k-unredaction{background:#805ad5}.k-redaction{background:#c53030}
.k-header{background:#2b6cb0}.k-typography{background:#2c7a7b}.k-whitespace{background:#718096}
.legend{font-size:12px;color:#4a5568}
main{padding:12px 24px 40px}
table{border-collapse:collapse;width:100%;table-layout:fixed;background:#fff;border:1px solid #d9dde3}
col.n{width:3.5em}
td{vertical-align:top;padding:0 6px;font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-wrap:break-word}
td.n{color:#8a94a3;text-align:right;user-select:none;border-right:1px solid #eef0f3}
tr.hunk td{background:#edf2f7;font-family:system-ui,sans-serif;padding:4px 8px;border-top:1px solid #d9dde3}
tr.chg td.o{background:#fff5f5}tr.chg td.w{background:#f0fff4}
tr.chg.ws td.o,tr.chg.ws td.w{background:#f7fafc}
td.empty{background:#f4f5f7 !important}
del{background:#fed7d7;color:#9b2c2c;text-decoration:line-through}
ins{background:#c6f6d5;color:#22543d;text-decoration:none}
del.k-redaction,ins.k-redaction{outline:1px solid #c53030}
ins.k-unredaction,del.k-unredaction{outline:1px solid #805ad5}
del.k-whitespace,ins.k-whitespace{background:#e2e8f0;color:inherit;text-decoration:none}
details{margin:0}summary{cursor:pointer;color:#4a5568;font:12px system-ui,sans-serif;padding:3px 8px;background:#fafbfc}
th{font:600 13px system-ui,sans-serif;text-align:left;padding:6px 8px;background:#f1f3f5;border-bottom:1px solid #d9dde3}
"""


def _render_html(d: Diff) -> str:
    """The side-by-side html page of a diff."""
    return _html_page(d.title or f"{d.old_label} → {d.new_label}", _html_section(d, "h"))


def _html_page(title: str, body: str) -> str:
    """A complete, self-contained html document around `body`."""
    esc = html_lib.escape
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _html_section(d: Diff, anchor: str) -> str:
    """One diff as html: its summary header, hunk list and the side-by-side table."""
    esc = html_lib.escape
    title = d.title or f"{d.old_label} → {d.new_label}"
    counts = d.counts()
    badges = "".join(f'<span class="k-{k}">{n} {esc(KIND_LABELS[k])}</span>' for k, n in counts.items())
    if not counts:
        badges = '<span class="k-whitespace">no changes</span>'
    mode = "by words (re-wrapped lines are not changes)" if d.ignore_wrapping else "by lines"
    head = (
        f"<header><h1>{esc(title)}</h1><p class=summary>{esc(d.summary())}</p>"
        f"<div class=badges>{badges}</div>"
        f"<p class=legend>{len(d.hunks)} hunk(s), compared {esc(mode)}. "
        f"<del>removed</del> <ins>added</ins>; labels: "
        + "".join(f'<span class="lab k-{k}">{esc(KIND_LABELS[k])}</span>' for k in KINDS)
        + "</p>"
        + _hunk_nav(d, anchor)
        + "</header>"
    )
    marks_old, marks_new = _word_marks(d)
    rows: list[str] = []
    plain: list[str] = []  # unchanged rows outside every hunk, folded when long

    def flush() -> None:
        if len(plain) > 8:
            rows.extend(plain[:3])
            rows.append(
                f"<tr><td colspan=4><details><summary>{len(plain) - 6} unchanged lines</summary>"
                "<table><colgroup><col class=n><col><col class=n><col></colgroup>"
                + "".join(plain[3:-3])
                + "</table></details></td></tr>"
            )
            rows.extend(plain[-3:])
        else:
            rows.extend(plain)
        plain.clear()

    def cell(t: Text, marks: dict[int, list[tuple[int, int, str, str]]], i: int | None, cls: str) -> str:
        if i is None:
            return '<td class="n empty"></td><td class="empty"></td>'
        return f"<td class=n>{i + 1}</td><td class={cls}>{_marked_line(t.lines[i], marks.get(i, []))}</td>"

    hunks = list(d.hunks)
    current: Hunk | None = None
    sm = difflib.SequenceMatcher(None, d.old.lines, d.new.lines, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i = i1 + k if k < i2 - i1 else None
            j = j1 + k if k < j2 - j1 else None
            while hunks and (
                (i is not None and i >= hunks[0].old_start) or (j is not None and j >= hunks[0].new_start)
            ):
                current = hunks.pop(0)
                flush()
                rows.append(_hunk_row(current, f"{anchor}{len(d.hunks) - len(hunks)}"))
            inside = current is not None and (
                (i is not None and current.old_start <= i < current.old_end)
                or (j is not None and current.new_start <= j < current.new_end)
            )
            cls = (
                ""
                if tag == "equal"
                else (" class='chg ws'" if d.ignore_wrapping and not inside else " class=chg")
            )
            row = f"<tr{cls}>{cell(d.old, marks_old, i, 'o')}{cell(d.new, marks_new, j, 'w')}</tr>"
            if inside or tag != "equal":
                flush()
                rows.append(row)
            else:
                plain.append(row)
    flush()
    table = (
        "<table><colgroup><col class=n><col><col class=n><col></colgroup>"
        f"<tr><th colspan=2>{esc(d.old_label)}</th><th colspan=2>{esc(d.new_label)}</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return f"<section>{head}<main>{table}</main></section>"


def _hunk_labels(h: Hunk) -> str:
    """The kind labels of a hunk as html badges."""
    return "".join(f'<span class="lab k-{k}">{html_lib.escape(KIND_LABELS[k])}</span>' for k in h.kinds)


def _hunk_nav(d: Diff, anchor: str) -> str:
    """A list of the hunks with their labels, each a link to its place in the table."""
    if not d.hunks:
        return ""
    items = "".join(
        f'<li><a href="#{anchor}{n}">{html_lib.escape(h.range_header())}</a> {_hunk_labels(h)}</li>'
        for n, h in enumerate(d.hunks, 1)
    )
    state = " open" if len(d.hunks) <= 12 else ""
    return f"<details class=nav{state}><summary>{len(d.hunks)} hunk(s)</summary><ol>{items}</ol></details>"


def _hunk_row(h: Hunk, anchor: str) -> str:
    """The label row that opens a hunk in the html table."""
    return f"<tr class=hunk id={anchor}><td colspan=4>{html_lib.escape(h.range_header())} {_hunk_labels(h)}</td></tr>"


def _word_marks(
    d: Diff,
) -> tuple[dict[int, list[tuple[int, int, str, str]]], dict[int, list[tuple[int, int, str, str]]]]:
    """Per line of each text, the character spans of changed words with their kind."""
    marks_old: dict[int, list[tuple[int, int, str, str]]] = {}
    marks_new: dict[int, list[tuple[int, int, str, str]]] = {}
    for h in d.hunks:
        for ch in h.changes:
            if ch.moves_only_spacing:
                continue
            for t, (w1, w2), marks, tag in (
                (d.old, ch.old_words, marks_old, "del"),
                (d.new, ch.new_words, marks_new, "ins"),
            ):
                for w in range(w1, w2):
                    line = t.word_line[w]
                    base = t.line_starts[line]
                    s, e = t.spans[w]
                    marks.setdefault(line, []).append((s - base, e - base, ch.kind, tag))
    return marks_old, marks_new


def _marked_line(line: str, marks: Sequence[tuple[int, int, str, str]]) -> str:
    """One line as html, its changed words wrapped in <del>/<ins> with the change's kind."""
    esc = html_lib.escape
    if not marks:
        return esc(line) or " "
    out: list[str] = []
    pos = 0
    spans = sorted(marks)
    k = 0
    while k < len(spans):
        s, e, kind, tag = spans[k]
        # Runs of changed words of one kind become one highlighted span, spaces included.
        while (
            k + 1 < len(spans) and spans[k + 1][2:] == (kind, tag) and not line[e : spans[k + 1][0]].strip()
        ):
            k += 1
            e = spans[k][1]
        out.append(esc(line[pos:s]))
        out.append(f'<{tag} class="k-{kind}" title="{esc(KIND_LABELS[kind])}">{esc(line[s:e])}</{tag}>')
        pos = e
        k += 1
    out.append(esc(line[pos:]))
    return "".join(out)
