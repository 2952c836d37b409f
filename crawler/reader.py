"""The crawl's look-ups in the archive, in one reader thread with its own Archive handle.

A re-crawl asks the archive for each URL's validators (conditional requests) and, on a 304,
for the stored copy; a resumed crawl asks which pages of a commit cut short by a kill have a
capture. None of that may block the reactor, and none of it goes through the writer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from archive import Archive, ArchiveError
from archive.layout import run_of_warc
from crawler.threads import Worker

Headers = list[tuple[str, str]]
# Statuses of a stored copy a 304 can stand for, most likely first.
STORED_STATUSES = (200, 203, 301, 308, 302, 307, 303)
T = TypeVar("T")
P = ParamSpec("P")


class ArchiveReader:
    """Read-only look-ups for one crawl; failures become notes (`note(url, reason)`), never errors."""

    def __init__(self, path: str, note: Callable[[str, str], None]) -> None:
        self.path = path
        self._note = note
        self._arch: Archive | None = None
        self._thread = Worker("cablearchive-reader")
        self.closed = False

    def _archive(self) -> Archive:
        if self._arch is None:
            self._arch = Archive.open(self.path)
        return self._arch

    # ------------------------------------------------------------------ in the reader thread
    def _conditional(self, url: str) -> dict[str, str]:
        try:
            return self._archive().conditional_headers(url)
        except (ArchiveError, OSError, ValueError) as exc:
            self._note(url, f"no conditional request: archive look-up failed ({exc})")
            return {}
        except Exception as exc:  # sqlite3 errors and the like: fetch in full rather than fail
            self._note(url, f"no conditional request: archive look-up failed ({type(exc).__name__}: {exc})")
            return {}

    def _stored(self, url: str) -> tuple[int, Headers, bytes] | None:
        try:
            arch = self._archive()
            # The copy a 304 confirms: the page, else a redirect stored with validators.
            for status in STORED_STATUSES:
                cap = arch.newest_capture(url, status=status)
                if cap is not None:
                    return arch.read_capture(cap)
            return None
        except Exception as exc:  # a damaged capture: the page is fetched again in full
            self._note(url, f"304 Not Modified, but the stored copy could not be read ({exc})")
            return None

    def captured(self, run: str, urls: list[str]) -> set[str]:
        """Which of `urls` have a capture written by `run` (blocking: call it in the reader thread)."""
        arch = self._archive()
        out = set()
        for url in urls:
            cap = arch.newest_capture(url)
            if cap is not None and run_of_warc(os.path.basename(cap.warc_file)) == run:
                out.add(url)
        return out

    # ------------------------------------------------------------------ from the reactor
    async def conditional_headers(self, url: str) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for `url` from its newest archived capture."""
        if self.closed:
            return {}
        return await self._thread.run(self._conditional, url)

    async def stored_page(self, url: str) -> tuple[int, Headers, bytes] | None:
        """Status, headers and body of the archived copy of `url` (a 304 says it is still current)."""
        return await self._thread.run(self._stored, url)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `fn` in the reader thread (work that calls `captured`)."""
        return await self._thread.run(fn, *args, **kwargs)

    def close(self) -> None:
        """Close the archive handle (in the reader thread, after the look-ups queued) and stop the thread."""
        self.closed = True

        def close_archive() -> None:
            if self._arch is not None:
                self._arch.close()

        self._thread.submit(close_archive)
        self._thread.shutdown()
