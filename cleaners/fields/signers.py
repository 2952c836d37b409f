"""Signers: the name(s) a cable ends with, past the markings, end marks and stamps after them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cleaners.fields.text import clean_line, fold

# How far from the end a signer is looked for (lines), and how much tail may follow it.
_WINDOW = 40
_MAX_TAIL = 30
# A name ending the last paragraph: "... MINIMIZE CONSIDERED.  EAGLETON", "END OF TEXT. BAKER".
_ENDS_WITH_NAME = re.compile(
    r"(?:[.!?\"”)]|--|\bEND\s+(?:OF\s+)?(?:TEXT|COMMENT|SUMMARY|NOTE)\.?)\s+"
    r"(?P<name>[A-Z][A-Z'\-]+(?:\s[A-Z][A-Z'\-]+)?)\s*$"
)
# A mixed-case name alone on the last line (Aguirre), after a sentence.
_MIXED_NAME = re.compile(r"^[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*$")
_LOWER_NAME = re.compile(r"^[a-z]{3,}(?:[-'][a-z]+)*$")
_URL = re.compile(r"https?://|www\.|\.cfm\b|\.html?\b|index\.")
_TRAIL = re.compile(r"(?:\s*(?:#+|\.|,))+\s*$")


def read_signers(lines: list[str], rules: dict[str, Any], fields: dict[str, Any]) -> list[str]:
    """The signers of a cable from its lines: [] when the cable does not end with a name."""
    signer_rx: re.Pattern[str] = rules["signer"]
    not_names: frozenset[str] = fields.get("not_signers", frozenset())
    tail: re.Pattern[str] | None = fields.get("signer_tail")
    window = lines[-_WINDOW:]
    # cleaned from the end, as far as the search goes
    cleaned: dict[int, str] = {}

    def at(k: int) -> str:
        if k not in cleaned:
            cleaned[k] = clean_line(window[k])
        return cleaned[k]

    skipped = 0
    j = len(window) - 1
    while j >= 0 and skipped <= _MAX_TAIL:
        line = at(j).strip()
        if not line or (tail is not None and tail.match(line)) or fold(line).upper() in not_names:
            j -= 1
            skipped += 1
            continue
        break
    if j < 0 or skipped > _MAX_TAIL:
        return []
    line = _TRAIL.sub("", at(j)).strip()
    prev = _previous(at, j)
    name = fold(line)
    # Two words or more after an unfinished line read as the end of a sentence, not a name.
    if (
        signer_rx.match(line)
        and name.upper() not in not_names
        and not _is_field(name)
        and (" " not in name or prev is None or _ends_sentence(prev) or j == 0 or not at(j - 1).strip())
    ):
        return [name]
    m = _ENDS_WITH_NAME.search(line)
    if m and m.group("name").upper() not in not_names:
        return [m.group("name")]
    if (
        _MIXED_NAME.match(line)
        and line.upper() not in not_names
        and prev is not None
        and _ends_sentence(prev)
    ):
        return [line]
    return []


def _previous(at: Callable[[int], str], j: int) -> str | None:
    """The nearest line with text before line j (`at` gives a cleaned line)."""
    for k in range(j - 1, max(-1, j - 8), -1):
        if at(k).strip():
            return at(k)
    return None


def _ends_sentence(text: str) -> bool:
    """True when a line ends a sentence or a paragraph's last line (a period, a quote, a bracket)."""
    return text.rstrip()[-1:] in ".!?\"”)':-"


def _is_field(text: str) -> bool:
    """A header word alone on a line (SUMMARY, COMMENT) is a heading, not a name."""
    return text.endswith(":")
