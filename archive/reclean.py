"""Re-run the current cleaning rules over the stored captures, without the network.

Workers read captures and clean them; the parent process alone writes to the archive.
A new version is written only for cables whose text or metadata changes. A capture
already cleaned under the same rules digest is skipped, so a second run is a no-op.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive import index
from archive.captures import Capture
from archive.diff import diff_texts
from archive.errors import ArchiveError
from archive.ids import is_reference, source_key
from archive.progress import CountedProgress
from archive.store import Archive
from archive.workers import OrderedPool, WorkersDidNotStart, default_jobs
from archive.writer import Admitted, Writer, admit, source_digests
from cleaners import PageResult, Ruleset, RulesetInfo, clean_page, load_rules

# How a cable's source fares under the new rules.
NEW_CABLE = "new cable"  # the archive does not hold this cable yet
NEW_SOURCE = "new source"  # the cable is archived, but this page did not give it before
TEXT = "text changed"
METADATA = "metadata changed"  # same text, different metadata
LOST = "lost"  # the page gave this cable before and no longer does (the archived source stays)
CHANGES = (NEW_CABLE, NEW_SOURCE, TEXT, METADATA, LOST)

# Commit every so many pages or staged cables, or seconds: bounds memory and the work a
# crash can lose (a killed run resumes where its last commit left off).
COMMIT_PAGES = 2000
COMMIT_STAGED = 500
COMMIT_SECONDS = 60.0


@dataclass
class CableOutcome:
    """What re-cleaning one page does to one of its cables."""

    ref: str
    url: str
    key: str
    change: str
    lines_added: int | None = None  # None: not measured (a real run measures only when asked)
    lines_removed: int | None = None
    detail: str = ""  # classified diff summary of a text change, when measured
    text_digest: str = field(default="", repr=False)
    meta_digest: str = field(default="", repr=False)

    @property
    def writes_version(self) -> bool:
        """True when the writer stages this source, so the cable gets a new version."""
        return self.change != LOST

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        out: dict[str, Any] = {"ref": self.ref, "url": self.url, "change": self.change}
        if self.lines_added is not None:
            out["lines_added"] = self.lines_added
            out["lines_removed"] = self.lines_removed
        if self.detail:
            out["detail"] = self.detail
        return out

    def describe(self) -> str:
        """One line: `10HARARE93  text changed  +1 -1  [1 redaction]  <url>`."""
        size = f"+{self.lines_added} -{self.lines_removed}" if self.lines_added is not None else ""
        detail = f"[{self.detail}]" if self.detail else ""
        return f"{self.ref:<18} {self.change:<16} {size:<12} {detail + ' ' if detail else ''}{self.url}"


@dataclass
class RecleanReport:
    """What a re-clean did (or, with dry_run, would do)."""

    dry_run: bool
    rules: RulesetInfo
    run_id: str | None = None
    captures: int = 0  # newest captures in scope
    skipped: int = 0  # already cleaned under these rules
    cleaned: int = 0
    pages_without_cable: int = 0
    cables_without_id: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    outcomes: list[CableOutcome] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # written: ref -> new head version
    seconds: float = 0.0

    def count(self, change: str) -> int:
        """Number of cable outcomes of one kind."""
        return sum(1 for o in self.outcomes if o.change == change)

    @property
    def predicted(self) -> list[str]:
        """The cables that get (or would get) a new version, sorted."""
        return sorted({o.ref for o in self.outcomes if o.writes_version})

    def summary(self) -> str:
        """A few lines for people: rules, scope, what happened to the cables, versions."""
        if self.dry_run:
            head = "reclean (dry run, nothing written)"
        elif self.run_id is None:
            head = "reclean (nothing to re-clean, no run started)"
        else:
            head = f"reclean {self.run_id}"
        versions = (
            f"new versions that would be written: {len(self.predicted)}"
            if self.dry_run
            else f"new versions written: {len(self.versions)}"
        )
        return "\n".join(
            [
                f"{head}: rules {self.rules.version} {self.rules.digest}",
                f"  captures: {self.captures} in scope, {self.skipped} already cleaned under these rules, "
                f"{self.cleaned} cleaned, {len(self.failed)} failed",
                f"  pages without a cable: {self.pages_without_cable}; cables without an ID (not archived): "
                f"{self.cables_without_id}",
                "  cables: "
                + ", ".join(f"{self.count(c)} {c}" for c in CHANGES)
                + " (lost sources stay archived)",
                f"  {versions}",
            ]
        )

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for scripts."""
        return {
            "dry_run": self.dry_run,
            "run": self.run_id,
            "rules": self.rules.to_json(),
            "captures": self.captures,
            "skipped": self.skipped,
            "cleaned": self.cleaned,
            "failed": [{"input": i, "reason": r} for i, r in self.failed],
            "pages_without_cable": self.pages_without_cable,
            "cables_without_id": self.cables_without_id,
            "counts": {c: self.count(c) for c in CHANGES},
            "new_versions": self.predicted if self.dry_run else dict(sorted(self.versions.items())),
            "cables": [o.to_json() for o in self.outcomes],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Done:
    """A worker's answer for one capture."""

    cap: Capture
    result: PageResult | None
    error: str | None = None
    outcomes: list[CableOutcome] = field(default_factory=list)


# ----------------------------------------------------------------------------- cleaning


def _compare(arch: Archive, cap: Capture, result: PageResult, detail: bool) -> list[CableOutcome]:
    """The cables of a freshly cleaned page that differ from what the archive holds for that page.

    The writer's own admission rule and digests decide, so that a dry run predicts what a
    real run writes.
    """
    url = cap.final_url or cap.url
    key = source_key(url)
    outcomes = []
    for verdict in admit(result.cables):
        if not isinstance(verdict, Admitted):
            continue
        ref, cable = verdict.ref, verdict.cable
        digests = source_digests(ref, cable.text, cable.metadata())
        current = index.source_digests(arch.conn, ref, key)
        if current == digests:
            continue
        if current is None:
            change = NEW_SOURCE if arch.has_cable(ref) else NEW_CABLE
        else:
            change = TEXT if current[0] != digests[0] else METADATA
        out = CableOutcome(ref, url, key, change, text_digest=digests[0], meta_digest=digests[1])
        if change == TEXT and detail:
            try:
                old_text, _prov = arch.cable(ref).source(key)
            except ArchiveError:
                old_text = ""
            _size_of(out, old_text, cable.text)
        elif change in (NEW_CABLE, NEW_SOURCE):
            out.lines_added, out.lines_removed = len(cable.text.split("\n")), 0
        outcomes.append(out)
    return outcomes


def _size_of(out: CableOutcome, old: str, new: str) -> None:
    """Fill in the lines added and removed, and the classified summary, of a text change."""
    d = diff_texts(old, new)
    out.lines_added = out.lines_removed = 0
    for h in d.hunks:
        for tag, i1, i2, j1, j2 in h.ops:
            if tag != "equal":
                out.lines_removed += i2 - i1
                out.lines_added += j2 - j1
    out.detail = d.summary().split(": ", 1)[1]


def _clip(exc: BaseException, limit: int = 300) -> str:
    """An error message cut to a readable length (some quote whole binary records)."""
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean_one(arch: Archive, rules: Ruleset, cap: Capture, detail: bool) -> _Done:
    """Read one capture and clean it; never raises (a failure comes back in `.error`)."""
    try:
        _status, headers, body = arch.read_capture(cap)
    except (ArchiveError, OSError) as exc:
        return _Done(cap, None, f"cannot read the capture: {_clip(exc)}")
    try:
        result = clean_page(body, url=cap.final_url or cap.url, headers=headers, rules=rules)
    except Exception as exc:  # the cleaner promises not to raise; a bug must not stop the run
        return _Done(cap, None, f"cleaner failed: {type(exc).__name__}: {_clip(exc)}")
    try:
        outcomes = _compare(arch, cap, result, detail)
    except (ArchiveError, OSError, ValueError, sqlite3.Error) as exc:
        return _Done(cap, None, f"cannot compare with the archive: {_clip(exc)}")
    return _Done(cap, result, None, outcomes)


@dataclass
class _WorkerState:
    """What a worker process works with, set once by _worker_init."""

    detail: bool = False
    arch: Archive | None = None
    rules: Ruleset | None = None
    error: str | None = None  # why this worker cannot clean (answered for every capture)


_WORKER = _WorkerState()


def _worker_init(path: str, rules_dir: str | None, digest: str, detail: bool) -> None:
    """Worker start: open the archive for reading and load the rules the parent loaded.

    Never raises (a failing initializer would only show as a broken pool): what went
    wrong is kept and given back for every task.
    """
    _WORKER.detail = detail
    try:
        _WORKER.arch = Archive.open(path)
        rules = load_rules(rules_dir)
    except Exception as exc:
        _WORKER.error = f"worker could not start: {type(exc).__name__}: {_clip(exc)}"
        return
    _WORKER.rules = rules
    # The rule files may have been edited since the parent read them: refuse to mix rules.
    _WORKER.error = (
        None
        if rules.info.digest == digest
        else f"the rules changed while re-cleaning (digest {rules.info.digest}, expected {digest})"
    )


def _worker_ready() -> str | None:
    """A no-op task: answers once the worker has started; the reason it cannot work, if any."""
    return _WORKER.error


def _worker_clean(caps: list[Capture]) -> list[_Done]:
    """Clean a batch of captures in a worker process."""
    arch, rules = _WORKER.arch, _WORKER.rules
    if _WORKER.error or arch is None or rules is None:
        return [_Done(cap, None, _WORKER.error or "worker not started") for cap in caps]
    return [_clean_one(arch, rules, cap, _WORKER.detail) for cap in caps]


def _worker_died(cap: Capture) -> _Done:
    """The answer for a capture that killed the cleaning worker twice."""
    return _Done(cap, None, "the cleaning worker died on this page")


class _Cleaner:
    """Cleans captures in order: inline, or in a pool of worker processes (archive.workers)."""

    def __init__(self, arch: Archive, rules: Ruleset, rules_dir: str | None, jobs: int, detail: bool) -> None:
        self.arch, self.rules, self.detail = arch, rules, detail
        self.pool: OrderedPool[Capture, _Done] | None = None
        if jobs > 1:
            try:
                self.pool = OrderedPool(
                    jobs,
                    work=_worker_clean,
                    died=_worker_died,
                    initializer=_worker_init,
                    initargs=(arch.path, rules_dir, rules.info.digest, detail),
                    ready=_worker_ready,
                )
            except WorkersDidNotStart as exc:
                raise RuntimeError(
                    exc.reason
                    or "the re-clean worker processes could not start; a script that calls reclean() "
                    'with jobs > 1 must do so under `if __name__ == "__main__":` (workers import it)'
                ) from None

    def close(self) -> None:
        """Stop the workers."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def run(self, capture_ids: Iterable[str]) -> Iterator[_Done]:
        """Clean the captures, yielding their results in the order given."""
        caps = (cap for cap in map(self.arch.capture, capture_ids) if cap is not None)
        if self.pool is None:
            for cap in caps:
                yield _clean_one(self.arch, self.rules, cap, self.detail)
        else:
            yield from self.pool.run(caps)


# ----------------------------------------------------------------------------- the run


def _resolve_rules(rules: Ruleset | str | os.PathLike[str] | None) -> tuple[Ruleset, str | None]:
    """The ruleset and the user rules folder it came from (None: shipped rules or a given Ruleset)."""
    if isinstance(rules, Ruleset):
        return rules, None
    rules_dir = str(Path(rules).resolve()) if rules is not None else None
    return load_rules(rules_dir), rules_dir


def _scope(
    arch: Archive,
    refs: Sequence[str] | None,
    by_key: dict[str, set[str]],
    groups: _Groups,
    report: RecleanReport,
    force: bool,
) -> list[str]:
    """The ids of the newest captures to clean, in capture order; fills the report's scope counts."""
    keys: set[str] | None = None
    if refs:
        keys = set()
        wanted = set()
        for ref in refs:
            if not is_reference(ref):
                report.failed.append((ref, "not a cable reference ID (e.g. 08ASTANA611)"))
            elif not arch.has_cable(ref):
                report.failed.append((ref, f"no such cable in {arch.path}"))
            else:
                wanted.add(ref)
        keys = {k for k, got in by_key.items() if got & wanted}
    todo: list[tuple[str, int, str]] = []
    digest = report.rules.digest
    for n, cap in enumerate(arch.captures(newest_per_url=True)):
        key = source_key(cap.final_url or cap.url) if keys is not None else None
        if keys is not None and key not in keys:
            continue
        report.captures += 1
        if not force and cap.cleaned == digest:
            report.skipped += 1
            continue
        todo.append((groups.of(key or source_key(cap.final_url or cap.url)), n, cap.capture_id))
    # Pages that gave the same cable are cleaned one after the other, so that they are
    # committed together: one new version per cable, as the dry run predicts.
    todo.sort()
    return [cid for _group_key, _n, cid in todo]


class _Groups:
    """Pages that gave a common cable, transitively, form a group: a group is committed whole."""

    def __init__(self, by_key: dict[str, set[str]]) -> None:
        self.by_key = by_key
        self.parent: dict[str, str] = {}
        for refs in by_key.values():
            if len(refs) > 1:
                first, *rest = sorted(refs)
                for ref in rest:
                    self._union(first, ref)

    def _find(self, ref: str) -> str:
        root = ref
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while ref != root:  # path compression
            self.parent[ref], ref = root, self.parent.get(ref, root)
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def of(self, key: str) -> str:
        """The group of the page with this source key ("" when it gave no cable before)."""
        refs = self.by_key.get(key)
        return self._find(min(refs)) if refs else ""


def reclean(
    arch: Archive,
    rules: Ruleset | str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    jobs: int | None = None,
    refs: Sequence[str] | None = None,
    progress: CountedProgress | None = None,
    *,
    force: bool = False,
    detail: bool | None = None,
    wait: float | None = None,
) -> RecleanReport:
    """Re-clean the newest capture of every URL under the current rules; never touches the network.

    `rules` is a user rules folder layered over the shipped rules (or a loaded Ruleset,
    which runs in this process only). With `dry_run` nothing is written and the report
    says which cables would change, by how much. `refs` limits the run to the captures
    that gave those cables. `force` re-cleans captures already cleaned under these rules.
    `detail` (default: on for dry runs) computes the size and kind of each text change.
    `progress(stage, done, total)` is called as captures are cleaned. With jobs > 1 the
    workers are new processes that import the caller's main module, so a script calling
    this must do so under `if __name__ == "__main__":`.
    """
    started = time.monotonic()
    ruleset, rules_dir = _resolve_rules(rules)
    if jobs is None:
        jobs = default_jobs()
    if rules_dir is None and rules is not None:
        jobs = 1  # a Ruleset object cannot be sent to worker processes
    detail = dry_run if detail is None else detail
    report = RecleanReport(dry_run=dry_run, rules=ruleset.info)
    by_key = index.refs_by_key(arch.conn)
    groups = _Groups(by_key)
    todo = _scope(arch, refs, by_key, groups, report, force)
    total = len(todo)
    if progress:
        progress("cleaning", 0, total)
    if not todo:
        report.seconds = time.monotonic() - started
        return report
    # Workers start before the archive is locked: if they cannot, nothing is held or written.
    cleaner = _Cleaner(arch, ruleset, rules_dir, max(1, min(jobs, total)), detail)
    writer: Writer | None = None
    if not dry_run:
        args = {
            "rules": rules_dir,
            "ruleset": ruleset.info.to_json(),
            "jobs": jobs,
            "refs": list(refs or []),
            "force": force,
        }
        try:
            writer = arch.writer(kind="reclean", args=args, wait=wait)
        except BaseException:
            cleaner.close()
            raise
        report.run_id = writer.run_id
    staged: dict[tuple[str, str], tuple[str, str]] = {}
    try:
        since_commit, last_commit, last_group = 0, time.monotonic(), None
        for n, done in enumerate(cleaner.run(todo), 1):
            key = source_key(done.cap.final_url or done.cap.url)
            group = groups.of(key)
            # Commit now and then, but never between two pages of the same cable.
            if (
                writer is not None
                and group != last_group
                and (
                    since_commit >= COMMIT_PAGES
                    or writer.pending >= COMMIT_STAGED
                    or time.monotonic() - last_commit >= COMMIT_SECONDS
                )
            ):
                report.versions.update(writer.commit().versions)
                since_commit, last_commit = 0, time.monotonic()
            last_group = group if group else None
            _take(done, key, report, by_key, staged, writer)
            since_commit += 1
            if progress and (n == total or n % 16 == 0):
                progress("cleaning", n, total)
        if writer is not None:
            report.versions.update(writer.commit().versions)
            writer.counts.update(
                skipped=report.skipped,
                cleaned=report.cleaned,
                pages_without_cable=report.pages_without_cable,
                **{c.replace(" ", "_"): report.count(c) for c in CHANGES},
            )
            writer.close()
    except BaseException as exc:
        if writer is not None:
            writer.abort(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        cleaner.close()
    report.seconds = time.monotonic() - started
    return report


def _take(
    done: _Done,
    key: str,
    report: RecleanReport,
    by_key: dict[str, set[str]],
    staged: dict[tuple[str, str], tuple[str, str]],
    writer: Writer | None,
) -> None:
    """Account for one cleaned capture and, in a real run, hand it to the writer."""
    url = done.cap.final_url or done.cap.url
    if done.result is None:
        report.failed.append((url, done.error or "not cleaned"))
        if writer is not None:
            writer.record_failure(url, done.error or "not cleaned")
        return
    result = done.result
    report.cleaned += 1
    if not result.cables:
        report.pages_without_cable += 1
    report.cables_without_id += sum(1 for c in result.cables if c.reference_id is None)
    for out in done.outcomes:
        pair = (out.ref, out.key)
        # A page reached under two URLs (a redirect) is staged once with a given text.
        if staged.get(pair) == (out.text_digest, out.meta_digest):
            continue
        staged[pair] = (out.text_digest, out.meta_digest)
        report.outcomes.append(out)
    found = {c.reference_id for c in result.cables if c.reference_id}
    for ref in sorted(by_key.get(key, set()) - found):
        report.outcomes.append(CableOutcome(ref, url, key, LOST))
    if writer is not None:
        writer.record(done.cap, result)
