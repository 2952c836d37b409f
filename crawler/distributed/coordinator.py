"""The coordinator of a distributed crawl: the job in Redis, the archive's one writer, progress, the report.

`run_coordinator(...)` puts the job and the seeds into Redis (or, with resume, takes the
unfinished job it finds there), then until the crawl is over: hands expired leases back to the
queues, ingests the spool files the workers closed, in fetch-time order within each batch, as
`import-warc` does (each record read and checked by archive.transfer's reader, stored with the
writer's add_capture and record), commits, and only then marks the files ingested in Redis. A
coordinator killed at any moment resumes with `--resume`: what was committed is in the archive
(a capture committed but not yet marked is recognised and not stored twice), the rest is still
in the spool and in Redis.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive import Archive, ArchiveError, Writer, index
from archive.captures import payload_digest, safe_url, to_iso
from archive.layout import Layout
from archive.transfer import iter_warc_records
from crawler.discovery import classify, probe_urls, url_key
from crawler.distributed.cluster import Cluster, ClusterError, JobConfig
from crawler.distributed.spool import (
    OPEN_PREFIX,
    OPEN_SUFFIX,
    page_result_from_json,
    read_sidecar,
    sidecar_path,
)
from crawler.frontier import Target
from crawler.journal import write_json_atomic
from crawler.report import CrawlReport, ProgressDisplay
from crawler.runner import build_settings
from crawler.seeds import SeedsFileError, read_seeds
from crawler.spiders.mirrors import user_agent

logger = logging.getLogger(__name__)

SPOOL_FOLDER = "spool"  # inside the archive's crawl state folder, unless --spool says otherwise


@dataclass
class WorkerFigures:
    """What one worker brought, as the coordinator archived it."""

    files: int = 0
    pages: int = 0
    captures: int = 0
    duplicates: int = 0
    bytes: int = 0
    failures: int = 0
    first: float | None = None
    last: float | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WorkerFigures:
        """The figures kept in Redis."""
        return cls(
            files=int(d.get("files", 0)),
            pages=int(d.get("pages", 0)),
            captures=int(d.get("captures", 0)),
            duplicates=int(d.get("duplicates", 0)),
            bytes=int(d.get("bytes", 0)),
            failures=int(d.get("failures", 0)),
            first=d.get("first_fetch"),
            last=d.get("last_fetch"),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, with the worker's fetch rate."""
        span = (self.last - self.first) if self.first is not None and self.last is not None else 0.0
        return {
            "files": self.files,
            "pages": self.pages,
            "captures": self.captures,
            "duplicates": self.duplicates,
            "bytes": self.bytes,
            "failures": self.failures,
            "first_fetch": self.first,
            "last_fetch": self.last,
            "pages_per_second": round(self.pages / span, 3) if span > 0 else None,
        }


@dataclass
class ClusterReport:
    """The crawl report of the whole cluster, with per-worker figures and the writer's ingest rate."""

    report: CrawlReport = field(default_factory=CrawlReport)
    workers: dict[str, WorkerFigures] = field(default_factory=dict)
    redis: str = ""
    ingest_seconds: float = 0.0
    duplicates: int = 0
    resumed: bool = False

    def worker(self, name: str) -> WorkerFigures:
        """The figures of one worker."""
        return self.workers.setdefault(name, WorkerFigures())

    def to_json(self) -> dict[str, Any]:
        """The report as JSON: the crawl's report plus `cluster`."""
        data = self.report.to_json()
        data["cluster"] = {
            "redis": self.redis,
            "resumed": self.resumed,
            "duplicates_dropped": self.duplicates,
            "ingest_seconds": round(self.ingest_seconds, 3),
            "ingest_captures_per_second": round(self.report.captures / self.ingest_seconds, 1)
            if self.ingest_seconds > 0
            else None,
            "workers": {k: v.to_json() for k, v in sorted(self.workers.items())},
        }
        return data


def spool_folder(archive: str) -> str:
    """The default spool folder of an archive's distributed crawl."""
    return str(Path(Layout.at(archive).crawl_state_dir) / SPOOL_FOLDER)


def _new_job(cluster: Cluster, config: JobConfig, report: CrawlReport) -> None:
    """Forget any previous crawl in Redis; put in the job, the seeds' sites and the seeds (then their sitemaps)."""
    cluster.clear()
    cluster.start_job(config)
    targets: list[Target] = []
    for url in config.seed_urls:
        cluster.add_site(url)
    for url in config.seed_urls:
        targets.append(Target(url, classify(url), 0, seed=True))
        # robots.txt is not queued: the first take of a site is its robots.txt (see cluster).
        targets += [Target(link.url, link.kind, 0, probe=True) for link in probe_urls(url, robots=False)]
    cluster.admit(targets, config.max_pages)


class Coordinator:
    """One coordinator session: a writer run on the archive, ingesting what the workers spool."""

    def __init__(
        self, cluster: Cluster, config: JobConfig, arch: Archive, writer: Writer, out: ClusterReport
    ) -> None:
        self.cluster = cluster
        self.config = config
        self.arch = arch
        self.w = writer
        self.out = out
        self.report = out.report
        self.archived = cluster.archived()
        self.ingested = cluster.ingested()
        for name, fig in cluster.figures().items():
            out.workers.setdefault(name, WorkerFigures.from_json(fig))
        self._files_pos = 0
        # Ingested, not yet committed: committed every so many pages or seconds, as a crawl commits.
        self._names: list[str] = []
        self._keys: list[str] = []
        self._pages = 0
        self._last_commit = time.monotonic()
        self.commit_pages = 200
        self.commit_seconds = 30.0
        self.keep_spool = False

    def pending_files(self) -> list[str]:
        """Files closed by workers and not yet ingested, in the order they were closed."""
        names = self.cluster.files(self._files_pos)
        self._files_pos += len(names)
        return [n for n in names if n not in self.ingested]

    def ingest(self, names: list[str]) -> None:
        """Archive the captures of these spool files (one commit), then mark them ingested."""
        t0 = time.perf_counter()
        entries: list[tuple[float, str, dict[str, Any], bytes]] = []
        for name in names:
            path = Path(self.config.spool) / name
            try:
                side = read_sidecar(sidecar_path(path))
            except (OSError, ValueError) as exc:
                self._fail(name, f"spool file unreadable ({exc}); its pages are not archived")
                continue
            worker = str(side.get("worker", "?"))
            fig = self.out.worker(worker)
            fig.files += 1
            for p in side.get("problems", []):
                kind, url, reason = p.get("kind"), str(p.get("url")), str(p.get("reason"))
                if kind == "failure":
                    self._fail(url, reason)
                    fig.failures += 1
                elif kind == "broken":
                    self.report.broken_link(url, reason)
                else:
                    self.report.note(url, reason)
            counts = side.get("counts", {})
            self.report.add(
                not_modified=int(counts.get("not_modified", 0)), retried=int(counts.get("retried", 0))
            )
            records = side.get("records", {})
            bad: list[str] = []
            for record in iter_warc_records(str(path), bad):
                if record.rec_type != "response":
                    continue
                meta = records.get(record.header("WARC-Record-ID"))
                if meta is None:
                    continue
                # The payload as stored: the body as the worker received it (codings undone by
                # Scrapy, their headers renamed in the record).
                entries.append((float(meta["fetched_at"]), worker, meta, record.payload))
            for b in bad:
                self._fail(name, b)
        entries.sort(key=lambda e: e[0])
        keys: list[str] = []
        for fetched_at, worker, meta, body in entries:
            fig = self.out.worker(worker)
            fig.pages += 1
            fig.bytes += len(body)
            fig.first = fetched_at if fig.first is None else min(fig.first, fetched_at)
            fig.last = fetched_at if fig.last is None else max(fig.last, fetched_at)
            self.report.add(pages=1, full_bodies=1)
            key = url_key(meta["url"])
            iso = to_iso(fetched_at)
            if key in self.archived or index.has_capture(
                self.arch.conn, safe_url(meta["url"]), iso, payload_digest(body)
            ):
                # Fetched twice (a lease that expired under a slow worker) or committed before a kill.
                fig.duplicates += 1
                self.out.duplicates += 1
                continue
            if self._store(meta, body, iso):
                fig.captures += 1
            self.archived.add(key)
            keys.append(key)
        self._names += names
        self._keys += keys
        self._pages += len(entries)
        self.ingested.update(names)
        if self._pages >= self.commit_pages or time.monotonic() - self._last_commit >= self.commit_seconds:
            self.commit()
        self.out.ingest_seconds += time.perf_counter() - t0

    def commit(self) -> None:
        """Commit what was ingested, then mark its files ingested in Redis (so a kill loses nothing)."""
        if not self._names:
            return
        t0 = time.perf_counter()
        result = self.w.commit()
        self.report.add(
            cables_new=len(result.new),
            cables_changed=len(result.changed),
            cables_unchanged=len(result.unchanged),
            commits=1,
        )
        self.cluster.mark_ingested(self._names, self._keys)
        if not self.keep_spool:
            # Archived and marked: the spool's copy is no longer needed by anyone.
            for name in self._names:
                for path in (Path(self.config.spool) / name, sidecar_path(Path(self.config.spool) / name)):
                    with contextlib.suppress(OSError):
                        path.unlink()
        # Kept with each commit: a resumed coordinator goes on from them.
        self.cluster.save_figures({k: v.to_json() for k, v in self.out.workers.items()})
        self._names, self._keys, self._pages = [], [], 0
        self._last_commit = time.monotonic()
        self.out.ingest_seconds += time.perf_counter() - t0

    def _store(self, meta: dict[str, Any], body: bytes, fetched_at: str) -> bool:
        """One capture and its cables, as the crawl's archive pipeline stores them."""
        url, final = str(meta["url"]), str(meta["final_url"])
        try:
            cap = self.w.add_capture(
                url,
                int(meta["status"]),
                [(str(k), str(v)) for k, v in meta["headers"]],
                body,
                final_url=final if final != url else None,
                request_headers=[(str(k), str(v)) for k, v in meta.get("request_headers", [])],
                fetched_at=fetched_at,
                method=str(meta.get("method", "GET")),
                protocol=str(meta.get("protocol", "HTTP/1.1")),
            )
        except (ArchiveError, OSError, ValueError) as exc:
            self._fail(final, f"not archived: {exc}")
            return False
        self.report.add(captures=1)
        if meta.get("result") is not None:
            result = page_result_from_json(meta["result"])
            try:
                self.w.record(cap, result)
            except (ArchiveError, OSError, ValueError) as exc:
                self._fail(final, f"cables not recorded: {exc}")
            cables = result.cables
            if cables:
                without = sum(1 for c in cables if c.reference_id is None)
                self.report.add(
                    pages_with_cables=1, cables_without_id=without, cables_found=len(cables) - without
                )
        return True

    def _fail(self, url: str, reason: str) -> None:
        self.report.fail(url, reason)
        self.w.record_failure(url, reason)

    def step(self) -> bool:
        """Reap, ingest what is ready; True when the crawl is over (nothing queued, leased or waiting)."""
        self.cluster.reap()
        idle = self.cluster.idle()  # before reading the files: a completed lease lists its file first
        names = self.pending_files()
        if names:
            self.ingest(names)
        counts = self.cluster.counts()
        self.report.queued = max(0, counts["scheduled"] - len(self.archived))
        if idle and not names:
            self.commit()
            return True
        return False


def run_coordinator(
    seeds: str,
    archive: str,
    redis_url: str,
    *,
    depth: int,
    max_pages: int | None = None,
    resume: bool = False,
    overrides: dict[str, str] | None = None,
    progress: bool = True,
    spool: str | None = None,
    poll: float = 0.2,
) -> ClusterReport:
    """Run a distributed crawl's coordinator until the workers have fetched everything; returns its report."""
    out = ClusterReport(redis=redis_url)
    report = out.report
    settings = build_settings(overrides, archive)
    try:
        cluster = Cluster.at(redis_url)
    except ClusterError as exc:
        report.fatal = str(exc)
        return out
    job = cluster.job()
    if job is not None and job[1] == "running" and not resume:
        report.fatal = (
            f"Redis at {redis_url} holds an unfinished crawl (seeds {job[0].seeds}): "
            "continue it with --resume, or use another Redis database"
        )
        return out
    if resume and (job is None or job[1] != "running"):
        report.note(redis_url, "--resume: no unfinished crawl in Redis; starting a new one")
        resume = False
    if resume and job is not None:
        config = job[0]
        out.resumed = True
    else:
        try:
            parsed = read_seeds(seeds)
        except SeedsFileError as exc:
            report.fatal = str(exc)
            return out
        for err in parsed.errors:
            report.fail(f"{parsed.path}:{err.line}", f"seed skipped: {err.reason}: {err.text[:200]!r}")
        if not parsed.urls:
            report.fatal = f"{parsed.path}: no usable URL (one http or https URL a line)"
            return out
        contact = settings.get("CABLEARCHIVE_CONTACT") or os.environ.get("CABLEARCHIVE_CONTACT", "")
        config = JobConfig(
            seeds=os.path.abspath(seeds),
            depth=depth,
            max_pages=max_pages,
            delay=max(0.0, settings.getfloat("DOWNLOAD_DELAY", 0.5)),
            concurrency=max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 2)),
            lease=max(1.0, settings.getfloat("CABLEARCHIVE_LEASE_SECONDS", 60.0)),
            spool=os.path.abspath(spool or spool_folder(archive)),
            seed_urls=list(parsed.urls),
            allow_private=settings.getbool("CABLEARCHIVE_ALLOW_PRIVATE"),
            user_agent=settings.get("USER_AGENT")
            if "USER_AGENT" in (overrides or {})
            else user_agent(contact),
        )
    try:
        arch = Archive.open_or_create(archive)
        Path(config.spool).mkdir(parents=True, exist_ok=True)
    except (ArchiveError, OSError) as exc:
        report.fatal = f"archive {archive}: {exc}"
        return out
    display = ProgressDisplay(report, interval=settings.getfloat("CABLEARCHIVE_PROGRESS_INTERVAL", 10.0))
    args = {
        "seeds": config.seeds,
        "seed_urls": len(config.seed_urls),
        "depth": config.depth,
        "max_pages": config.max_pages,
        "resume": out.resumed,
        "user_agent": config.user_agent,
        "robots": True,
        "redis": redis_url,
    }
    try:
        writer = arch.writer(kind="crawl", args=args, wait=settings.getfloat("CABLEARCHIVE_LOCK_WAIT", 0.0))
    except (ArchiveError, OSError) as exc:
        report.fatal = f"archive {archive}: {exc}"
        arch.close()
        return out
    report.run_ids = [*cluster.runs(), writer.run_id]
    if not out.resumed:
        _new_job(cluster, config, report)
    cluster.add_run(writer.run_id)
    coord = Coordinator(cluster, config, arch, writer, out)
    coord.commit_pages = max(1, settings.getint("CABLEARCHIVE_COMMIT_PAGES", 200))
    coord.commit_seconds = max(0.1, settings.getfloat("CABLEARCHIVE_COMMIT_SECONDS", 30.0))
    coord.keep_spool = settings.getbool("CABLEARCHIVE_SPOOL_KEEP")
    if progress:
        display.start()
    try:
        while True:
            if coord.step():
                break
            if progress:
                display.tick()
            time.sleep(poll)
        cluster.set_state("finished")
        report.finish_reason = "finished"
        writer.close()
        if not coord.keep_spool:
            # What killed workers left half-written was fetched again by others.
            for path in Path(config.spool).glob(f"{OPEN_PREFIX}*{OPEN_SUFFIX}"):
                with contextlib.suppress(OSError):
                    path.unlink()
    except KeyboardInterrupt:
        report.finish_reason = "shutdown"
        coord.commit()
        writer.close()  # what was ingested is committed; the rest stays in Redis and the spool
    except (ArchiveError, OSError) as exc:
        report.fatal = f"archive {archive}: {exc}"
        report.finish_reason = "archive error"
        writer.abort(str(exc))
    except Exception as exc:  # Redis went away: the archive keeps its last commit, --resume goes on
        report.fatal = f"Redis at {redis_url}: {exc}"
        report.finish_reason = "cluster error"
        writer.abort(str(exc))
    finally:
        display.stop()
        arch.close()
        report.ended = time.time()
        dropped = cluster.counts()["dropped"] if report.finish_reason == "finished" else 0
        if dropped:
            report.note(
                "--max-pages", f"limit of {config.max_pages} pages reached; {dropped} more links not followed"
            )
        report.queued = 0 if report.finish_reason == "finished" else report.queued
        path = Path(Layout.at(archive).crawl_state_dir) / f"{writer.run_id}.report.json"
        try:
            write_json_atomic(path, out.to_json())
            report.full_path = str(path)
        except OSError as exc:
            logger.warning("could not write %s: %s", path, exc)
    return out
