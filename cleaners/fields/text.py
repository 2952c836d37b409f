"""What the field readers share: the header's extent, page-break debris, markings, whitespace."""

from __future__ import annotations

import re

# A header is read from at most this many lines: a hostile page cannot make a reader run away.
MAX_HEADER_LINES = 150
MAX_LINE = 4000

# The cable's first numbered paragraph ends its header: "1. (C)", "¶1.", "1.(SBU)", "1. SUMMARY".
FIRST_PARA = re.compile(r"^\s*(?:¶\s?)?1\s?\.\s*(?:\(|[A-Z]|$)")
# A teletype page break: "PRETORIA 00000954 001.2 OF 004" (2004 on), "PAGE 02 ROME 03067 211833Z".
PAGE_MARK = re.compile(
    r"^\s*(?:[A-Z][A-Z .'-]*\s\d{5,8}\s+\d{3}(?:\.\d)?\s+OF\s+\d{3}"
    r"|PAGE\s+\d{1,3}\s+[A-Z][A-Z .'-]*?\s+\d{3,6}\b[^a-z]*)\s*$"
)
PAGE_MARK_IN = re.compile(
    r"(?:\b[A-Z][A-Z]+\s+\d{5,8}\s+\d{3}(?:\.\d)?\s+OF\s+\d{3}\b"
    r"|\bPAGE\s+\d{1,3}\s+[A-Z][A-Z .'-]*?\s+\d{3,6}\s+(?:\d{2}\s+OF\s+\d{2}\s+)?\d{6}Z)"
)
# A classification marking alone on a line (the top of a page in pre-2004 cables).
MARKING_LINE = re.compile(
    r"^\s*(?:UNCLASSIFIED|UNCLAS|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE|C O N F I D E N T I A L|"
    r"S E C R E T|U N C L A S S I F I E D)(?:\s*(?://|/)?\s*(?:NOFORN|SENSITIVE|SIPDIS|EXDIS|NODIS))*\s*$"
)
# A portion marking in front of (or after) a field: (C), (S/NF), (SBU), (U//FOUO), (C/REL UK).
PORTION_MARK = (
    r"\((?:TS|S|C|U|SBU|LOU|FOUO|NF)(?:\s?/{1,2}\s?(?:NF|NOFORN|FOUO|SBU|REL[A-Z ,]*|[TSCU]|ORCON))*\)"
)
LEADING_MARK = re.compile(r"^\s*" + PORTION_MARK + r"\s*")
TRAILING_MARK = re.compile(r"\s+" + PORTION_MARK + r"\s*$")
RULE_LINE = re.compile(r"^\s*(?:[-=_*~\u2010-\u2015]\s?){3,}\s*$")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Whitespace folded to single spaces, trimmed."""
    return _SPACES.sub(" ", text).strip()


def clean_line(line: str) -> str:
    """A line as the readers see it: no ¶ link marks, no backslash continuation marks, no trailing blanks."""
    if len(line) > MAX_LINE:
        line = line[:MAX_LINE]
    line = line.replace("¶", "").rstrip()
    # The cable viewer's text dumps end every line with a backslash (CONCERNS \ / REGARDING).
    while line.endswith("\\"):
        line = line[:-1].rstrip()
    return line


def header_lines(lines: list[str]) -> tuple[list[str], int]:
    """The cleaned lines the header fields are read from, and where the first paragraph starts in them."""
    out = [clean_line(ln) for ln in lines[:MAX_HEADER_LINES]]
    for i, line in enumerate(out):
        if FIRST_PARA.match(line):
            return out, i
    return out, len(out)


def join_wrapped(parts: list[str]) -> str:
    """Lines of one field joined onto one line: a word cut at a hyphen is joined without a space."""
    text = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if not text:
            text = part
        elif re.search(r"[A-Za-z]-$", text) and not re.search(r"\s-$", text):
            text += part  # US-\nLATIN -> US-LATIN
        else:
            text += " " + part
    return fold(text)


def is_upper(text: str) -> bool:
    """True when at least 80% of the letters are capitals."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def is_lower_prose(text: str) -> bool:
    """True for a line of mostly lower-case words (a sentence, not a header field)."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 8 and sum(c.islower() for c in letters) >= 0.5 * len(letters)
