"""SUBJECT: the cable's subject line as written, joined onto one line, without what runs on after it."""

from __future__ import annotations

import re

from cleaners.fields.text import (
    LEADING_MARK,
    MARKING_LINE,
    PAGE_MARK,
    RULE_LINE,
    TRAILING_MARK,
    Head,
    find_label,
    is_lower_prose,
    is_upper,
    join_wrapped,
)

# The top line of a teletype page: PAGE 02 HARARE 06677 01 OF 03 291400Z, and what follows it.
_PAGE_TOP = re.compile(
    r"^\s*PAGE\s+\d{1,3}\s+[A-Z][A-Z .'-]*?\s+\d{3,6}\s+(?:\d{2}\s+OF\s+\d{2}\s+)?\d{6}Z\s*"
)
# The label at the start of a line: SUBJECT:, SUBJ:, Subject:, damaged UBJECT:, SUBJECT without
# a colon; never "SUBJECT LINE" (a corrected copy's note).
_LABEL_START = re.compile(
    r"^[ \t]*(?:S?UBJ(?:ECT)?|SUBJET)(?:[ \t]*:+[ \t]*|[ \t]+(?!LINE\b))(?=\S|$)", re.I | re.M
)
# Inside a flat header (a blog joined the header lines): a colon is needed.
_LABEL_INSIDE = re.compile(r"(?<=[ \t/.,;)])SUBJ(?:ECT)?[ \t]*:[ \t]*", re.I)

# Where the subject stops, inside a line: the next label (also glued on: UK PRIMEREF:),
# a Classified By line, a paragraph number with its marking, a banner, a page marker.
_STOP_INSIDE = re.compile(
    r"REF(?:S|TELS?)?\s*:|REF\s*\(S\)\s*:?"
    r"|(?i:\bRefs?\s*:|\bREF\s*\(s\)\s*:?)"
    r"|(?<![a-z])(?i:Classified\s+by\b)"
    r"|\s[1-9]\s?\.\s*\((?:[A-Z/]{1,10})\)"
    r"|(?i:\bSensi?tive\s+but\b)"
    r"|\bC O N F\b|\bS E C R\b|\bU N C L\b"
    r"|\s+[A-Z][A-Z]+\s+\d{5,8}\s+\d{3}(?:\.\d)?\s+OF\s+\d{3}\b"
    r"|\s+PAGE\s+\d{1,3}\s"
    r"|\s-{4,}"
    r"|(?i:\bThis is an? action (?:request|message|cable)\b)"
    r"|\s+(?:E\.O\.|TAGS?)\s*:"
)
# Every stop above holds one of these (in lower case).
_STOP_WORDS = (
    "ref",
    "classif",
    "(",
    "sens",
    "c o n",
    "s e c",
    "u n c",
    " of ",
    "page",
    "----",
    "action",
    "e.o.",
    "tag",
)
# Lines that end the subject: the next header field, a paragraph, a page break, a rule.
_STOP_LINE = re.compile(
    r"^\s*(?:REF\b|REFS\b|REFTELS?\b|Ref\(s\)|REF\.|Refs?\s*:|REFERENCES?\s*:|Classified\b|CLASSIFIED\b|"
    r"E\.?\s?O\.?\s*1\d{4}|TAGS?\b|SIPDIS\b|\d{1,2}\s?\.|\(\d{1,2}\)|(?:BEGIN\s+)?SUMMARY\b|Summary\b|"
    r"PAGE\s+\d|SUBJ(?:ECT)?\s*:|DEPT\s+FOR\b|PASS\s+TO\b|(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday),)",
    re.I,
)


def read_subject(head: Head) -> str | None:
    """The subject from the header; '' when the label has nothing after it, None without one."""
    lines, first_para = head.lines, head.first_para
    start = find_label(head, first_para + 1, _LABEL_START, _LABEL_INSIDE, hints=("ubj",))
    if start is None:
        return None
    i, rest = start
    parts: list[str] = []
    text = rest.strip()
    j = i + 1
    if not text:
        # An empty SUBJECT: line followed by the subject (09CAIRO1945).
        while j < len(lines) and j < i + 4 and not lines[j].strip():
            j += 1
        if j >= len(lines) or j >= first_para + 1 or _STOP_LINE.match(lines[j]):
            return ""
        text, j = lines[j].strip(), j + 1
    cut = _cut(text)
    parts.append(cut)
    if cut == text:
        parts.extend(_continuation(lines, j, first_para, text))
    return _finish(join_wrapped(parts))


def _cut(text: str) -> str:
    """The subject's part of a line: up to whatever stops it."""
    low = text.lower()
    if not any(word in low for word in _STOP_WORDS):
        return text  # nothing on the line can stop it: the pattern need not run
    m = _STOP_INSIDE.search(text)
    return text[: m.start()].rstrip() if m else text


def _continuation(lines: list[str], j: int, first_para: int, first: str) -> list[str]:
    """The lines a subject wraps onto, up to a blank line or the next field.

    A teletype page break inside it (the marking at the top of the page, then PAGE 02 HARARE
    06677 01 OF 03 291400Z) is skipped: the subject goes on after the page line's time group.
    """
    out: list[str] = []
    upper = is_upper(first)
    while j < len(lines) and j < first_para and len(out) < 12:
        line = lines[j]
        if MARKING_LINE.match(line) and _page_break_follows(lines, j):
            j += 1
            continue
        page = _PAGE_TOP.match(line)
        if page:
            line = line[page.end() :]
            if not line.strip():
                break
        elif not line.strip() or _STOP_LINE.match(line) or PAGE_MARK.match(line) or RULE_LINE.match(line):
            break
        # A sentence straight after a subject in capitals is the cable's text, not the subject.
        if upper and is_lower_prose(line):
            break
        cut = _cut(line)
        if cut.strip():
            out.append(cut)
        if cut != line:
            break
        j += 1
    return out


def _page_break_follows(lines: list[str], j: int) -> bool:
    """True when a marking line is the top of a teletype page (a PAGE line follows it)."""
    for k in range(j + 1, min(len(lines), j + 4)):
        if lines[k].strip():
            return bool(_PAGE_TOP.match(lines[k]))
    return False


def _finish(subject: str) -> str:
    """The portion marking in front of the subject and after it is the subject's classification, not its words."""
    subject = LEADING_MARK.sub("", subject, count=1)
    subject = TRAILING_MARK.sub("", subject, count=1)
    return subject.strip()
