"""The archive pipeline: every CaptureItem becomes a capture in the archive, its cables recorded.

`ArchivePipeline` holds the crawl's run on the archive: it takes the archive's lock when the
spider opens, makes every call on the archive writer in one writer thread (so the writer is
only ever used from one thread), commits every CABLEARCHIVE_COMMIT_PAGES pages or
CABLEARCHIVE_COMMIT_SECONDS seconds, and writes each commit's journal batch around it (see
crawler.journal): a page counts as done for --resume only once its commit returned.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall

from archive import Archive, ArchiveError, DiskFull, Writer
from crawler.items import CaptureItem
from crawler.journal import Record
from crawler.signals import input_failed, input_noted
from crawler.state import CrawlState
from crawler.threads import Worker

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class ArchivePipeline:
    """Stores CaptureItems in the writer thread and waits for it, so a slow disk slows the crawl."""

    def __init__(self, crawler: Crawler, state: CrawlState) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.state = state
        self.commit_pages = max(1, s.getint("CABLEARCHIVE_COMMIT_PAGES", 200))
        self.commit_seconds = max(0.1, s.getfloat("CABLEARCHIVE_COMMIT_SECONDS", 30.0))
        self.lock_wait = s.getfloat("CABLEARCHIVE_LOCK_WAIT", 0.0)
        self.writer: Writer | None = None
        self._thread = Worker("cablearchive-writer")
        # Touched in the writer thread only (the reactor reads the counters to time commits).
        self._pending: list[Record] = []
        self._pending_pages = 0
        self._last_commit = time.monotonic()
        self._commit_queued = False
        self._batch = 0
        self._timer: LoopingCall | None = None
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        """Scrapy factory: NotConfigured without the crawl state extension (another spider)."""
        state = crawler.get_extension(CrawlState)
        if state is None:
            raise NotConfigured
        pipeline = cls(crawler, state)
        crawler.signals.connect(pipeline._failed, signal=input_failed)
        crawler.signals.connect(pipeline._noted, signal=input_noted)
        return pipeline

    # ------------------------------------------------------------------ opening
    async def open_spider(self) -> None:
        """Take the archive for this crawl's run (before any request; the state starts the journal next)."""
        state = self.state
        if state.report.fatal:
            return
        try:
            await self._thread.run(self._open_writer)
        except (ArchiveError, OSError) as exc:
            state.report.fatal = f"archive {state.archive_dir}: {exc}"
            return
        self._timer = LoopingCall(self._tick)
        self._timer.start(0.5, now=False)

    def _open_writer(self) -> None:
        state = self.state
        arch = Archive.open_or_create(state.archive_dir)
        args = {
            "seeds": os.path.abspath(state.options.seeds),
            "seed_urls": len(state.seeds.urls) if state.seeds else 0,
            "depth": state.options.depth,
            "max_pages": state.options.max_pages,
            "resume": state.options.resume,
            "user_agent": self.crawler.settings.get("USER_AGENT"),
            "robots": self.crawler.settings.getbool("ROBOTSTXT_OBEY"),
        }
        self.writer = arch.writer(kind="crawl", args=args, wait=self.lock_wait)
        state.report.run_ids.append(self.writer.run_id)

    # ------------------------------------------------------------------ storing
    async def process_item(self, item: object) -> object:
        """Store a CaptureItem; other items pass through untouched."""
        if isinstance(item, CaptureItem):
            await maybe_deferred_to_future(self.store(item))
        return item

    def store(self, item: CaptureItem) -> Deferred[None]:
        """Write a capture and its cables (in the writer thread); commits every so often."""
        if self.closed:
            return succeed(None)
        return self._thread.call(self._store, item)

    def _store(self, item: CaptureItem) -> None:
        w = self.writer
        report = self.state.report
        if w is None or w.closed or report.fatal:
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
            report.fail(item.final_url, f"not archived: {exc}")
            w.record_failure(item.final_url, f"not archived: {exc}")
            return
        report.add(captures=1)
        if item.result is not None:
            try:
                w.record(cap, item.result)
            except DiskFull as exc:
                self._fatal(str(exc))
                return
            except (ArchiveError, OSError, ValueError) as exc:
                report.fail(item.final_url, f"cables not recorded: {exc}")
                w.record_failure(item.final_url, f"cables not recorded: {exc}")
            cables = item.result.cables
            if cables:
                without = sum(1 for c in cables if c.reference_id is None)
                report.add(pages_with_cables=1, cables_without_id=without, cables_found=len(cables) - without)
        self._pending.extend(item.journal)
        self._pending_pages += 1
        if (
            self._pending_pages >= self.commit_pages
            or time.monotonic() - self._last_commit >= self.commit_seconds
        ):
            self._commit()

    # ------------------------------------------------------------------ the run record
    def _failed(self, url: str, reason: str) -> None:
        if self.writer is not None:
            self._keep(self.writer.record_failure, url, reason)

    def _noted(self, url: str, reason: str) -> None:
        if self.writer is not None:
            self._keep(self.writer.record_note, url, reason)

    def _keep(self, method: Callable[[str, str], None], url: str, reason: str) -> None:
        """Add to the run record in the writer thread (nothing once the run is closed)."""
        if self.closed:
            return
        with contextlib.suppress(RuntimeError):  # the writer thread stopped meanwhile
            self._thread.submit(self._record, method, url, reason)

    def _record(self, method: Callable[[str, str], None], url: str, reason: str) -> None:
        if self.writer is not None and not self.writer.closed:
            method(url, reason)

    # ------------------------------------------------------------------ committing
    def _tick(self) -> None:
        """On the reactor: queue a commit when pages wait and CABLEARCHIVE_COMMIT_SECONDS have passed."""
        if (
            not self._commit_queued
            and self._pending_pages
            and time.monotonic() - self._last_commit >= self.commit_seconds
        ):
            self._commit_queued = True
            self._thread.submit(self._commit)

    def _commit(self) -> None:
        """Commit in the writer thread; the journal batch around it says what the commit made durable."""
        self._commit_queued = False
        w = self.writer
        report = self.state.report
        if w is None or w.closed or report.fatal:
            return
        journal = self.state.journal
        self._batch += 1
        journal.begin_batch(self._batch, w.run_id, self._pending)
        try:
            result = w.commit()
        except (ArchiveError, OSError) as exc:
            self._fatal(f"commit failed: {exc}")
            return
        report.add(
            cables_new=len(result.new),
            cables_changed=len(result.changed),
            cables_unchanged=len(result.unchanged),
            commits=1,
        )
        journal.end_batch(self._batch)
        self._pending = []
        self._pending_pages = 0
        self._last_commit = time.monotonic()

    def _fatal(self, reason: str) -> None:
        """Stop the crawl: the archive cannot take more (disk full, a failed commit)."""
        from twisted.internet import reactor

        report = self.state.report
        if not report.fatal:
            report.fatal = reason
            reactor.callFromThread(self._stop_crawl)  # type: ignore[attr-defined]

    def _stop_crawl(self) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason="archive error"))

    # ------------------------------------------------------------------ closing
    async def close_spider(self) -> None:
        """Final commit and the run closed (or aborted after a fatal error); the writer thread stopped."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        try:
            await self._thread.run(self._close)
        finally:
            self._thread.shutdown()

    def _close(self) -> None:
        w = self.writer
        report = self.state.report
        if w is None or w.closed:
            return
        if report.fatal:
            w.abort(report.fatal)
            return
        try:
            self._commit()
            # A stopped crawl's commits are kept; its run says it was interrupted, not done.
            w.close(interrupted=self.state.interrupted)
        except (ArchiveError, OSError) as exc:
            report.fatal = f"closing the run failed: {exc}"
