"""One run writing to the archive: its run record, the captures it stores, the cables it stages and commits.

The admission rule (which cables of a page are archived) and the digests that tell a
changed source from an unchanged one are defined here, once: re-clean predicts with them
what a real run will do.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archive import index, ocfl
from archive.captures import Capture, WarcSink, cut_body_problem, now_iso, safe_url, to_iso
from archive.commit import CommitReport, Committer, Journal, NewVersion
from archive.errors import ArchiveError
from archive.folder import ArchiveFolder
from archive.ids import is_reference, source_key
from archive.layout import tool_name
from archive.plan import CablePlan, Staged, plan_cable, version_message
from archive.provenance import Provenance, metadata_digest, text_bytes
from archive.runs import (
    DONE,
    DONE_WITH_ERRORS,
    FAILED,
    INTERRUPTED,
    RunRecord,
    check_kind,
    mark_unfinished,
    new_run_id,
)

if TYPE_CHECKING:
    from cleaners import Cable, PageResult

DEFAULT_WARC_SIZE = 1 << 30  # roll to a new WARC file past 1 GiB
# Rows of replaced texts the full-text index may hold before a run's end compacts it.
FTS_SLACK = 1000
# Who wrote a version, as its OCFL `user` says.
USER_ADDRESS = "https://pypi.org/project/cablearchive/"

# ----------------------------------------------------------------------------- admission

# Why a cable of a page is not archived.
NO_ID = "no id"  # its reference ID could not be established (never guessed)
NOT_AN_ID = "not an id"  # the cleaner gave something that is not a cable ID
REPEATED = "repeated"  # the page gives the same cable twice: the first one is kept


@dataclass(frozen=True)
class Admitted:
    """A cable the archive takes from a page, under its reference ID."""

    ref: str
    cable: Cable


@dataclass(frozen=True)
class Refused:
    """A cable the archive does not take from a page: why (NO_ID, NOT_AN_ID, REPEATED), in words."""

    kind: str
    reason: str


def admit(cables: Iterable[Cable]) -> Iterator[Admitted | Refused]:
    """The archive's verdict on each cable of a page, in page order."""
    seen: set[str] = set()
    for cable in cables:
        ref = cable.reference_id
        if ref is None:
            yield Refused(NO_ID, "a cable whose reference ID could not be established: not archived")
        elif not is_reference(ref):
            shown = repr(ref) if len(repr(ref)) <= 80 else repr(ref)[:77] + "..."
            yield Refused(NOT_AN_ID, f"reference ID {shown} is not a cable ID: not archived")
        elif ref in seen:
            yield Refused(REPEATED, f"{ref} appears twice on the page: the first one is kept")
        else:
            seen.add(ref)
            yield Admitted(ref, cable)


@dataclass(frozen=True)
class SourceContent:
    """A cable's text and metadata as one source gives them, in the form the archive stores and compares."""

    text: str
    data: bytes
    text_digest: str
    metadata: dict[str, Any]
    metadata_digest: str

    @classmethod
    def of(cls, ref: str, text: str, metadata: Mapping[str, Any]) -> SourceContent:
        """The stored form of a cable's text and metadata (the metadata under reference ID `ref`)."""
        meta = dict(metadata)
        meta["reference_id"] = ref
        data = text_bytes(text)
        return cls(text, data, ocfl.digest(data), meta, metadata_digest(meta))

    @property
    def digests(self) -> tuple[str, str]:
        """(text digest, metadata digest), as the index keeps them for each source."""
        return self.text_digest, self.metadata_digest


def source_digests(ref: str, text: str, metadata: Mapping[str, Any]) -> tuple[str, str]:
    """(text digest, metadata digest) of a cable's source as the writer computes and compares them."""
    return SourceContent.of(ref, text, metadata).digests


# ----------------------------------------------------------------------------- the run


@contextlib.contextmanager
def _index_errors(path: str) -> Iterator[None]:
    """SQLite errors as the archive's own, naming index.sqlite (a full disk, a damaged file)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise index.archive_error(path, exc) from exc


class Writer:
    """One run writing to the archive. Holds the lock from creation to close(); not thread-safe.

    add_capture() appends to the run's WARC file at once; record() stages cables;
    commit() makes the captures, their "cleaned" marks and at most one new OCFL version per
    cable durable as one unit, then updates the index (archive.commit), under a journal
    that lets an interrupted commit be settled to all or nothing.
    """

    def __init__(
        self, arch: ArchiveFolder, kind: str, args: dict[str, Any], wait: float | None, warc_size: int
    ) -> None:
        self.arch = arch
        self.kind = check_kind(kind)
        self.args = args
        self.closed = False
        self.run_id = new_run_id(kind)
        self._lock = arch.lock()
        self._lock.acquire(
            {"kind": kind, "run": self.run_id}, wait=wait, notify=arch.notify, what=f"archive {arch.path}"
        )
        try:
            if Journal(arch.layout).exists():
                prev = self._lock.previous or {}
                if self._lock.previous_holder_died():
                    arch.notify(
                        f"the previous writer (pid {prev.get('pid')}, {prev.get('kind')} run {prev.get('run')}, "
                        f"since {prev.get('since')}) died holding the archive; settling its last commit"
                    )
                arch.recover()
            arch.close()
            with _index_errors(arch.index_path):
                arch.ensure_index()
            # Runs still "running" died without an end (we hold the lock: none is alive).
            mark_unfinished(arch.layout)
            self.run_record = RunRecord(self.run_id, kind, args, started=now_iso())
            # The sources staged since the last commit: {ref: {key: Staged}}, and every cable recorded.
            self._staged: dict[str, dict[str, Staged]] = {}
            self._touched: set[str] = set()
            # Full captures of this batch, for revisits of a payload or a URL stored moments ago.
            self._by_digest: dict[str, Capture] = {}
            self._by_url: dict[str, Capture] = {}
            # After recovery: the committed lengths are the files' lengths now.
            self._commits = Committer(arch.layout, self.run_id, arch.notify)
            self._sink = WarcSink(
                arch.layout,
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
            self._commits.start()
            self._write_run("running")
        except BaseException:
            self._lock.release()
            raise

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.abort("interrupted (Ctrl-C)", status=INTERRUPTED)
        else:
            self.abort(f"{exc_type.__name__}: {exc}")

    # -- the run record
    @property
    def counts(self) -> dict[str, int]:
        """The run's counts so far (captures, pages, cables, new, changed, ...), as its record keeps them."""
        return self.run_record.counts

    @property
    def errors(self) -> list[dict[str, str]]:
        """Inputs that failed: {"input", "reason"}."""
        return self.run_record.errors

    @property
    def warnings(self) -> list[dict[str, str]]:
        """Cables not archived and the like: {"input", "reason"}."""
        return self.run_record.warnings

    @property
    def notes(self) -> list[dict[str, str]]:
        """Worth telling, not failures: {"input", "reason"}."""
        return self.run_record.notes

    @property
    def commits(self) -> list[dict[str, Any]]:
        """One entry per commit that stored something."""
        return self.run_record.commits

    @property
    def conn(self) -> sqlite3.Connection:
        """The index connection."""
        return self.arch.conn

    def _write_run(self, status: str) -> None:
        self.run_record.write(self.arch.layout, status, list(self._commits.committed.warc))

    def _check_open(self) -> None:
        if self.closed:
            raise ArchiveError(f"run {self.run_id} is closed")

    # -- captures
    def add_capture(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]] | Mapping[str, str],
        body: bytes | str,
        *,
        final_url: str | None = None,
        request_headers: list[tuple[str, str]] | None = None,
        fetched_at: str | float | datetime | None = None,
        method: str = "GET",
        protocol: str = "HTTP/1.1",
        declared_length: int | None = None,
    ) -> Capture:
        """Store one response in the run's WARC file (a revisit when its payload is already stored).

        `declared_length`: the length the response declared for `body` (its Content-Length, when
        `body` is the payload as received); a shorter body is a download cut short and is refused
        with an ArchiveError: nothing of it is stored.
        """
        self._check_open()
        split = urlsplit(safe_url(str(url)))
        if split.scheme not in ("http", "https") or not split.netloc:
            # Stored as an HTTP exchange, a capture needs an http(s) URL; readers parse it so.
            shown = repr(url) if len(repr(url)) <= 100 else repr(url)[:97] + "..."
            raise ArchiveError(f"{shown} is not an http(s) URL: not stored")
        if isinstance(body, str):
            body = body.encode("utf-8")
        problem = cut_body_problem(bytes(body or b""), declared_length)
        if problem is not None:
            shown = repr(url) if len(repr(url)) <= 100 else repr(url)[:97] + "..."
            raise ArchiveError(f"{shown}: {problem}: not stored")
        pairs = headers.items() if isinstance(headers, Mapping) else headers or []
        cap = self._sink.write(
            url,
            int(status),
            [(str(k), str(v)) for k, v in pairs],
            bytes(body or b""),
            fetched_at=to_iso(fetched_at),
            final_url=final_url,
            request_headers=request_headers,
            method=method,
            protocol=protocol,
            by_digest=self._lookup_digest,
            by_url=self._lookup_url,
        )
        self._commits.caps.append(cap)
        self.counts["captures"] += 1
        if cap.revisit:
            self.counts["revisits"] += 1
        elif cap.status == 200:
            self._by_digest.setdefault(cap.payload_digest, cap)
            self._by_url[cap.url] = cap
        return cap

    def _lookup_digest(self, digest: str) -> Capture | None:
        with _index_errors(self.arch.index_path):
            return self._by_digest.get(digest) or index.original_by_digest(self.conn, digest)

    def _lookup_url(self, url: str) -> Capture | None:
        with _index_errors(self.arch.index_path):
            cap = self._by_url.get(url) or index.newest_capture(self.conn, url, status=200)
            if cap is not None and cap.revisit and cap.refers_to:
                refers = cap.refers_to
                cap = next(
                    (c for c in self._commits.caps if c.record_id == refers), None
                ) or index.get_capture(self.conn, refers)
        return cap

    # -- cables
    def record(self, cap: Capture, page_result: PageResult) -> int:
        """Stage the cables cleaned from a capture; returns how many sources changed (to be versioned)."""
        self._check_open()
        ruleset = page_result.ruleset
        self._commits.marks.append((cap.record_id, (ruleset.digest if ruleset is not None else "") or ""))
        self.counts["pages"] += 1
        source_url = cap.final_url or cap.url
        key = source_key(source_url)
        staged_here = 0
        for verdict in admit(page_result.cables):
            if isinstance(verdict, Refused):
                if verdict.kind == NOT_AN_ID:
                    self.counts["refused"] += 1
                    self.run_record.error(source_url, verdict.reason)
                else:
                    if verdict.kind == NO_ID:
                        self.counts["no_id"] += 1
                    self.run_record.warn(source_url, verdict.reason)
                continue
            ref, cable = verdict.ref, verdict.cable
            self.counts["cables"] += 1
            self._touched.add(ref)
            content = SourceContent.of(ref, cable.text, cable.metadata())
            staged = self._staged.get(ref, {}).get(key)
            if staged:
                current: tuple[str, str] | None = staged.digests
            else:
                with _index_errors(self.arch.index_path):
                    current = index.source_digests(self.conn, ref, key)
            if current == content.digests:
                continue
            provenance = Provenance.of(cap, key, self.run_id, cable.cleaning(), content.metadata)
            if staged is not None and provenance.fetched_before(staged.provenance):
                # Captures may arrive in any order (imports): an older one never replaces the text
                # of a newer one; it joins that source's record of earlier captures.
                self._staged[ref][key] = replace(
                    staged,
                    provenance=staged.provenance.with_earlier([provenance.as_earlier(content.text_digest)]),
                )
                continue
            self._staged.setdefault(ref, {})[key] = Staged(
                key=key,
                text=content.text,
                data=content.data,
                text_digest=content.text_digest,
                metadata=content.metadata,
                metadata_digest=content.metadata_digest,
                provenance=provenance,
            )
            staged_here += 1
        return staged_here

    def record_failure(self, url: str, reason: str) -> None:
        """Note an input that failed (kept in runs/<run>.json; the run goes on)."""
        self.counts["failures"] += 1
        self.run_record.error(url, reason)

    def record_note(self, url: str, reason: str) -> None:
        """Note something worth telling about an input that is not a failure (kept in runs/<run>.json)."""
        self.run_record.note(url, reason)

    @property
    def pending(self) -> int:
        """Captures and cables staged but not yet committed."""
        return len(self._commits.caps) + len(self._staged)

    # -- commit
    def commit(self, note: str | None = None) -> CommitReport:
        """Make staged captures, their "cleaned" marks and cables durable together: all or nothing.

        At most one new OCFL version per cable (see archive.commit for the protocol).
        """
        self._check_open()
        report = CommitReport(self.run_id, note=note)
        if self._commits.pending or self._staged:
            captures = len(self._commits.caps)
            versions = self._versions(note)
            self._commits.commit(
                self.arch, self._sink, versions, {"name": tool_name(), "address": USER_ADDRESS}
            )
            for v in versions:
                change = v.change
                (report.new if change.old is None else report.changed).append(v.ref)
                report.versions[v.ref] = change.new
            report.captures = captures
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
        try:
            self._write_run("running")
        except ArchiveError as exc:  # the commit is durable; the record is rewritten at the run's end
            self.arch.notify(f"could not update the run record now: {exc}")
        return report

    def _versions(self, note: str | None) -> list[NewVersion]:
        """The new version of each staged cable that changes; a cable whose object cannot be read is reported."""
        versions = []
        for ref in sorted(self._staged):
            obj_dir = self.arch.layout.object_dir(ref)
            try:
                plan: CablePlan | None = plan_cable(obj_dir, ref, self._staged[ref])
            except (OSError, ValueError, KeyError) as exc:
                # A damaged object is reported and left alone; the rest of the batch goes on.
                self.run_record.error(ref, f"cannot update {obj_dir}: {exc}")
                self._touched.discard(ref)
                continue
            if plan is not None:
                versions.append(plan.version(version_message(plan, self.kind, self.run_id, note)))
        return versions

    def _compact_index(self) -> None:
        """Rebuild the full-text index when rows of replaced texts outnumber half the cables (after a big re-clean)."""
        try:
            rows, cables = index.fts_rows(self.conn)
            if rows - cables > max(FTS_SLACK, cables // 2):
                self.arch.notify(f"compacting the full-text index ({rows - cables} rows of replaced texts)")
                index.compact_fts(self.conn, self.arch.layout)
        except (OSError, sqlite3.Error) as exc:  # derived data: search still works, reindex compacts it
            self.arch.notify(f"could not compact the full-text index ({exc}); `cablearchive reindex` will")

    # -- closing
    def close(self, *, interrupted: str | None = None) -> None:
        """Commit what is staged, close the WARC file, record the run and release the lock.

        `interrupted` (why: "interrupted by SIGINT", ...) records a run stopped before its end
        as "interrupted" rather than "done": what it did is committed all the same.
        """
        if self.closed:
            return
        try:
            if self._commits.pending or self._staged:
                self.commit()
            if interrupted is not None:
                self.run_record.note("(run)", interrupted)
                status = INTERRUPTED
            else:
                status = DONE if not self.errors else DONE_WITH_ERRORS
            self._finish(status)
        except BaseException as exc:
            self.abort(f"{type(exc).__name__}: {exc}")
            raise

    def abort(self, reason: str = "aborted", *, status: str = FAILED) -> None:
        """End the run without committing what is staged; the archive keeps its last commit.

        Settling what is left never raises: when it cannot be done now (a full disk), the
        journal stays and the next writer settles it.
        """
        if self.closed:
            return
        self.run_record.error("(run)", reason)
        try:
            with contextlib.suppress(Exception):
                self._sink.close()
            self.arch.close()
            self.arch.recover()
        except Exception as exc:
            self.arch.notify(
                f"could not settle run {self.run_id} now ({exc}); "
                f"{self.arch.journal_path} stays, and the next writer settles it"
            )
        finally:
            self.closed = True
            with contextlib.suppress(Exception):
                self._write_run(status)
            self._lock.release()

    def _finish(self, status: str) -> None:
        self._commits.check_settled()
        self._sink.close()
        self._compact_index()
        self._write_run(status)
        self._commits.finish()
        self.closed = True
        self._lock.release()
