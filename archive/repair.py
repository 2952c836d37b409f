"""Repair an archive from its own redundant copies: what `verify` names with `cablearchive repair`.

What has a second copy in the archive is put right: a root inventory or its sidecar (the
head version holds an identical copy), links in the storage root (replaced by copies), a
commit journal left by a writer that died (settled) or damaged (set aside, every object
settled by its root inventory, the capture index rebuilt from the WARC files), cleaned
marks that name no capture, and the derived index. Nothing is deleted: files that do not
belong in the storage root move to `state/lost+found/`. What has no copy (a content file
changed, a version folder lost) is left for `verify` to name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from archive import ocfl
from archive.capturelog import read_cdxj
from archive.commit import Journal
from archive.errors import ArchiveError, LockBusy
from archive.folder import ArchiveFolder
from archive.fsutil import TMP_MARKER, atomic_write, fsync_dir
from archive.layout import Layout
from archive.progress import Progress
from archive.reindex import check_index, rebuild_index


@dataclass
class RepairReport:
    """What repair did (or, in a dry run, would do), one line per repair."""

    dry_run: bool
    done: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """Plain-JSON form."""
        return {"dry_run": self.dry_run, "repairs": self.done}


class _Repairs:
    """The repairs found, each done at once unless this is a dry run."""

    def __init__(self, report: RepairReport) -> None:
        self.report = report

    def __call__(self, what: str, action: Callable[[], object]) -> None:
        if not self.report.dry_run:
            action()
        self.report.done.append(what)


def repair_archive(
    folder: ArchiveFolder,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    wait: float | None = None,
) -> RepairReport:
    """Repair what has a redundant copy (see the module doc); takes the writers' lock."""
    report = RepairReport(dry_run)
    fix = _Repairs(report)
    layout = folder.layout
    lock = folder.lock()
    if dry_run:
        # A dry run only reads: a reader's lock, nothing written.
        if lock.acquire_shared() is False:
            raise LockBusy(
                f"archive {folder.path} is locked by {lock.describe_holder()}; try again when it is done"
            )
    else:
        lock.acquire(
            {"kind": "repair", "run": None}, wait=wait, notify=folder.notify, what=f"archive {folder.path}"
        )
    try:
        folder.close()
        journal_damaged = _journal(folder, fix)
        _storage_root(layout, fix)
        refs = layout.object_refs()
        for i, ref in enumerate(refs):
            _object(layout, layout.object_dir(ref), fix)
            if progress and (i % 200 == 0 or i + 1 == len(refs)):
                progress("checking cables", i + 1, len(refs))
        if journal_damaged:
            fix(
                f"{layout.cdxj_path}: rebuilt from the WARC files (the damaged journal named no committed lengths)",
                lambda: rebuild_index(layout, progress, from_warc=True, notify=folder.notify),
            )
        _cleaned_marks(layout, fix)
        stale = check_index(layout)
        if stale or (report.done and not dry_run):
            why = "; ".join(stale) if stale else "after the repairs above"
            fix(
                f"{layout.index_path}: rebuilt from the files ({why})",
                lambda: rebuild_index(layout, progress, notify=folder.notify),
            )
    finally:
        lock.release()
    return report


def _journal(folder: ArchiveFolder, fix: _Repairs) -> bool:
    """Settle a dead writer's journal; set a damaged one aside. True when it was damaged."""
    journal = Journal(folder.layout)
    if not journal.exists():
        return False
    try:
        entry = journal.read()
    except ArchiveError as exc:
        aside = f"{journal.path}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        fix(
            f"{journal.path}: damaged ({str(exc).split(': ', 1)[-1]}); moved to {aside}, "
            "every object settled by its root inventory",
            lambda: os.replace(journal.path, aside),
        )
        return True
    if entry is not None:
        fix(f"{journal.path}: the interrupted commit of run {entry.run} settled", folder.recover)
    return False


def _storage_root(layout: Layout, fix: _Repairs) -> None:
    """The storage root's own files: its declaration and layout, no links, nothing foreign."""
    root = layout.cables_dir
    namaste = os.path.join(root, ocfl.ROOT_NAMASTE)
    if _read(namaste) != ocfl.ROOT_NAMASTE_CONTENT or ocfl.is_link(namaste):
        fix(f"{namaste}: storage root declaration rewritten", lambda: ocfl.init_root(root))
    refs = set(layout.object_refs())
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        full = os.path.join(root, name)
        if name in ocfl.ROOT_ENTRIES or name in refs:
            _unlink_copy(full, fix)
        else:
            _lost_found(layout, full, fix, "not an OCFL object folder named by a cable ID")


def _object(layout: Layout, obj_dir: str, fix: _Repairs) -> None:
    """One object: links replaced by copies, the root inventory and sidecar restored from the head version."""
    for dirpath, dirnames, filenames in os.walk(obj_dir):
        for name in dirnames + filenames:
            _unlink_copy(os.path.join(dirpath, name), fix)
    for name in os.listdir(obj_dir):
        if TMP_MARKER in name:
            full = os.path.join(obj_dir, name)
            fix(f"{full}: left by an interrupted write, removed", _remover(full))
    namaste = os.path.join(obj_dir, ocfl.OBJECT_NAMASTE)
    if _read(namaste) != ocfl.OBJECT_NAMASTE_CONTENT:
        fix(
            f"{namaste}: object declaration rewritten",
            lambda: atomic_write(namaste, ocfl.OBJECT_NAMASTE_CONTENT),
        )
    root_inv = os.path.join(obj_dir, ocfl.INVENTORY)
    root_side = os.path.join(obj_dir, ocfl.SIDECAR)
    data, side = _read(root_inv), _read(root_side)
    whole = (
        data is not None
        and side == ocfl.sidecar_bytes(data)
        and ocfl.load_inventory_quiet(obj_dir) is not None
    )
    copy = ocfl.head_version_inventory(obj_dir)
    if copy is not None:
        vdir, vdata = copy
        if not whole:
            fix(
                f"{root_inv}: restored from its copy in {vdir}/",
                lambda: ocfl.install_inventory(obj_dir, vdir, sync=True),
            )
            whole, data = True, vdata
    if not whole or data is None:
        return  # no copy: verify names it
    inv = json.loads(data)
    head = ocfl.head_number(inv)
    for name in sorted(os.listdir(obj_dir)):
        full = os.path.join(obj_dir, name)
        if name in (ocfl.OBJECT_NAMASTE, ocfl.INVENTORY, ocfl.SIDECAR) or TMP_MARKER in name:
            continue
        try:
            number = ocfl.vnum(name)
        except ValueError:
            number = None
        if number is None or not os.path.isdir(full):
            _lost_found(layout, full, fix, "not part of the object")
        elif number > head:
            # A version prepared and never installed (its commit was not decided): it goes aside.
            _lost_found(layout, full, fix, f"version folder past the head v{head}, never installed")
    # The head version's inventory must equal the root one; a version's sidecar has its inventory.
    vinv = os.path.join(obj_dir, inv["head"], ocfl.INVENTORY)
    if os.path.isdir(os.path.dirname(vinv)) and _read(vinv) != data:

        def rewrite() -> None:
            atomic_write(vinv, data)
            atomic_write(os.path.join(os.path.dirname(vinv), ocfl.SIDECAR), ocfl.sidecar_bytes(data))

        fix(f"{vinv}: rewritten from the root inventory", rewrite)


def _remover(path: str) -> Callable[[], None]:
    return lambda: os.unlink(path)


def _cleaned_marks(layout: Layout, fix: _Repairs) -> None:
    """cleaned.jsonl without lines that are not marks or name no capture (a re-clean redoes those captures)."""
    path = layout.cleaned_path
    raw = _read(path)
    if raw is None:
        fix(
            f"{path}: missing, created empty (a re-clean redoes every capture)",
            lambda: atomic_write(path, b""),
        )
        return
    known = {c.record_id for c in read_cdxj(layout)}
    kept, dropped = [], 0
    for line in raw.decode("utf-8", "replace").splitlines(keepends=True):
        try:
            mark = json.loads(line)
            ok = (
                isinstance(mark["capture"], str)
                and isinstance(mark["rules"], str)
                and mark["capture"] in known
            )
        except (ValueError, KeyError, TypeError):
            ok = not line.strip()
        if ok:
            kept.append(line if line.endswith("\n") else line + "\n")
        else:
            dropped += 1
    if dropped:
        aside = os.path.join(layout.lost_found_dir, f"cleaned.jsonl.{time.strftime('%Y%m%dT%H%M%SZ')}")

        def rewrite() -> None:
            os.makedirs(layout.lost_found_dir, exist_ok=True)
            shutil.copyfile(path, aside)
            atomic_write(path, "".join(kept).encode("utf-8"))

        fix(
            f"{path}: {dropped} line(s) that are not marks of a capture removed (the old file: {aside})",
            rewrite,
        )


def _unlink_copy(path: str, fix: _Repairs) -> None:
    """Replace a hard or symbolic link by a plain copy of what it names (a dangling link goes aside)."""
    how = ocfl.is_link(path)
    if how is None:
        return
    if os.path.islink(path) and not os.path.exists(path):
        fix(f"{path}: dangling {how} removed", lambda: os.unlink(path))
        return
    if os.path.isdir(path):
        fix(f"{path}: {how} replaced by a copy of the folder", lambda: _copy_folder(path))
        return

    def copy() -> None:
        with open(path, "rb") as fh:
            data = fh.read()
        # atomic_write renames a new file over the name: the link goes, the other names keep theirs.
        atomic_write(path, data)

    fix(f"{path}: {how} replaced by a copy (OCFL forbids links, E090)", copy)


def _copy_folder(path: str) -> None:
    target = os.path.realpath(path)
    tmp = f"{path}{TMP_MARKER}{os.getpid()}"
    shutil.copytree(target, tmp)
    os.unlink(path)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))


def _lost_found(layout: Layout, path: str, fix: _Repairs, why: str) -> None:
    """Move a file or folder that does not belong in the storage root to state/lost+found/."""
    rel = os.path.relpath(path, layout.root)
    dest = os.path.join(layout.lost_found_dir, rel)

    def move() -> None:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        target = dest
        n = 1
        while os.path.lexists(target):
            target, n = f"{dest}.{n}", n + 1
        shutil.move(path, target)
        with contextlib.suppress(OSError):
            fsync_dir(os.path.dirname(path))

    fix(f"{path}: {why}; moved to {dest}", move)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None
