"""Diffs for people: a unified or an inline word diff (ANSI colours on a terminal), a side-by-side html page.

Page text is html-escaped in html output; colour codes are only ever added around it.
"""

from __future__ import annotations

import difflib
import html as html_lib
import json
from collections.abc import Sequence

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
    new_first = d.new.line_starts[h.new_start] if h.new_start < len(d.new.lines) else len(d.new.text)
    new_last = (
        d.new.line_starts[h.new_end - 1] + len(d.new.lines[h.new_end - 1])
        if h.new_end > h.new_start
        else new_first
    )
    pieces: list[str] = []
    pos = new_first
    for ch in sorted(h.changes, key=lambda ch: (ch.new_words[0], ch.old_words[0])):
        if ch.moves_only_spacing:
            continue
        j1, j2 = ch.new_words
        at = d.new.spans[j1][0] if j1 < len(d.new.words) else new_last
        at = max(at, pos)
        pieces.append(d.new.text[pos:at])
        if ch.old:
            pieces.append(c.removed(ch.old.replace("\n", " ")))
        if ch.new:
            if ch.old:
                pieces.append(" ")
            pieces.append(c.added(ch.new))
            pos = max(at, d.new.spans[j2 - 1][1])
        else:
            if j1 < len(d.new.words):
                pieces.append(" ")
            pos = at
    pieces.append(d.new.text[pos:new_last])
    return "".join(pieces)


def html(d: Diff) -> str:
    """A self-contained page: summary, then both texts side by side with changes highlighted."""
    return _html_page(d.title or f"{d.old_label} → {d.new_label}", _html_section(d, "h"))


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
