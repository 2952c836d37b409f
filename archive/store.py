"""The archive: open or create one, write captures and cable versions crash-safely, read them back."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archive import index, ocfl
from archive.captures import (
    REVISIT_NOT_MODIFIED,
    Capture,
    WarcSink,
    now_iso,
    read_record,
    restore_headers,
    safe_url,
    to_iso,
)
from archive.consensus import Candidate, choose
from archive.errors import ArchiveError
from archive.fsutil import SYNC_EACH_LIMIT, atomic_write, fsync_dir, raise_if_disk_full, sync_files
from archive.ids import check_reference, is_reference, is_source_key, source_key
from archive.lock import ArchiveLock

if TYPE_CHECKING:
    from cleaners import PageResult

FORMAT_NAME = "cablearchive"
FORMAT_VERSION = 1
MARKER = "cablearchive.json"
DEFAULT_WARC_SIZE = 1 << 30  # roll to a new WARC file past 1 GiB
WRITE_THREADS = int(os.environ.get("CABLEARCHIVE_WRITE_THREADS", "2"))
# Rows of replaced texts the full-text index may hold before a run's end compacts it.
FTS_SLACK = 1000

Progress = Callable[[str, int, "int | None"], None]


def tool_version() -> str:
    """The installed cablearchive version ("0+unknown" when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cablearchive")
    except PackageNotFoundError:
        return "0+unknown"


def tool_name() -> str:
    """Tool name and version, as written into WARC warcinfo and OCFL version users."""
    return f"cablearchive {tool_version()}"


def _json_bytes(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, UTF-8, one line and a newline (the C encoder: indenting is 5x slower)."""
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def metadata_digest(meta: dict[str, Any]) -> str:
    """sha256 of a cable's metadata in canonical JSON: what tells a metadata change."""
    data = json.dumps(meta, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _text_bytes(text: str) -> bytes:
    return text.encode("utf-8", "replace")


# ----------------------------------------------------------------------------- records


@dataclass
class CableSummary:
    """One line of `list`: a cable's head version, dates, subject and sources, from the index."""

    ref: str
    head: int
    created: str | None
    updated: str | None
    subject: str | None
    classification: str | None
    origin: str | None
    date: str | None
    n_sources: int
    preferred: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dict(self.__dict__)


@dataclass
class VersionInfo:
    """One OCFL version of a cable: number, creation time, why it exists, who wrote it."""

    number: int
    created: str
    message: str
    user: str


@dataclass
class CableState:
    """A cable as it stood at one version: preferred text, cable.json, and every source."""

    ref: str
    version: int
    text: str
    metadata: dict[str, Any]
    sources: dict[str, tuple[str, dict[str, Any]]]


class CableRecord:
    """An archived cable (one OCFL object): its versions and its state at any of them."""

    def __init__(self, ref: str, path: str, inventory: dict[str, Any]) -> None:
        self.ref = ref
        self.path = path
        self.inventory = inventory
        self.head = ocfl.head_number(inventory)

    @property
    def versions(self) -> list[VersionInfo]:
        """All versions, oldest first."""
        out = []
        for name, v in self.inventory["versions"].items():
            out.append(
                VersionInfo(
                    ocfl.vnum(name),
                    v.get("created", ""),
                    v.get("message", ""),
                    (v.get("user") or {}).get("name", ""),
                )
            )
        return sorted(out, key=lambda v: v.number)

    def _number(self, version: int | None) -> int:
        if version is None:
            return self.head
        if not 1 <= int(version) <= self.head:
            raise ArchiveError(f"{self.ref} has versions 1 to {self.head}; there is no version {version}")
        return int(version)

    def files(self, version: int | None = None) -> dict[str, str]:
        """The logical files of a version: {path: sha512 digest}."""
        return ocfl.version_state(self.inventory, self._number(version))

    def read(self, path: str, version: int | None = None) -> bytes:
        """The bytes of one logical file (cable.txt, cable.json, sources/<key>.txt, ...) at a version."""
        n = self._number(version)
        if path not in ocfl.version_state(self.inventory, n):
            raise ArchiveError(f"{self.ref} v{n} has no file {path!r}")
        return ocfl.read_logical(self.path, self.inventory, path, n)

    def text(self, version: int | None = None) -> str:
        """The preferred text at a version (default: head)."""
        return self.read("cable.txt", version).decode("utf-8", "replace")

    def metadata(self, version: int | None = None) -> dict[str, Any]:
        """cable.json at a version."""
        return json.loads(self.read("cable.json", version))

    def source_keys(self, version: int | None = None) -> list[str]:
        """The keys of the sources present at a version."""
        keys = []
        for path in self.files(version):
            m = re.fullmatch(r"sources/(.+)\.txt", path)
            if m:
                keys.append(m.group(1))
        return sorted(keys)

    def source(self, key: str, version: int | None = None) -> tuple[str, dict[str, Any]]:
        """(text, provenance) of one source at a version."""
        text = self.read(f"sources/{key}.txt", version).decode("utf-8", "replace")
        prov = json.loads(self.read(f"sources/{key}.json", version))
        return text, prov

    def state(self, version: int | None = None) -> CableState:
        """Everything at a version: text, cable.json, and {key: (text, provenance)} of each source."""
        n = self._number(version)
        return CableState(
            ref=self.ref,
            version=n,
            text=self.text(n),
            metadata=self.metadata(n),
            sources={k: self.source(k, n) for k in self.source_keys(n)},
        )


@dataclass
class SearchHit:
    """One full-text search result."""

    ref: str
    subject: str | None
    snippet: str
    score: float

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dict(self.__dict__)


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


@dataclass
class _Staged:
    key: str
    text: str
    text_bytes: bytes
    text_digest: str
    meta: dict[str, Any]
    meta_digest: str
    provenance: dict[str, Any]
    lines_kept: bool
    family: str
    fetched_at: str
    ruleset: dict[str, Any] | None


# ----------------------------------------------------------------------------- archive


def _raise_if_busy(path: str, exc: sqlite3.DatabaseError) -> None:
    """A locked index is busy, not broken: rebuilding it would wait on the very lock that holds it."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        raise ArchiveError(f"{path}: the index is busy ({exc}); another process holds it, try again") from exc


class Archive:
    """An archive folder: captures (WARC + CDXJ), cables (OCFL 1.1), index.sqlite, runs, state."""

    def __init__(self, path: str, meta: dict[str, Any]) -> None:
        self.path = os.path.abspath(path)
        self.meta = meta
        self._conn: sqlite3.Connection | None = None
        self.notify: Callable[[str], None] = lambda msg: print(f"cablearchive: {msg}", file=sys.stderr)

    # -- paths
    @property
    def captures_dir(self) -> str:
        """captures/: the WARC files and index.cdxj."""
        return os.path.join(self.path, "captures")

    @property
    def cables_dir(self) -> str:
        """cables/: the OCFL storage root."""
        return os.path.join(self.path, "cables")

    @property
    def state_dir(self) -> str:
        """state/: lock file, commit journal, crawl job state."""
        return os.path.join(self.path, "state")

    @property
    def runs_dir(self) -> str:
        """runs/: one JSON record per run."""
        return os.path.join(self.path, "runs")

    @property
    def cdxj_path(self) -> str:
        """captures/index.cdxj."""
        return os.path.join(self.captures_dir, "index.cdxj")

    @property
    def cleaned_path(self) -> str:
        """captures/cleaned.jsonl: under which rules each capture was cleaned."""
        return os.path.join(self.captures_dir, "cleaned.jsonl")

    @property
    def journal_path(self) -> str:
        """state/journal.json: present while a writer is open (or after it died)."""
        return os.path.join(self.state_dir, "journal.json")

    @property
    def index_path(self) -> str:
        """index.sqlite."""
        return os.path.join(self.path, "index.sqlite")

    def object_dir(self, ref: str) -> str:
        """The OCFL object folder of a cable (the reference ID is checked first)."""
        return os.path.join(self.cables_dir, check_reference(ref))

    # -- opening
    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Archive:
        """Create a new archive; refuses a non-empty folder that is not an archive."""
        path = os.fspath(path)
        if os.path.exists(os.path.join(path, MARKER)):
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
            for sub in ("captures", "runs", "state"):
                os.makedirs(os.path.join(path, sub), exist_ok=True)
            ocfl.init_root(os.path.join(path, "cables"))
            for name in ("index.cdxj", "cleaned.jsonl"):
                open(os.path.join(path, "captures", name), "ab").close()
            meta = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "created": now_iso(),
                "tool_version": tool_version(),
                "layout": {
                    "captures": "captures/<run>-<n>.warc.gz, captures/index.cdxj",
                    "cables": f"OCFL {ocfl.OCFL_VERSION}, {ocfl.LAYOUT_EXTENSION}",
                },
            }
            index.connect(os.path.join(path, "index.sqlite")).close()
            # The marker is written last: a folder without it is not (yet) an archive.
            atomic_write(os.path.join(path, MARKER), _json_bytes(meta))
        except OSError as exc:
            raise_if_disk_full(exc, path)
            raise ArchiveError(f"{path}: cannot create archive: {exc.strerror or exc}") from exc
        fsync_dir(os.path.dirname(os.path.abspath(path)) or ".")
        return cls.open(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Archive:
        """Open an existing archive; ArchiveError with a clear message otherwise."""
        path = os.fspath(path)
        marker = os.path.join(path, MARKER)
        if not os.path.isdir(path):
            raise ArchiveError(f"{path}: no such archive folder")
        try:
            with open(marker, encoding="utf-8") as fh:
                meta = json.load(fh)
        except FileNotFoundError:
            raise ArchiveError(f"{path}: not an archive (no {MARKER})") from None
        except (OSError, ValueError) as exc:
            raise ArchiveError(f"{marker}: unreadable: {exc}") from exc
        if meta.get("format") != FORMAT_NAME:
            raise ArchiveError(f"{marker}: format is {meta.get('format')!r}, not {FORMAT_NAME!r}")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ArchiveError(
                f"{marker}: format version {meta.get('format_version')} is newer than this tool reads "
                f"({FORMAT_VERSION}); upgrade cablearchive"
            )
        arch = cls(path, meta)
        os.makedirs(arch.state_dir, exist_ok=True)
        if os.path.exists(arch.journal_path):
            arch._recover_if_unlocked()
        return arch

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str]) -> Archive:
        """Open the archive at path, creating it when the folder is missing or empty."""
        path = os.fspath(path)
        if os.path.exists(os.path.join(path, MARKER)):
            return cls.open(path)
        return cls.create(path)

    def close(self) -> None:
        """Close the index connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The index connection (the index is rebuilt from the files when missing or unreadable)."""
        if self._conn is None:
            if not os.path.exists(self.index_path):
                self.reindex()
            try:
                self._conn = index.connect(self.index_path)
            except sqlite3.DatabaseError as exc:
                _raise_if_busy(self.index_path, exc)
                self.notify(f"{self.index_path}: {exc}; rebuilding it from the files")
                self.reindex()
                self._conn = index.connect(self.index_path)
        return self._conn

    # -- locking and recovery
    def _ensure_index(self) -> None:
        """Build index.sqlite if it is missing or unreadable (the caller holds the lock)."""
        from archive.reindex import rebuild_index

        ok = os.path.exists(self.index_path)
        if ok:
            try:
                index.connect(self.index_path).close()
            except sqlite3.DatabaseError as exc:
                _raise_if_busy(self.index_path, exc)
                self.notify(f"{self.index_path}: {exc}; rebuilding it from the files")
                ok = False
        if not ok:
            rebuild_index(self, None)

    def _lock(self) -> ArchiveLock:
        return ArchiveLock(os.path.join(self.state_dir, "lock"))

    def _recover_if_unlocked(self) -> None:
        lock = self._lock()
        try:
            lock.acquire({"kind": "recover", "run": None}, wait=0, what=f"archive {self.path}")
        except ArchiveError:
            return  # a live writer owns the journal
        try:
            self._recover(lock)
        finally:
            lock.release()

    def _recover(self, lock: ArchiveLock | None = None) -> dict[str, Any] | None:
        """Settle what an interrupted writer left (caller holds the lock); returns what was done."""
        try:
            with open(self.journal_path, encoding="utf-8") as fh:
                journal = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ArchiveError(f"{self.journal_path}: unreadable commit journal: {exc}") from exc
        done = self._settle_journal(journal)
        run = done["run"]
        run_path = os.path.join(self.runs_dir, f"{run}.json")
        with contextlib.suppress(OSError, ValueError):
            with open(run_path, encoding="utf-8") as fh:
                rec = json.load(fh)
            if rec.get("status") == "running":
                rec["status"] = "interrupted"
                rec["recovered"] = {"at": now_iso(), **{k: v for k, v in done.items() if k != "run"}}
                atomic_write(run_path, _json_bytes(rec))
        os.unlink(self.journal_path)
        fsync_dir(self.state_dir)
        if done["forward"] or done["back"] or done["warc_truncated"] or done["warc_removed"]:
            self.notify(
                f"recovered after interrupted run {run}: {len(done['back'])} version(s) rolled back, "
                f"{len(done['forward'])} completed, {len(done['warc_truncated']) + len(done['warc_removed'])} "
                "WARC file(s) cut back to their last commit"
            )
        return done

    def _settle_journal(self, journal: dict[str, Any]) -> dict[str, Any]:
        """Bring the files named by a commit journal to one side of the commit, then resync the index.

        `phase` "prepare": the commit had not been decided: its version folders go and the
        WARC, CDXJ and cleaned files are cut to the lengths before it (the journal's
        `warc`, `cdxj`, `cleaned`), so none of its captures, marks or versions remain.
        `phase` "install": every version folder was complete and durable: each root
        inventory is installed (rolled forward) and the files keep the commit's lengths.
        No phase (a writer between commits, or a journal of an older release): objects are
        settled by what their root inventory says; a commit that loses any version also
        loses its "cleaned" marks, so that a re-clean does not skip its captures.
        """
        run = journal.get("run") or "?"
        phase = journal.get("phase")
        done: dict[str, Any] = {
            "run": run,
            "forward": [],
            "back": [],
            "warc_truncated": [],
            "warc_removed": [],
            "marks_cut": 0,
        }
        cdxj_len = journal.get("cdxj")
        cleaned_len = journal.get("cleaned")
        cdxj_start = journal.get("cdxj_start", cdxj_len)
        cleaned_start = journal.get("cleaned_start", cleaned_len)
        lost = False
        for obj in journal.get("objects", []):
            ref = obj.get("id")
            if not is_reference(ref):
                continue
            obj_dir = os.path.join(self.cables_dir, ref)
            if phase == "install":
                result = ocfl.roll_forward(obj_dir, obj.get("old"), obj["new"])
            else:
                result = ocfl.settle(obj_dir, obj.get("old"), obj["new"])
            if result in ("forward", "back"):
                done[result].append(ref)
            if result == "back" and phase != "prepare":
                lost = True
        if lost and cleaned_start is not None:
            cleaned_len = cleaned_start
        lengths: dict[str, int] = journal.get("warc", {})
        prefix = f"{run}-"
        for name in sorted(os.listdir(self.captures_dir)):
            if not (name.startswith(prefix) and name.endswith(".warc.gz")):
                continue
            full = os.path.join(self.captures_dir, name)
            if name not in lengths:
                os.unlink(full)
                done["warc_removed"].append(name)
            elif os.path.getsize(full) > lengths[name]:
                os.truncate(full, lengths[name])
                done["warc_truncated"].append(name)
        cut_marks: list[tuple[str, str]] = []
        if (
            cleaned_len is not None
            and os.path.exists(self.cleaned_path)
            and os.path.getsize(self.cleaned_path) > cleaned_len
        ):
            cut_marks = self._read_cleaned(cleaned_len)
            done["marks_cut"] = len(cut_marks)
        for path, size in ((self.cdxj_path, cdxj_len), (self.cleaned_path, cleaned_len)):
            if size is not None and os.path.exists(path) and os.path.getsize(path) > size:
                os.truncate(path, size)
        with contextlib.suppress(OSError):
            fsync_dir(self.captures_dir)
        if os.path.exists(self.index_path):
            conn = index.connect(self.index_path)
            try:
                conn.execute("BEGIN")
                # Rows of this run's captures that the WARC files no longer hold go.
                rows = conn.execute(
                    "SELECT id, filename, offset FROM captures WHERE substr(filename, 1, ?) = ?",
                    (len(prefix), prefix),
                ).fetchall()
                gone = [(rid,) for rid, name, off in rows if off >= lengths.get(name, 0)]
                conn.executemany("DELETE FROM captures WHERE id=?", gone)
                index.insert_captures(conn, list(self._read_cdxj(cdxj_start or 0)))
                if cut_marks and phase != "prepare":
                    # The index may hold marks that are cut: each capture gets its last mark still on file.
                    last = dict(self._read_cleaned(0))
                    index.set_cleaned(conn, [(r, last.get(r)) for r in {r for r, _ in cut_marks}])
                index.set_cleaned(conn, self._read_cleaned(cleaned_start or 0))
                for obj in journal.get("objects", []):
                    if is_reference(obj.get("id")):
                        index.index_object(conn, obj["id"], os.path.join(self.cables_dir, obj["id"]))
                conn.execute("COMMIT")
            finally:
                conn.close()
        return done

    def _read_cdxj(self, start: int = 0, end: int | None = None) -> Iterator[Capture]:
        try:
            fh = open(self.cdxj_path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return
        with fh:
            fh.seek(start)
            data = fh.read() if end is None else fh.read(max(0, end - start))
        for line in data.decode("utf-8", "replace").splitlines():
            if line.strip():
                with contextlib.suppress(ValueError, KeyError):
                    yield Capture.from_cdxj(line)

    def _read_cleaned(self, start: int = 0) -> list[tuple[str, str]]:
        try:
            fh = open(self.cleaned_path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return []
        with fh:
            fh.seek(start)
            data = fh.read()
        out = []
        for line in data.decode("utf-8", "replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                d = json.loads(line)
                out.append((d["capture"], d["rules"]))
        return out

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
        return index.iter_captures(self.conn, newest_per_url)

    def capture(self, capture_id: str) -> Capture | None:
        """One capture by its id (the WARC-Record-ID of its response or revisit record)."""
        return index.get_capture(self.conn, capture_id)

    def read_capture(self, cap: Capture) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) of a capture; a revisit is resolved to the payload it refers to."""
        path = os.path.join(self.captures_dir, os.path.basename(cap.warc_file))
        try:
            rec_type, _rh, status, headers, body = read_record(path, cap.offset, cap.length)
        except (OSError, ValueError, Exception) as exc:
            raise ArchiveError(f"{path}: cannot read capture at offset {cap.offset}: {exc}") from exc
        if rec_type == "revisit":
            orig = index.get_capture(self.conn, cap.refers_to) if cap.refers_to else None
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
        row = self.conn.execute(
            "SELECT cleaned FROM captures WHERE record_id=?", (cap.capture_id,)
        ).fetchone()
        return row[0] if row else None

    # -- reading cables
    def list_cables(self) -> Iterator[CableSummary]:
        """Every cable, by reference ID, from the index."""
        sql = (
            "SELECT ref, head, created, updated, subject, classification, origin, date, n_sources, preferred "
            "FROM cables ORDER BY ref"
        )
        for row in self.conn.execute(sql):
            yield CableSummary(*row)

    def cable(self, ref: str) -> CableRecord:
        """An archived cable; ArchiveError when ref is not a cable ID or not in the archive."""
        obj_dir = self.object_dir(ref)
        try:
            inv = ocfl.load_inventory(obj_dir)
        except ValueError as exc:
            raise ArchiveError(f"{obj_dir}/inventory.json: unreadable: {exc}") from exc
        if inv is None:
            raise ArchiveError(f"{ref}: no such cable in {self.path}")
        return CableRecord(ref, obj_dir, inv)

    def has_cable(self, ref: str) -> bool:
        """True when the cable is archived."""
        return is_reference(ref) and os.path.exists(os.path.join(self.cables_dir, ref, ocfl.INVENTORY))

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Full-text search (FTS5 syntax; a query it rejects is searched as plain words)."""
        sql = (
            "SELECT c.ref, c.subject, bm25(fts) AS score FROM fts JOIN cables c ON c.fts_rowid = fts.rowid "
            "WHERE fts MATCH ? ORDER BY score LIMIT ?"
        )
        try:
            rows = self.conn.execute(sql, (query, limit)).fetchall()
        except sqlite3.OperationalError:
            words = re.findall(r"\w+", query)
            if not words:
                return []
            quoted = " ".join('"' + w + '"' for w in words)
            rows = self.conn.execute(sql, (quoted, limit)).fetchall()
        terms = [
            w.lower() for w in re.findall(r"\w+", query) if w.upper() not in ("AND", "OR", "NOT", "NEAR")
        ]
        hits = []
        for ref, subject, score in rows:
            snippet = ""
            with contextlib.suppress(ArchiveError, OSError, KeyError):
                snippet = _snippet(self.cable(ref).text(), terms)
            hits.append(SearchHit(ref, subject, snippet, round(-float(score), 4)))
        return hits

    def runs(self) -> list[dict[str, Any]]:
        """The run records, oldest first."""
        out = []
        for name in sorted(os.listdir(self.runs_dir)):
            if name.endswith(".json"):
                with (
                    contextlib.suppress(OSError, ValueError),
                    open(os.path.join(self.runs_dir, name), encoding="utf-8") as fh,
                ):
                    out.append(json.load(fh))
        return out

    # -- maintenance
    def verify(self, progress: Progress | None = None) -> Any:
        """Check every file of the archive; returns a VerifyReport (see archive.verify)."""
        from archive.verify import verify_archive

        return verify_archive(self, progress)

    def reindex(
        self, progress: Progress | None = None, *, from_warc: bool = False, wait: float | None = None
    ) -> dict[str, int]:
        """Rebuild index.sqlite from the files (and index.cdxj from the WARC files with from_warc)."""
        from archive.reindex import rebuild_index

        lock = self._lock()
        lock.acquire(
            {"kind": "reindex", "run": None}, wait=wait, notify=self.notify, what=f"archive {self.path}"
        )
        try:
            self._recover(lock)
            self.close()
            return rebuild_index(self, progress, from_warc=from_warc)
        finally:
            lock.release()


def _map_io(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
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


def _ruleset_label(rulesets: list[dict[str, Any]]) -> str:
    """`default@6 sha256:…` for the ruleset a reclean used."""
    if not rulesets:
        return "unknown"
    rs = rulesets[0]
    name, version = str(rs.get("name") or "?"), str(rs.get("version") or "?")
    label = version if version.startswith(name + "@") else f"{name}@{version}"
    return f"{label} {rs.get('digest') or '?'}"


def _snippet(text: str, terms: list[str], width: int = 160) -> str:
    """The first line holding a search term, trimmed around it."""
    low = text.lower()
    best = -1
    for t in terms:
        m = re.search(r"\b" + re.escape(t), low)
        if m and (best < 0 or m.start() < best):
            best = m.start()
    if best < 0:
        return " ".join(text.split())[:width]
    start = max(0, best - width // 3)
    piece = " ".join(text[start : start + width].split())
    return ("…" if start else "") + piece + "…"


# ----------------------------------------------------------------------------- writer


class Writer:
    """One run writing to the archive. Holds the lock from creation to close(); not thread-safe.

    add_capture() appends to the run's WARC file at once; record() stages cables;
    commit() makes the captures, their "cleaned" marks and at most one new OCFL version per
    cable durable as one unit, then updates the index, under a journal that lets an
    interrupted commit be settled to all or nothing.
    """

    def __init__(
        self, arch: Archive, kind: str, args: dict[str, Any], wait: float | None, warc_size: int
    ) -> None:
        if kind not in ("crawl", "reclean", "import") and not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", kind):
            raise ArchiveError(f"run kind {kind!r} is not one of crawl, reclean, import")
        self.arch = arch
        self.kind = kind
        self.args = args
        self.closed = False
        self.run_id = self._new_run_id(kind)
        self._lock = arch._lock()
        self._lock.acquire(
            {"kind": kind, "run": self.run_id}, wait=wait, notify=arch.notify, what=f"archive {arch.path}"
        )
        try:
            if os.path.exists(arch.journal_path):
                prev = self._lock.previous or {}
                if self._lock.previous_holder_died():
                    arch.notify(
                        f"the previous writer (pid {prev.get('pid')}, {prev.get('kind')} run {prev.get('run')}, "
                        f"since {prev.get('since')}) died holding the archive; settling its last commit"
                    )
                arch._recover(self._lock)
            arch.close()
            arch._ensure_index()
            self.conn = arch.conn
            self.started = now_iso()
            self.counts: dict[str, int] = {
                "captures": 0,
                "revisits": 0,
                "pages": 0,
                "cables": 0,
                "new": 0,
                "changed": 0,
                "unchanged": 0,
                "versions": 0,
                "no_id": 0,
                "refused": 0,
                "failures": 0,
                "commits": 0,
            }
            self.errors: list[dict[str, str]] = []
            self.warnings: list[dict[str, str]] = []
            self.notes: list[dict[str, str]] = []
            self.commits: list[dict[str, Any]] = []
            self._caps: list[Capture] = []
            # (capture record id, rules digest) of the pages recorded since the last commit.
            self._marks: list[tuple[str, str]] = []
            self._staged: dict[str, dict[str, _Staged]] = {}
            self._touched: set[str] = set()
            self._by_digest: dict[str, Capture] = {}
            self._by_url: dict[str, Capture] = {}
            # Committed lengths: what the journal lets survive a crash.
            self._cdxj_len = os.path.getsize(arch.cdxj_path) if os.path.exists(arch.cdxj_path) else 0
            self._cleaned_len = os.path.getsize(arch.cleaned_path) if os.path.exists(arch.cleaned_path) else 0
            self._warc_len: dict[str, int] = {}
            self._sink = WarcSink(
                arch.captures_dir,
                self.run_id,
                {
                    "software": tool_name(),
                    "format": "WARC File Format 1.0",
                    "conformsTo": "http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf",
                    "isPartOf": self.run_id,
                    "description": f"cablearchive {kind} run",
                    "x-cablearchive-settings": json.dumps(args, sort_keys=True, default=str),
                },
                warc_size,
            )
            self._write_journal([])
            self._write_run("running")
        except BaseException:
            self._lock.release()
            raise

    @staticmethod
    def _new_run_id(kind: str) -> str:
        return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{kind}-{secrets.token_hex(3)}"

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(f"{exc_type.__name__}: {exc}")

    # -- journal and run record
    def _write_journal(
        self,
        objects: list[dict[str, Any]],
        *,
        phase: str | None = None,
        warc: dict[str, int] | None = None,
        cdxj: int | None = None,
        cleaned: int | None = None,
    ) -> None:
        """Write state/journal.json: what survives a crash now (`warc`, `cdxj`, `cleaned`) and the commit in flight.

        Between commits (no phase) and in phase "prepare" the lengths are the committed
        ones; in phase "install" they are the new commit's, with `cdxj_start` and
        `cleaned_start` saying where its lines begin.
        """
        journal = {
            "run": self.run_id,
            "pid": os.getpid(),
            "phase": phase,
            "warc": dict(self._warc_len) if warc is None else warc,
            "cdxj_start": self._cdxj_len,
            "cdxj": self._cdxj_len if cdxj is None else cdxj,
            "cleaned_start": self._cleaned_len,
            "cleaned": self._cleaned_len if cleaned is None else cleaned,
            "objects": objects,
        }
        atomic_write(self.arch.journal_path, _json_bytes(journal))

    def _write_run(self, status: str) -> None:
        rec = {
            "run": self.run_id,
            "kind": self.kind,
            "args": self.args,
            "status": status,
            "started": self.started,
            "finished": None if status == "running" else now_iso(),
            "tool": tool_name(),
            "counts": self.counts,
            "warc_files": sorted(self._warc_len),
            "commits": self.commits,
            "errors": self.errors,
            "warnings": self.warnings,
            "notes": self.notes,
        }
        atomic_write(
            os.path.join(self.arch.runs_dir, f"{self.run_id}.json"),
            (json.dumps(rec, ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8"),
        )

    def _check_open(self) -> None:
        if self.closed:
            raise ArchiveError(f"run {self.run_id} is closed")

    # -- captures
    def add_capture(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        final_url: str | None = None,
        request_headers: list[tuple[str, str]] | None = None,
        fetched_at: Any = None,
        method: str = "GET",
        protocol: str = "HTTP/1.1",
    ) -> Capture:
        """Store one response in the run's WARC file (a revisit when its payload is already stored)."""
        self._check_open()
        split = urlsplit(safe_url(str(url)))
        if split.scheme not in ("http", "https") or not split.netloc:
            # Stored as an HTTP exchange, a capture needs an http(s) URL; readers parse it so.
            shown = repr(url) if len(repr(url)) <= 100 else repr(url)[:97] + "..."
            raise ArchiveError(f"{shown} is not an http(s) URL: not stored")
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = [
            (str(k), str(v)) for k, v in (headers.items() if isinstance(headers, dict) else headers or [])
        ]
        cap = self._sink.write(
            url,
            int(status),
            headers,
            bytes(body or b""),
            fetched_at=to_iso(fetched_at),
            final_url=final_url,
            request_headers=request_headers,
            method=method,
            protocol=protocol,
            by_digest=self._lookup_digest,
            by_url=self._lookup_url,
        )
        self._caps.append(cap)
        self.counts["captures"] += 1
        if cap.revisit:
            self.counts["revisits"] += 1
        else:
            if cap.status == 200:
                self._by_digest.setdefault(cap.payload_digest, cap)
                self._by_url[cap.url] = cap
        return cap

    def _lookup_digest(self, digest: str) -> tuple[str, str, str, str] | None:
        cap = self._by_digest.get(digest) or index.original_by_digest(self.conn, digest)
        return (cap.record_id, cap.url, cap.fetched_at, cap.payload_digest) if cap else None

    def _lookup_url(self, url: str) -> tuple[str, str, str, str] | None:
        cap = self._by_url.get(url) or index.newest_capture(self.conn, url, status=200)
        if cap is not None and cap.revisit and cap.refers_to:
            cap = next((c for c in self._caps if c.record_id == cap.refers_to), None) or index.get_capture(
                self.conn, cap.refers_to
            )
        return (cap.record_id, cap.url, cap.fetched_at, cap.payload_digest) if cap else None

    # -- cables
    def record(self, cap: Capture, page_result: PageResult) -> int:
        """Stage the cables cleaned from a capture; returns how many sources changed (to be versioned)."""
        self._check_open()
        ruleset = getattr(page_result, "ruleset", None)
        rules_digest = getattr(ruleset, "digest", None) or ""
        self._marks.append((cap.record_id, rules_digest))
        self.counts["pages"] += 1
        source_url = cap.final_url or cap.url
        key = source_key(source_url)
        staged_here = 0
        seen: set[str] = set()
        for cable in page_result.cables:
            ref = cable.reference_id
            if ref is None:
                self.counts["no_id"] += 1
                self._warn(source_url, "a cable whose reference ID could not be established: not archived")
                continue
            if not is_reference(ref):
                self.counts["refused"] += 1
                shown = repr(ref) if len(repr(ref)) <= 80 else repr(ref)[:77] + "..."
                self._error(source_url, f"reference ID {shown} is not a cable ID: not archived")
                continue
            if ref in seen:
                self._warn(source_url, f"{ref} appears twice on the page: the first one is kept")
                continue
            seen.add(ref)
            self.counts["cables"] += 1
            self._touched.add(ref)
            text_bytes = _text_bytes(cable.text)
            text_digest = ocfl.digest(text_bytes)
            meta = cable.metadata()
            meta["reference_id"] = ref
            meta_digest = metadata_digest(meta)
            staged = self._staged.get(ref, {}).get(key)
            current = (
                (staged.text_digest, staged.meta_digest)
                if staged
                else index.source_digests(self.conn, ref, key)
            )
            if current == (text_digest, meta_digest):
                continue
            cleaning = cable.cleaning()
            provenance = {
                "key": key,
                "url": cap.url,
                "final_url": source_url,
                "fetched_at": cap.fetched_at,
                "status": cap.status,
                "etag": cap.etag,
                "last_modified": cap.last_modified,
                "capture": {
                    "warc_file": cap.warc_file,
                    "offset": cap.offset,
                    "length": cap.length,
                    "record_id": cap.record_id,
                    "payload_digest": cap.payload_digest,
                    "revisit": cap.revisit_profile,
                    "refers_to": cap.refers_to,
                },
                "run": self.run_id,
                "cleaning": cleaning,
                "metadata": meta,
            }
            self._staged.setdefault(ref, {})[key] = _Staged(
                key=key,
                text=cable.text,
                text_bytes=text_bytes,
                text_digest=text_digest,
                meta=meta,
                meta_digest=meta_digest,
                provenance=provenance,
                lines_kept=bool(cable.lines_kept),
                family=cable.family or "generic",
                fetched_at=cap.fetched_at,
                ruleset=cleaning.get("ruleset"),
            )
            staged_here += 1
        return staged_here

    def record_failure(self, url: str, reason: str) -> None:
        """Note an input that failed (kept in runs/<run>.json; the run goes on)."""
        self.counts["failures"] += 1
        self._error(url, reason)

    def record_note(self, url: str, reason: str) -> None:
        """Note something worth telling about an input that is not a failure (kept in runs/<run>.json)."""
        if len(self.notes) < 10000:
            self.notes.append({"input": str(url)[:2048], "reason": str(reason)})

    def _error(self, url: str, reason: str) -> None:
        self.errors.append({"input": str(url)[:2048], "reason": str(reason)})

    def _warn(self, url: str, reason: str) -> None:
        if len(self.warnings) < 10000:
            self.warnings.append({"input": str(url)[:2048], "reason": str(reason)})

    @property
    def pending(self) -> int:
        """Captures and cables staged but not yet committed."""
        return len(self._caps) + len(self._staged)

    # -- commit
    def _plan(self, ref: str, staged: dict[str, _Staged]) -> dict[str, Any] | None:
        """The new logical state of one cable, or None when nothing would change."""
        obj_dir = os.path.join(self.arch.cables_dir, ref)
        inv = ocfl.load_inventory(obj_dir)
        old_state = ocfl.version_state(inv) if inv else {}
        old_keys = {
            p[len("sources/") : -len(".txt")]
            for p in old_state
            if p.startswith("sources/") and p.endswith(".txt")
        }
        # Logical path -> new bytes, or the digest of content the object already holds.
        files: dict[str, bytes | str] = {}
        digests: dict[str, str] = {}
        cands: list[Candidate] = []
        infos: dict[str, dict[str, Any]] = {}
        for key in sorted(old_keys - set(staged)):
            if not is_source_key(key):
                continue
            files[f"sources/{key}.txt"] = old_state[f"sources/{key}.txt"]
            files[f"sources/{key}.json"] = old_state[f"sources/{key}.json"]
            prov = json.loads(ocfl.read_logical(obj_dir, inv, f"sources/{key}.json"))
            text = ocfl.read_logical(obj_dir, inv, f"sources/{key}.txt").decode("utf-8", "replace")
            cleaning = prov.get("cleaning") or {}
            cands.append(
                Candidate(
                    key,
                    text,
                    bool(cleaning.get("lines_kept", True)),
                    cleaning.get("family") or "generic",
                    prov.get("fetched_at") or "",
                    prov.get("final_url") or prov.get("url") or "",
                )
            )
            infos[key] = {
                "prov": prov,
                "meta": prov.get("metadata") or {},
                "text_bytes": None,
                "text_digest": old_state[f"sources/{key}.txt"],
            }
        added, changed = 0, 0
        for key, s in staged.items():
            prov_bytes = _json_bytes(s.provenance)
            files[f"sources/{key}.txt"] = s.text_bytes
            files[f"sources/{key}.json"] = prov_bytes
            digests[f"sources/{key}.txt"] = s.text_digest
            digests[f"sources/{key}.json"] = ocfl.digest(prov_bytes)
            url = s.provenance.get("final_url") or s.provenance.get("url") or ""
            cands.append(Candidate(key, s.text, s.lines_kept, s.family, s.fetched_at, url))
            infos[key] = {
                "prov": s.provenance,
                "meta": s.meta,
                "text_bytes": s.text_bytes,
                "text_digest": s.text_digest,
                "meta_digest": s.meta_digest,
            }
            if key not in old_keys:
                added += 1
            elif old_state.get(f"sources/{key}.txt") != s.text_digest:
                changed += 1
        choice = choose(cands)
        best = infos[choice.preferred]
        cable_json = dict(best["meta"])
        cable_json["reference_id"] = ref
        cable_json["preferred"] = {"source": choice.preferred, "reason": choice.reason}
        cable_json["sources"] = [
            {
                "key": c.key,
                "url": c.url or None,
                "fidelity": choice.fidelity[c.key],
                "distance": round(1.0 - choice.fidelity[c.key], 6),
                "family": c.family,
                "lines_kept": c.lines_kept,
                "fetched_at": c.fetched_at,
                "capture_id": (infos[c.key]["prov"].get("capture") or {}).get("record_id"),
                "metadata_digest": infos[c.key].get("meta_digest") or metadata_digest(infos[c.key]["meta"]),
            }
            for c in sorted(cands, key=lambda c: c.key)
        ]
        cable_bytes = _json_bytes(cable_json)
        files["cable.json"] = cable_bytes
        digests["cable.json"] = ocfl.digest(cable_bytes)
        if best["text_bytes"] is not None:
            files["cable.txt"] = best["text_bytes"]
            digests["cable.txt"] = best["text_digest"]
        else:
            files["cable.txt"] = best["text_digest"]
        new_state = {p: (v if isinstance(v, str) else digests[p]) for p, v in files.items()}
        if new_state == old_state:
            return None
        text = next(c.text for c in cands if c.key == choice.preferred)
        text_changed = old_state.get("cable.txt") != new_state["cable.txt"]
        meta_only = len(staged) - added - changed
        return {
            "ref": ref,
            "dir": obj_dir,
            "inv": inv,
            "files": files,
            "digests": digests,
            "cable_json": cable_json,
            "text": text,
            "text_changed": text_changed,
            "added": added,
            "changed": changed,
            "meta_only": meta_only,
            "rulesets": [s.ruleset for s in staged.values() if s.ruleset],
        }

    def _message(self, plan: dict[str, Any], note: str | None) -> str:
        parts = []
        if plan["added"]:
            parts.append(f"{plan['added']} new source{'s' if plan['added'] != 1 else ''}")
        if plan["changed"]:
            parts.append(f"{plan['changed']} changed")
        if plan["meta_only"] > 0:
            parts.append(f"{plan['meta_only']} metadata changed")
        what = ", ".join(parts) or "consensus changed"
        if self.kind == "reclean":
            msg = f"reclean {self.run_id}: ruleset {_ruleset_label(plan['rulesets'])}: {what}"
        else:
            msg = f"{self.kind} {self.run_id}: {what}"
        return f"{msg} ({note})" if note else msg

    def commit(self, note: str | None = None) -> CommitReport:
        """Make staged captures, their "cleaned" marks and cables durable together: all or nothing.

        At most one new OCFL version per cable. The journal says "prepare" while version
        folders are written (a crash undoes the whole commit: versions, captures and marks)
        and "install" once every new file is durable (a crash completes it).
        """
        self._check_open()
        report = CommitReport(self.run_id, note=note)
        if self._caps or self._marks or self._staged:
            plans, caps = self._commit_files(note)
            for p in plans:
                (report.new if p["inv"] is None else report.changed).append(p["ref"])
                report.versions[p["ref"]] = ocfl.head_number(p["new_inv"])
            report.captures = len(caps)
        report.unchanged = sorted(self._touched - set(report.versions))
        self.counts["new"] += len(report.new)
        self.counts["changed"] += len(report.changed)
        self.counts["unchanged"] += len(report.unchanged)
        self.counts["versions"] += len(report.versions)
        self.counts["commits"] += 1
        self._staged.clear()
        self._touched.clear()
        self._by_digest.clear()
        self._by_url.clear()
        if report.captures or report.versions or note:
            self.commits.append(report.to_json())
        self._write_run("running")
        return report

    def _commit_files(self, note: str | None) -> tuple[list[dict[str, Any]], list[Capture]]:
        """The file side of commit(): returns the plans written and the captures committed."""
        arch = self.arch
        old_cdxj, old_cleaned = self._cdxj_len, self._cleaned_len
        cdxj_data = "".join(c.to_cdxj() + "\n" for c in self._caps).encode("utf-8")
        cleaned_data = "".join(
            json.dumps({"capture": r, "rules": d, "run": self.run_id}) + "\n" for r, d in self._marks
        ).encode("utf-8")
        new_cdxj, new_cleaned = old_cdxj + len(cdxj_data), old_cleaned + len(cleaned_data)
        warc = dict(self._sink.sizes)
        plans: list[dict[str, Any]] = []
        for ref in sorted(self._staged):
            try:
                plan = self._plan(ref, self._staged[ref])
            except (OSError, ValueError, KeyError) as exc:
                # A damaged object is reported and left alone; the rest of the batch goes on.
                self._error(ref, f"cannot update {os.path.join(arch.cables_dir, ref)}: {exc}")
                self._touched.discard(ref)
                continue
            if plan is not None:
                plans.append(plan)
        objects = [
            {
                "id": p["ref"],
                "old": ocfl.head_number(p["inv"]) if p["inv"] else None,
                "new": (ocfl.head_number(p["inv"]) + 1) if p["inv"] else 1,
            }
            for p in plans
        ]
        now = now_iso()
        user = {"name": tool_name(), "address": "https://pypi.org/project/cablearchive/"}
        decided = False
        try:
            # 1. Which objects are about to change, before any of their files exist.
            self._write_journal(objects, phase="prepare")
            # 2. Index lines and version folders, none visible yet; then one durability pass.
            self._append(arch.cdxj_path, cdxj_data, old_cdxj)
            self._append(arch.cleaned_path, cleaned_data, old_cleaned)
            written = [arch.cdxj_path, arch.cleaned_path]

            def prepare(p: dict[str, Any]) -> list[str]:
                p["new_inv"], paths = ocfl.prepare_version(
                    p["dir"],
                    p["ref"],
                    p["inv"],
                    p["files"],
                    created=now,
                    message=self._message(p, note),
                    user=user,
                    digests=p["digests"],
                )
                return paths

            for paths in _map_io(prepare, plans):
                written += paths
            self._sink.fsync()
            sync_files(written)
            # 3. The decision: from here on a crash completes this commit instead of undoing it.
            self._write_journal(objects, phase="install", warc=warc, cdxj=new_cdxj, cleaned=new_cleaned)
            decided = True
            # 4. The root inventories make the versions visible; durable before the journal moves on.
            small = len(plans) * 2 <= SYNC_EACH_LIMIT
            for p in plans:
                ocfl.install_inventory(p["dir"], p["new_inv"]["head"], sync=small)
            if not small:
                os.sync()
            # 5. The index, in one transaction.
            conn = self.conn
            conn.execute("BEGIN")
            try:
                index.insert_captures(conn, self._caps)
                index.set_cleaned(conn, self._marks)
                for p in plans:
                    index.write_cable(
                        conn, p["ref"], p["new_inv"], p["cable_json"], p["text"], p["text_changed"]
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException as exc:
            if decided:
                self._complete_failed_commit()
                self._committed(warc, new_cdxj, new_cleaned)
            else:
                self._undo_failed_commit(plans, old_cdxj, old_cleaned)
            if isinstance(exc, OSError):
                raise_if_disk_full(exc, arch.cables_dir)
            raise
        caps = self._caps
        self._committed(warc, new_cdxj, new_cleaned)
        self._write_journal([])
        return plans, caps

    def _committed(self, warc: dict[str, int], cdxj: int, cleaned: int) -> None:
        """The commit is durable: its lengths become the committed ones, its captures and marks are done."""
        self._warc_len = dict(warc)
        self._cdxj_len, self._cleaned_len = cdxj, cleaned
        self._caps, self._marks = [], []

    def _append(self, path: str, data: bytes, expected: int) -> None:
        """Append to an index file at its committed length (made durable by the commit's sync pass)."""
        if not data:
            return
        try:
            with open(path, "r+b") as fh:
                fh.truncate(expected)
                fh.seek(expected)
                fh.write(data)
        except OSError as exc:
            raise_if_disk_full(exc, path)
            raise

    def _undo_failed_commit(self, plans: list[dict[str, Any]], cdxj: int, cleaned: int) -> None:
        """A commit failed before its decision: remove its version folders and index lines; keep it staged.

        The captures stay in the WARC file past the committed length and everything stays
        staged, so a later commit() can try again.
        """
        try:
            for p in plans:
                ocfl.settle(
                    p["dir"],
                    ocfl.head_number(p["inv"]) if p["inv"] else None,
                    (ocfl.head_number(p["inv"]) + 1) if p["inv"] else 1,
                )
            for path, size in ((self.arch.cdxj_path, cdxj), (self.arch.cleaned_path, cleaned)):
                if os.path.exists(path) and os.path.getsize(path) > size:
                    os.truncate(path, size)
            self._write_journal([])
        except Exception as exc:  # the journal still says "prepare": the next writer undoes it
            self.arch.notify(f"could not undo the failed commit now ({exc}); the next writer will")

    def _complete_failed_commit(self) -> None:
        """A commit failed after its decision: install what is left and resync the index, as recovery would."""
        try:
            self.arch.close()
            with open(self.arch.journal_path, encoding="utf-8") as fh:
                journal = json.load(fh)
            self.arch._settle_journal(journal)
            self._write_journal(
                [], warc=journal.get("warc"), cdxj=journal.get("cdxj"), cleaned=journal.get("cleaned")
            )
        except Exception as exc:  # the journal stays; the next writer settles it
            self.arch.notify(f"could not complete the failed commit now ({exc}); the next writer will")
        finally:
            self.conn = self.arch.conn

    def _compact_index(self) -> None:
        """Rebuild the full-text index when rows of replaced texts outnumber half the cables (after a big re-clean)."""
        try:
            rows, cables = index.fts_rows(self.conn)
            if rows - cables > max(FTS_SLACK, cables // 2):
                self.arch.notify(f"compacting the full-text index ({rows - cables} rows of replaced texts)")
                index.compact_fts(self.conn, self.arch.cables_dir)
        except (OSError, sqlite3.Error) as exc:  # derived data: search still works, reindex compacts it
            self.arch.notify(f"could not compact the full-text index ({exc}); `cablearchive reindex` will")

    # -- closing
    def close(self) -> None:
        """Commit what is staged, close the WARC file, record the run and release the lock."""
        if self.closed:
            return
        try:
            if self._caps or self._staged or self._marks:
                self.commit()
            self._finish("done" if not self.errors else "done with errors")
        except BaseException as exc:
            self.abort(f"{type(exc).__name__}: {exc}")
            raise

    def abort(self, reason: str = "aborted") -> None:
        """End the run without committing what is staged; the archive keeps its last commit."""
        if self.closed:
            return
        self._error("(run)", reason)
        try:
            self._sink.close()
            self.arch.close()
            self.arch._recover(self._lock)
        finally:
            self.closed = True
            with contextlib.suppress(Exception):
                self._write_run("failed")
            self._lock.release()

    def _finish(self, status: str) -> None:
        self._sink.close()
        self._compact_index()
        self._write_run(status)
        os.unlink(self.arch.journal_path)
        fsync_dir(self.arch.state_dir)
        self.closed = True
        self._lock.release()
