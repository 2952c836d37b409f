"""Classified By (who classified the cable, and why) and DECL (when it is to be declassified)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from cleaners.fields.stations import one_edit
from cleaners.fields.text import Head, fold

_LABEL = re.compile(r"(?<![a-z])(?i:Clas(?:s(?:i|if)?fi?|fi)ed\s+By\b)\s*:?\s*")
# Where the classifier's part ends: the reasons, the E.O., a blank line, the next paragraph.
_REASON_WORD = r"\br\s*e?\s*a?\s*s\s*[o0]\s*ns?\b|\bre\s*\n?\s*ason"
_STOP = re.compile(
    r"\b(?:f\s*[o0]\s*r|fr|per|based\s+(?:[o0]n|up[o0]n)|under|due\s+to)\b"
    r"(?=\s+(?:for\s+)?(?:r|e\.?\s?[o0]\b|\d|sec|section)|\s*$)"
    r"|" + _REASON_WORD + r"|(?-i:\bunder\b)|\b1\s?[.,]\s?[1-9]\b|\bE\.?\s?O\.?\s*1\d{3}"
    r"|;|\n\s*\n|(?:^|\s)\d{1,2}\s?\.\s*\(|:\s*1\s?\.|\bSUMMARY\b|\bEnd\b"
    r"|\b(?:CONFIDENTIAL|SECRET|UNCLASSIFIED)\b",
    re.I,
)
# Several classifiers: KARL WYCOFF, ACTING AND S/CT DAS SHARI VILLAROSA.
_AND = re.compile(r"\s+(?:AND|and|&)\s+")
# Words inside surnames: Carol van Voorst, Alberto de la Torre.
_PARTICLES = frozenset(
    ["van", "von", "de", "da", "del", "della", "di", "du", "la", "le", "der", "den", "ter", "bin", "al", "el"]
)
_SUFFIX = re.compile(r"^(?:JR|SR|II|III|IV)\.?$", re.I)
_DOTTED = re.compile(r"^(?:[A-Z0-9]\.){1,3}$")
_INITIAL = re.compile(r"^(?:[A-Z0-9]\.){1,3}$|^[A-Z]\.?$")
_TOKEN = re.compile(r"[^\s:]+")
_REASONS = re.compile(r"(?i)\b1\s?\.\s?([1-9])\s*((?:[\s(),/&+]*(?:and\s+)?\(?\s*[a-h]\s*\)?(?![a-z]))*)")
_SECTION = re.compile(r"1\s?\.\s?[1-9]")
_LETTER = re.compile(r"(?i)(?<![a-z])([a-h])(?![a-z])")
_DECL = re.compile(
    r"(?im)\bDECL(?:ASSIFY|[a-z])?[ \t]*(?::[ \t]*|[ \t]+)(?:ON[ \t]*:?[ \t]*)?"
    r"(?P<raw>\d{1,2}[ \t]*/[ \t]*\d{1,2}[ \t]*/[ \t]*\d{2,4}|\d{4}[ \t]*/[ \t]*\d{1,2}[ \t]*/[ \t]*\d{1,2}|"
    r"[A-Z0-9][^\n]{0,60}?)"
    r"(?=[ \t]+(?:TAGS?|Tags|SUBJ|Subj|E\.O)\b|[ \t]*$|[ \t]{2,})"
)
_WRAPPED = re.compile(r"\n(?<=[A-Za-z]\n)([a-z]{1,3})(?=[\s,.;][^\n]{0,3}[A-Z0-9(])")
_SMALL_TO_CAPITAL = re.compile(r"[a-z][A-Z]")
_CAPITALISED = re.compile(r"[A-Z][a-z][A-Za-z'-]*")
MAX_TEXT = 6000
# Lines after the first paragraph that may still hold a Classified By line (old cables put it
# in paragraph 1: "1. (U) CLASSIFIED BY ROBERT P. FINN"); the header holds PAST_FIRST_PARA.
_WINDOW = 11


def read_classified_by(head: Head, fields: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(classifiers' names, reasons such as 1.4(b)) from the header and first paragraphs."""
    end = min(MAX_TEXT, head.offset(head.first_para + _WINDOW))
    text, lowered = head.text, head.lower
    titles: frozenset[str] = fields.get("titles", frozenset())
    not_names: frozenset[str] = fields.get("not_classifiers", frozenset())
    for count, m in enumerate(_labels(text, lowered, end)):
        if count >= 4:
            break
        rest = text[m.end() : m.end() + 600]
        # "Classified By: Classified by DCM X" / "Classified By: This message classified by X".
        again = _LABEL.search(rest[:60])
        if again:
            rest = rest[again.end() :]
        # The viewer wraps long lines inside words (Michae / l Corbin, reaso / ns).
        rest = _WRAPPED.sub(r"\1", rest[:400], count=2) if "\n" in rest[:400] else rest[:400]
        stop = _STOP.search(rest, 0, 400)
        part = rest[: stop.start()] if stop else rest[:200]
        pieces = _AND.split(part)
        names = [
            name
            for piece in pieces
            if (name := _name(piece, titles, not_names)) and (" " in name or len(pieces) == 1)
        ]
        if names:
            return names, _reasons(rest[len(part) : len(part) + 120])
    return [], []


def _labels(text: str, lowered: str, end: int) -> Iterator[re.Match[str]]:
    """The Classified By labels before `end`, found through the word (a plain search is cheaper than the pattern's)."""
    pos = lowered.find("clas", 0, end)
    while pos >= 0:
        m = _LABEL.match(text, pos, min(len(text), pos + 40))
        if m:
            yield m
        pos = lowered.find("clas", pos + 4, end)


def _name(part: str, titles: frozenset[str], not_names: frozenset[str]) -> str | None:
    """The person in a classifier's part (titles and offices dropped), else None."""
    segments = [s.strip() for s in part.replace("\n", " ").split(",")]
    for k, segment in enumerate(segments):
        if not segment or _SUFFIX.match(segment):
            continue
        name = _trailing_name(segment, titles, not_names)
        if name:
            if k + 1 < len(segments) and _SUFFIX.match(segments[k + 1]):
                name = f"{name}, {segments[k + 1]}"  # EDWARD G. ABINGTON, JR.
            if not name.upper().endswith("JR."):
                name = name.rstrip(".")
            return fold(name.rstrip("-"))
    return None


def _trailing_name(segment: str, titles: frozenset[str], not_names: frozenset[str]) -> str | None:
    """The run of name-like words a segment ends with (Marc Wall in Acting DCM Marc Wall)."""
    tokens = _TOKEN.findall(segment)
    while tokens and (
        (not tokens[-1][:1].isupper() and not tokens[-1][:1].isdigit())
        or _is_title(tokens[-1].upper(), titles)
    ):
        tokens.pop()  # "... Moriarty for"
    mixed = any(c.islower() for c in segment)
    name: list[str] = []
    for tok in reversed(tokens):
        if name and tok.lower() in _PARTICLES and not _INITIAL.match(name[0]):
            name.insert(0, tok)  # Carol van Voorst
            continue
        if "/" in tok:
            # DCM/Ted: the name after an office; A/S, POL/ECON: an office
            after = tok.rsplit("/", 1)[1]
            if _CAPITALISED.fullmatch(after) and not _is_title(after.upper(), titles):
                name.insert(0, after)
            break
        if not _name_token(tok, name, titles, not_names, mixed):
            break
        name.insert(0, tok)
        # A name is a given name and a surname, with initials and a suffix: older words are titles
        # (only initials may still come before the given name: F. Daniel Sainz).
        if (
            sum(
                1
                for t in name
                if not _INITIAL.match(t) and not _SUFFIX.match(t) and t.lower() not in _PARTICLES
            )
            >= 2
        ):
            k = len(tokens) - len(name) - 1
            while k >= 0 and _DOTTED.match(tokens[k]) and len(name) < 6:
                name.insert(0, tokens[k])
                k -= 1
            break
    while name and (
        (_INITIAL.match(name[0]) and not _DOTTED.match(name[0])) or name[0].lower() in _PARTICLES
    ):
        name.pop(0)  # AFFAIR / S ROBERT LUKE: a letter cut off a word, not an initial
    words = [t for t in name if not _INITIAL.match(t) and not _SUFFIX.match(t)]
    if not words or (len(name) == 1 and len(words[0]) < 3):
        return None
    return " ".join(name)


def _name_token(
    tok: str, name: list[str], titles: frozenset[str], not_names: frozenset[str], mixed: bool
) -> bool:
    """Whether a word, read right to left, still belongs to the name."""
    word = tok.strip(".,-()'\"").upper()
    if not word or _is_title(word, titles) or word in not_names:
        return False
    if _INITIAL.match(tok) or _SUFFIX.match(tok):
        return True
    if not tok[:1].isupper() or "&" in tok:
        return False
    # PolMinCons: run-together titles (a surname turns from small to capital once at most:
    # LeBaron, McDonald; initials run on, TLManlowe, do not count)
    if len(_SMALL_TO_CAPITAL.findall(tok)) >= 2:
        return False
    # In a mixed-case line a word in capitals is an office (DIR Stephen M. Young, PRT Team Leader).
    return not (mixed and len(word) >= 2 and tok.strip(".,-").isupper())


@lru_cache(maxsize=8192)
def _is_title(word: str, titles: frozenset[str]) -> bool:
    """A title word, also misspelt by one letter when long (AMBASSAOR) or written with zeros (AMBASSAD0R)."""
    word = word.replace("0", "O") if any(c.isalpha() for c in word) else word
    if word in titles or any(part in titles for part in re.split(r"[-/]", word) if part):
        return True
    return len(word) >= 7 and any(len(t) >= 7 and one_edit(word, t) for t in titles)


def _reasons(text: str) -> list[str]:
    """The classification reasons (1.4(b), 1.4(d)) written after the classifier."""
    out: list[str] = []
    first = _SECTION.search(text)
    if not first:
        return out
    for m in _REASONS.finditer(text, max(0, first.start() - 1), first.start() + 80):
        section = f"1.{m.group(1)}"
        letters = _LETTER.findall(m.group(2))
        for letter in letters or [""]:
            reason = f"{section}({letter.lower()})" if letter else section
            if reason not in out:
                out.append(reason)
    return out


def read_decl(head: Head) -> dict[str, str | None] | None:
    """The declassification instruction: {"date": YYYY-MM-DD or None, "raw": as written}, or None."""
    end = min(len(head.text), head.offset(head.first_para + 1))
    pos = head.lower.find("decl", 0, end)
    m = _DECL.search(head.text, max(0, pos - 1), end) if pos >= 0 else None
    if not m:
        return None
    raw = fold(m.group("raw")).rstrip(" .,;")
    return {"date": _iso(raw), "raw": raw}


def _iso(raw: str) -> str | None:
    """A DECL date as YYYY-MM-DD (month/day/year, or year/month/day), else None."""
    m = re.fullmatch(r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{2,4})", raw)
    if m:
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = re.fullmatch(r"(\d{4})\s*/\s*(\d{1,2})\s*/\s*(\d{1,2})", raw)
        if not m:
            return None
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if year < 100:
        year += 1900 if year >= 66 else 2000
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1966 <= year <= 2099):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"
