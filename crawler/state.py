"""The crawl's shared state: a Scrapy extension the spider, the middlewares and the pipeline find.

`CrawlState` is built `from_crawler` (it is in EXTENSIONS) for a spider that carries
`crawl_options` (the mirrors spider); other components reach it with
`crawler.get_extension(CrawlState)`. It holds what the crawl knows (seeds, frontier, URL
policy, report), reads the archive through its reader thread (crawler.reader), cleans pages
in worker processes (crawler.analysis) and owns the resume journal's lifetime; the archive
pipeline (crawler.pipelines) writes the journal's batches around its commits.

Threads: the reactor runs Scrapy and the spider; the pipeline's writer thread makes every call
on the archive writer; the reader thread answers look-ups; cleaning and link extraction run in
worker processes.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.task import LoopingCall

from archive import ArchiveError
from archive.layout import Layout
from crawler.analysis import Analyser, PageAnalysis, PageJob, default_workers
from crawler.discovery import classify, probe_urls, site_key
from crawler.frontier import Frontier, Target
from crawler.journal import Journal, Record, SiteAdded
from crawler.reader import ArchiveReader
from crawler.report import CrawlReport, ProgressDisplay
from crawler.safety import UrlPolicy
from crawler.seeds import Seeds, SeedsFileError, read_seeds
from crawler.settings import archive_dir, source_tree_refusal
from crawler.signals import input_failed, input_noted
from crawler.threads import wait_for

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

DEFAULT_DEPTH = 3


@dataclass
class CrawlOptions:
    """What the user asked for: seeds file, depth and page limits, resume."""

    seeds: str
    depth: int = DEFAULT_DEPTH
    max_pages: int | None = None
    resume: bool = False


def archive_dir_from(settings: BaseSettings) -> str:
    """The archive folder: CABLEARCHIVE_ARCHIVE, else $CABLEARCHIVE_DIR, else ./archive."""
    return archive_dir(settings.get("CABLEARCHIVE_ARCHIVE"))


class CrawlState:
    """Everything one crawl shares between the spider, the middlewares and the archive pipeline."""

    def __init__(self, crawler: Crawler, options: CrawlOptions) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.options = options
        self.settings = s
        self.report = CrawlReport()
        self.policy = UrlPolicy(allow_private=s.getbool("CABLEARCHIVE_ALLOW_PRIVATE"))
        self.frontier = Frontier(options.depth, options.max_pages)
        self.archive_dir = archive_dir_from(s)
        self.journal = Journal(Layout.at(self.archive_dir).crawl_state_dir)
        self.reader = ArchiveReader(self.archive_dir, self.note)
        workers = s.getint("CABLEARCHIVE_CLEAN_WORKERS", -1)
        self.workers = default_workers() if workers < 0 else workers
        self.analyser: Analyser | None = None
        self.seeds: Seeds | None = None
        self.start_targets: list[Target] = []  # what the spider fetches first
        self.show_progress = s.getbool("CABLEARCHIVE_PROGRESS")
        self.progress = ProgressDisplay(
            self.report, interval=s.getfloat("CABLEARCHIVE_PROGRESS_INTERVAL", 10.0)
        )
        self._ticker: LoopingCall | None = None
        self._probed: set[str] = set()
        self.robots_refused = 0  # requests the robots middleware refused (the rest are never scheduled)
        self.closed = False
        # Why the crawl was stopped before its end ("interrupted by SIGINT"), None while it runs on.
        self.interrupted: str | None = None
        self.report.archive = self.archive_dir
        self.report.fatal = source_tree_refusal(self.archive_dir)
        self._read_seeds()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlState:
        """Scrapy factory: NotConfigured unless the spider carries `crawl_options`."""
        # Spider arguments reach components as spider attributes (as allowed_domains does).
        options = getattr(crawler.spider, "crawl_options", None)
        if not isinstance(options, CrawlOptions):
            raise NotConfigured
        state = cls(crawler, options)
        crawler.signals.connect(state._opened, signal=signals.spider_opened)
        crawler.signals.connect(state._closed, signal=signals.spider_closed)
        return state

    # ------------------------------------------------------------------ opening
    def _read_seeds(self) -> None:
        """Read the seeds file and bring the seeds' sites into scope (a fatal report when none is usable)."""
        try:
            self.seeds = read_seeds(self.options.seeds)
        except SeedsFileError as exc:
            self.report.fatal = str(exc)
            return
        for err in self.seeds.errors:
            self.report.fail(
                f"{self.seeds.path}:{err.line}", f"seed skipped: {err.reason}: {err.text[:200]!r}"
            )
        if not self.seeds.urls:
            self.report.fatal = f"{self.seeds.path}: no usable URL (one http or https URL a line)"
            return
        for url in self.seeds.urls:
            self.policy.trust(url)
            self.frontier.add_site(url)

    async def _opened(self, spider: Spider) -> None:
        """After the pipeline took the archive: load or start the journal, start the workers."""
        if self.report.fatal or not self.report.run_ids:
            return
        resume = False
        if self.options.resume:
            resume = self.journal.resumable()
            if not resume:
                self.note(
                    str(self.journal.folder), "--resume: no interrupted crawl to resume; starting a new one"
                )
        try:
            self.start_targets = await self.reader.run(self._start_journal, resume)
        except (ArchiveError, OSError) as exc:
            self.report.fatal = f"crawl state {self.journal.folder}: {exc}"
            return
        self.analyser = Analyser(self.workers)
        self._watch_signals()
        if self.show_progress:
            self.progress.start()
        self._ticker = LoopingCall(self._tick)
        self._ticker.start(0.5, now=False)

    def _watch_signals(self) -> None:
        """Note SIGINT / SIGTERM before Scrapy's own handler stops the crawl (its close reason,
        "shutdown", reaches the archive pipeline only after the run is closed)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue

            def handler(num: int, frame: FrameType | None, previous: Callable[..., Any] = previous) -> None:
                if self.interrupted is None:
                    self.interrupted = f"interrupted by {signal.Signals(num).name}"
                previous(num, frame)

            try:
                signal.signal(signum, handler)
            except ValueError:  # not the main thread: Scrapy installed no handler there either
                return

    def _start_journal(self, resume: bool) -> list[Target]:
        """In the reader thread: the targets to fetch first, the journal started with them."""
        # A page of a batch cut short by a kill is done when the archive kept its capture: an
        # archive commit is all or nothing, so its cables and "cleaned" marks were kept with it.
        targets = self.frontier.restore(self.journal, self.reader.captured) if resume else []
        job = {
            "seeds": os.path.abspath(self.options.seeds),
            "depth": self.options.depth,
            "max_pages": self.options.max_pages,
            "runs": [
                *((self.journal.job() or {}).get("runs", []) if resume else []),
                self.report.run_ids[-1],
            ],
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

    def add_site(self, url: str) -> tuple[list[Target], list[Record]]:
        """Bring a seed's redirect target site into scope: its probes to schedule, and their journal records."""
        before = set(self.frontier.sites)
        key = self.frontier.add_site(url)
        if key is None or key in before:
            return [], []
        targets: list[Target] = []
        records: list[Record] = [SiteAdded(key), *self._probes(url, targets)]
        return targets, records

    # ------------------------------------------------------------------ cleaning
    async def analyse(self, job: PageJob) -> PageAnalysis:
        """Clean the page and find its links in a worker process."""
        assert self.analyser is not None
        return await wait_for(self.analyser.submit(job))

    # ------------------------------------------------------------------ problems
    def record_failure(self, url: str, reason: str) -> None:
        """Report an input that failed; the pipeline keeps it in the run record."""
        self.report.fail(url, reason)
        self.crawler.signals.send_catch_log(signal=input_failed, url=url, reason=reason)

    def note(self, url: str, reason: str) -> None:
        """Report something worth knowing that is not a failure; the pipeline keeps it in the run record."""
        self.report.note(url, reason)
        self.crawler.signals.send_catch_log(signal=input_noted, url=url, reason=reason)

    # ------------------------------------------------------------------ progress
    def _tick(self) -> None:
        self.report.queued = max(0, self.frontier.pages - self.report.pages)
        self.report.robots_skipped = self.robots_refused + self.frontier.disallowed
        if self.show_progress:
            self.progress.tick()

    # ------------------------------------------------------------------ closing
    async def _closed(self, spider: Spider, reason: str) -> None:
        """After the pipeline's last commit: journal marked finished or interrupted, workers stopped, report saved."""
        if self.closed:
            return
        self.closed = True
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        finished = reason == "finished" and not self.report.fatal
        if reason == "shutdown" and self.interrupted is None:
            self.interrupted = "interrupted (shutdown)"
        # What is left: nothing after a finished crawl; after an interruption, what --resume fetches.
        self.report.queued = 0 if finished else max(0, self.frontier.pages - self.report.pages)
        try:
            if self.journal.started:
                await maybe_deferred_to_future(
                    threads.deferToThread(
                        self.journal.finish,
                        "finished" if finished else "interrupted",
                        {"last_reason": reason},
                    )
                )
        finally:
            self.progress.stop()
            if self.analyser is not None:
                # Waiting for the workers to exit blocks: not on the reactor thread.
                await maybe_deferred_to_future(threads.deferToThread(self.analyser.close))
            self.reader.close()
            self.report.finish_reason = reason
            self.report.ended = time.time()
            self.report.robots_skipped = self.robots_refused + self.frontier.disallowed
            if self.frontier.dropped_for_limit:
                self.report.note(
                    "--max-pages",
                    f"limit of {self.options.max_pages} pages reached; "
                    f"{self.frontier.dropped_for_limit} more links not followed",
                )
            if self.report_path is not None:
                self.report.save(self.report_path)
            logger.info("crawl %s: %s", reason, self.report.summary_line())
            if self.report.fatal:
                logger.error("crawl stopped: %s", self.report.fatal)
            for problem in self.report.failures:
                logger.warning("failed: %s", problem)

    @property
    def report_path(self) -> Path | None:
        """Where the whole report of this crawl is kept (<run>.report.json in the crawl state folder)."""
        if not self.report.run_ids:
            return None
        return self.journal.folder / f"{self.report.run_ids[-1]}.report.json"
