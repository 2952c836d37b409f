"""One writer at a time: an flock on state/lock, naming its holder for whoever waits."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from archive.errors import LockBusy, ReadOnlyArchive

# What opening the lock file for writing gives on a read-only archive.
READ_ONLY_ERRORS = (errno.EROFS, errno.EACCES, errno.EPERM)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ArchiveLock:
    """An exclusive lock on an archive; the kernel drops it when the holding process dies."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.shared = False
        self.previous: dict[str, Any] | None = None

    def holder(self) -> dict[str, Any] | None:
        """Who holds (or last held) the lock, as written in the lock file."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = fh.read().strip()
            return json.loads(data) if data else None
        except (OSError, ValueError):
            return None

    def describe_holder(self) -> str:
        """A readable description of the holder: pid, host, run and start time."""
        h = self.holder() or {}
        if not h:
            return "another process"
        if h.get("released"):
            return "a reader (verify in progress)"
        return (
            f"pid {h.get('pid')} on {h.get('host')} ({h.get('kind', '?')} run {h.get('run', '?')}, "
            f"since {h.get('since', '?')})"
        )

    def acquire(
        self,
        info: dict[str, Any],
        wait: float | None = None,
        notify: Callable[[str], None] | None = None,
        what: str = "archive",
    ) -> None:
        """Take the lock; wait=None waits for ever, wait=0 refuses at once, else waits that long."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in READ_ONLY_ERRORS:
                raise ReadOnlyArchive(
                    f"{self.path}: cannot take the writers' lock: the archive is read-only ({exc.strerror})"
                ) from exc
            raise
        deadline = None if wait is None else time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                msg = f"{what} is locked by {self.describe_holder()}"
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockBusy(
                        f"{msg}; not waiting" if wait == 0 else f"{msg}; gave up after {wait:g} s"
                    ) from None
                if not told and notify is not None:
                    notify(f"{msg}; waiting for it to finish")
                    told = True
                time.sleep(0.1)
        self.fd = fd
        # A holder recorded in the file whose process is gone died holding the lock.
        prev = self.holder()
        self.previous = prev
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **info,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)

    def acquire_shared(self) -> bool | None:
        """A reader's lock, taken without writing anything: True when taken, False when a writer holds it.

        None when there is no lock file to lock (no writer ever ran, or it cannot be opened): a
        reader then goes on unlocked. Writers wait for (or refuse, with wait=0) a shared lock.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            return None
        self.fd, self.shared = fd, True
        return True

    def previous_holder_died(self) -> bool:
        """True when the lock file named a holder on this host that is no longer running."""
        p = self.previous or {}
        pid = p.get("pid")
        if not isinstance(pid, int) or p.get("released"):
            return False
        return p.get("host") != socket.gethostname() or not _pid_alive(pid) or pid == os.getpid()

    def release(self) -> None:
        """Mark the lock released and drop it."""
        if self.fd is None:
            return
        if self.shared:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd, self.shared = None, False
            return
        with contextlib.suppress(OSError):
            h = self.holder() or {}
            h["released"] = True
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, (json.dumps(h) + "\n").encode(), 0)
        with contextlib.suppress(OSError):
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None
