"""One crawl's state and its link to the archive: seeds, frontier, journal, writer, cleaning workers.

Threads: the reactor runs Scrapy and the spider; one writer thread makes every call on the
archive writer (captures, records, commits, journal), so the writer is only ever used from
one thread; one reader thread, with its own Archive handle, answers conditional-header and
stored-body look-ups. Cleaning and link extraction run in worker processes (crawler.analysis).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from archive import Archive, ArchiveError
from archive.errors import DiskFull
from crawler.analysis import Analyser, PageAnalysis, PageJob, default_workers
from crawler.discovery import classify, follow_links, probe_urls, robots_sitemaps, site_key
from crawler.frontier import Frontier, Target
from crawler.items import CaptureItem
from crawler.journal import Done, Journal, Record, SiteAdded
from crawler.report import CrawlReport, ProgressDisplay
from crawler.safety import UrlPolicy
from crawler.seeds import Seeds, SeedsFileError, read_seeds

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

T = TypeVar("T")
logger = logging.getLogger(__name__)

DEFAULT_DEPTH = 3


@dataclass
class CrawlOptions:
    """What the user asked for: seeds file, depth and page limits, resume."""

    seeds: str
    depth: int = DEFAULT_DEPTH
    max_pages: int | None = None
    resume: bool = False


def archive_dir_from(settings: Any) -> str:
    """The archive folder: CABLEARCHIVE_ARCHIVE, else $CABLEARCHIVE_DIR, else ./archive."""
    return settings.get("CABLEARCHIVE_ARCHIVE") or os.environ.get("CABLEARCHIVE_DIR") or "archive"


def future_to_deferred(fut: concurrent.futures.Future[T]) -> Deferred[T]:
    """A Deferred that fires on the reactor thread when a concurrent future completes."""
    d: Deferred[T] = Deferred()

    def fire(f: concurrent.futures.Future[T]) -> None:
        if d.called:
            return
        exc = f.exception()
        if exc is not None:
            d.errback(exc)
        else:
            d.callback(f.result())

    from twisted.internet import reactor  # not at import time: Scrapy installs the reactor it wants first

    fut.add_done_callback(lambda f: reactor.callFromThread(fire, f))
    return d


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Scrapy Headers as (name, value) pairs, every value kept."""
    out = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for v in values:
            out.append((key, v.decode("latin-1") if isinstance(v, bytes) else str(v)))
    return out


class CrawlSession:
    """Everything one crawl shares between the spider, the middlewares and the pipeline."""

    def __init__(self, crawler: Crawler, options: CrawlOptions) -> None:
        self.crawler = crawler
        self.options = options
        s = crawler.settings
        self.settings = s
        self.report = CrawlReport()
        self.policy = UrlPolicy(allow_private=s.getbool("CABLEARCHIVE_ALLOW_PRIVATE"))
        self.frontier = Frontier(options.depth, options.max_pages)
        self.archive_dir = archive_dir_from(s)
        self.journal = Journal(Path(self.archive_dir) / "state" / "crawl")
        self.commit_pages = max(1, s.getint("CABLEARCHIVE_COMMIT_PAGES", 200))
        self.commit_seconds = max(0.1, s.getfloat("CABLEARCHIVE_COMMIT_SECONDS", 30.0))
        workers = s.getint("CABLEARCHIVE_CLEAN_WORKERS", -1)
        self.workers = default_workers() if workers < 0 else workers
        self.seeds: Seeds | None = None
        self.writer: Any = None
        self._reader_arch: Archive | None = None
        self.analyser: Analyser | None = None
        self._wx = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cablearchive-writer")
        self._rx = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cablearchive-reader")
        self._pending: list[Record] = []
        self._pending_pages = 0
        self._last_commit = time.monotonic()
        self._commit_queued = False
        self._batch = 0
        self.show_progress = s.getbool("CABLEARCHIVE_PROGRESS")
        self.progress = ProgressDisplay(
            self.report, interval=s.getfloat("CABLEARCHIVE_PROGRESS_INTERVAL", 10.0)
        )
        self._ticker: LoopingCall | None = None
        self._probed: set[str] = set()
        self.robots: Any = None  # the robots.txt middleware, when ROBOTSTXT_OBEY is on
        self.robots_refused = 0  # requests the robots middleware refused (the rest are never scheduled)
        self.closed = False

    # ------------------------------------------------------------------ threads
    def _in_writer(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        return future_to_deferred(self._wx.submit(fn, *args))

    def _in_reader(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        return future_to_deferred(self._rx.submit(fn, *args))

    # ------------------------------------------------------------------ opening
    async def open(self) -> list[Target]:
        """Read seeds, take the archive, load or start the journal; the targets to fetch first."""
        try:
            self.seeds = read_seeds(self.options.seeds)
        except SeedsFileError as exc:
            self.report.fatal = str(exc)
            return []
        for err in self.seeds.errors:
            self.report.fail(
                f"{self.seeds.path}:{err.line}", f"seed skipped: {err.reason}: {err.text[:200]!r}"
            )
        if not self.seeds.urls:
            self.report.fatal = f"{self.seeds.path}: no usable URL (one http or https URL a line)"
            return []
        for url in self.seeds.urls:
            self.policy.trust(url)
            self.frontier.add_site(url)
        try:
            await maybe_deferred_to_future(self._in_writer(self._open_writer))
        except (ArchiveError, OSError) as exc:
            self.report.fatal = f"archive {self.archive_dir}: {exc}"
            return []
        resume = False
        if self.options.resume:
            resume = self.journal.resumable()
            if not resume:
                self.note(
                    str(self.journal.folder), "--resume: no interrupted crawl to resume; starting a new one"
                )
        targets = await maybe_deferred_to_future(self._in_writer(self._start_journal, resume))
        self.analyser = Analyser(self.workers)
        if self.show_progress:
            self.progress.start()
        self._ticker = LoopingCall(self._tick)
        self._ticker.start(0.5, now=False)
        return targets

    def _open_writer(self) -> None:
        arch = Archive.open_or_create(self.archive_dir)
        args = {
            "seeds": os.path.abspath(self.options.seeds),
            "seed_urls": len(self.seeds.urls) if self.seeds else 0,
            "depth": self.options.depth,
            "max_pages": self.options.max_pages,
            "resume": self.options.resume,
            "user_agent": self.settings.get("USER_AGENT"),
            "robots": self.settings.getbool("ROBOTSTXT_OBEY"),
        }
        self.writer = arch.writer(
            kind="crawl", args=args, wait=self.settings.getfloat("CABLEARCHIVE_LOCK_WAIT", 0.0)
        )
        self.report.run_ids.append(self.writer.run_id)

    def _start_journal(self, resume: bool) -> list[Target]:
        # A page of a batch cut short by a kill is done when the archive kept its capture: an
        # archive commit is all or nothing, so its cables and "cleaned" marks were kept with it.
        targets = self.frontier.restore(self.journal, self._captured) if resume else []
        job = {
            "seeds": os.path.abspath(self.options.seeds),
            "depth": self.options.depth,
            "max_pages": self.options.max_pages,
            "runs": [*((self.journal.job() or {}).get("runs", []) if resume else []), self.writer.run_id],
        }
        self.journal.start(job, resume)
        records: list[Record] = []
        assert self.seeds is not None
        for url in self.seeds.urls:
            seed = Target(url, classify(url), 0, seed=True)
            if self.frontier.admit(seed):
                targets.append(seed)
                records.append(seed.record())
            records.extend(self._probes(url, targets))
        records.extend(SiteAdded(s) for s in sorted(self.frontier.sites))
        self.journal.append(records)
        return targets

    def _probes(self, url: str, targets: list[Target]) -> list[Record]:
        """robots.txt and /sitemap.xml of a site, once per site."""
        site = site_key(url)
        if site is None or site in self._probed:
            return []
        self._probed.add(site)
        out: list[Record] = []
        # With robots.txt obeyed, the robots middleware reads it (and its Sitemap: lines) anyway.
        for link in probe_urls(url, robots=not self.settings.getbool("ROBOTSTXT_OBEY")):
            probe = Target(link.url, link.kind, 0, probe=True)
            if self.frontier.admit(probe):
                targets.append(probe)
                out.append(probe.record())
        return out

    def add_site(self, url: str) -> list[Target]:
        """Bring a seed's redirect target site into scope; its probes, to schedule."""
        before = set(self.frontier.sites)
        key = self.frontier.add_site(url)
        if key is None or key in before:
            return []
        targets: list[Target] = []
        records: list[Record] = [SiteAdded(key), *self._probes(url, targets)]
        self._wx.submit(self._pending.extend, records)
        return targets

    # ------------------------------------------------------------------ robots.txt
    def robots_allowed(self, url: str) -> bool:
        """False when the site's robots.txt, already read, disallows `url`."""
        if self.robots is None:
            return True
        try:
            return self.robots.allowed(url, urlsplit(url).netloc)
        except ValueError:
            return True

    async def robots_fetched(self, response: Any, rules: bytes) -> None:
        """Archive a robots.txt the robots middleware fetched, and follow its Sitemap: lines."""
        url = response.url
        self.frontier.mark_seen(url)
        self.report.add(pages=1, **({"not_modified": 1} if response.status == 304 else {"full_bodies": 1}))
        journal: list[Record] = []
        spider = self.crawler.spider
        engine = self.crawler.engine
        if response.status in (200, 304) and spider is not None and engine is not None:
            links = follow_links(robots_sitemaps(rules, url), frozenset(self.frontier.sites))
            for child in self.frontier.children(links, 0):
                child = Target(child.url, child.kind, child.depth, probe=True)
                journal.append(child.record())
                engine.crawl(spider.request_for(child))
        journal.append(Done(url))
        result = None
        if self.analyser is not None and (response.status != 304 or rules):
            body = rules if response.status == 304 else response.body
            job = PageJob(
                url,
                200 if response.status == 304 else response.status,
                header_pairs(response.headers),
                body,
                None,
                frozenset(),
                links=False,
            )
            result = (await self.analyse(job)).result
        item = CaptureItem(
            url=url,
            final_url=url,
            status=response.status,
            headers=header_pairs(response.headers),
            body=response.body,
            request_headers=header_pairs(response.request.headers),
            fetched_at=response.meta.get("fetched_at") or time.time(),
            protocol=response.protocol or "HTTP/1.1",
            result=result,
            journal=journal,
        )
        if not self.closed:
            self.store(item)

    # ------------------------------------------------------------------ archive look-ups
    def _reader(self) -> Archive:
        if self._reader_arch is None:
            self._reader_arch = Archive.open(self.archive_dir)
        return self._reader_arch

    def _conditional_sync(self, url: str) -> dict[str, str]:
        try:
            return self._reader().conditional_headers(url)
        except (ArchiveError, OSError, ValueError) as exc:
            self.note(url, f"no conditional request: archive look-up failed ({exc})")
            return {}
        except Exception as exc:  # sqlite3 errors and the like: fetch in full rather than fail
            self.note(url, f"no conditional request: archive look-up failed ({type(exc).__name__}: {exc})")
            return {}

    async def conditional_headers(self, url: str) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for `url` from its newest archived capture."""
        if self.closed:
            return {}
        return await maybe_deferred_to_future(self._in_reader(self._conditional_sync, url))

    def _stored_sync(self, url: str) -> tuple[list[tuple[str, str]], bytes] | None:
        try:
            arch = self._reader()
            cap = arch.newest_capture(url, status=200)
            if cap is None:
                return None
            _status, headers, body = arch.read_capture(cap)
            return headers, body
        except Exception as exc:  # a damaged capture costs this page's links, not the crawl
            self.note(url, f"304 Not Modified, but the stored copy could not be read for links ({exc})")
            return None

    async def stored_page(self, url: str) -> tuple[list[tuple[str, str]], bytes] | None:
        """Headers and body of the archived copy of `url` (a 304 says it is still current)."""
        return await maybe_deferred_to_future(self._in_reader(self._stored_sync, url))

    # ------------------------------------------------------------------ cleaning
    async def analyse(self, job: PageJob) -> PageAnalysis:
        """Clean the page and find its links in a worker process."""
        assert self.analyser is not None
        return await maybe_deferred_to_future(future_to_deferred(self.analyser.submit(job)))

    # ------------------------------------------------------------------ storing
    def store(self, item: CaptureItem) -> Deferred[None]:
        """Write a capture and its cables (in the writer thread); commits every so often."""
        return self._in_writer(self._store_sync, item)

    def _store_sync(self, item: CaptureItem) -> None:
        w = self.writer
        if w is None or self.report.fatal:
            return
        try:
            cap = w.add_capture(
                item.url,
                item.status,
                item.headers,
                item.body,
                final_url=item.final_url if item.final_url != item.url else None,
                request_headers=item.request_headers,
                fetched_at=item.fetched_at,
                method=item.method,
                protocol=item.protocol,
            )
        except DiskFull as exc:
            self._fatal(str(exc))
            return
        except (ArchiveError, OSError, ValueError) as exc:
            self.report.fail(item.final_url, f"not archived: {exc}")
            w.record_failure(item.final_url, f"not archived: {exc}")
            return
        self.report.add(captures=1)
        if item.result is not None:
            try:
                w.record(cap, item.result)
            except DiskFull as exc:
                self._fatal(str(exc))
                return
            except (ArchiveError, OSError, ValueError) as exc:
                self.report.fail(item.final_url, f"cables not recorded: {exc}")
                w.record_failure(item.final_url, f"cables not recorded: {exc}")
            cables = item.result.cables
            if cables:
                without = sum(1 for c in cables if c.reference_id is None)
                self.report.add(
                    pages_with_cables=1, cables_without_id=without, cables_found=len(cables) - without
                )
        self._pending.extend(item.journal)
        self._pending_pages += 1
        if (
            self._pending_pages >= self.commit_pages
            or time.monotonic() - self._last_commit >= self.commit_seconds
        ):
            self._commit()

    def record_failure(self, url: str, reason: str) -> None:
        """Report an input that failed, and keep it in the run record."""
        self.report.fail(url, reason)
        if self.writer is not None:
            self._wx.submit(self._record_failure_sync, url, reason)

    def _record_failure_sync(self, url: str, reason: str) -> None:
        if self.writer is not None and not self.writer.closed:
            self.writer.record_failure(url, reason)

    def note(self, url: str, reason: str) -> None:
        """Report something worth knowing that is not a failure, and keep it in the run record."""
        self.report.note(url, reason)
        if self.writer is not None:
            self._wx.submit(self._record_note_sync, url, reason)

    def _record_note_sync(self, url: str, reason: str) -> None:
        if self.writer is not None and not self.writer.closed:
            self.writer.record_note(url, reason)

    def _captured(self, run: str, urls: list[str]) -> set[str]:
        """Which of `urls` have a capture written by `run` (pages of a commit a kill cut short)."""
        return {url for url in urls if self._run_capture(run, url) is not None}

    def _run_capture(self, run: str, url: str) -> Any:
        cap = self.writer.arch.newest_capture(url)
        if cap is not None and os.path.basename(cap.warc_file).startswith(run):
            return cap
        return None

    def _commit(self) -> None:
        """Commit in the writer thread; the journal batch around it says what the commit made durable."""
        self._commit_queued = False
        w = self.writer
        if w is None or w.closed or self.report.fatal:
            return
        self._batch += 1
        self.journal.begin_batch(self._batch, w.run_id, self._pending)
        try:
            result = w.commit()
        except (ArchiveError, OSError) as exc:
            self._fatal(f"commit failed: {exc}")
            return
        self.report.add(
            cables_new=len(result.new),
            cables_changed=len(result.changed),
            cables_unchanged=len(result.unchanged),
            commits=1,
        )
        self.journal.end_batch(self._batch)
        self._pending = []
        self._pending_pages = 0
        self._last_commit = time.monotonic()

    def _fatal(self, reason: str) -> None:
        """Stop the crawl: the archive cannot take more (disk full, a failed commit)."""
        from twisted.internet import reactor

        if not self.report.fatal:
            self.report.fatal = reason
            reactor.callFromThread(self._stop_crawl)

    def _stop_crawl(self) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="archive error"))

    # ------------------------------------------------------------------ progress
    def _tick(self) -> None:
        self.report.queued = max(0, self.frontier.pages - self.report.pages)
        self.report.robots_skipped = self.robots_refused + self.frontier.disallowed
        if self.show_progress:
            self.progress.tick()
        if (
            not self._commit_queued
            and self._pending_pages
            and time.monotonic() - self._last_commit >= self.commit_seconds
        ):
            self._commit_queued = True
            self._wx.submit(self._commit)

    # ------------------------------------------------------------------ closing
    async def close(self, reason: str) -> None:
        """Final commit, journal marked finished or interrupted, writer closed, workers stopped."""
        if self.closed:
            return
        self.closed = True
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        self.report.queued = 0
        try:
            await maybe_deferred_to_future(self._in_writer(self._close_sync, reason))
        finally:
            self.progress.stop()
            if self.analyser is not None:
                # Waiting for the workers to exit blocks: not on the reactor thread.
                await maybe_deferred_to_future(threads.deferToThread(self.analyser.close))
            self._rx.submit(self._close_reader)
            self._rx.shutdown(wait=False)
            self._wx.shutdown(wait=False)
            self.report.finish_reason = reason
            self.report.ended = time.time()
            self.report.robots_skipped = self.robots_refused + self.frontier.disallowed
            if self.frontier.dropped_for_limit:
                self.note(
                    "--max-pages",
                    f"limit of {self.options.max_pages} pages reached; "
                    f"{self.frontier.dropped_for_limit} more links not followed",
                )
            self._save_report()
            logger.info("crawl %s: %s", reason, self.report.summary_line())
            for problem in self.report.failures:
                logger.warning("failed: %s", problem)

    @property
    def report_path(self) -> Path | None:
        """Where the whole report of this crawl is kept (state/crawl/<run>.report.json)."""
        if not self.report.run_ids:
            return None
        return self.journal.folder / f"{self.report.run_ids[-1]}.report.json"

    def _save_report(self) -> None:
        path = self.report_path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(
                json.dumps(self.report.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning("could not write %s: %s", path, exc)

    def _close_reader(self) -> None:
        if self._reader_arch is not None:
            self._reader_arch.close()

    def _close_sync(self, reason: str) -> None:
        w = self.writer
        finished = reason == "finished" and not self.report.fatal
        if w is not None and not w.closed:
            if self.report.fatal:
                w.abort(self.report.fatal)
            else:
                try:
                    self._commit()
                    w.close()
                except (ArchiveError, OSError) as exc:
                    self.report.fatal = f"closing the run failed: {exc}"
                    finished = False
        if self.journal.started:
            self.journal.finish("finished" if finished else "interrupted", {"last_reason": reason})
