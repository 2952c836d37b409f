"""Showing page text safely: control characters made visible, rich markup never interpreted.

A cable's text comes from web pages anyone could write: it may hold escape sequences that set a
terminal's title or clear its screen, and square brackets that rich would read as markup. What
a command prints from a page goes through `visible()`, and styled output is built from
`rich.text.Text` pieces (never from markup strings holding page text).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates
# that make a terminal show text in another order than it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, newlines: bool = True) -> str:
    """Text with every control character written as an escape (`\\x1b`); newlines kept unless asked."""
    out = _CONTROL.sub(_escape, text)
    return out if newlines else out.replace("\n", "\\n")


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when the stream (default stdout) is a terminal."""
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console(stream: TextIO | None = None) -> Console:
    """A rich console on the stream (default stdout) that interprets no markup and adds no highlighting."""
    return Console(file=stream or sys.stdout, markup=False, highlight=False, emoji=False, soft_wrap=True)


def styled(pieces: Iterable[tuple[str, str | None]]) -> Text:
    """A rich Text from (text, style) pieces, each text made visible first."""
    out = Text()
    for text, style in pieces:
        out.append(visible(text, newlines=False), style=style or "")
    return out
