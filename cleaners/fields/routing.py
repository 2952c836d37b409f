"""The routing block: transmission ID (VZCZC...), and the TO and INFO addressees."""

from __future__ import annotations

import re

from cleaners.fields.text import PAGE_MARK_IN, fold

_TID = re.compile(r"\b(VZCZ[A-Z]{1,4}\d{1,8})\b")
_TO = re.compile(r"^\s*TO(?:\s+(?P<rest>.*))?$")
_INFO = re.compile(r"^\s*INFO(?:\s+(?P<rest>.*))?$")
# The routing block ends where the cable's own header starts.
_END = re.compile(
    r"^\s*(?:BT\s*$|(?:C O N F|S E C R|U N C L|UNCLAS\w*\b|LIMITED OFFICIAL|CONFIDENTIAL\b|SECRET\b)"
    r"|E\.?\s?O\.?\s*1\d{4}|TAGS?\b|SUBJ|SIPDIS\b|(?:¶\s?)?\d{1,2}\s?\.)",
    re.I,
)
_PRECEDENCE = re.compile(r"\s+(FLASH|NIACT\s+IMMEDIATE|IMMEDIATE|P[RIO]{3,6}TY|ROUTINE)\b(?P<after>.*)$")
_MCN = re.compile(r"\s+\d{4,}\s*$")
_ROUTE = re.compile(r"^(?:(?P<route>[A-Z0-9]{4,8})/)?(?P<name>[A-Z0-9].*)$")
_PAGE = re.compile(r"\bPAGE\s+\d{1,3}\s+[A-Z][A-Z .-]*?\s+\d{3,6}\s+(?:\d{2}\s+OF\s+\d{2}\s+)?\d{6}Z")
MAX_ROUTING_LINES = 400


def read_transmission_id(lines: list[str]) -> str | None:
    """The transmission ID the routing block opens with (VZCZCXRO4549), else None."""
    for line in lines[:12]:
        if "VZCZ" in line:
            m = _TID.search(line)
            if m:
                return m.group(1)
    return None


def read_addressees(lines: list[str]) -> tuple[list[dict[str, str | None]], list[dict[str, str | None]]]:
    """(TO addressees, INFO addressees): each {"route", "name", "precedence"}, in order."""
    to: list[dict[str, str | None]] = []
    info: list[dict[str, str | None]] = []
    target: list[dict[str, str | None]] | None = None
    excluded = False
    for raw in lines[:MAX_ROUTING_LINES]:
        line = _PAGE.sub("", PAGE_MARK_IN.sub("", raw)).rstrip()
        if not line.strip():
            if target is not None and (to or info):
                break
            continue
        m_to, m_info = _TO.match(line), _INFO.match(line)
        if m_to:
            target, excluded, line = to, False, m_to.group("rest") or ""
        elif m_info:
            target, excluded, line = info, False, m_info.group("rest") or ""
        elif target is None:
            continue
        elif _END.match(line):
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
    precedence = None
    m = _PRECEDENCE.search(line)
    if m and not m.group("after").strip(" 0123456789"):
        precedence = fold(m.group(1))
        if precedence.startswith("P"):
            precedence = "PRIORITY"  # PIORITY, PRIOITY: typos of the one precedence that starts with P
        line = line[: m.start()]
    line = _MCN.sub("", line)
    m = _ROUTE.match(line.strip())
    if not m:
        return None
    name = fold(m.group("name"))
    if not name:
        return None
    return {"route": m.group("route"), "name": name, "precedence": precedence}
