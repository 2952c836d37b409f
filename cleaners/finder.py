"""Find the cables in the text of a post: where each starts and ends, and what surrounds it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cleaners.header import parse_header
from cleaners.htmltext import Line
from cleaners.model import CleanerWarning

TABLE_ROW = re.compile(
    r"^\s*(?P<ref>\d{2}[A-Z][A-Z-]*?\d+?)\s*(?P<created>\d{4}-\d{2}-\d{2} \d{2}:\d{2})\s*"
    r"(?P<released>\d{4}-\d{2}-\d{2} \d{2}:\d{2})\s*"
    r"(?P<cls>UNCLASSIFIED//FOR OFFICIAL USE ONLY|(?:UNCLASSIFIED|CONFIDENTIAL|SECRET)(?://NOFORN|//[A-Z]+)?)"
    r"\s*(?P<origin>\S.*?)\s*$"
)
_TABLE_CLASSES = ("UNCLASSIFIED//FOR OFFICIAL USE ONLY", "CONFIDENTIAL//NOFORN", "SECRET//NOFORN")
PARA_START = re.compile(r"^\s*(?:¶\s?)?\d{1,3}\s?\.\s*\(|^\s*¶\s?\d{1,3}\b")
# Words that show a line belongs to a cable even when it reads like prose.
_CABLE_WORDS = re.compile(
    r"XXXXXXXX|SIPDIS|NOFORN|Classified|CLASSIFIED|¶|\((?:C|S|U|SBU|C/NF|S/NF|U//FOUO)\)|https?://|"
    r"\bNNNN\b|Portal:|\bEnd (?:Comment|Summary|Note)\b|\bEND (?:COMMENT|SUMMARY|NOTE)\b|\bPOC\b|\bpara\b|"
    r"\b\d{5,8}\s+\d{3}(?:\.\d)?\s+(?:OF|of)\s+\d{3}\b"
)


@dataclass
class Found:
    """One cable located in a list of lines."""

    lines: list[Line]
    heading_ref: str | None = None
    table: dict[str, str] | None = None
    hashtag: str | None = None
    partial: bool = False
    warnings: list[CleanerWarning] = field(default_factory=list)


def _kind(text: str, common: dict[str, Any], drop_lines: list[re.Pattern[str]]) -> str:
    """Classify one line: blank, help, table, partial, heading, chrome, after, before, start or text."""
    if not text.strip():
        return "blank"
    if common["partial_note"] and common["partial_note"] in text:
        return "partial"
    for rx in common["help_lines"]:
        if rx.search(text):
            return "help"
    if common["table_header"].search(text):
        return "table"
    if TABLE_ROW.match(text):
        return "table_row"
    for rx in common["cable_heading"]:
        if rx.search(text):
            return "heading"
    for rx in drop_lines:
        if rx.search(text):
            return "chrome"
    for rx in common["framing_after"]:
        if rx.search(text):
            return "after"
    for rx in common["framing_before"]:
        if rx.search(text):
            return "before"
    for rx in common["start"]:
        if rx.search(text):
            return "start"
    return "text"


def parse_table_row(text: str) -> dict[str, str] | None:
    """The viewer's Reference-ID table row as metadata, or None."""
    m = TABLE_ROW.match(text)
    if not m:
        return None
    cls, origin = m.group("cls"), m.group("origin")
    # The classification and origin run together when a page drops the table's cells.
    for full in _TABLE_CLASSES:
        joined = cls + " " + origin
        if joined.startswith(full) and cls != full:
            cls, origin = full, joined[len(full) :].strip()
    return {
        "reference_id": m.group("ref"),
        "created": m.group("created"),
        "released": m.group("released"),
        "classification": cls,
        "origin": origin,
    }


def _is_marker(text: str, common: dict[str, Any]) -> bool:
    """True when the line is a cable header marker (TAGS, SUBJECT, E.O., SIPDIS...)."""
    return any(rx.search(text) for rx in common["header_markers"])


def _identity(lines: list[Line], i: int, window: int) -> tuple[str | None, int | None]:
    """(origin, serial) that the header starting at line i names, where it names them."""
    h = parse_header([ln.text for ln in lines[i : i + window]])
    serial = h.serial if h.serial is not None else h.routing_serial
    return (h.class_origin or h.fm_origin), serial


def _is_blogger_prose(text: str) -> bool:
    """A sentence in the blogger's voice: mixed case, several words, no cable vocabulary."""
    words = text.split()
    if len(words) < 3 or _CABLE_WORDS.search(text) or PARA_START.match(text):
        return False
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    upper = sum(1 for c in letters if c.isupper()) / len(letters)
    return upper < 0.5 and text.rstrip()[-1:] in ".!?:)…"


def find(lines: list[Line], common: dict[str, Any], drop_lines: list[re.Pattern[str]]) -> list[Found]:
    """Locate every cable in `lines`; the blogger's words and the viewer's chrome are left out."""
    n = len(lines)
    kinds = [_kind(ln.text, common, drop_lines) for ln in lines]
    # Blog framing inside <pre> is cable text, not framing.
    for i, ln in enumerate(lines):
        if ln.pre and kinds[i] in ("after", "before", "chrome"):
            kinds[i] = "text"
    window = common["header_window"]
    markers = [k not in ("blank",) and _is_marker(lines[i].text, common) for i, k in enumerate(kinds)]

    starts: list[int] = []
    for i, k in enumerate(kinds):
        if k != "start":
            continue
        seen = 0
        for j in range(i, n):
            if kinds[j] == "blank":
                continue
            if j > i and kinds[j] in ("heading", "after", "table", "help"):
                break
            if markers[j] and j > i:
                starts.append(i)
                break
            seen += 1
            if seen > window:
                break

    found: list[Found] = []
    if not starts:
        return found

    # Group start lines into cables: a new cable begins after a heading, or where the
    # header names another origin/serial once the current cable has a body.
    groups: list[tuple[int, int]] = []  # (begin, limit)
    cur_begin = starts[0]
    cur_id = _identity(lines, cur_begin, window)
    cur_body = _first_para(lines, cur_begin, n)
    for s in starts[1:]:
        heading_between = any(kinds[j] == "heading" for j in range(cur_begin, s))
        new_cable = heading_between
        if not new_cable and s > cur_body:
            sid = _identity(lines, s, window)
            if sid[1] is not None and cur_id[1] is not None and (sid != cur_id):
                new_cable = sid[1] != cur_id[1]
        if new_cable:
            groups.append((cur_begin, s))
            cur_begin, cur_id = s, _identity(lines, s, window)
            cur_body = _first_para(lines, s, n)
    groups.append((cur_begin, n))

    prev_end = 0
    for begin, limit in groups:
        f = Found(lines=[])
        # What stands between the previous cable and this one: heading, table, partial note.
        for j in range(prev_end, begin):
            k = kinds[j]
            text = lines[j].text
            if k == "heading":
                for rx in common["cable_heading"]:
                    m = rx.search(text)
                    if m:
                        f.heading_ref = m.group(1)
            elif k == "table_row":
                f.table = parse_table_row(text)
            elif k == "partial":
                f.partial = True
            elif k == "help":
                m = common["hashtag"].search(text)
                if m:
                    f.hashtag = m.group(1)
        # Extend the start back to the beginning of its block (a <pre> or a paragraph whose
        # first line is not a start pattern) unless the block holds framing or chrome.
        # Inside a <pre> the block runs over its blank lines: a cable pasted in <pre> starts
        # where the <pre> starts (a message-handling preamble above its header stays).
        in_pre = lines[begin].pre
        b = begin
        while (
            b > prev_end
            and lines[b - 1].block == lines[begin].block
            and (
                kinds[b - 1] in ("text", "start") or (in_pre and lines[b - 1].pre and kinds[b - 1] == "blank")
            )
        ):
            b -= 1
        while b < begin and not lines[b].text.strip():
            b += 1
        begin = b
        # Address lines that a mirror split off into paragraphs of their own (AMEMBASSY
        # TRIPOLI / DEPT OF JUSTICE WASHDC) belong to the routing block that follows them, and
        # so do a message-handling preamble and a teletype page head (`cable.preamble`).
        begin = _routing_before(lines, kinds, prev_end, begin, common["preamble"])
        end = _end_of(lines, kinds, begin, limit, _first_para(lines, begin, limit), common)
        body = [
            lines[j]
            for j in range(begin, end)
            if kinds[j] not in ("help", "table", "table_row", "partial", "chrome", "heading")
        ]
        while body and not body[-1].text.strip():
            body.pop()
        while body and not body[0].text.strip():
            body.pop(0)
        if body:
            f.lines = body
            found.append(f)
        prev_end = max(end, begin)
        # the next cable's preamble is searched from here
        prev_end = min(prev_end, limit)
    return found


_ROUTING_WORDS = re.compile(
    r"\b(?:AMEMBASSY|AMCONSUL|WASHDC|WASHINGTON DC|SECSTATE|USMISSION|COLLECTIVE|RUE[A-Z]{2,}|PRIORITY|IMMEDIATE|ROUTINE|[A-Z]{2,5}-\d{2})\b"
)


def _routing_before(
    lines: list[Line], kinds: list[str], lo: int, begin: int, preamble: list[re.Pattern[str]] | None = None
) -> int:
    """Move a cable's start back over whole paragraphs of routing or preamble lines just before it."""
    j = begin
    while True:
        k = j
        while k > lo and not lines[k - 1].text.strip():
            k -= 1
        if k <= lo:
            return j
        first = k - 1
        while first > lo and lines[first - 1].text.strip() and lines[first - 1].block == lines[k - 1].block:
            first -= 1
        block = lines[first:k]
        if not all(
            kinds[first + i] in ("text", "start")
            and not ln.heading
            and (
                (ln.text.strip().isupper() and _ROUTING_WORDS.search(ln.text))
                or any(rx.search(ln.text) for rx in preamble or ())
            )
            for i, ln in enumerate(block)
        ):
            return j
        j = first


def _first_para(lines: list[Line], begin: int, limit: int) -> int:
    """Index of the cable's first numbered paragraph (end of its header), else the line after its start."""
    for j in range(begin, min(limit, len(lines))):
        if PARA_START.match(lines[j].text):
            return j
    return min(limit, begin + 1)


def _end_of(
    lines: list[Line], kinds: list[str], begin: int, limit: int, body_start: int, common: dict[str, Any]
) -> int:
    """Where the cable that starts at `begin` ends: at framing, chrome or the blogger's closing words."""
    end = limit
    header_end = _header_end(lines, begin, limit)
    for j in range(max(begin + 1, body_start, header_end + 1), limit):
        if kinds[j] in ("after", "heading", "table", "help") or (kinds[j] == "before" and not lines[j].pre):
            end = j
            break
    # Trailing blank lines and the next cable's lead-in are not this cable's.
    while end > begin and kinds[end - 1] in ("blank", "before", "heading", "chrome"):
        end -= 1
    # The blogger's closing words after the signer: from the first prose paragraph (mixed
    # case, no cable vocabulary) that follows the cable's last signed line.
    # A cable pasted in <pre> ends with its <pre>: what follows outside it is the page's.
    if lines[begin].pre:
        for j in range(begin, end):
            if lines[j].text.strip() and not lines[j].pre:
                end = j
                break
        while end > begin and not lines[end - 1].text.strip():
            end -= 1
        return end
    # Otherwise the cable closes with its signer (alone, or ending the last paragraph); after
    # it only a cable's own tail (classification footer, NNNN, debris) belongs to it.
    signed = -1
    for j in range(max(body_start, header_end), end):
        if _is_signed(lines[j].text, common, lines, j) and _ends_block(lines, j, end):
            signed = j
    # A signer has nothing cable-shaped after it: no numbered paragraph, no underlined heading.
    if signed >= 0 and any(
        PARA_START.match(ln.text) or _RULE.match(ln.text) for ln in lines[signed + 1 : end]
    ):
        signed = -1
    if signed >= 0:
        j = signed + 1
        while j < end and (not lines[j].text.strip() or _is_tail(lines[j].text, common)):
            j += 1
        if j < end:
            end = j
            while end > begin and not lines[end - 1].text.strip():
                end -= 1
        return end
    # No signer: the last few paragraphs may still be the page's (a blogger's one-liner, the
    # theme's "previous / next" links) when they are short, mixed-case and carry nothing of a
    # cable, and what stands before them does.
    blocks = _trailing_blocks(lines, max(body_start, header_end) + 1, end)
    cut = end
    for b_start, b_end in blocks[:3]:
        text = " ".join(ln.text.strip() for ln in lines[b_start:b_end])
        if any(ln.pre for ln in lines[b_start:b_end]) or not _is_chrome_like(text):
            break
        # After a page break the cable goes on: its last sentence may stand alone on the last
        # page (`UNVIE VIEN 00000285  036.2 OF 036` / `standards are generally followed.`).
        k = b_start
        while k > begin and not lines[k - 1].text.strip():
            k -= 1
        if k > begin and _PAGE_BREAK.match(lines[k - 1].text):
            break
        cut = b_start
    if cut < end:
        prev = cut
        while prev > begin and not lines[prev - 1].text.strip():
            prev -= 1
        last = " ".join(ln.text.strip() for ln in lines[cut:end] if ln.text.strip())
        before = _block_text(lines, prev - 1) if prev > begin else ""
        # Cut when what stays ends like a cable, or is a full paragraph and what goes is a
        # blogger's short aside.
        if prev > begin and (
            _is_cable_like(lines[prev - 1].text, lines, prev - 1)
            or len(before.split()) >= 25
            or (len(last.split()) <= 15 and _is_blogger_prose(last))
        ):
            end = prev
    return end


def _block_text(lines: list[Line], j: int) -> str:
    """The text of the paragraph that line j belongs to."""
    k = j
    while k > 0 and lines[k - 1].text.strip() and lines[k - 1].block == lines[j].block:
        k -= 1
    return " ".join(ln.text.strip() for ln in lines[k : j + 1])


def _trailing_blocks(lines: list[Line], lo: int, end: int) -> list[tuple[int, int]]:
    """The paragraphs of lines[lo:end], last first, as (start, end) index pairs."""
    out: list[tuple[int, int]] = []
    j = end
    while j > lo:
        while j > lo and not lines[j - 1].text.strip():
            j -= 1
        if j <= lo:
            break
        k = j - 1
        while k > lo and lines[k - 1].text.strip() and lines[k - 1].block == lines[j - 1].block:
            k -= 1
        out.append((k, j))
        j = k
    return out


def _is_chrome_like(text: str) -> bool:
    """A short mixed-case paragraph with nothing of a cable: a blogger's aside or theme links."""
    words = text.split()
    if (
        not words
        or len(words) > 30
        or _CABLE_WORDS.search(text)
        or PARA_START.match(text)
        or _RULE.match(text)
    ):
        return False
    letters = [c for c in text if c.isalpha()]
    navish = bool(re.search(r"[<>«»‹›|·]", text))
    if not letters:
        return len(text) < 12 and navish
    if sum(c.isupper() for c in letters) / len(letters) >= 0.5:
        return False
    # A sentence (a signer's bare name is not one) or a line of navigation links.
    return navish or (len(words) >= 3 and text.rstrip()[-1:] in ".!?:…")


def _is_cable_like(text: str, lines: list[Line], j: int) -> bool:
    """Whether a line reads as part of a cable: a numbered paragraph, capitals, cable vocabulary."""
    k = j
    while k > 0 and lines[k - 1].text.strip() and lines[k - 1].block == lines[j].block:
        k -= 1
    first = lines[k].text
    return bool(
        PARA_START.match(first)
        or _CABLE_WORDS.search(text)
        or text.strip().isupper()
        or _HEADER_FIELD.search(first)
    )


def _is_tail(text: str, common: dict[str, Any]) -> bool:
    """A line that can follow a cable's signer and still be the cable's: footer marks and debris."""
    t = text.strip()
    return t.isupper() or bool(_CABLE_WORDS.search(t)) or any(rx.search(t) for rx in common["end_lines"])


def _ends_block(lines: list[Line], j: int, end: int) -> bool:
    """True when line j is the last line of its paragraph."""
    return j + 1 >= end or lines[j + 1].block != lines[j].block or not lines[j + 1].text.strip()


def _pre_ends_at(lines: list[Line], j: int, end: int) -> bool:
    """True when line j is the last text of a <pre> and what follows (if anything) is not <pre>."""
    for k in range(j + 1, end):
        if lines[k].text.strip():
            return not lines[k].pre
    return False


def _header_end(lines: list[Line], begin: int, limit: int) -> int:
    """The cable's last header line (SUBJECT/TAGS/E.O./Classified By), which may run on into the body."""
    last = begin
    for j in range(begin, min(limit, begin + 60)):
        text = lines[j].text
        if PARA_START.match(text):
            break
        if _HEADER_FIELD.search(text):
            last = j
    return last


_HEADER_FIELD = re.compile(
    r"(?i)^\s*(?:TAGS?\b|SUBJECT\s*:|E\.?\s?O\.?\s*1\d{4}|(?:\(\w+\)\s*)?Classified By\b|REF\s*:|SIPDIS)"
)


def _is_signed(text: str, common: dict[str, Any], lines: list[Line] | None = None, j: int = -1) -> bool:
    """True for a cable's closing line: a signer alone, or a paragraph that ends with one."""
    text = text.strip()
    text = re.sub(r"\s+\.$", "", text)  # "KENNARD ."
    if common["signer"].match(text) and text not in _NOT_SIGNERS:
        return True
    # A reflowed last paragraph: "... End Comment. TIMKEN JR" or "... Maxim Elovik CLINTON".
    m = re.search(r"(?:[.!?\"”)*=\-]|[a-z]\S*)\s+([A-Z][A-Z'\-]+(?:\s[A-Z][A-Z'\-]+){0,2})$", text)
    if m and len(m.group(1)) >= 3 and m.group(1) not in _NOT_SIGNERS:
        return True
    # Signers who wrote their name in mixed case (Aguirre, Stapleton): after a sentence in the
    # same paragraph, or alone after a paragraph that ended a sentence; never a heading word.
    m = re.search(
        r"(?:^|[.!?\"”)]\s+)([A-Z][a-z]+(?:[A-Z][a-z]+|[-'][A-Z]?[a-z]+)*(?: [A-Z][a-z'\-]+){0,2})$", text
    )
    if not m or m.group(1).upper() in _NOT_SIGNERS or len(m.group(1)) > 30:
        return False
    if m.start(1) > 0:
        return True
    if lines is None or j <= 0:
        return False
    k = j - 1
    same_block = lines[k].text.strip() and lines[k].block == lines[j].block
    while k > 0 and not lines[k].text.strip():
        k -= 1
    prev = lines[k].text.rstrip()
    if same_block:
        return True
    # A name alone in its own paragraph, after the cable's last sentence or its web-site line.
    return (
        text.count(" ") <= 1
        and text.upper() not in _CHROME_WORDS
        and (prev[-1:] in '.!?"”)' or bool(_CABLE_WORDS.search(prev)) or prev.isupper())
    )


# Single words that themes put under a post: never a signer.
_CHROME_WORDS = frozenset(
    [
        "SHARE",
        "PRINT",
        "EMAIL",
        "HOME",
        "REPLY",
        "TWEET",
        "LIKE",
        "COMMENTS",
        "RELATED",
        "TAGS",
        "CATEGORIES",
        "MENU",
        "SEARCH",
        "NEXT",
        "PREVIOUS",
        "BACK",
        "TOP",
        "MORE",
        "LOGIN",
        "LOGOUT",
        "SUBSCRIBE",
        "PERMALINK",
        "TRACKBACK",
        "TEILEN",
        "DRUCKEN",
        "ZURÜCK",
        "WEITER",
    ]
)


_NOT_SIGNERS = frozenset(
    [
        "SIPDIS",
        "NOFORN",
        "CONFIDENTIAL",
        "SECRET",
        "UNCLASSIFIED",
        "UNCLAS",
        "SENSITIVE",
        "NNNN",
        "SUMMARY",
        "COMMENT",
        "COMMENTS",
        "BACKGROUND",
        "OVERVIEW",
        "CONCLUSION",
        "CONCLUSIONS",
        "ANALYSIS",
        "INTRODUCTION",
        "PARTICIPANTS",
        "NOTE",
        "TEXT",
        "END",
        "RECOMMENDATION",
        "RECOMMENDATIONS",
        "ACTION",
        "REQUEST",
        "DISCUSSION",
        "CONTEXT",
        "ISSUES",
        "OUTLOOK",
        "NEXT",
        "STEPS",
        "BIOGRAPHY",
        "BIO",
        "SCENESETTER",
        "GUIDANCE",
        "TALKING",
        "POINTS",
        "OBJECTIVE",
        "OBJECTIVES",
        "ASSESSMENT",
        "ENDNOTE",
    ]
)
# A page break inside a cable's text: `KUALA LUMP 00001403  002 OF 003`, `PRETORIA 00000954 001.2 OF 004`.
_PAGE_BREAK = re.compile(r"^\s*[A-Z][A-Z .'/-]*\s\d{5,8}\s+\d{3}(?:\.\d)?\s+OF\s+\d{3}\s*$")
_RULE = re.compile(r"^\s*(?:-\s?){3,}\s*$|^\s*[-=_*]{3,}")
