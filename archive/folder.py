"""An archive folder, opened: creating and opening one, its index connection, its lock, settling a crash.

This is what every part of the archive stands on: the reader (`archive.store.Archive`),
the writer, verify and reindex.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from archive import index, ocfl
from archive.captures import now_iso
from archive.commit import Journal, Settled, recover
from archive.errors import ArchiveError, DamagedIndex, ReadOnlyArchive
from archive.fsutil import atomic_write, fsync_dir, json_bytes, raise_if_disk_full
from archive.layout import (
    CAPTURES_DESCRIPTION,
    FOLDERS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MARKER,
    Layout,
    tool_version,
)
from archive.lock import ArchiveLock
from archive.progress import Progress
from archive.reindex import rebuild_index

_F = TypeVar("_F", bound="ArchiveFolder")


def _say(msg: str) -> None:
    print(f"cablearchive: {msg}", file=sys.stderr)


class ArchiveFolder:
    """An archive folder: its layout, marker and index connection; the lock writers take; crash recovery."""

    def __init__(self, path: str, meta: dict[str, Any]) -> None:
        self.layout = Layout.at(path)
        self.path = self.layout.root
        self.meta = meta
        self._conn: sqlite3.Connection | None = None
        # Opened with open_read_only(): no lock, no recovery, no index rebuild, no write.
        self.read_only = False
        # Where messages for the user go (stderr by default; the crawler and tests may redirect them).
        self.notify: Callable[[str], None] = _say

    # -- paths (see archive.layout)
    @property
    def captures_dir(self) -> str:
        """captures/: the WARC files and index.cdxj."""
        return self.layout.captures_dir

    @property
    def cables_dir(self) -> str:
        """cables/: the OCFL storage root."""
        return self.layout.cables_dir

    @property
    def state_dir(self) -> str:
        """state/: lock file, commit journal, crawl job state."""
        return self.layout.state_dir

    @property
    def runs_dir(self) -> str:
        """runs/: one JSON record per run."""
        return self.layout.runs_dir

    @property
    def cdxj_path(self) -> str:
        """captures/index.cdxj."""
        return self.layout.cdxj_path

    @property
    def cleaned_path(self) -> str:
        """captures/cleaned.jsonl: under which rules each capture was cleaned."""
        return self.layout.cleaned_path

    @property
    def journal_path(self) -> str:
        """state/journal.json: present while a writer is open (or after it died)."""
        return self.layout.journal_path

    @property
    def index_path(self) -> str:
        """index.sqlite."""
        return self.layout.index_path

    def object_dir(self, ref: str) -> str:
        """The OCFL object folder of a cable (the reference ID is checked first)."""
        return self.layout.object_dir(ref)

    # -- opening
    @classmethod
    def create(cls: type[_F], path: str | os.PathLike[str]) -> _F:
        """Create a new archive; refuses a non-empty folder that is not an archive."""
        path = os.fspath(path)
        lay = Layout.at(path)
        if os.path.exists(lay.marker):
            raise ArchiveError(f"{path}: already an archive (use Archive.open)")
        if os.path.exists(path):
            if not os.path.isdir(path):
                raise ArchiveError(f"{path}: exists and is not a folder")
            if os.listdir(path):
                raise ArchiveError(
                    f"{path}: folder is not empty and is not an archive; refusing to create one there"
                )
        try:
            os.makedirs(path, exist_ok=True)
            for sub in FOLDERS:
                os.makedirs(os.path.join(lay.root, sub), exist_ok=True)
            ocfl.init_root(lay.cables_dir)
            for log in (lay.cdxj_path, lay.cleaned_path):
                open(log, "ab").close()
            meta = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "created": now_iso(),
                "tool_version": tool_version(),
                "layout": {
                    "captures": CAPTURES_DESCRIPTION,
                    "cables": f"OCFL {ocfl.OCFL_VERSION}, {ocfl.LAYOUT_EXTENSION}",
                },
            }
            index.connect(lay.index_path).close()
            # The marker is written last: a folder without it is not (yet) an archive.
            atomic_write(lay.marker, json_bytes(meta))
        except OSError as exc:
            raise_if_disk_full(exc, path)
            raise ArchiveError(f"{path}: cannot create archive: {exc.strerror or exc}") from exc
        fsync_dir(os.path.dirname(lay.root) or ".")
        return cls.open(path)

    @classmethod
    def open(cls: type[_F], path: str | os.PathLike[str]) -> _F:
        """Open an existing archive; ArchiveError with a clear message otherwise."""
        path = os.fspath(path)
        arch = cls(path, _read_marker(path))
        # A read-only archive opens for reading: nothing is created, nothing settled.
        with contextlib.suppress(OSError):
            os.makedirs(arch.state_dir, exist_ok=True)
        if Journal(arch.layout).exists():
            arch._recover_if_unlocked()
        return arch

    @classmethod
    def open_read_only(cls: type[_F], path: str | os.PathLike[str]) -> _F:
        """Open an existing archive for reading only: takes no lock, settles nothing, writes nothing.

        It works on a read-only mount and beside a live writer (readers see its last commit).
        """
        path = os.fspath(path)
        arch = cls(path, _read_marker(path))
        arch.read_only = True
        return arch

    @classmethod
    def open_or_create(cls: type[_F], path: str | os.PathLike[str]) -> _F:
        """Open the archive at path, creating it when the folder is missing or empty."""
        if os.path.exists(Layout.at(path).marker):
            return cls.open(path)
        return cls.create(path)

    def close(self) -> None:
        """Close the index connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self: _F) -> _F:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the index
    @property
    def conn(self) -> sqlite3.Connection:
        """The index connection (the index is rebuilt from the files when missing or unreadable)."""
        if self._conn is None and self.read_only:
            try:
                self._conn = index.connect_read_only(self.index_path)
            except sqlite3.DatabaseError as exc:
                raise ArchiveError(
                    f"{self.index_path}: cannot be read ({exc}); run `cablearchive reindex` on a writable copy"
                ) from exc
        if self._conn is None:
            if not os.path.exists(self.index_path):
                self._rebuild_for_reading("missing")
            try:
                self._conn = index.connect(self.index_path)
            except sqlite3.DatabaseError as exc:
                index.raise_if_busy(self.index_path, exc)
                self._rebuild_for_reading(str(exc))
                self._conn = index.connect(self.index_path)
        return self._conn

    def _rebuild_for_reading(self, why: str) -> None:
        """Rebuild a missing or unreadable index for a reader; a read-only archive cannot, and says so."""
        try:
            self.notify(f"{self.index_path}: {why}; rebuilding it from the files")
            self.reindex()
        except ReadOnlyArchive:
            raise DamagedIndex(
                f"{self.index_path}: {why}, and the archive is read-only: "
                "run `cablearchive reindex` on a writable copy"
            ) from None

    def ensure_index(self) -> None:
        """Build index.sqlite if it is missing, unreadable or damaged (the caller holds the lock)."""
        ok = os.path.exists(self.index_path)
        if ok:
            try:
                conn = index.connect(self.index_path)
                try:
                    # A writer must not build on a damaged index (its commits would fail, or be lost).
                    check = conn.execute("PRAGMA quick_check").fetchone()
                finally:
                    conn.close()
                if check != ("ok",):
                    raise sqlite3.DatabaseError(f"damaged: {check[0] if check else 'no answer'}")
            except sqlite3.DatabaseError as exc:
                index.raise_if_busy(self.index_path, exc)
                self.notify(f"{self.index_path}: {exc}; rebuilding it from the files")
                ok = False
        if not ok:
            rebuild_index(self.layout, None, notify=self.notify)

    def reindex(
        self, progress: Progress | None = None, *, from_warc: bool = False, wait: float | None = None
    ) -> dict[str, int]:
        """Rebuild index.sqlite from the files (and index.cdxj from the WARC files with from_warc)."""
        lock = self.lock()
        lock.acquire(
            {"kind": "reindex", "run": None}, wait=wait, notify=self.notify, what=f"archive {self.path}"
        )
        try:
            self.recover()
            self.close()
            return rebuild_index(self.layout, progress, from_warc=from_warc, notify=self.notify)
        finally:
            lock.release()

    # -- locking and recovery
    def lock(self) -> ArchiveLock:
        """The writers' lock (not taken yet); an archive opened read-only refuses to write."""
        if self.read_only:
            raise ReadOnlyArchive(f"{self.path}: opened read-only; it cannot be written to")
        return ArchiveLock(self.layout.lock_path)

    def recover(self) -> Settled | None:
        """Settle what an interrupted writer left (the caller holds the lock); returns what was done."""
        return recover(self.layout, self.notify)

    def _recover_if_unlocked(self) -> None:
        """Settle a dead writer's journal when the archive can be written; readers go on either way."""
        lock = self.lock()
        try:
            lock.acquire({"kind": "recover", "run": None}, wait=0, what=f"archive {self.path}")
        except ReadOnlyArchive:
            return  # readers read what is committed; a writer on a writable copy settles the rest
        except ArchiveError:
            return  # a live writer owns the journal
        try:
            self.recover()
        except ArchiveError as exc:
            # A damaged journal must not stop readers: what is committed can still be read.
            self.notify(str(exc))
        finally:
            lock.release()


def _read_marker(path: str) -> dict[str, Any]:
    """The archive marker's contents, checked (format and version); ArchiveError otherwise."""
    marker = Layout.at(path).marker
    if not os.path.isdir(path):
        raise ArchiveError(f"{path}: no such archive folder")
    try:
        with open(marker, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: not an archive (no {MARKER})") from None
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{marker}: unreadable: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise ArchiveError(f"{marker}: format is {found!r}, not {FORMAT_NAME!r}")
    try:
        version = int(meta.get("format_version", 0))
    except (TypeError, ValueError):
        raise ArchiveError(
            f"{marker}: format version {meta.get('format_version')!r} is not a number"
        ) from None
    if version > FORMAT_VERSION:
        raise ArchiveError(
            f"{marker}: format version {version} is newer than this tool reads "
            f"({FORMAT_VERSION}); upgrade cablearchive"
        )
    return meta
