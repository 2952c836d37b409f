"""TAGS: the cable's tags as written, split by the list's own delimiter, continuation lines included."""

from __future__ import annotations

import re

from cleaners.fields.text import PAGE_MARK_IN, Head, find_label, is_upper

# TAGS, TAG, and the damaged labels real cables carry: TAGS; TAS: TGS: TAGES: TABS: TAGS,
_LABEL_START = re.compile(
    r"^[ \t]*(?:TAGS?|TAS|TGS|TAGES|TABS|TGAS)(?:[ \t]*[:;,]+[ \t]*|[ \t]+)(?=\S)", re.I | re.M
)
# Inside a flat header: "DECL: 01/07/2014 Tags: prel", "DECL: 08/22/2017 AGS: PGOV".
# Without a colon only in capitals before a code: "DECL: 1/29/2019 TAG PTER, PGOV".
_LABEL_INSIDE = re.compile(
    r"(?<=[ \t,;])(?:(?:(?i:TAGS?)|AGS)[ \t]*[:;][ \t]*(?=\S)|TAGS?[ \t]+(?=[A-Z]{2,5}[, ]))"
)
# Where the list stops inside a line: the next field's label.
_STOP_INSIDE = re.compile(
    r"(?i:\s*\bS?UBJ(?:ECT)?\s*:|\s+SUBJECT\s)|\s*\bE\.\s?O\.|(?i:\s*\bClassified\s+by\b)|\s*\bREF(?:S|TELS?)?\s*:"
)
# Every stop above holds one of these (in lower case).
_STOP_WORDS = ("ubj", "e.", "classif", "ref")
_STOP_LINE = re.compile(
    r"^\s*(?:S?UBJ(?:ECT)?\b|E\.?\s?O\.?\s*1\d{4}|EO\s+1\d{4}|REF|Classified|TAGS?\b|\d{1,2}\s?\.|"
    r"SIPDIS\b|\()",
    re.I,
)
# A page break of a pre-2004 cable inside the list, with the marking at the top of the page:
# "IT      SECRET      PAGE 02      ROME  03067  211833Z".
_PAGE_JUNK = re.compile(
    r"\s+(?:UNCLASSIFIED|UNCLAS|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE)\s+PAGE\s+\d{1,3}\s+"
    r"[A-Z][A-Z .-]*?\s+\d{3,6}\s+(?:\d{2}\s+OF\s+\d{2}\s+)?\d{6}Z\b|\s{5,}\S.*$"
)
_PAREN = re.compile(r"\(([^()]{0,80})\)")
_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,4}$")
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9/-]*")
_COMMAS = re.compile(r"[,;]")
_HELD = re.compile(r"\s*\x00(\d+)\x00\s*")
_INITIAL_END = re.compile(r"(?:^|\s)[A-Za-z]\.$")
_SPACES = re.compile(r"\s+")
# Every TAGS label holds one of these (lower-cased): TAGS, TAS, TGS, TAGES, TABS, AGS.
_HINTS = ("tag", "tas", "tgs", "tabs", "ags")
MAX_TAGS = 80


def read_tags(
    head: Head,
    not_tags: frozenset[str],
    codes: frozenset[str] = frozenset(),
    countries: frozenset[str] = frozenset(),
) -> list[str]:
    """The tags from the header, as written, once each, in order.

    `codes` and `countries` (the TAGS codes) only serve to split tags whose spaces were lost.
    """
    lines, first_para = head.lines, head.first_para
    found = find_label(head, first_para + 1, _LABEL_START, _LABEL_INSIDE, hints=_HINTS)
    if found is None:
        return []
    i, rest = found
    parts = [rest]
    if _cut(rest) == rest:
        parts.extend(_continuation(lines, i + 1, first_para, rest))
    out: list[str] = []
    seen: set[str] = set()
    for part in parts:
        for written in _split(_cut(part)):
            for tag in _unglue(written, codes, countries):
                key = tag.upper()
                if key in seen or key in not_tags:
                    continue
                seen.add(key)
                out.append(tag)
                if len(out) >= MAX_TAGS:
                    return out
    return out


def _unglue(tag: str, codes: frozenset[str], countries: frozenset[str]) -> list[str]:
    """A tag whose spaces were lost (PHUMBA, VTPREL) as the codes it is made of; else the tag itself."""
    if len(tag) < 6 or len(tag) > 60 or not tag.isalpha() or not tag.isupper() or tag in codes:
        return [tag]
    pieces = _pieces(tag, codes, countries, country_left=True)
    return pieces if pieces and len(pieces) > 1 else [tag]


def _pieces(
    text: str, codes: frozenset[str], countries: frozenset[str], country_left: bool
) -> list[str] | None:
    """Codes (four letters) and at most one country code (two) that spell `text` exactly, or None."""
    if not text:
        return []
    if text[:4] in codes:
        rest = _pieces(text[4:], codes, countries, country_left)
        if rest is not None:
            return [text[:4], *rest]
    if country_left and text[:2] in countries:
        rest = _pieces(text[2:], codes, countries, False)
        if rest is not None and (rest or len(text) == 2):
            return [text[:2], *rest]
    return None


def _cut(text: str) -> str:
    """The list's part of a line: up to the next label; page-break junk replaced by a delimiter."""
    low = text.lower()
    m = _STOP_INSIDE.search(text) if any(word in low for word in _STOP_WORDS) else None
    if m:
        text = text[: m.start()]
    if "PAGE" in text or "     " in text:
        text = PAGE_MARK_IN.sub(", ", _PAGE_JUNK.sub(", ", text))
    return text


def _continuation(lines: list[str], j: int, first_para: int, first: str) -> list[str]:
    """Lines the list goes on to: after a trailing comma, or tag-like lines just before the next field."""
    out: list[str] = []
    prev = first
    while j < len(lines) and j < first_para and len(out) < 6:
        line = lines[j]
        if not line.strip() or _STOP_LINE.match(line):
            break
        stops_inside = _cut(line) != line and _STOP_INSIDE.search(line) is not None
        if prev.rstrip().endswith(",") or (
            _tag_like(line) and (stops_inside or _next_is_field(lines, j + 1, first_para))
        ):
            out.append(line)
            if stops_inside:
                break
            prev = line
            j += 1
            continue
        break
    return out


def _next_is_field(lines: list[str], j: int, first_para: int) -> bool:
    """True when the next line with text is another header field (SUBJECT, E.O., REF) or the end of the header."""
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j >= first_para or j >= len(lines) or bool(_STOP_LINE.match(lines[j]))


def _tag_like(line: str) -> bool:
    """A line of tag codes in capitals (NATO, UK, CN / EINV), not a sentence."""
    part = _cut(line)
    words = _WORDS.findall(part)
    if not words or not is_upper(part):
        return False
    return sum(1 for w in words if len(w) <= 6) >= 0.6 * len(words)


def _split(text: str) -> list[str]:
    """One line of the list as tags: by commas where the line uses them, else by spaces.

    A parenthesised name after a tag (OVIP (CLINTON, HILLARY)) is a tag of its own. Several
    codes left between two commas (PTER MARR, MOPS) are split; words that read as one tag
    (HUMAN RIGHTS, GOI EXTERNAL) are not.
    """
    groups: list[str] = []

    def hold(m: re.Match[str]) -> str:
        groups.append(m.group(1).strip())
        return f" \x00{len(groups) - 1}\x00 "

    text = _PAREN.sub(hold, text)
    items: list[str] = []
    if "," in text or ";" in text:
        for item in _COMMAS.split(text):
            words = item.split()
            if len(words) > 1 and _mostly_codes(words):
                items.extend(words)
            else:
                items.append(item)
    else:
        items = text.split()
    out: list[str] = []
    for item in items:
        item = item.strip()
        for piece in _HELD.split(item):
            if not piece:
                continue
            if piece.isdigit() and int(piece) < len(groups):
                piece = groups[int(piece)]
            piece = piece.strip(" :;,-\t")
            if piece.endswith(".") and not _INITIAL_END.search(piece):
                piece = piece.rstrip(".")  # a period ends the list; an initial's (JAMES B.) stays
            if piece and any(c.isalnum() for c in piece):
                out.append(_SPACES.sub(" ", piece))
    return out


def _mostly_codes(words: list[str]) -> bool:
    """True when most words are short codes in capitals (PTER MARR), not the words of one tag."""
    codes = sum(1 for w in words if _CODE.match(w.strip(".:;")))
    return codes > len(words) / 2
