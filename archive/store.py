"""The archive as its users see it: open or create one, read its captures and cables, start a writer."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from archive import index, ocfl
from archive.cable import CableRecord, CableSummary, SearchHit
from archive.captures import REVISIT_NOT_MODIFIED, Capture, read_record, restore_headers, safe_url
from archive.errors import ArchiveError
from archive.folder import ArchiveFolder
from archive.ids import is_reference
from archive.progress import Progress
from archive.query import plain
from archive.query import search as query_search
from archive.reindex import object_inventory
from archive.runs import read_runs
from archive.verify import VerifyReport, verify_archive
from archive.writer import DEFAULT_WARC_SIZE, Writer

_T = TypeVar("_T")


class Archive(ArchiveFolder):
    """An archive folder: captures (WARC + CDXJ), cables (OCFL 1.1), index.sqlite, runs, state."""

    # -- writing
    def writer(
        self,
        kind: str = "crawl",
        args: dict[str, Any] | None = None,
        wait: float | None = None,
        *,
        warc_size: int = DEFAULT_WARC_SIZE,
    ) -> Writer:
        """Start a run that writes to the archive (takes the lock; see Writer)."""
        return Writer(self, kind, args or {}, wait, warc_size)

    # -- reading captures
    def newest_capture(self, url: str, status: int | None = None) -> Capture | None:
        """The newest committed capture of a URL (optionally only one with that HTTP status), or None."""
        with self.reading():
            return index.newest_capture(self.conn, safe_url(url), status=status)

    def conditional_headers(self, url: str) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for a refetch, from the newest 200 capture of the URL."""
        cap = self.newest_capture(url, status=200)
        out: dict[str, str] = {}
        if cap is not None:
            if cap.etag:
                out["If-None-Match"] = cap.etag
            if cap.last_modified:
                out["If-Modified-Since"] = cap.last_modified
        return out

    def captures(self, newest_per_url: bool = True) -> Iterator[Capture]:
        """Stored captures, oldest first (by default only the newest of each URL)."""
        return self._rows(lambda: index.iter_captures(self.conn, newest_per_url))

    def capture(self, capture_id: str) -> Capture | None:
        """One capture by its id (the WARC-Record-ID of its response or revisit record)."""
        with self.reading():
            return index.get_capture(self.conn, capture_id)

    def read_capture(self, cap: Capture) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) of a capture; a revisit is resolved to the payload it refers to."""
        path = self.layout.warc_path(cap.warc_file)
        try:
            rec_type, _rh, status, headers, body = read_record(path, cap.offset, cap.length)
        except Exception as exc:  # warcio and zlib raise several types
            raise ArchiveError(f"{path}: cannot read capture at offset {cap.offset}: {exc}") from exc
        if rec_type == "revisit":
            orig = self.capture(cap.refers_to) if cap.refers_to else None
            if orig is None or orig.revisit:
                raise ArchiveError(
                    f"{path}: revisit at offset {cap.offset} refers to {cap.refers_to}, not in the archive"
                )
            o_status, o_headers, o_body = self.read_capture(orig)
            if cap.revisit_profile == REVISIT_NOT_MODIFIED:
                return o_status, o_headers, o_body
            return status, restore_headers(headers), o_body
        return status, restore_headers(headers), body

    def cleaned_digest(self, cap: Capture) -> str | None:
        """The rules digest this capture was last cleaned under (None: never cleaned)."""
        with self.reading():
            return index.cleaned_digest(self.conn, cap.capture_id)

    # -- reading cables
    def list_cables(self) -> Iterator[CableSummary]:
        """Every cable, by reference ID, from the index."""
        for row in self._rows(lambda: index.cable_rows(self.conn)):
            yield CableSummary(*row)

    def cable(self, ref: str) -> CableRecord:
        """An archived cable; ArchiveError when ref is not a cable ID or not in the archive."""
        obj_dir = self.object_dir(ref)
        try:
            inv = ocfl.load_inventory(obj_dir)
        except ValueError as exc:
            raise ArchiveError(f"{obj_dir}/{ocfl.INVENTORY}: unreadable: {exc}") from exc
        if inv is None:
            inv = object_inventory(obj_dir)  # a root inventory lost: its head version holds a copy
            if inv is None:
                raise ArchiveError(f"{ref}: no such cable in {self.path}")
            self.notify(
                f"{obj_dir}/{ocfl.INVENTORY} is missing; read from {inv['head']}: run `cablearchive repair`"
            )
        return CableRecord(ref, obj_dir, inv)

    def has_cable(self, ref: str) -> bool:
        """True when the cable is archived."""
        return is_reference(ref) and os.path.exists(os.path.join(self.object_dir(ref), ocfl.INVENTORY))

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Full-text search with field terms (see archive.query.parse_query), best first; QueryError
        when the query cannot run as written."""
        with self.reading():
            page = query_search(self, query, limit=limit)
        return [SearchHit(h.cable.ref, h.cable.subject, plain(h.snippet), h.score or 0.0) for h in page.items]

    def runs(self) -> list[dict[str, Any]]:
        """The run records, oldest first."""
        return read_runs(self.layout)

    # -- a damaged index
    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Index reads: an SQLite error becomes DamagedIndex (or DiskFull) naming index.sqlite and the remedy."""
        try:
            yield
        except sqlite3.Error as exc:
            raise index.archive_error(self.index_path, exc) from exc

    def _rows(self, query: Callable[[], Iterable[_T]]) -> Iterator[_T]:
        """The rows of an index query, its SQLite errors (met while iterating too) as the archive's."""
        with self.reading():
            yield from query()

    # -- maintenance
    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Check every file of the archive; returns a VerifyReport (see archive.verify)."""
        return verify_archive(self, progress)
