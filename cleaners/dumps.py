"""Plain-text dumps of the viewer: the table's facts as a header block, the `<pre>` boxes glued together."""

from __future__ import annotations

import re
from typing import Any

from cleaners.header import CLASS_LINE
from cleaners.htmltext import Line

# A classification marking that opens the viewer's cable box (the class line of CLASS_LINE, or
# the viewer's own date line of a partial extract).
_BOX_START = re.compile(
    r"(?:C\s?O\s?N\s?F\s?I\s?D\s?E\s?N\s?T\s?I\s?A\s?L|S\s?E\s?C\s?R\s?E\s?T|UNCLAS|LIMITED OFFICIAL USE)"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{1,2} [A-Z][a-z]+ \d{4}, \d{1,2}:\d{2}"
)


def read_header(
    lines: list[Line], common: dict[str, Any]
) -> tuple[dict[str, str] | None, list[Line], list[str]]:
    """The dump's header block as a viewer table, the lines below it with the boxes split apart, and repairs.

    A dump written from the viewer's index puts the reference ID, the subject, the date, the
    classification and the origin one a line above the cable, then the text of every `<pre>` box
    of the page with nothing between them (`...not available.UNCLAS AMMAN 002221`). The boxes are
    split again at the partial-extract note and where a cable box opens glued to the end of the
    routing box, joined by one blank line as the viewer's boxes are. A text without the block
    (a dump of only the cable's text) has its boxes split all the same.
    """
    rules = common["dump"]
    if not rules:
        return None, lines, []
    table, origin_at = _header_block(lines, rules)
    rest, repairs = _split_boxes(lines[origin_at + 1 :], common)
    if table is None:
        return None, rest, repairs
    return table, rest, ["dump: the header block above the cable read as the viewer's table", *repairs]


def _header_block(lines: list[Line], rules: dict[str, Any]) -> tuple[dict[str, str] | None, int]:
    """The header block as a viewer table and the index of its last line (the origin), else (None, -1)."""
    head = [(i, ln.text.strip()) for i, ln in enumerate(lines[: rules["window"] + 4]) if ln.text.strip()]
    if len(head) < 4:
        return None, -1
    m = rules["id_line"].match(head[0][1])
    if not m:
        return None, -1
    ref = m.group(1)
    # The classification line closes the block; the subject (one line or more) and the date
    # stand between the ID and it, the origin follows it.
    cls_at = None
    for k in range(2, min(len(head) - 1, rules["window"])):
        if rules["classification_line"].match(head[k][1]):
            cls_at = k
            break
    if cls_at is None or not any(rules["date_line"].match(text) for _, text in head[1:cls_at]):
        return None, -1
    origin_idx, origin = head[cls_at + 1]
    if not rules["origin_line"].match(origin):
        return None, -1
    # No created or released: the dump's date is the index's, often without the time of day.
    table = {
        "reference_id": ref,
        "classification": _value(head[cls_at][1], rules),
        "origin": _value(origin, rules),
    }
    return table, origin_idx


def _value(text: str, rules: dict[str, Any]) -> str:
    """A header line's value without its label (`Origin: Embassy Paris` → `Embassy Paris`)."""
    return rules["label"].sub("", text, count=1).strip()


def _split_boxes(lines: list[Line], common: dict[str, Any]) -> tuple[list[Line], list[str]]:
    """Split lines where the dump glued one `<pre>` box to the next."""
    note = common["partial_note"]
    out: list[Line] = []
    splits = 0
    for n, ln in enumerate(lines):
        text = ln.text
        # Only the first lines can hold a box boundary: the routing box and the partial note
        # are short, and a cable's own text is never split.
        if n < common["dump"]["window"] * 10:
            if note and note in text and text.strip() != note:
                at = text.index(note) + len(note)
                if text[:at].strip() == note and text[at:].strip():
                    out.append(Line(note, ln.block, ln.pre))
                    out.append(Line("", ln.block, ln.pre))
                    ln = Line(text[at:], ln.block, ln.pre)
                    splits += 1
                    text = ln.text
            cut = _glued_at(text)
            if cut is not None:
                out.append(Line(text[:cut], ln.block, ln.pre))
                out.append(Line("", ln.block, ln.pre))
                ln = Line(text[cut:], ln.block, ln.pre)
                splits += 1
        out.append(ln)
    if not splits:
        return lines, []
    return out, [f"dump: {splits} <pre> box boundary(ies) restored (boxes joined without a line break)"]


def _glued_at(text: str) -> int | None:
    """Where a cable box starts glued to the routing box on one line (`...PRIORITYC O N F I D E N T I A L ...`)."""
    # Routing and classification lines are short: a long line is never a box boundary (and is
    # not searched, so that a hostile line cannot make the search slow).
    if len(text) > 400 or CLASS_LINE.match(text):
        return None
    for m in _BOX_START.finditer(text):
        at = m.start()
        if at == 0 or not text[:at].strip():
            continue
        before = text[:at].rstrip()
        # What stands before is routing (capitals, digits, slashes), never prose.
        if not before.isupper() or re.search(r"[a-z]", before):
            continue
        rest = text[at:]
        if CLASS_LINE.match(rest) or re.match(r"\w+day, \d", rest):
            return at
    return None
