"""Errors raised by the archive; each message names the file or input and the reason."""

from __future__ import annotations


class ArchiveError(Exception):
    """The archive cannot do what was asked; the message says what and why."""


class LockBusy(ArchiveError):
    """Another writer holds the archive's lock and the caller chose not to wait."""


class ReadOnlyArchive(ArchiveError):
    """The archive cannot be written (a read-only mount or file permissions): readers still work."""


class DamagedIndex(ArchiveError):
    """index.sqlite cannot be read; the message names it and says to run `cablearchive reindex`."""


class DiskFull(ArchiveError):
    """A write failed for lack of space; the interrupted commit was rolled back."""


class BadReference(ArchiveError):
    """A reference ID that does not match the cable ID grammar; never used as a path."""


class QueryError(ArchiveError):
    """A search query or filter that cannot run as written (refused, never rewritten)."""
