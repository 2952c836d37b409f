"""Find the cables in the text of a post: where each starts and ends, and what surrounds it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cleaners.ending import PARA_START, end_of, last_header_line
from cleaners.header import parse_header
from cleaners.htmltext import Line
from cleaners.model import CleanerWarning

TABLE_ROW = re.compile(
    r"^\s*(?P<ref>\d{2}[A-Z][A-Z-]*?\d+?)\s*(?P<created>\d{4}-\d{2}-\d{2} \d{2}:\d{2})\s*"
    r"(?P<released>\d{4}-\d{2}-\d{2} \d{2}:\d{2})\s*"
    r"(?P<cls>UNCLASSIFIED//FOR OFFICIAL USE ONLY|(?:UNCLASSIFIED|CONFIDENTIAL|SECRET)(?://NOFORN|//[A-Z]+)?)"
    r"\s*(?P<origin>\S.*?)\s*$"
)
_TABLE_CLASSES = ("UNCLASSIFIED//FOR OFFICIAL USE ONLY", "CONFIDENTIAL//NOFORN", "SECRET//NOFORN")


@dataclass
class Found:
    """One cable located in a list of lines."""

    lines: list[Line]
    heading_ref: str | None = None
    table: dict[str, str] | None = None
    hashtag: str | None = None
    partial: bool = False
    warnings: list[CleanerWarning] = field(default_factory=list)


def _kind(text: str, common: dict[str, Any], drop_lines: list[re.Pattern[str]]) -> str:
    """Classify one line: blank, help, table, partial, heading, chrome, after, before, start or text."""
    if not text.strip():
        return "blank"
    if common["partial_note"] and common["partial_note"] in text:
        return "partial"
    for rx in common["help_lines"]:
        if rx.search(text):
            return "help"
    if common["table_header"].search(text):
        return "table"
    if TABLE_ROW.match(text):
        return "table_row"
    for rx in common["cable_heading"]:
        if rx.search(text):
            return "heading"
    for rx in drop_lines:
        if rx.search(text):
            return "chrome"
    for rx in common["framing_after"]:
        if rx.search(text):
            return "after"
    for rx in common["framing_before"]:
        if rx.search(text):
            return "before"
    for rx in common["start"]:
        if rx.search(text):
            return "start"
    return "text"


def parse_table_row(text: str) -> dict[str, str] | None:
    """The viewer's Reference-ID table row as metadata, or None."""
    m = TABLE_ROW.match(text)
    if not m:
        return None
    cls, origin = m.group("cls"), m.group("origin")
    # The classification and origin run together when a page drops the table's cells.
    for full in _TABLE_CLASSES:
        joined = cls + " " + origin
        if joined.startswith(full) and cls != full:
            cls, origin = full, joined[len(full) :].strip()
    return {
        "reference_id": m.group("ref"),
        "created": m.group("created"),
        "released": m.group("released"),
        "classification": cls,
        "origin": origin,
    }


def _is_marker(text: str, common: dict[str, Any]) -> bool:
    """True when the line is a cable header marker (TAGS, SUBJECT, E.O., SIPDIS...)."""
    return any(rx.search(text) for rx in common["header_markers"])


def _identity(lines: list[Line], i: int, window: int) -> tuple[str | None, int | None]:
    """(origin, serial) that the header starting at line i names, where it names them."""
    h = parse_header([ln.text for ln in lines[i : i + window]])
    serial = h.serial if h.serial is not None else h.routing_serial
    return (h.class_origin or h.fm_origin), serial


def _anchored(kinds: list[str], i: int, text_file: bool) -> bool:
    """Whether the start line `i` opens the viewer's cable box: right below its table row.

    In a text file, the classification line that opens the file is such a box too (a dump of
    only the cable's text).
    """
    j = i - 1
    while j >= 0 and kinds[j] in ("blank", "partial"):
        j -= 1
    return (j >= 0 and kinds[j] == "table_row") or (text_file and j < 0)


def find(
    lines: list[Line], common: dict[str, Any], drop_lines: list[re.Pattern[str]], text_file: bool = False
) -> list[Found]:
    """Locate every cable in `lines`; the blogger's words and the viewer's chrome are left out.

    `text_file`: the lines are a plain-text file's, whose first line may open a cable box.
    """
    n = len(lines)
    kinds = [_kind(ln.text, common, drop_lines) for ln in lines]
    # Blog framing inside <pre> is cable text, not framing.
    for i, ln in enumerate(lines):
        if ln.pre and kinds[i] in ("after", "before", "chrome"):
            kinds[i] = "text"
    window = common["header_window"]
    markers = [k not in ("blank",) and _is_marker(lines[i].text, common) for i, k in enumerate(kinds)]

    starts: list[int] = []
    # Starts that open a viewer box in a text file: the box runs to the next table or help text.
    boxes: set[int] = set()
    for i, k in enumerate(kinds):
        if k != "start":
            continue
        if _anchored(kinds, i, text_file):
            # The viewer's table names a cable and its box follows (a viewer page copied to
            # text, or pasted whole): its first line starts the cable, header markers or not.
            starts.append(i)
            if text_file:
                boxes.add(i)
            continue
        seen = 0
        for j in range(i, n):
            if kinds[j] == "blank":
                continue
            if j > i and kinds[j] in ("heading", "after", "table", "help"):
                break
            if markers[j] and j > i:
                starts.append(i)
                break
            seen += 1
            if seen > window:
                break

    found: list[Found] = []
    if not starts:
        return found

    # Group start lines into cables: a new cable begins after a heading, or where the
    # header names another origin/serial once the current cable has a body.
    groups: list[tuple[int, int]] = []  # (begin, limit)
    cur_begin = starts[0]
    cur_id = _identity(lines, cur_begin, window)
    cur_body = _first_para(lines, cur_begin, n)
    for s in starts[1:]:
        heading_between = any(kinds[j] == "heading" for j in range(cur_begin, s))
        new_cable = heading_between
        if not new_cable and s > cur_body:
            sid = _identity(lines, s, window)
            if sid[1] is not None and cur_id[1] is not None and (sid != cur_id):
                new_cable = sid[1] != cur_id[1]
        if new_cable:
            groups.append((cur_begin, s))
            cur_begin, cur_id = s, _identity(lines, s, window)
            cur_body = _first_para(lines, s, n)
    groups.append((cur_begin, n))

    prev_end = 0
    for begin, limit in groups:
        f = Found(lines=[])
        box = begin in boxes
        # What stands between the previous cable and this one: heading, table, partial note.
        for j in range(prev_end, begin):
            k = kinds[j]
            text = lines[j].text
            if k == "heading":
                for rx in common["cable_heading"]:
                    m = rx.search(text)
                    if m:
                        f.heading_ref = m.group(1)
            elif k == "table_row":
                f.table = parse_table_row(text)
            elif k == "partial":
                f.partial = True
            elif k == "help":
                m = common["hashtag"].search(text)
                if m:
                    f.hashtag = m.group(1)
        # Extend the start back to the beginning of its block (a <pre> or a paragraph whose
        # first line is not a start pattern) unless the block holds framing or chrome.
        # Inside a <pre> the block runs over its blank lines: a cable pasted in <pre> starts
        # where the <pre> starts (a message-handling preamble above its header stays).
        in_pre = lines[begin].pre
        b = begin
        while (
            b > prev_end
            and lines[b - 1].block == lines[begin].block
            and (
                kinds[b - 1] in ("text", "start") or (in_pre and lines[b - 1].pre and kinds[b - 1] == "blank")
            )
        ):
            b -= 1
        while b < begin and not lines[b].text.strip():
            b += 1
        begin = b
        # Address lines that a mirror split off into paragraphs of their own (AMEMBASSY
        # TRIPOLI / DEPT OF JUSTICE WASHDC) belong to the routing block that follows them, and
        # so do a message-handling preamble and a teletype page head (`cable.preamble`).
        begin = _routing_before(lines, kinds, prev_end, begin, common["preamble"])
        if box:
            # The box is the cable as the viewer shows it: no search for a signer or a
            # blogger's words, only for what a page puts after the box.
            # (A blog's framing is looked for below the header: `Tags: prel, pgov` in it is the cable's.)
            after_header = last_header_line(lines, begin, limit) + 1
            end = next(
                (
                    j
                    for j in range(begin + 1, limit)
                    if kinds[j] in _VIEWER_ENDS or (j >= after_header and kinds[j] in _BLOG_ENDS)
                ),
                limit,
            )
        else:
            end = end_of(lines, kinds, begin, limit, _first_para(lines, begin, limit), common)
        body = [
            lines[j]
            for j in range(begin, end)
            if kinds[j] not in ("help", "table", "table_row", "partial", "chrome", "heading")
        ]
        while body and not body[-1].text.strip():
            body.pop()
        while body and not body[0].text.strip():
            body.pop(0)
        if body:
            f.lines = body
            found.append(f)
        prev_end = max(end, begin)
        # the next cable's preamble is searched from here
        prev_end = min(prev_end, limit)
    return found


# What ends a viewer box in a text file: the viewer's next table or help text, a heading, and a
# blog's framing and chrome when the text is a blog page saved as text.
_VIEWER_ENDS = frozenset(("table", "table_row", "help", "heading"))
_BLOG_ENDS = frozenset(("after", "before", "chrome"))
_ROUTING_WORDS = re.compile(
    r"\b(?:AMEMBASSY|AMCONSUL|WASHDC|WASHINGTON DC|SECSTATE|USMISSION|COLLECTIVE|RUE[A-Z]{2,}|PRIORITY|IMMEDIATE|ROUTINE|[A-Z]{2,5}-\d{2})\b"
)


def _routing_before(
    lines: list[Line], kinds: list[str], lo: int, begin: int, preamble: list[re.Pattern[str]] | None = None
) -> int:
    """Move a cable's start back over whole paragraphs of routing or preamble lines just before it."""
    j = begin
    while True:
        k = j
        while k > lo and not lines[k - 1].text.strip():
            k -= 1
        if k <= lo:
            return j
        first = k - 1
        while first > lo and lines[first - 1].text.strip() and lines[first - 1].block == lines[k - 1].block:
            first -= 1
        block = lines[first:k]
        if not all(
            kinds[first + i] in ("text", "start")
            and not ln.heading
            and (
                (ln.text.strip().isupper() and _ROUTING_WORDS.search(ln.text))
                or any(rx.search(ln.text) for rx in preamble or ())
            )
            for i, ln in enumerate(block)
        ):
            return j
        j = first


def _first_para(lines: list[Line], begin: int, limit: int) -> int:
    """Index of the cable's first numbered paragraph (end of its header), else the line after its start."""
    for j in range(begin, min(limit, len(lines))):
        if PARA_START.match(lines[j].text):
            return j
    return min(limit, begin + 1)
