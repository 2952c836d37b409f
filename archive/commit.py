"""The commit protocol and its journal: what makes a commit all or nothing, and how a crash is settled.

A writer's captures, their "cleaned" marks and its new cable versions become durable as
one unit. `state/journal.json` says at every moment what survives a crash (see "Commit
protocol" in docs/archive-format.md):

- `Between`: a writer between commits; the committed lengths of its files.
- `Prepare`: a commit is writing its version folders; a crash undoes it.
- `Install`: every new file is durable, the commit is decided; a crash completes it.

`Committer` is the writer's side (each commit's steps); `settle` and `recover` are the
other side, run by whoever next takes the lock when a writer died.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from archive import index, ocfl
from archive.capturelog import Mark, append_at, cdxj_bytes, cleaned_bytes, read_cdxj, read_cleaned
from archive.captures import Capture, WarcSink, now_iso
from archive.errors import ArchiveError, DamagedIndex
from archive.fsutil import (
    SYNC_EACH_LIMIT,
    atomic_write,
    fsync_dir,
    json_bytes,
    raise_if_disk_full,
    sync_files,
)
from archive.ids import is_reference
from archive.layout import Layout
from archive.runs import mark_interrupted

# Threads creating a big commit's version folders (CABLEARCHIVE_WRITE_THREADS, default 2).
WRITE_THREADS = int(os.environ.get("CABLEARCHIVE_WRITE_THREADS", "2"))

Notify = Callable[[str], None]

# ----------------------------------------------------------------------------- the journal


@dataclass(frozen=True)
class ObjectChange:
    """A cable object a commit changes: from head `old` (None: a new object) to head `new`."""

    ref: str
    old: int | None
    new: int

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as in the journal's `objects`."""
        return {"id": self.ref, "old": self.old, "new": self.new}

    @classmethod
    def from_json(cls, data: object) -> ObjectChange | None:
        """Read one `objects` entry; None for one that names no cable (never a path)."""
        if not isinstance(data, dict):
            return None
        ref = data.get("id")
        if not isinstance(ref, str) or not is_reference(ref):
            return None
        old, new = data.get("old"), data.get("new")
        if not isinstance(new, int) or not (old is None or isinstance(old, int)):
            raise ValueError(f"journal entry of {ref} has no version numbers")
        return cls(ref, old, new)


@dataclass(frozen=True)
class Lengths:
    """How long a run's WARC files, index.cdxj and cleaned.jsonl are at some point of its commits."""

    warc: dict[str, int] = field(default_factory=dict)
    cdxj: int = 0
    cleaned: int = 0


_E = TypeVar("_E", bound="JournalEntry")


@dataclass(frozen=True)
class JournalEntry:
    """What state/journal.json says: what of a run survives a crash, and the commit in flight.

    `warc`, `cdxj` and `cleaned` are the lengths the files are cut to after a crash;
    `cdxj_start` and `cleaned_start` where the lines not yet known to be in the index begin.
    (`cdxj`, `cleaned` and the starts may be None in a journal of an older release.)
    """

    PHASE: ClassVar[str | None] = None

    run: str
    pid: int
    warc: dict[str, int]
    cdxj: int | None
    cleaned: int | None
    cdxj_start: int | None
    cleaned_start: int | None
    objects: tuple[ObjectChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as written to state/journal.json."""
        return {
            "run": self.run,
            "pid": self.pid,
            "phase": self.PHASE,
            "warc": dict(self.warc),
            "cdxj_start": self.cdxj_start,
            "cdxj": self.cdxj,
            "cleaned_start": self.cleaned_start,
            "cleaned": self.cleaned,
            "objects": [o.to_json() for o in self.objects],
        }

    @classmethod
    def _read(cls: type[_E], data: dict[str, Any]) -> _E:
        cdxj, cleaned = data.get("cdxj"), data.get("cleaned")
        objects = tuple(o for o in map(ObjectChange.from_json, data.get("objects") or []) if o is not None)
        return cls(
            run=str(data.get("run") or "?"),
            pid=int(data.get("pid") or 0),
            warc={str(k): int(v) for k, v in (data.get("warc") or {}).items()},
            cdxj=cdxj,
            cleaned=cleaned,
            cdxj_start=data.get("cdxj_start", cdxj),
            cleaned_start=data.get("cleaned_start", cleaned),
            objects=objects,
        )

    @staticmethod
    def from_json(data: object) -> JournalEntry:
        """The entry of a journal's JSON, by its phase; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        kinds: dict[str | None, type[JournalEntry]] = {k.PHASE: k for k in (Between, Prepare, Install)}
        phase = data.get("phase")
        if phase not in kinds:
            raise ValueError(f"unknown phase {phase!r}")
        return kinds[phase]._read(data)


@dataclass(frozen=True)
class Between(JournalEntry):
    """A writer between commits: its files are cut back to their committed lengths.

    (A journal of an older release lists objects here too: they are settled by what their
    root inventory says, and a commit that loses a version loses its cleaned marks.)
    """

    PHASE: ClassVar[str | None] = None

    @classmethod
    def at(cls, run: str, lengths: Lengths, starts: Lengths | None = None) -> Between:
        """The entry of a run whose committed files have these lengths."""
        s = starts or lengths
        return cls(
            run=run,
            pid=os.getpid(),
            warc=dict(lengths.warc),
            cdxj=lengths.cdxj,
            cleaned=lengths.cleaned,
            cdxj_start=s.cdxj,
            cleaned_start=s.cleaned,
        )


@dataclass(frozen=True)
class Prepare(JournalEntry):
    """A commit writing its version folders, not decided: a crash removes them and cuts its lines."""

    PHASE: ClassVar[str | None] = "prepare"

    @classmethod
    def at(cls, run: str, committed: Lengths, objects: Sequence[ObjectChange]) -> Prepare:
        """The entry of a commit about to change these objects."""
        return cls(
            run=run,
            pid=os.getpid(),
            warc=dict(committed.warc),
            cdxj=committed.cdxj,
            cleaned=committed.cleaned,
            cdxj_start=committed.cdxj,
            cleaned_start=committed.cleaned,
            objects=tuple(objects),
        )


@dataclass(frozen=True)
class Install(JournalEntry):
    """A decided commit: every new file is durable; a crash installs what is left and keeps its lines."""

    PHASE: ClassVar[str | None] = "install"

    @classmethod
    def at(cls, run: str, committed: Lengths, new: Lengths, objects: Sequence[ObjectChange]) -> Install:
        """The entry of a commit decided on: the new lengths, its lines starting at the committed ones."""
        return cls(
            run=run,
            pid=os.getpid(),
            warc=dict(new.warc),
            cdxj=new.cdxj,
            cleaned=new.cleaned,
            cdxj_start=committed.cdxj,
            cleaned_start=committed.cleaned,
            objects=tuple(objects),
        )


class Journal:
    """state/journal.json: written atomically at each step of a commit, present while a writer is open."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.path = layout.journal_path

    def exists(self) -> bool:
        """True when a writer is open, or died leaving its journal."""
        return os.path.exists(self.path)

    def write(self, entry: JournalEntry) -> None:
        """Replace the journal with one entry (durable when this returns)."""
        atomic_write(self.path, json_bytes(entry.to_json()))

    def read(self) -> JournalEntry | None:
        """The journal's entry; None when there is none; ArchiveError when it is unreadable."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            return JournalEntry.from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise ArchiveError(
                f"{self.path}: unreadable commit journal ({exc}): run `cablearchive repair`"
            ) from exc

    def peek(self) -> JournalEntry | None:
        """The entry of a live writer's journal, or None when it cannot be read now."""
        try:
            return self.read()
        except ArchiveError:
            return None

    def remove(self) -> None:
        """Remove the journal (the run is closed or settled) and make that durable."""
        os.unlink(self.path)
        fsync_dir(self.layout.state_dir)


# ----------------------------------------------------------------------------- settling


@dataclass
class Settled:
    """What settling a journal did: versions rolled forward or back, WARC files cut, marks cut."""

    run: str
    forward: list[str] = field(default_factory=list)
    back: list[str] = field(default_factory=list)
    warc_truncated: list[str] = field(default_factory=list)
    warc_removed: list[str] = field(default_factory=list)
    marks_cut: int = 0

    @property
    def changed_files(self) -> bool:
        """True when a version or a WARC file was changed."""
        return bool(self.forward or self.back or self.warc_truncated or self.warc_removed)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as in a run record's `recovered`."""
        return {
            "forward": self.forward,
            "back": self.back,
            "warc_truncated": self.warc_truncated,
            "warc_removed": self.warc_removed,
            "marks_cut": self.marks_cut,
        }


def settle(layout: Layout, entry: JournalEntry) -> Settled:
    """Bring the files a journal names to one side of its commit, then resync the index.

    `Prepare`: the commit had not been decided: its version folders go and the WARC, CDXJ
    and cleaned files are cut to the lengths before it, so none of its captures, marks or
    versions remain. `Install`: every version folder was complete and durable: each root
    inventory is installed (rolled forward) and the files keep the commit's lengths.
    `Between` (a writer between commits, or a journal of an older release): objects are
    settled by what their root inventory says; a commit that loses any version also loses
    its "cleaned" marks, so that a re-clean does not skip its captures.
    """
    done = Settled(entry.run)
    cdxj_len, cleaned_len = entry.cdxj, entry.cleaned
    lost = False
    for obj in entry.objects:
        obj_dir = layout.object_dir(obj.ref)
        if isinstance(entry, Install):
            result = ocfl.roll_forward(obj_dir, obj.old, obj.new)
        else:
            result = ocfl.settle(obj_dir, obj.old, obj.new)
        if result == "forward":
            done.forward.append(obj.ref)
        elif result == "back":
            done.back.append(obj.ref)
            lost = lost or not isinstance(entry, Prepare)
    if lost and entry.cleaned_start is not None:
        cleaned_len = entry.cleaned_start
    for name in layout.run_warc_files(entry.run):
        full = layout.warc_path(name)
        if name not in entry.warc:
            os.unlink(full)
            done.warc_removed.append(name)
        elif os.path.getsize(full) > entry.warc[name]:
            os.truncate(full, entry.warc[name])
            done.warc_truncated.append(name)
    cut_marks: list[Mark] = []
    if cleaned_len is not None and _size(layout.cleaned_path) > cleaned_len:
        cut_marks = read_cleaned(layout, cleaned_len)
        done.marks_cut = len(cut_marks)
    for path, size in ((layout.cdxj_path, cdxj_len), (layout.cleaned_path, cleaned_len)):
        if size is not None and os.path.exists(path) and os.path.getsize(path) > size:
            os.truncate(path, size)
    with contextlib.suppress(OSError):
        fsync_dir(layout.captures_dir)
    if os.path.exists(layout.index_path):
        try:
            _resync_index(layout, entry, cut_marks)
        except sqlite3.Error as exc:
            error = index.archive_error(layout.index_path, exc)
            if not isinstance(error, DamagedIndex) and not isinstance(exc, index.OldSchema):
                raise error from exc  # a full disk: the journal stays for the next writer
            # A damaged index, or one of another schema, is derived data: it goes, and is rebuilt
            # from the files on next use.
            for path in (layout.index_path, index.rollback_journal(layout.index_path)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
    return done


def _resync_index(layout: Layout, entry: JournalEntry, cut_marks: list[Mark]) -> None:
    """Bring index.sqlite in line with the files a journal's commit was settled to, in one transaction."""
    conn = index.connect(layout.index_path)
    try:
        with index.transaction(conn):
            # Rows of this run's captures that the WARC files no longer hold go.
            index.drop_captures_past(conn, f"{entry.run}-", entry.warc)
            index.insert_captures(conn, list(read_cdxj(layout, entry.cdxj_start or 0)))
            if cut_marks and not isinstance(entry, Prepare):
                # The index may hold marks that are cut: each capture gets its last mark still on file.
                last = dict(read_cleaned(layout))
                index.set_cleaned(conn, [(r, last.get(r)) for r in {r for r, _ in cut_marks}])
            index.set_cleaned(conn, read_cleaned(layout, entry.cleaned_start or 0))
            for obj in entry.objects:
                index.index_object(conn, obj.ref, layout.object_dir(obj.ref))
    finally:
        conn.close()


def recover(layout: Layout, notify: Notify) -> Settled | None:
    """Settle what an interrupted writer left (the caller holds the lock); None when there was nothing."""
    journal = Journal(layout)
    entry = journal.read()
    if entry is None:
        return None
    done = settle(layout, entry)
    mark_interrupted(layout, done.run, done.to_json())
    journal.remove()
    if done.changed_files:
        notify(
            f"recovered after interrupted run {done.run}: {len(done.back)} version(s) rolled back, "
            f"{len(done.forward)} completed, {len(done.warc_truncated) + len(done.warc_removed)} "
            "WARC file(s) cut back to their last commit"
        )
    return done


def _size(path: str) -> int:
    """A file's length, 0 when it is missing."""
    return os.path.getsize(path) if os.path.exists(path) else 0


# ----------------------------------------------------------------------------- committing


@dataclass(frozen=True)
class NewVersion:
    """One cable's next OCFL version, as a commit writes it: its whole logical state and its index rows."""

    ref: str
    obj_dir: str
    inventory: dict[str, Any] | None  # the object's inventory now; None for a new object
    files: dict[str, bytes | str]  # logical path -> new bytes, or the digest of content already stored
    digests: dict[str, str]  # digests of the new bytes, computed already
    message: str  # why the version exists
    cable_json: dict[str, Any]
    text: str  # the preferred text
    text_changed: bool

    @property
    def change(self) -> ObjectChange:
        """The head it moves from and to."""
        old = ocfl.head_number(self.inventory) if self.inventory else None
        return ObjectChange(self.ref, old, (old or 0) + 1)


@dataclass
class CommitReport:
    """What one commit did: cables new / changed (a new version each) / unchanged, captures stored."""

    run_id: str
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    captures: int = 0
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (counts only, the lists can be long)."""
        return {
            "at": now_iso(),
            "note": self.note,
            "captures": self.captures,
            "new": len(self.new),
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
        }


class IndexHolder(Protocol):
    """Whoever holds the index connection a commit updates (the archive folder)."""

    @property
    def conn(self) -> sqlite3.Connection:
        """The index connection (opened again on first use after close())."""
        ...

    def close(self) -> None:
        """Close the index connection."""
        ...


class Committer:
    """The writer's side of the commit protocol: the captures and marks not yet committed, and each commit's steps."""

    def __init__(self, layout: Layout, run_id: str, notify: Notify) -> None:
        self.layout = layout
        self.run_id = run_id
        self.notify = notify
        self.journal = Journal(layout)
        # What survives a crash now.
        self.committed = Lengths({}, _size(layout.cdxj_path), _size(layout.cleaned_path))
        # Written to the WARC file already, committed with the next commit.
        self.caps: list[Capture] = []
        self.marks: list[Mark] = []
        # Why the journal must stay as it is for the next writer (a failed commit not settled).
        self.unsettled: str | None = None

    @property
    def pending(self) -> bool:
        """True when captures or marks wait for a commit."""
        return bool(self.caps or self.marks)

    def start(self) -> None:
        """Journal the run: nothing of it survives a crash yet."""
        self.journal.write(Between.at(self.run_id, self.committed))

    def check_settled(self) -> None:
        """Refuse to go on after a failed commit that could not be settled: its journal must stay."""
        if self.unsettled is not None:
            raise ArchiveError(
                f"run {self.run_id} stopped: a commit failed and could not be settled ({self.unsettled}); "
                f"{self.journal.path} keeps it, and the next writer settles it (once the cause is "
                "fixed, run the command again, or `cablearchive repair`)"
            )

    def finish(self) -> None:
        """The run is closed: its journal goes (unless a failed commit left it for the next writer)."""
        self.check_settled()
        self.journal.remove()

    def commit(
        self, holder: IndexHolder, sink: WarcSink, versions: Sequence[NewVersion], user: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Make the pending captures, their marks and these versions durable together; the new inventories.

        The journal says `Prepare` while version folders are written (a crash undoes the
        whole commit: versions, captures and marks) and `Install` once every new file is
        durable (a crash completes it). A failure before the decision removes what was
        written and keeps everything pending, so a later commit can try again; a failure
        after it completes the commit as recovery would. Either way the error is raised.
        """
        self.check_settled()
        layout, old = self.layout, self.committed
        cdxj_data = cdxj_bytes(self.caps)
        cleaned_data = cleaned_bytes(self.marks, self.run_id)
        new = Lengths(dict(sink.sizes), old.cdxj + len(cdxj_data), old.cleaned + len(cleaned_data))
        objects = [v.change for v in versions]
        decision = Install.at(self.run_id, old, new, objects)
        created = now_iso()
        inventories: list[dict[str, Any]] = []
        decided = False
        try:
            # 1. Which objects are about to change, before any of their files exist.
            self.journal.write(Prepare.at(self.run_id, old, objects))
            # 2. Index lines and version folders, none visible yet; then one durability pass.
            append_at(layout.cdxj_path, cdxj_data, old.cdxj)
            append_at(layout.cleaned_path, cleaned_data, old.cleaned)
            written = [layout.cdxj_path, layout.cleaned_path]

            def prepare(v: NewVersion) -> tuple[dict[str, Any], list[str]]:
                return ocfl.prepare_version(
                    v.obj_dir,
                    v.ref,
                    v.inventory,
                    v.files,
                    created=created,
                    message=v.message,
                    user=user,
                    digests=v.digests,
                )

            for inv, paths in _map_io(prepare, list(versions)):
                inventories.append(inv)
                written += paths
            sink.fsync()
            sync_files(written)
            # 3. The decision: from here on a crash completes this commit instead of undoing it.
            self.journal.write(decision)
            decided = True
            # 4. The root inventories make the versions visible; durable before the journal moves on.
            small = len(versions) * 2 <= SYNC_EACH_LIMIT
            for v, inv in zip(versions, inventories, strict=True):
                ocfl.install_inventory(v.obj_dir, inv["head"], sync=small)
            if not small:
                os.sync()
            # 5. The index, in one transaction.
            conn = holder.conn
            with index.transaction(conn):
                index.insert_captures(conn, self.caps)
                index.set_cleaned(conn, self.marks)
                for v, inv in zip(versions, inventories, strict=True):
                    index.write_cable(conn, v.ref, inv, v.cable_json, v.text, v.text_changed)
        except BaseException as exc:
            if decided:
                self._complete(holder, decision)
                self._committed(new)
            else:
                self._undo(objects, old)
            if isinstance(exc, sqlite3.Error):
                # Not an OSError: without this a full disk during the index update reads as a bug.
                raise index.archive_error(layout.index_path, exc) from exc
            if isinstance(exc, OSError):
                raise_if_disk_full(exc, layout.cables_dir)
            raise
        self._committed(new)
        self.journal.write(Between.at(self.run_id, new))
        return inventories

    def _committed(self, lengths: Lengths) -> None:
        """The commit is durable: its lengths become the committed ones, its captures and marks are done."""
        self.committed = Lengths(dict(lengths.warc), lengths.cdxj, lengths.cleaned)
        self.caps, self.marks = [], []

    def _undo(self, objects: list[ObjectChange], old: Lengths) -> None:
        """A commit failed before its decision: remove its version folders and index lines; keep it pending.

        The captures stay in the WARC file past the committed length and everything stays
        pending, so a later commit() can try again.
        """
        try:
            for obj in objects:
                ocfl.settle(self.layout.object_dir(obj.ref), obj.old, obj.new)
            for path, size in ((self.layout.cdxj_path, old.cdxj), (self.layout.cleaned_path, old.cleaned)):
                if os.path.exists(path) and os.path.getsize(path) > size:
                    os.truncate(path, size)
            self.journal.write(Between.at(self.run_id, old))
        except Exception as exc:  # the journal still says "prepare": the next writer undoes it
            self.unsettled = str(exc)
            self.notify(f"could not undo the failed commit now ({exc}); the next writer will")

    def _complete(self, holder: IndexHolder, entry: Install) -> None:
        """A commit failed after its decision: install what is left and resync the index, as recovery would."""
        try:
            holder.close()
            settle(self.layout, entry)
            lengths = Lengths(entry.warc, entry.cdxj or 0, entry.cleaned or 0)
            self.journal.write(Between.at(self.run_id, lengths, starts=self.committed))
        except Exception as exc:  # the journal stays; the next writer settles it
            self.unsettled = str(exc)
            self.notify(f"could not complete the failed commit now ({exc}); the next writer will")


_T = TypeVar("_T")
_R = TypeVar("_R")


def _map_io(fn: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """fn over items, in WRITE_THREADS threads for a big batch; waits for all, then raises the first error.

    Creating files and folders is kernel work that runs without the GIL, and where the
    file system is slow to allocate inodes it is most of a commit's time.
    """
    if WRITE_THREADS <= 1 or len(items) < 32:
        return [fn(x) for x in items]
    with concurrent.futures.ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="cablearchive-io") as pool:
        futures = [pool.submit(fn, x) for x in items]
        concurrent.futures.wait(futures)
    for f in futures:
        exc = f.exception()
        if exc is not None:
            raise exc
    return [f.result() for f in futures]
