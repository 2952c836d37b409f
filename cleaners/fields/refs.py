"""REF: what a cable cites, item by item, with the canonical ID of every cited cable."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from cleaners.fields.ids import full_year
from cleaners.fields.stations import Stations
from cleaners.fields.text import (
    PAGE_MARK,
    PAGE_MARK_IN,
    RULE_LINE,
    Head,
    find_label,
    fold,
    is_lower_prose,
)

# The label at the start of a line: REF:, REFS:, REFTEL:, REF(S):, Ref(s):, REF., REFERENCES:,
# PROGRAM REF:, and REF without a colon when an item follows (REF A) ..., REF A. ...).
_LABEL_START = re.compile(
    r"^[ \t]*(?:[A-Z]\.[ \t]+|[A-Z]+[ \t]+)?(?:REF(?:S|TELS?|ERENCES?)?|REF ?\(S\))"
    r"(?:[ \t]*[.:]+[ \t]*|[ \t]+(?=[(\[]?[A-Z][.)\]]|\(?\d|[A-Z]{3,}[ \t]+\d|[A-Z][ \t]+[A-Z]{3,}[ \t]+\d))",
    re.I | re.M,
)
# A label inside a line: after the subject (... AS UK PRIMEREF: A. LONDON 1939), flat headers.
_LABEL_INSIDE = re.compile(
    r"(?:REF(?:S|TELS?)?|REF ?\(S\))[ \t]*:[ \t]*|(?<=[ \t])(?:Refs?|Ref\(s\))[ \t]*:[ \t]*"
)
_FIELD_START = re.compile(r"^\s*(?:SUBJ|SUBJECT|TAGS?|E\.?\s?O\.?\s*1\d{4})\b", re.I)
# Where the field ends inside a line.
_STOP_INSIDE = re.compile(
    r"(?<![a-z])(?i:Classified\s+By\b)|(?i:\bSensitive\s+but\s+unclassified\b)|(?i:\bThis message\b)"
    r"|(?:^|\s)(?:¶\s?)?1\s?\.\s*\([A-Z/]{1,10}\)|(?i:\bBEGIN SUMMARY\b)|(?:^|\s)SUMMARY\s*[:.]"
    r"|(?i:\bE\.\s?O\.\s*1\d{4})|\bTAGS\s*:|\bSUBJECT\s*:"
)
_STOP_LINE = re.compile(
    r"^\s*(?:(?i:Classified\b)|\d{1,2}\s?\.(?!\d)|(?i:(?:BEGIN\s+)?SUMMARY\b)|(?i:SUBJ(?:ECT)?\s*:)|"
    r"TAGS?\b|E\.?\s?O\.?\s*1\d{4}|SIPDIS\b|NOFORN\b|(?i:Sensitive\s+but)|"
    r"(?i:C\s?O\s?N\s?F\s?I\s?D\s?E\s?N\s?T\s?I\s?A\s?L|S\s?E\s?C\s?R\s?E\s?T|U\s?N\s?C\s?L\s?A\s?S\w*|"
    r"LIMITED\s+OFFICIAL\s+USE)\b(?!\s*\\n|\s*$))"
)
# An item's label: A. A) (A) A.) a. -- the letters go in order (A, B, C...), so that initials
# inside an item (E-MAIL FROM J. SMITH) do not split it.
_ITEM = re.compile(r"(?:^|(?<=[\s;,]))(?:[(\[]([A-Za-z])[)\]]|([A-Za-z])\s?[.)]\)?)(?=\s|\d|\(|$)")
# A line that goes on with the field after a blank line: an item label, or a citation.
_ITEM_LINE = re.compile(
    r"^\s*(?:-\s*)?(?:\(?[A-Za-z]\s?[.)]\)?|[(\[][A-Za-z][)\]])(?=\s|\d|\()|^\s*\d{1,7}\b|^\s*[A-Za-z][A-Za-z .'-]{1,30}\s\d{1,7}\b"
)
_NUMBER = re.compile(r"(?<![\w/.:-])(\d{1,7})(?!\w|/|:\d|[.,]\d|-\d{3})")
# A cited ID written whole: 09CAIRO0561, 2005PANAMA2342, 10-OTTAWA-57.
_WHOLE_ID = re.compile(r"(?<![\w-])(\d{4}|\d{2})-?([A-Z][A-Z]{1,24}?)-?0*(\d{1,7})(?![\w-])")
# Letters and digits written together: the sign of a citation written as one word.
_GLUE = re.compile(r"[A-Z]\d|\d-?[A-Z]")
# A post and a serial written together: B)HK05511.
_GLUED = re.compile(r"(?<![\w-])([A-Z]{2,24}?)0*(\d{3,7})(?![\w-])")
# Page-break junk inside the field, with the marking at the top of the page.
_PAGE_JUNK = re.compile(
    r"(?:(?:UNCLASSIFIED|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE)\s*(?:\\n)?\s*)?(?<![A-Z])PAGE\s+\d{1,3}\s+"
    r"[A-Z][A-Z .'-]*?\s+\d{3,6}\s+(?:\d{2}\s+OF\s+\d{2}\s+)?\d{6}Z"
)
# Zeros and O's a typist swapped: 0TTAWA, SANTIAG0, O4 CHENNAI.
_ZERO_FOR_O = re.compile(r"(?<=[A-Z])0(?=[A-Z])|\b0(?=[A-Z]{3})|(?<=[A-Z]{3})0\b")
_O_FOR_ZERO = re.compile(r"(?<![A-Z])O(?=\d{1,6}\b)")
# Serials a slash lists (KABUL 692/317/274), a year after a slash (PANAMA 00789/08),
# a year in brackets between the post and the serial (STATE (01) 201265).
_SLASH_LIST = re.compile(r"(?<!\d)(\d{3,7})/(?=\d{3,7}\b)")
_SLASH_YEAR = re.compile(r"(?<![\d/])(\d{3,7})/(\d{2})\b(?!/)")
_BRACKET_YEAR = re.compile(r"\b([A-Z][A-Z .'-]*?[A-Z])\s*\((\d{2}|\d{4})\)\s*(\d{1,7})\b")
_WORD = re.compile(r"[A-Z][A-Z0-9.'-]*")
# Words between a post's name and the serial: KUWAIT (C)02293, COLOMBO CABLES 0266, STATE NO. 12.
_FILLER = re.compile(r"^(?:CABLES?|TELS?|TELEGRAMS?|REFTELS?|NO|NR|NUMBER|MSG|#)$")
_MARK = re.compile(r"\(\s*[A-Z/]{1,6}\s*\)")
_YEAR_AFTER = re.compile(r"\s+(\d{2})(?=\s*(?:[,;)]|AND\b|$))|\s*\((\d{4}|\d{2})\)|-(\d{2})\b")
_JOINER = re.compile(r"^\s*(?:,|;|&|AND|AND\s+NO\.?|/)?\s*$")
_BARE_SERIAL = re.compile(r"\s*0*\d{1,7}\s*")
_YEAR_BEFORE = re.compile(r"(?<![\w/.-])\(?(\d{4}|0?\d{2})\)?\s*$")
_NOT_BETWEEN = re.compile(r"[^\s.-]")
_WORD_AT_END = re.compile(r"[A-Z]{3,}$")
_DIGIT_NEXT = re.compile(r"\s*\d")
_ZERO_IN_WORD = re.compile(r"(?<=[A-Z])0|0(?=[A-Z])")
_ITEM_YEAR = re.compile(r"^\s*(\d{2}|19[6-9]\d|20[01]\d)\s+[A-Za-z]")
# Bounds that keep a hostile REF field (thousands of lines or items) cheap to read.
MAX_LINES = 60
MAX_ITEMS = 200
MAX_FIELD = 20_000
MAX_ITEM = 1_500


@dataclass
class Reference:
    """One item of a REF field: its label (A), its text as written, and the cable it cites."""

    label: str | None
    text: str
    kind: str  # "cable" or "other"
    id: str | None

    def to_json(self) -> dict[str, str | None]:
        """The reference as cable.json writes it."""
        return {"label": self.label, "text": self.text, "kind": self.kind, "id": self.id}


def read_references(head: Head, stations: Stations, year: int | None, own: str | None) -> list[Reference]:
    """Every reference of the REF field of a header.

    `year` is the citing cable's year (a reference without a year is from the same year) and
    `own` its station (a bare serial, REF: A) 6307, is the cable's own post's).
    """
    text = _field_text(head)[:MAX_FIELD]
    if not text:
        return []
    out: list[Reference] = []
    for label, item in _items(text):
        body = fold(item[:MAX_ITEM]).strip(" ;,-")
        if not body:
            continue
        ids = cited_ids(body, stations, year, own)
        if ids:
            out.extend(Reference(label, body, "cable", i) for i in ids)
        else:
            out.append(Reference(label, body, "other", None))
        if len(out) >= MAX_ITEMS:
            break
    return out


def _field_text(head: Head) -> str:
    """The REF field's text: from its label through the lines it continues on."""
    lines, first_para = head.lines, head.first_para
    found = find_label(head, first_para, _LABEL_START, _LABEL_INSIDE, hints=("ref",))
    while found and _FIELD_START.match(lines[found[0]]):
        # A SUBJECT / TAGS / E.O. line: only a label with a colon inside it counts (SUBJECT: X REF: Y)
        i = found[0]
        inside = _LABEL_INSIDE.search(lines[i])
        if inside:
            found = (i, lines[i][inside.end() :])
            break
        found = find_label(head, first_para, _LABEL_START, _LABEL_INSIDE, hints=("ref",), begin=i + 1)
    if not found:
        return ""
    i, rest = found
    cut = _STOP_INSIDE.search(rest)
    if cut:
        return rest[: cut.start()]
    return " \n".join([rest, *_continuation(lines, i + 1, first_para)])


def _continuation(lines: list[str], j: int, first_para: int) -> list[str]:
    """The lines after the label's that still belong to the field."""
    out: list[str] = []
    blank = False
    while j < len(lines) and j < first_para and len(out) < MAX_LINES:
        line = lines[j]
        j += 1
        if not line.strip() or RULE_LINE.match(line):
            blank = True
            continue
        if PAGE_MARK.match(line):
            continue  # a page break inside the field
        if _STOP_LINE.match(line):
            break
        starts_item = bool(_ITEM_LINE.match(line))
        if blank and not starts_item:
            break
        if not starts_item and is_lower_prose(line) and not _NUMBER.search(line):
            break
        cut = _STOP_INSIDE.search(line)
        if cut:
            if line[: cut.start()].strip():
                out.append(line[: cut.start()])
            break
        out.append(line)
        blank = False
    return out


def _items(text: str) -> list[tuple[str | None, str]]:
    """The field split into (label, text) items at labels that follow the A, B, C order."""
    if "PAGE" in text or " OF " in text:
        text = PAGE_MARK_IN.sub(" ", _PAGE_JUNK.sub(" ", text))
    if "0" in text:
        text = _ZERO_FOR_O.sub("O", text)
    if "O" in text:
        text = _O_FOR_ZERO.sub("0", text)
    cuts: list[tuple[int, int, str]] = []
    expect = "A"
    for m in _ITEM.finditer(text):
        letter = (m.group(1) or m.group(2)).upper()
        between = text[cuts[-1][1] : m.start()] if cuts else text[: m.start()]
        if letter == expect or (cuts and letter == cuts[-1][2] and (not between.strip() or "\n" in between)):
            if cuts and letter == cuts[-1][2] and not between.strip(" -\n"):
                # A. (A) PARIS 7682: the letter twice is one label
                cuts[-1] = (cuts[-1][0], m.end(), letter)
                continue
            cuts.append((m.start(), m.end(), letter))
            expect = chr(ord(letter) + 1) if letter < "Z" else "?"
    if not cuts:
        return [(None, part) for part in text.split(";")]
    items: list[tuple[str | None, str]] = []
    head = text[: cuts[0][0]]
    if head.strip(" ;,-\n"):
        items.append((None, head))
    for n, (_start, end, letter) in enumerate(cuts):
        stop = cuts[n + 1][0] if n + 1 < len(cuts) else len(text)
        items.append((letter, text[end:stop]))
    return items


def _year(token: str | None) -> int | None:
    """A year as a reference writes it (05, 2005), or None when it cannot be one."""
    if token is None:
        return None
    if len(token) == 3 and token.startswith("0"):
        token = token[1:]  # 094 QUITO 841
    y = int(token)
    if len(token) == 4:
        return y if 1966 <= y <= 2010 else None
    if len(token) == 2:
        return full_year(y)
    return None


def cited_ids(item: str, stations: Stations, year: int | None, own: str | None) -> list[str]:
    """The canonical IDs of the cables one reference item cites (STATE 135205 -> 07STATE135205)."""
    upper = item.upper()
    if "/" in upper:
        upper = _SLASH_YEAR.sub(r"\1 (\2)", _SLASH_LIST.sub(r"\1 AND ", upper))
    if "(" in upper:
        upper = _BRACKET_YEAR.sub(r"\2 \1 \3", upper)
    marks = [m.span() for m in _MARK.finditer(upper)] if "(" in upper else []
    words = [
        (m.start(), m.end(), m.group(0))
        for m in _WORD.finditer(upper)
        if not any(a <= m.start() < b for a, b in marks)
    ]
    numbers = [m for m in _NUMBER.finditer(upper) if not any(a <= m.start() < b for a, b in marks)]
    used: set[int] = set()
    found = _written_whole(upper, numbers, stations, year, used) if _GLUE.search(upper) else []
    prev: tuple[int, str, int | None] | None = None  # (end, station, year) of the last citation
    before: dict[int, tuple[str | None, int]] = {}

    def station_before(k: int) -> tuple[str | None, int]:
        """The station named before number k (looked up once)."""
        if k not in before:
            before[k] = _station_before(upper, words, numbers[k].start(), stations)
        return before[k]

    for n, num in enumerate(numbers):
        if num.start() in used or _year_of_next(upper, numbers, n, station_before):
            continue
        station, span_start = station_before(n)
        if station and _document_year(upper, num, span_start):
            continue  # INCSR BRAZIL 2008: a report of a year, not a cable
        cited_year: int | None = None
        if station:
            cited_year = _year_before(upper, span_start)
        elif prev and _JOINER.match(upper[prev[0] : num.start()]):
            station, cited_year = prev[1], prev[2]  # BRASILIA 2799 AND 2764, KABUL 5353/5194
        else:
            station = _station_after(upper, words, num.end(), stations)  # REF: 870 ULAANBAATAR
            if not station and own and not found and _BARE_SERIAL.fullmatch(upper):
                station = own  # REF: A) 6307 -- a serial alone is the cable's own post's
        if not station:
            continue
        # A year after the serial: AMMAN 07718 99, COLOMBO 02259 (2002), QUITO 4525-91.
        after = _YEAR_AFTER.match(upper, num.end())
        end = num.end()
        if after:
            cited_year = _year(after.group(1) or after.group(2) or after.group(3))
            end = after.end()
            used.update(later.start() for later in numbers[n + 1 :] if later.start() < end)
        serial = int(num.group(1))
        if (cited_year or year) is None or serial == 0:
            continue
        found.append((num.start(), f"{(cited_year or year or 0) % 100:02d}{station}{serial}"))
        prev = (end, station, cited_year)
    ids: list[str] = []
    for _pos, ref in sorted(found):
        if ref not in ids:
            ids.append(ref)
    return ids


def _written_whole(
    upper: str, numbers: list[re.Match[str]], stations: Stations, year: int | None, used: set[int]
) -> list[tuple[int, str]]:
    """Citations written as one word (09CAIRO0561, 10-OTTAWA-57, HK05511), with their positions."""
    found: list[tuple[int, str]] = []
    for rx, has_year in ((_GLUED, False), (_WHOLE_ID, True)):
        for m in rx.finditer(upper):
            groups = m.groups()
            cited = _year(groups[0]) if has_year else year
            sid = stations.in_text(groups[-2])
            if sid and cited and int(groups[-1]):
                found.append((m.start(), f"{cited % 100:02d}{sid}{int(groups[-1])}"))
                used.update(n.start() for n in numbers if m.start() <= n.start() < m.end())
    return found


def _year_of_next(
    upper: str, numbers: list[re.Match[str]], n: int, station_before: Callable[[int], tuple[str | None, int]]
) -> bool:
    """True for 05 in 05 PARIS 5459: a year written in front of the next citation, not a serial."""
    num = numbers[n]
    if len(num.group(1)) not in (2, 4) or n + 1 >= len(numbers):
        return False
    _, start = station_before(n + 1)
    return start < numbers[n + 1].start() and not upper[num.end() : start].strip(" \n()")


def _year_before(upper: str, span_start: int) -> int | None:
    """The year written before a post's name (05 PARIS, 2008 BRASILIA, (99) ROME, 094 QUITO)."""
    m = _YEAR_BEFORE.search(upper, max(0, span_start - 8), span_start)
    return _year(m.group(1)) if m else None


def _contiguous(upper: str, span: list[tuple[int, int, str]]) -> bool:
    """True when the words follow each other with only spaces, dots and hyphens between them."""
    return not any(_NOT_BETWEEN.search(upper, a[1], b[0]) for a, b in itertools.pairwise(span))


def _document_year(upper: str, num: re.Match[str], span_start: int) -> bool:
    """True for a year after a name with another word in front (INCSR BRAZIL 2008): a document's title."""
    serial = num.group(1)
    if len(serial) != 4 or not 1966 <= int(serial) <= 2010:
        return False
    head = upper[:span_start].rstrip()
    return bool(_WORD_AT_END.search(head))


def _station_after(upper: str, words: list[tuple[int, int, str]], pos: int, stations: Stations) -> str | None:
    """The station named right after position `pos` when no serial follows it (377 KATHMANDU)."""
    first = bisect.bisect_left(words, pos, key=lambda w: w[0])
    after = words[first : first + stations.longest]
    if not after or upper[pos : after[0][0]].strip(" \n"):
        return None
    for k in range(len(after), 0, -1):
        span = after[:k]
        if not _contiguous(upper, span):
            continue
        sid = stations.in_text(" ".join(w[2] for w in span))
        if sid:
            rest = upper[span[-1][1] :]
            return None if _DIGIT_NEXT.match(rest) else sid
    return None


def _station_before(
    upper: str, words: list[tuple[int, int, str]], pos: int, stations: Stations
) -> tuple[str | None, int]:
    """The station named just before position `pos` (over fillers and markings), and where its name starts."""
    gap_end = pos
    # the last few words that end before `pos` (words are in order of position)
    cut = bisect.bisect_right([w[1] for w in words], pos) if len(words) > 16 else None
    before = (
        words[max(0, cut - stations.longest - 4) : cut]
        if cut is not None
        else [w for w in words if w[1] <= pos]
    )
    # Skip a marking and filler words between the name and the serial.
    while before:
        gap = _MARK.sub(" ", upper[before[-1][1] : gap_end])
        if gap.strip(" \n:#,"):
            return None, pos
        if _FILLER.match(before[-1][2].rstrip(".")):
            gap_end = before[-1][0]
            before.pop()
            continue
        break
    for k in range(min(stations.longest, len(before)), 0, -1):
        span = before[-k:]
        if not _contiguous(upper, span):
            continue
        spelled = " ".join(w[2] for w in span)
        sid = (
            stations.in_text(spelled)
            or ("0" in spelled and stations.in_text(_ZERO_IN_WORD.sub("O", spelled)))
            or None
        )
        if sid:
            return sid, span[0][0]
    return None, pos


def reference_years(lines: list[str]) -> set[str]:
    """The years (two digits) the REF field's items write out (05 ALMATY 4441 -> 05), from raw lines."""
    years: set[str] = set()
    for _label, item in _items(_field_text(Head(lines))):
        m = _ITEM_YEAR.match(item)
        if m:
            years.add(m.group(1)[-2:])
    return years
