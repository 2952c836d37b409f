"""SUMMARY: the text between a cable's SUMMARY and its END SUMMARY, paragraph marks removed."""

from __future__ import annotations

import re

from cleaners.fields.text import RULE_LINE, clean_line, fold

# How far into the cable a summary may start (lines), and how long it may run.
_START_WINDOW = 120
_MAX_LINES = 200
_END = re.compile(
    r"(?i)\bEnd\s+(?:of\s+)?Summary(?:\s*(?:and|/|&)\s*(?:Comment|Action\s+Requests?|Introduction|Table\s+of\s+Contents))?\s*\.?"
)
# A summary's opening: the label (SUMMARY:, Summary and Comment., BEGIN SUMMARY) or a heading.
_START = re.compile(
    r"(?im)^[ \t]*(?:\d{1,2}\s?\.\s*)?(?:\([A-Z/ ]{1,12}\)\s*)?(?:[-=_\u2010-\u2015]{3,}\s*)?(?:BEGIN\s+)?"
    r"Summary(?:\s*(?:and|/|&)\s*(?:Comment|Action\s+Requests?|Introduction|Table\s+of\s+Contents))?"
    r"(?:\s*\((?:continued|cont\.?)\))?\s*(?:[:.]|-{2,}|={2,}|(?=[ \t]*\n)|$)[ \t]*(?:[-=_\u2010-\u2015]{3,})?"
)
_PARA_MARK = re.compile(r"^\s*(?:\d{1,2}\s?\.\s*)?(?:\((?:[A-Z]{1,4}(?:\s?/{1,2}\s?[A-Z]{1,5})*)\)\s*)?")
_HEADING = re.compile(r"^\s*(?:[-=_]{3,}\s*)?[A-Z][A-Za-z ,/&'-]{0,60}?(?:\s*[-=_]{3,})?\s*$")


def read_summary(lines: list[str], first_para: int) -> str | None:
    """The summary of a cable, or None when it has none (no END SUMMARY and no SUMMARY label)."""
    body = [clean_line(ln) for ln in lines[: first_para + _START_WINDOW + _MAX_LINES]]
    text = "\n".join(body)
    head_end = len("\n".join(body[:first_para])) if first_para < len(body) else 0
    start = None
    for m in _START.finditer(text, 0, len("\n".join(body[: first_para + _START_WINDOW]))):
        before = text[max(0, m.start() - 8) : m.start()].upper()
        if m.group(0).strip().upper().startswith("END") or re.search(r"\bEND\s*$", before):
            continue
        if re.search(r"S?UBJ(?:ECT)?\s*:[^\n]*$", text[max(0, m.start() - 200) : m.start()], re.I):
            continue  # the word in the subject line
        start = m
        break
    end = _END.search(text, start.end() if start else head_end)
    if start is None and end is None:
        return None
    begin = start.end() if start else head_end
    if start is None and end is not None and end.start() - begin > 6000:
        return None
    stop = end.start() if end else _paragraph_end(text, begin)
    return _tidy(text[begin:stop]) or None


def _paragraph_end(text: str, begin: int) -> int:
    """Where a summary without END SUMMARY stops: at its paragraph's end or a rule line."""
    m = re.search(r"\n\s*\n|-{4,}|={4,}", text[begin:])
    return begin + m.start() if m else min(len(text), begin + 3000)


def _tidy(text: str) -> str:
    """Paragraphs of the summary joined line by line, numbers, markings and rules removed."""
    paras: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.split("\n") if ln.strip() and not RULE_LINE.match(ln)]
        if not lines:
            continue
        para = fold(" ".join(lines))
        para = _PARA_MARK.sub("", para, count=1)
        para = re.sub(r"^(?:Summary\s*(?:and\s+Comment)?\s*[:.]\s*)", "", para, flags=re.I)
        para = _PARA_MARK.sub("", para, count=1)
        para = para.strip(" =")
        if para:
            paras.append(para)
    return "\n".join(paras)
