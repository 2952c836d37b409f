"""Crash-safe file writing: temp file, fsync, rename, fsync of the folder."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archive.errors import DiskFull

# Temp files carry this marker so that recovery and verify can recognise (and remove)
# the leftovers of a write that was interrupted.
TMP_MARKER = ".tmp-cablearchive-"

# Past this many files in one batch, one system-wide sync is cheaper than fsyncing each.
SYNC_EACH_LIMIT = 256


def json_bytes(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, UTF-8, one line and a newline (the C encoder: indenting is 5x slower)."""
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (new names, renames) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def raise_if_disk_full(exc: OSError, what: str | os.PathLike[str]) -> None:
    """Turn ENOSPC / EDQUOT into a DiskFull naming the file; other errors pass through."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise DiskFull(f"disk full while writing {what}: {exc.strerror}") from exc


def write_bytes(path: str | os.PathLike[str], data: bytes, *, sync: bool = False) -> None:
    """Write a new file in place (for files no reader can see yet: new version folders)."""
    try:
        with open(path, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        raise_if_disk_full(exc, path)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes, *, sync: bool = True) -> None:
    """Replace a file atomically: readers see the old or the new content, never a mix."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}{TMP_MARKER}{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if sync:
            fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise_if_disk_full(exc, path)
        raise


def sync_files(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Make new files and folders durable: fsync each (and its folder), or one os.sync() for big batches."""
    paths = list(paths)
    if len(paths) > SYNC_EACH_LIMIT:
        os.sync()
        return
    dirs: set[str] = set()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        dirs.add(os.path.dirname(os.fspath(p)) or ".")
    for d in dirs:
        fsync_dir(d)


def remove_tmp_files(folder: str | os.PathLike[str]) -> int:
    """Delete temp files left in a folder by an interrupted write; returns how many."""
    n = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        if TMP_MARKER in name:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
                n += 1
    return n


def inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """True when path, once resolved, lies inside root (a guard against traversal)."""
    root_r = os.path.realpath(root)
    path_r = os.path.realpath(path)
    return path_r == root_r or path_r.startswith(root_r + os.sep)
