"""What the field readers share: the header's extent, page-break debris, markings, whitespace."""

from __future__ import annotations

import bisect
import itertools
import re

# A header is read from at most this many lines: a hostile page cannot make a reader run away.
MAX_HEADER_LINES = 150
MAX_LINE = 4000
# How many lines past the first paragraph the readers look at (Classified By in paragraph 1).
PAST_FIRST_PARA = 12

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
_CUT_WORD = re.compile(r"[A-Za-z]-$")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Whitespace folded to single spaces, trimmed."""
    return " ".join(text.split())


def clean_line(line: str) -> str:
    """A line as the readers see it: no ¶ link marks, no backslash continuation marks, no trailing blanks."""
    if len(line) > MAX_LINE:
        line = line[:MAX_LINE]
    if "¶" in line:
        line = line.replace("¶", "")
    line = line.rstrip()
    # The cable viewer's text dumps end every line with a backslash (CONCERNS \ / REGARDING).
    while line.endswith("\\"):
        line = line[:-1].rstrip()
    return line


_CONTINUATION = re.compile(r"[ \t]*(?:\\[ \t]*)+$", re.M)
# The same on the joined lines, found through its newline (searched in "\n" + text: the
# literal first character makes the search fast).
_FIRST_PARA_RAW = re.compile(r"\n[ \t]*(?:¶[ \t]?)?1[ \t]?\.[ \t]*(?:\(|[A-Z]|[ \t\\]*$)", re.M)
_FIRST_PARA_IN = re.compile(r"\n[ \t]*1[ \t]?\.[ \t]*(?:\(|[A-Z]|$)", re.M)


def lower_same_length(text: str) -> str:
    """The text in small letters, each character one character (İ's two are not), so positions agree."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def clean_lines(lines: list[str]) -> list[str]:
    """The lines as the readers see them (see clean_line), each cleaning applied only where needed."""
    if max(map(len, lines), default=0) > MAX_LINE:
        lines = [ln[:MAX_LINE] for ln in lines]
    return [clean_line(ln) if "¶" in ln or "\\" in ln else ln.rstrip() for ln in lines]


def clean_text(lines: list[str]) -> str:
    """Lines joined as the readers see them (see clean_line), with a few passes over the whole text."""
    text = "\n".join(lines)
    if len(text) > MAX_LINE and max(map(len, lines)) > MAX_LINE:
        text = "\n".join([ln[:MAX_LINE] for ln in lines])
    if "¶" in text:
        text = text.replace("¶", "")
    text = "\n".join([ln.rstrip() for ln in text.split("\n")])
    if "\\" in text:
        text = _CONTINUATION.sub("", text)
    return text


class Head:
    """A cable's header as the field readers share it: cleaned lines, their text, its lower case.

    Built once per cable, so that each reader searches the same text instead of joining,
    cleaning and lower-casing the lines again.
    """

    __slots__ = ("_starts", "first_para", "lines", "lower", "text")

    def __init__(self, lines: list[str]) -> None:
        # Only the lines up to a little past the first paragraph are read: it is found in the
        # raw lines first, then that much is cleaned (all the header's lines if the guess fails).
        top = lines[:MAX_HEADER_LINES]
        guess = None
        for size in (60, MAX_HEADER_LINES):  # most headers end within 60 lines: join those first
            raw = "\n" + "\n".join(top[:size])
            guess = _FIRST_PARA_RAW.search(raw)
            if guess or size >= len(top):
                break
        if guess:
            top = top[: raw.count("\n", 0, guess.start()) + PAST_FIRST_PARA]
        cleaned = clean_lines(top)
        text = "\n".join(cleaned)
        m = _FIRST_PARA_IN.search("\n" + text)
        if guess and not m:
            cleaned = clean_lines(lines[:MAX_HEADER_LINES])
            text = "\n".join(cleaned)
            m = _FIRST_PARA_IN.search("\n" + text)
        self.text = text
        self.lines = cleaned
        self.first_para = text.count("\n", 0, m.start()) if m else len(self.lines)
        self.lower = lower_same_length(text)
        self._starts: list[int] | None = None

    def offset(self, line: int) -> int:
        """Where line number `line` starts in the text (the text's length past its last line)."""
        starts = self._starts or self._line_starts()
        return starts[line] if line < len(starts) else len(self.text) + 1

    def line_of(self, pos: int) -> int:
        """The number of the line that position `pos` of the text is on."""
        return bisect.bisect_right(self._starts or self._line_starts(), pos) - 1

    def _line_starts(self) -> list[int]:
        # line i starts after the i newlines before it: its offset is the lengths before it, plus i
        self._starts = [n + i for i, n in enumerate(itertools.accumulate(map(len, self.lines), initial=0))]
        return self._starts


def header_lines(lines: list[str]) -> tuple[list[str], int]:
    """The cleaned lines the header fields are read from, and where the first paragraph starts in them."""
    head = Head(lines)
    return head.lines, head.first_para


def join_wrapped(parts: list[str]) -> str:
    """Lines of one field joined onto one line: a word cut at a hyphen is joined without a space."""
    text = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if not text:
            text = part
        elif _CUT_WORD.search(text):
            text += part  # US-\nLATIN -> US-LATIN
        else:
            text += " " + part
    return fold(text)


def _letters(text: str) -> tuple[int, int]:
    """(capitals, small letters) in a text (Latin-1 letters), counted in C: a byte translation deletes the others."""
    data = text.encode("latin-1", "ignore")
    return len(data.translate(None, _NOT_UPPER)), len(data.translate(None, _NOT_LOWER))


def is_upper(text: str) -> bool:
    """True when at least 80% of the letters are capitals."""
    upper, lower = _letters(text)
    return upper > 0 and upper >= 0.8 * (upper + lower)


def is_lower_prose(text: str) -> bool:
    """True for a line of mostly lower-case words (a sentence, not a header field)."""
    upper, lower = _letters(text)
    return upper + lower >= 8 and lower >= 0.5 * (upper + lower)


_UPPER_CODES = {*range(65, 91), *range(192, 215), *range(216, 223)}
_LOWER_CODES = {*range(97, 123), *range(223, 247), *range(248, 256)}
_NOT_UPPER = bytes(c for c in range(256) if c not in _UPPER_CODES)
_NOT_LOWER = bytes(c for c in range(256) if c not in _LOWER_CODES)


def find_label(
    head: Head,
    end: int,
    at_start: re.Pattern[str],
    inside: re.Pattern[str] | None = None,
    hints: tuple[str, ...] = (),
    begin: int = 0,
) -> tuple[int, str] | None:
    """(line number, rest of that line) after the first label in lines begin..end of the header.

    `at_start` (compiled with re.M, blanks as [ \t]) finds a label that opens a line; `inside`
    one within a line (flat headers). With `hints` (lower-case words every label contains) only
    the lines that hold one of them are tried.
    """
    text, lowered = head.text, head.lower
    lo, hi = head.offset(begin), min(len(text), head.offset(end) - 1)
    if lo >= hi:
        return None
    starts = sorted({ls for h in hints for ls in _lines_with(text, lowered, h, lo, hi)}) if hints else [lo]
    for start in starts:
        stop = text.find("\n", start, hi) if hints else hi
        stop = hi if stop < 0 else stop
        m = at_start.search(text, start, stop)
        if inside is not None:
            m2 = inside.search(text, start, m.start() if m else stop)
            if m2 and (m is None or m2.start() < m.start()):
                m = m2
        if m is None:
            continue
        i = head.line_of(m.start())
        return i, head.lines[i][m.end() - head.offset(i) :]
    return None


def _lines_with(text: str, lowered: str, word: str, lo: int, hi: int) -> list[int]:
    """Where each line between lo and hi that holds `word` starts (once per line)."""
    out: list[int] = []
    pos = lowered.find(word, lo, hi)
    while pos >= 0:
        out.append(max(lo, text.rfind("\n", 0, pos) + 1))
        nxt = text.find("\n", pos, hi)
        if nxt < 0:
            break
        pos = lowered.find(word, nxt, hi)
    return out
