"""Showing page text safely: control characters made visible, rich markup never interpreted.

A cable's text comes from web pages anyone could write: it may hold escape sequences that set a
terminal's title or clear its screen, and square brackets that rich would read as markup.

`crawler.cli.main` runs every command inside `guard()`: on a terminal, stdout and stderr are
wrapped so that whatever a command prints goes through `visible()` (a pipe or a file gets the
text exact). Output that styles itself (rich consoles, diff colours, progress bars) writes to
`raw()` instead and must be made of escaped pieces: styled output is built from
`rich.text.Text` pieces with `styled()` (never from markup strings holding page text).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

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


class EscapingStream(io.TextIOBase):
    """A terminal's text stream that writes every control character of what it is given as an escape."""

    def __init__(self, underlying: TextIO) -> None:
        super().__init__()
        self.underlying = underlying

    def write(self, text: str) -> int:
        """Write `text` made visible; returns len(text), as a text stream does."""
        self.underlying.write(visible(text))
        return len(text)

    def flush(self) -> None:
        """Flush the terminal."""
        self.underlying.flush()

    def isatty(self) -> bool:
        """A terminal (that is why it is wrapped)."""
        return True

    def fileno(self) -> int:
        """The terminal's file descriptor."""
        return self.underlying.fileno()

    def __getattr__(self, name: str) -> Any:
        # encoding, errors, buffer...: the terminal's own.
        return getattr(self.underlying, name)


def raw(stream: TextIO | None = None) -> TextIO:
    """The stream under the escaping wrapper (default stdout): for output made of escaped pieces only."""
    stream = stream or sys.stdout
    return stream.underlying if isinstance(stream, EscapingStream) else stream


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """While a command runs, what it prints to a terminal (stdout, stderr) has its control characters escaped."""
    saved = sys.stdout, sys.stderr
    if is_terminal(sys.stdout) and not isinstance(sys.stdout, EscapingStream):
        sys.stdout = EscapingStream(sys.stdout)
    if is_terminal(sys.stderr) and not isinstance(sys.stderr, EscapingStream):
        sys.stderr = EscapingStream(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved


def console(stream: TextIO | None = None) -> Console:
    """A rich console on the stream (default stdout; under the escaping wrapper, since rich writes its
    own styling codes) that interprets no markup and adds no highlighting: print `styled()` Text only."""
    return Console(file=raw(stream), markup=False, highlight=False, emoji=False, soft_wrap=True)


def styled(pieces: Iterable[tuple[str, str | None]]) -> Text:
    """A rich Text from (text, style) pieces, each text made visible first."""
    out = Text()
    for text, style in pieces:
        out.append(visible(text, newlines=False), style=style or "")
    return out
