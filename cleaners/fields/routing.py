"""The routing block: transmission ID (VZCZC...), and the TO and INFO addressees."""

from __future__ import annotations

import re

from cleaners.fields.text import PAGE_MARK_IN, Head

_TID = re.compile(r"\b(VZCZ[A-Z]{1,4}\d{1,8})\b")
_TO = re.compile(r"^\s*TO(?:\s+(?P<rest>.*))?$")
_INFO = re.compile(r"^\s*INFO(?:\s+(?P<rest>.*))?$")
# The routing block ends where the cable's own header starts.
_END = re.compile(
    r"^\s*(?:BT\s*$|(?:C O N F|S E C R|U N C L|UNCLAS\w*\b|LIMITED OFFICIAL|CONFIDENTIAL\b|SECRET\b)"
    r"|E\.?\s?O\.?\s*1\d{4}|TAGS?\b|SUBJ|SIPDIS\b|(?:¶\s?)?\d{1,2}\s?\.)",
    re.I,
)
# What an end-of-routing line can start with (a cheap test before the pattern).
_END_FIRST = frozenset(" \tBbCcSsUuLlEeTt0123456789¶")
# Lines that come after any routing block (the classification line may come before it), and
# the first TO or INFO line.
# (Both searched in "\n" + text: a literal first character makes the search fast.)
_BODY_IN = re.compile(r"\n[ \t]*(?:E\.?[ \t]?O\.?[ \t]*1\d{4}|TAGS?\b|SUBJ|1[ \t]?\.[ \t]*\()", re.I | re.M)
_FIRST = re.compile(r"\n[ \t]*(?:TO|INFO)(?:[ \t]|$)", re.M)
# route/NAME PRECEDENCE MCN: RUEHC/SECSTATE WASHDC IMMEDIATE 4696
_ROUTE = re.compile(r"[A-Z0-9]{4,8}")
_PRECEDENCE_WORD = re.compile(r"FLASH|IMMEDIATE|P[RIO]{3,6}TY|ROUTINE")
_PAGE = re.compile(r"\bPAGE\s+\d{1,3}\s+[A-Z][A-Z .-]*?\s+\d{3,6}\s+(?:\d{2}\s+OF\s+\d{2}\s+)?\d{6}Z")
MAX_ROUTING_LINES = 400


def read_transmission_id(head: Head) -> str | None:
    """The transmission ID the routing block opens with (VZCZCXRO4549), else None."""
    for line in head.lines[:12]:
        if "VZCZ" in line:
            m = _TID.search(line)
            if m:
                return m.group(1)
    return None


def read_addressees(head: Head) -> tuple[list[dict[str, str | None]], list[dict[str, str | None]]]:
    """(TO addressees, INFO addressees): each {"route", "name", "precedence"}, in order."""
    to: list[dict[str, str | None]] = []
    info: list[dict[str, str | None]] = []
    lines, text = head.lines, head.text
    marked = "\n" + text
    first = _FIRST.search(marked)
    if not first:
        return to, info
    body = _BODY_IN.search(marked, 0, first.start())
    if body:
        return to, info  # the cable's own header has begun before any routing line
    target: list[dict[str, str | None]] | None = None
    excluded = False
    for raw in lines[head.line_of(first.start()) :]:  # (marked's offset = the line's own in text)
        line = raw
        if "PAGE" in line or " OF " in line:
            line = _PAGE.sub("", PAGE_MARK_IN.sub("", line))
        line = line.rstrip()
        if not line.strip():
            if target is not None and (to or info):
                break
            continue
        word = line.lstrip()[:5]
        m_to = _TO.match(line) if word.startswith("TO") else None
        m_info = _INFO.match(line) if word.startswith("INFO") else None
        if m_to:
            target, excluded, line = to, False, m_to.group("rest") or ""
        elif m_info:
            target, excluded, line = info, False, m_info.group("rest") or ""
        elif target is None:
            continue
        elif line[:1] in _END_FIRST and _END.match(line):
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("XMT"):
            excluded = True  # the posts of a collective that do not receive it (FAH XMT prosign)
            continue
        if excluded:
            continue
        entry = _addressee(line)
        if entry:
            target.append(entry)
    return to, info


def _addressee(line: str) -> dict[str, str | None] | None:
    """One addressee line: RUEHC/SECSTATE WASHDC IMMEDIATE 4696 -> route, name, precedence."""
    route: str | None = None
    slash = line.find("/")
    if 4 <= slash <= 8 and _ROUTE.fullmatch(line, 0, slash):
        route, line = line[:slash], line[slash + 1 :]
    words = line.split()
    if words and len(words[-1]) >= 4 and words[-1].isdigit():
        words.pop()  # the channel's message number
    precedence: str | None = None
    if len(words) >= 3 and words[-2] == "NIACT" and words[-1] == "IMMEDIATE":
        precedence, words = "NIACT IMMEDIATE", words[:-2]
    elif len(words) >= 2 and _PRECEDENCE_WORD.fullmatch(words[-1]):
        # PIORITY, PRIOITY: typos of the one precedence that starts with P
        precedence, words = ("PRIORITY" if words[-1][0] == "P" else words[-1]), words[:-1]
    if not words or not words[0][:1].isalnum() or not (words[0][0].isupper() or words[0][0].isdigit()):
        return None
    return {"route": route, "name": " ".join(words), "precedence": precedence}
