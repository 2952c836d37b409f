"""Diffs for people: a unified or an inline word diff (ANSI colours on a terminal), a side-by-side html page.

The html page is made from the templates in archive/templates/, the ones the web site
(`cablearchive serve`) shows its diffs with. Page text is html-escaped in html output (the
templates autoescape); colour codes are only ever added around it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from archive.classify import KIND_LABELS, KINDS, WHITESPACE
from archive.diff import Diff, Hunk, Text

FORMATS = ("unified", "words", "html", "json")


def render(d: Diff, fmt: str = "unified", color: bool = False) -> str:
    """A diff in one of FORMATS."""
    if fmt == "unified":
        return unified(d, color=color)
    if fmt == "words":
        return words(d, color=color)
    if fmt == "html":
        return html(d)
    if fmt == "json":
        return json.dumps(d.to_json(), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown diff format {fmt!r}; use one of {', '.join(FORMATS)}")


def unified(d: Diff, color: bool = False) -> str:
    """Unified diff with each hunk's classification after its range line."""
    c = _Ansi(color)
    marks_old, marks_new = _word_marks(d) if color else ({}, {})
    out = [c.bold(f"--- {d.old_label}"), c.bold(f"+++ {d.new_label}")]
    for h in d.hunks:
        out.append(c.cyan(h.range_header()) + " " + c.kind(h.kind, h.label))
        for tag, i1, i2, j1, j2 in h.ops:
            if tag == "equal":
                out.extend(" " + line for line in d.old.lines[i1:i2])
                continue
            out.extend(c.line("-", d.old.lines[i], marks_old.get(i, ())) for i in range(i1, i2))
            out.extend(c.line("+", d.new.lines[j], marks_new.get(j, ())) for j in range(j1, j2))
    out.append(c.dim(d.summary()))
    return "\n".join(out) + "\n"


def words(d: Diff, color: bool = False) -> str:
    """Inline word diff: the new text of each hunk with [-removed-]{+added+} words."""
    c = _Ansi(color)
    out = [c.bold(f"--- {d.old_label}"), c.bold(f"+++ {d.new_label}")]
    for h in d.hunks:
        out.append(c.cyan(h.range_header()) + " " + c.kind(h.kind, h.label))
        out.append(_inline_hunk(d, h, c))
    out.append(c.dim(d.summary()))
    return "\n".join(out) + "\n"


def _inline_hunk(d: Diff, h: Hunk, c: _Ansi) -> str:
    """One hunk's new lines with the changed words marked in place."""
    marked = {"del": c.removed, "ins": c.added}
    return "".join(marked[p.tag](p.text) if p.tag else p.text for p in _inline_pieces(d, h))


def _inline_pieces(d: Diff, h: Hunk) -> list[Piece]:
    """One hunk's new lines as pieces: unchanged text, removed words (del) and added words (ins)."""
    new_first = d.new.line_starts[h.new_start] if h.new_start < len(d.new.lines) else len(d.new.text)
    new_last = (
        d.new.line_starts[h.new_end - 1] + len(d.new.lines[h.new_end - 1])
        if h.new_end > h.new_start
        else new_first
    )
    pieces: list[Piece] = []
    pos = new_first
    for ch in sorted(h.changes, key=lambda ch: (ch.new_words[0], ch.old_words[0])):
        if ch.moves_only_spacing:
            continue
        j1, j2 = ch.new_words
        at = d.new.spans[j1][0] if j1 < len(d.new.words) else new_last
        at = max(at, pos)
        pieces.append(Piece(d.new.text[pos:at]))
        if ch.old:
            pieces.append(Piece(ch.old.replace("\n", " "), "del", ch.kind))
        if ch.new:
            if ch.old:
                pieces.append(Piece(" "))
            pieces.append(Piece(ch.new, "ins", ch.kind))
            pos = max(at, d.new.spans[j2 - 1][1])
        else:
            if j1 < len(d.new.words):
                pieces.append(Piece(" "))
            pos = at
    pieces.append(Piece(d.new.text[pos:new_last]))
    return [p for p in pieces if p.text]


def html(d: Diff) -> str:
    """A self-contained page: summary, then both texts side by side with changes highlighted."""
    title = d.title or f"{d.old_label} → {d.new_label}"
    return render_template("diff_page.html", title=title, heading="", diffs=[diff_view(d, "h")])


def render_many(diffs: Sequence[Diff], fmt: str = "unified", color: bool = False, title: str = "") -> str:
    """Several diffs as one output: concatenated text, one JSON list, or one html page."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown diff format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps([d.to_json() for d in diffs], ensure_ascii=False, indent=2) + "\n"
    if fmt == "html":
        views = [diff_view(d, f"d{k}h", anchor=f"d{k}") for k, d in enumerate(diffs, 1)]
        return render_template("diff_page.html", title=title or "diffs", heading=title, diffs=views)
    return "".join(render(d, fmt, color=color) for d in diffs)


# -- terminal ------------------------------------------------------------------------------

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


# -- html ----------------------------------------------------------------------------------
# The html views (this page and the web site's diff page) are Jinja2 templates in
# archive/templates/; this module turns a Diff into the data they show. Autoescaping is on:
# page text reaches the html only through the templates' escaping.

# Colours of the highlights, (text, background): each pair has a contrast of at least 4.5:1
# (WCAG AA); tests/test_serve_pages.py checks them. Word marks of every kind share the
# del/ins colours and carry their kind as an outline, so a kind's colour is never the
# background of text in its own colour.
BADGE_COLOURS: dict[str, tuple[str, str]] = {
    "wording": ("#ffffff", "#8a5300"),
    "unredaction": ("#ffffff", "#6b46c1"),
    "redaction": ("#ffffff", "#b42318"),
    "header": ("#ffffff", "#1e5aa0"),
    "typography": ("#ffffff", "#1d6b6c"),
    "whitespace": ("#ffffff", "#56606d"),
}
MARK_COLOURS: dict[str, tuple[str, str]] = {
    "del": ("#7a1010", "#ffe0e0"),
    "ins": ("#0b4a1e", "#d3f4da"),
    "ws": ("#1d2228", "#e6eaf0"),
}
TEXT_COLOURS: dict[str, tuple[str, str]] = {
    "text": ("#1d2228", "#ffffff"),
    "page": ("#1d2228", "#f6f7f9"),
    "old line": ("#1d2228", "#fff5f5"),
    "new line": ("#1d2228", "#f0fff4"),
    "line number": ("#59636f", "#ffffff"),
    "legend": ("#4a5568", "#ffffff"),
    "hunk row": ("#1d2228", "#e8eef5"),
    "link": ("#1f5fa6", "#ffffff"),
}
# Unchanged runs longer than this are folded, keeping FOLD_KEEP lines on each side.
FOLD_OVER = 8
FOLD_KEEP = 3

_templates: Environment | None = None


def templates() -> Environment:
    """The Jinja2 environment of archive/templates/ (autoescaping html and xml)."""
    global _templates
    if _templates is None:
        _templates = Environment(
            loader=PackageLoader("archive", "templates"),
            autoescape=select_autoescape(("html", "xml", "htm")),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _templates.globals.update(palette_css=palette_css, kind_labels=KIND_LABELS, kinds=KINDS)
    return _templates


def render_template(name: str, **context: Any) -> str:
    """One template of archive/templates/ rendered with context."""
    return templates().get_template(name).render(**context)


def palette_css() -> str:
    """The CSS rules that colour badges and word marks (from BADGE_COLOURS and MARK_COLOURS)."""
    rules = [f".badge.k-{k}{{color:{fg};background:{bg}}}" for k, (fg, bg) in BADGE_COLOURS.items()]
    rules += [f"{tag}{{color:{fg};background:{bg}}}" for tag, (fg, bg) in MARK_COLOURS.items() if tag != "ws"]
    fg, bg = MARK_COLOURS["ws"]
    rules.append(f"del.k-whitespace,ins.k-whitespace{{color:{fg};background:{bg};text-decoration:none}}")
    rules += [
        f"del.k-{k},ins.k-{k}{{outline:2px solid {bg};outline-offset:-1px}}"
        for k, (_f, bg) in BADGE_COLOURS.items()
        if k != "whitespace"
    ]
    return "\n".join(rules)


@dataclass
class Piece:
    """A stretch of a line: plain text, or changed words (`del`/`ins`) of a kind."""

    text: str
    tag: str = ""
    kind: str = ""

    @property
    def label(self) -> str:
        """The human name of the change's kind."""
        return KIND_LABELS.get(self.kind, "")


@dataclass
class Side:
    """One side of a table row: the line number (1-based) and the line's pieces."""

    number: int
    pieces: list[Piece]


@dataclass
class Line:
    """A row of the side-by-side table; a side is None where the other text has no line."""

    old: Side | None
    new: Side | None
    changed: bool = False
    faint: bool = False  # lines that differ only by re-wrapping, outside every hunk


@dataclass
class HunkHead:
    """The row that opens a hunk: its anchor, range line and kinds."""

    anchor: str
    header: str
    kind: str
    label: str
    kinds: list[str]
    whitespace_only: bool


@dataclass
class Fold:
    """Rows shown folded: a long unchanged run, or the lines of a whitespace-only hunk."""

    summary: str
    lines: list[Line]


@dataclass
class InlineHunk:
    """A hunk as an inline word diff: its head and the new text with removed and added words."""

    head: HunkHead
    pieces: list[Piece]


@dataclass
class DiffView:
    """What the html templates show of a Diff."""

    anchor: str
    title: str
    summary: str
    old_label: str
    new_label: str
    mode: str
    badges: list[tuple[str, str, int]]
    hunks: list[HunkHead]
    rows: list[HunkHead | Line | Fold]
    inline: list[InlineHunk] = field(default_factory=list)
    whitespace_hunks: int = 0


def diff_view(d: Diff, prefix: str, anchor: str = "", fold_whitespace: bool = True) -> DiffView:
    """The data of a diff's html view; hunk anchors are prefix1, prefix2, ...

    With fold_whitespace, the lines of a whitespace-only hunk are folded under its head, so
    a re-wrapped text does not fill the page with highlighted blocks.
    """
    counts = d.counts()
    heads = [
        HunkHead(
            anchor=f"{prefix}{n}",
            header=h.range_header(),
            kind=h.kind,
            label=h.label,
            kinds=h.kinds,
            whitespace_only=h.kind == WHITESPACE,
        )
        for n, h in enumerate(d.hunks, 1)
    ]
    view = DiffView(
        anchor=anchor,
        title=d.title or f"{d.old_label} → {d.new_label}",
        summary=d.summary(),
        old_label=d.old_label,
        new_label=d.new_label,
        mode="by words (re-wrapped lines are not changes)" if d.ignore_wrapping else "by lines",
        badges=[(k, KIND_LABELS[k], n) for k, n in counts.items()],
        hunks=heads,
        rows=_table_rows(d, heads, fold_whitespace),
        whitespace_hunks=sum(1 for h in heads if h.whitespace_only),
    )
    view.inline = [InlineHunk(head, _inline_pieces(d, h)) for head, h in zip(heads, d.hunks, strict=True)]
    return view


def _table_rows(d: Diff, heads: list[HunkHead], fold_whitespace: bool) -> list[HunkHead | Line | Fold]:
    """The side-by-side rows: hunk heads, changed and context lines, folds."""
    marks_old, marks_new = _word_marks(d)
    rows: list[HunkHead | Line | Fold] = []
    plain: list[Line] = []  # unchanged rows outside every hunk, folded when long
    folded: list[Line] = []  # the rows of the whitespace-only hunk being read

    def flush() -> None:
        if len(plain) > FOLD_OVER:
            rows.extend(plain[:FOLD_KEEP])
            inner = plain[FOLD_KEEP:-FOLD_KEEP]
            rewrapped = sum(1 for line in inner if line.faint)
            what = f"{len(inner)} unchanged lines"
            if rewrapped:
                what = f"{len(inner)} lines unchanged but for spacing or line breaks ({rewrapped} re-wrapped)"
            rows.append(Fold(what, inner))
            rows.extend(plain[-FOLD_KEEP:])
        else:
            rows.extend(plain)
        plain.clear()

    def end_fold() -> None:
        if folded:
            rows.append(Fold(f"{len(folded)} lines that differ only in spacing or line breaks", list(folded)))
            folded.clear()

    def side(t: Text, marks: dict[int, list[tuple[int, int, str, str]]], i: int | None) -> Side | None:
        if i is None:
            return None
        return Side(i + 1, _marked_pieces(t.lines[i], marks.get(i, [])))

    hunks = list(d.hunks)
    pending = list(heads)
    current: Hunk | None = None
    current_head: HunkHead | None = None
    sm = difflib.SequenceMatcher(None, d.old.lines, d.new.lines, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i = i1 + k if k < i2 - i1 else None
            j = j1 + k if k < j2 - j1 else None
            while hunks and (
                (i is not None and i >= hunks[0].old_start) or (j is not None and j >= hunks[0].new_start)
            ):
                current, current_head = hunks.pop(0), pending.pop(0)
                flush()
                end_fold()
                rows.append(current_head)
            inside = current is not None and (
                (i is not None and current.old_start <= i < current.old_end)
                or (j is not None and current.new_start <= j < current.new_end)
            )
            line = Line(
                side(d.old, marks_old, i),
                side(d.new, marks_new, j),
                changed=tag != "equal",
                faint=tag != "equal" and d.ignore_wrapping and not inside,
            )
            if inside and fold_whitespace and current_head is not None and current_head.whitespace_only:
                folded.append(line)
            elif inside or (tag != "equal" and not line.faint):
                flush()
                end_fold()
                rows.append(line)
            else:
                # Unchanged lines, and lines outside every hunk that were only re-wrapped.
                end_fold()
                plain.append(line)
    flush()
    end_fold()
    return rows


def _marked_pieces(line: str, marks: Sequence[tuple[int, int, str, str]]) -> list[Piece]:
    """One line cut into pieces, its changed words marked del/ins with the change's kind."""
    if not marks:
        return [Piece(line)]
    out: list[Piece] = []
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
        if s < pos:  # overlapping marks: keep the first
            k += 1
            continue
        if line[pos:s]:
            out.append(Piece(line[pos:s]))
        out.append(Piece(line[s:e], tag, kind))
        pos = e
        k += 1
    if line[pos:]:
        out.append(Piece(line[pos:]))
    return out


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
