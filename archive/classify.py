"""What kind of change a diff hunk is: whitespace, redaction, unredaction, header reformat, typography, wording."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

# The kinds of change, most significant first. A hunk's kind is the most significant
# kind among its changes; "whitespace" only when nothing else changed.
WORDING = "wording"
UNREDACTION = "unredaction"
REDACTION = "redaction"
HEADER = "header"
TYPOGRAPHY = "typography"
WHITESPACE = "whitespace"
KINDS = (WORDING, UNREDACTION, REDACTION, HEADER, TYPOGRAPHY, WHITESPACE)

# How each kind is named in summaries and labels.
KIND_LABELS = {
    WORDING: "wording",
    UNREDACTION: "unredaction",
    REDACTION: "redaction",
    HEADER: "header reformat",
    TYPOGRAPHY: "typography",
    WHITESPACE: "whitespace-only",
}

# Redaction markers as published: runs of X (the viewer's XXXXXXXXXXXX, some builds used
# lower case or other lengths) and the early builds' "[Source removed]".
MARKER_RE = re.compile(r"[xX]{4,}|\[source removed\]", re.IGNORECASE)

# One word of a text; "[Source removed]" is kept whole so that it is one marker token.
TOKEN_RE = re.compile(r"\[source removed\]\S*|\S+", re.IGNORECASE)

# Characters the viewer builds swapped without changing a word: quotes, apostrophes,
# dashes, the ¶ paragraph links, non-breaking spaces.
_TYPO_TABLE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00b6": "",
        "\u00a0": " ",
    }
)
_SPACE_RE = re.compile(r"\s+")
_PUNCT_STRIP = "\"'()[]{}<>.,;:!?-_/*\u2018\u2019\u201c\u201d\u00b6"

# Lines that belong to a cable's header wherever they stand: the viewer's date line
# ("Tuesday, 22 September 2009, 14:13") and the page header of a continuation page
# ("LONDON 00002198 002 OF 005", "DAMASCUS 00000880 001.2 OF 004").
_DATE_LINE_RE = re.compile(
    r"^\s*(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,\s+\d{1,2}\s+\w+\s+\d{4},\s+\d{1,2}:\d{2}\s*$",
    re.IGNORECASE,
)
_PAGE_LINE_RE = re.compile(r"^\s*[A-Z][A-Z .'-]*\s+\d{5,8}\s+\d{3}(?:\.\d)?\s+OF\s+\d{3}\s*$", re.IGNORECASE)

# The first line of the cable's body: a numbered paragraph ("¶1. (C)", "1. (S)", "¶2.")
# or a "Summary" heading.
_PARA_RE = re.compile(
    r"^\s*(?:\u00b6\s*\d{1,3}\s*\.|\d{1,3}\s*\.\s*\(|(?:\(\w{1,4}\)\s*)?(?:SUMMARY|Summary)\b)"
)
_CLASSIFIED_BY_RE = re.compile(r"^\s*(?:\d\.\s*\(\w+\)\s*)?classified\s+by\b", re.IGNORECASE)
# Header fields whose value may wrap onto the following lines.
_FIELD_RE = re.compile(
    r"^\s*(?:E\.?\s?O\.?\s*12958|EO\b|TAGS\b|SUBJECT\b|SUBJ\b|REF\b|REFS\b|REFTEL\b|REASON\b|"
    r"ID:|ORIGIN:|DATE:|SOURCE:|CLASSIFICATION:|MISC:|DESTINATION:|FM\s|TO\s|INFO\s|DE\s|ZNY\s|"
    r"VZCZC|<<\d+>>|SIPDIS\b|NOFORN\b|SECTION\s+\d)",
    re.IGNORECASE,
)


def is_marker(token: str) -> bool:
    """True when a word is or holds a redaction marker."""
    return MARKER_RE.search(token) is not None


def _real_words(tokens: Sequence[str]) -> Counter[str]:
    """The words of `tokens` other than redaction markers, folded for comparison."""
    words: Counter[str] = Counter()
    for tok in tokens:
        for part in MARKER_RE.sub(" ", tok).translate(_TYPO_TABLE).split():
            part = part.strip(_PUNCT_STRIP).casefold()
            if part:
                words[part] += 1
    return words


def typography_key(text: str) -> str:
    """`text` with quotes, dashes, ¶ links, letter case and whitespace folded away."""
    return _SPACE_RE.sub("", text.translate(_TYPO_TABLE)).casefold()


def _is_prose(line: str) -> bool:
    """A line that reads as running text rather than a header field."""
    words = line.split()
    if len(line) < 60 or len(words) < 8:
        return False
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c.islower() for c in letters) > len(letters) / 2


def body_start(lines: Sequence[str]) -> int:
    """Index of the first line of the cable's body; the lines before it are its header."""
    in_classified = False
    in_field = False
    first_plain: int | None = None  # first line that looks like neither header nor blank
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _PARA_RE.match(line):
            return i
        if in_classified:
            # The "Classified By" block (which may wrap) is the header's last part.
            if not stripped:
                return i
            continue
        if _CLASSIFIED_BY_RE.match(line):
            in_classified = True
            continue
        if not stripped:
            in_field = False
            continue
        if _FIELD_RE.match(line):
            in_field = True
            continue
        if in_field or _DATE_LINE_RE.match(line) or _PAGE_LINE_RE.match(line):
            continue
        if _is_prose(stripped):
            return i if first_plain is None else first_plain
        if first_plain is None and len(stripped.split()) >= 5 and any(c.islower() for c in stripped):
            # Routing and classification lines are in capitals and short; this one reads
            # like a sentence (a fragment may start mid-paragraph).
            first_plain = i
    # No paragraph, no "Classified By", no prose: a text without a recognisable header
    # (a fragment, a blog's rewording) has its header end at its first ordinary line.
    return first_plain if first_plain is not None else len(lines)


def header_mask(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it is a header line (routing, classification, E.O., TAGS, ...)."""
    start = body_start(lines)
    return [
        i < start or bool(_DATE_LINE_RE.match(line) or _PAGE_LINE_RE.match(line))
        for i, line in enumerate(lines)
    ]


def classify_change(
    old: Sequence[str],
    new: Sequence[str],
    *,
    in_header: bool = False,
    next_to_marker: bool = False,
) -> str:
    """The kind of one aligned word change: `old` words replaced by `new` words.

    `in_header` says every line the change touches is a header line in its text;
    `next_to_marker` says a redaction marker stands right before or after the change in
    both texts (words swallowed into, or freed from, an adjacent marker).
    """
    if "".join(old) == "".join(new):
        return WHITESPACE
    old_markers = sum(is_marker(t) for t in old)
    new_markers = sum(is_marker(t) for t in new)
    if old_markers or new_markers:
        old_words, new_words = _real_words(old), _real_words(new)
        gone = old_words - new_words
        came = new_words - old_words
        if gone and not came:
            # Words gone and a marker standing in their place; a passage deleted together
            # with the markers it held is a plain wording change.
            return REDACTION if new_markers else WORDING
        if came and not gone:
            return UNREDACTION if old_markers else WORDING
        if not gone and not came:
            # Only the marker changed (its length, its case, "[Source removed]").
            return REDACTION
        if new_markers and not old_markers:
            return REDACTION
        if old_markers and not new_markers:
            return UNREDACTION
        return REDACTION if sum(gone.values()) >= sum(came.values()) else UNREDACTION
    if next_to_marker and (not old or not new):
        return REDACTION if old else UNREDACTION
    if in_header:
        return HEADER
    if typography_key(" ".join(old)) == typography_key(" ".join(new)):
        return TYPOGRAPHY
    return WORDING


def hunk_kind(changes: Sequence[tuple[str, int]]) -> str:
    """The kind of a hunk from its changes, given as (kind, words affected) pairs.

    A change of content (wording, redaction, unredaction) outranks a header reformat,
    which outranks typography, which outranks whitespace. Among content kinds the one
    touching the most words wins, so a whole paragraph unredacted is not labelled by a
    one-word edit next to it; ties go to wording, then unredaction.
    """
    weight: Counter[str] = Counter()
    for kind, words in changes:
        weight[kind] += max(words, 1)
    content = [k for k in (WORDING, UNREDACTION, REDACTION) if weight[k]]
    if content:
        return max(content, key=lambda k: weight[k])
    for kind in (HEADER, TYPOGRAPHY):
        if weight[kind]:
            return kind
    return WHITESPACE
