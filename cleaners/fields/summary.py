"""SUMMARY: the text between a cable's SUMMARY and its END SUMMARY, paragraph marks removed."""

from __future__ import annotations

import re

from cleaners.fields.text import RULE_LINE, clean_text, fold

# How far into the cable a summary may start (lines), and how long it may run.
_START_WINDOW = 80
_MAX_LINES = 100
_FIRST_LOOK = 50
# Where a summary ends: END SUMMARY, End Summary and Comment, END OF SUMMARY; matched just
# before the word "summary" (which every opening and end has: the text is searched for it).
_END_BEFORE = re.compile(r"(?i)\bEnd\s+(?:of\s+)?$")
# A summary's opening, at the start of a line: the label (SUMMARY:, 1. (C) Summary and Comment.,
# BEGIN SUMMARY) or a heading (------- SUMMARY -------).
_START = re.compile(
    r"(?i)[ \t]*(?:¶\s?)?(?:\d{1,2}\s?\.\s*)?(?:\([A-Z/ ]{1,12}\)\s*)?(?:[-=_\u2010-\u2015]{3,}\s*)?(?:BEGIN\s+)?"
    r"Summary(?:\s*(?:and|/|&)\s*(?:Comment|Action\s+Requests?|Introduction|Table\s+of\s+Contents))?"
    r"(?:\s*\((?:continued|cont\.?)\))?\s*(?:[:.]|-{2,}|={2,}|(?=[ \t\\]*\n)|$)[ \t]*(?:[-=_\u2010-\u2015]{3,})?"
)
_IN_SUBJECT = re.compile(r"(?i)S?UBJ(?:ECT)?\s*:[^\n]*$")
_PARA_MARK = re.compile(r"^\s*(?:\d{1,2}\s?\.\s*)?(?:\((?:[A-Z]{1,4}(?:\s?/{1,2}\s?[A-Z]{1,5})*)\)\s*)?")
_LABEL_LEFT = re.compile(r"(?i)^(?:Summary\s*(?:and\s+Comment)?\s*[:.]\s*)")
_PARAGRAPHS = re.compile(r"\n\s*\n")
_PARA_END = re.compile(r"\n[ \t\\]*\n|-{4,}|={4,}")
MAX_TEXT = 200_000


def read_summary(lines: list[str], first_para: int) -> str | None:
    """The summary of a cable, or None when it has none (no END SUMMARY and no SUMMARY label)."""
    # Found in the raw text (joined, not cleaned: cheaper), cleaned once cut out; the lines just
    # after the header first, most summaries open and end there.
    for size in (first_para + _FIRST_LOOK, first_para + _START_WINDOW + _MAX_LINES):
        window = lines[:size]
        text = "\n".join(window)[:MAX_TEXT]
        head_end = _offset(window, first_para) if first_para < len(lines) else 0
        start, end = _bounds(text, head_end, _offset(window, first_para + _START_WINDOW))
        if end is not None or len(window) < size:
            break
    if start is None and end is None:
        return None
    begin = start.end() if start else head_end
    if start is None and end is not None and end - begin > 6000:
        return None
    stop = end if end is not None else _paragraph_end(text, begin)
    return _tidy(clean_text(text[begin:stop].split("\n"))) or None


def _bounds(text: str, head_end: int, limit: int) -> tuple[re.Match[str] | None, int | None]:
    """The summary's opening (a match; it must start before `limit`) and where its END stands."""
    start: re.Match[str] | None = None
    for pos in _word_positions(text):
        ending = _END_BEFORE.search(text, max(0, pos - 12), pos)
        if ending:
            if pos >= (start.end() if start else head_end):
                return start, ending.start()
        elif start is None and pos < limit:
            line_start = text.rfind("\n", 0, pos) + 1
            m = _START.match(text, line_start)
            if m and not _IN_SUBJECT.search(text, max(0, line_start - 200), line_start):
                start = m
    return start, None


def _word_positions(text: str) -> list[int]:
    """Where the word summary stands, as cables write it (SUMMARY, Summary, summary), in order."""
    found: list[int] = []
    for spelling in ("SUMMARY", "Summary", "summary"):
        pos = text.find(spelling)
        while pos >= 0:
            found.append(pos)
            pos = text.find(spelling, pos + 7)
    found.sort()
    return found


def _offset(lines: list[str], line: int) -> int:
    """Where line number `line` starts in the lines joined by newlines."""
    if line >= len(lines):
        return sum(map(len, lines)) + len(lines) - 1
    return sum(map(len, lines[:line])) + line


def _paragraph_end(text: str, begin: int) -> int:
    """Where a summary without END SUMMARY stops: at its paragraph's end or a rule line."""
    m = _PARA_END.search(text, begin)
    return m.start() if m else min(len(text), begin + 3000)


def _tidy(text: str) -> str:
    """Paragraphs of the summary joined line by line, numbers, markings and rules removed."""
    paras: list[str] = []
    for block in _PARAGRAPHS.split(text):
        lines = [ln for ln in block.split("\n") if ln.strip() and not RULE_LINE.match(ln)]
        if not lines:
            continue
        para = fold(" ".join(lines))
        para = _PARA_MARK.sub("", para, count=1)
        para = _LABEL_LEFT.sub("", para)
        para = _PARA_MARK.sub("", para, count=1)
        para = para.strip(" =")
        if para:
            paras.append(para)
    return "\n".join(paras)
