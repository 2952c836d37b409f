"""A fetch worker of a distributed crawl: the mirrors spider, fed from and feeding the Redis frontier.

`run_worker(redis_url)` runs one Scrapy process. Its parts are Scrapy components built
`from_crawler`: `WorkerState` (an extension: the cluster, the spool, the leases this worker
holds, its timers), `ClusterSafetyMiddleware` (the crawler's URL safety, trusting the job's
seeds), `ClusterPolitenessMiddleware` (robots.txt and the site's cluster-wide delay and
concurrency, claimed in Redis just before each request) and `WorkerSpider` (the mirrors
spider's parsing, its links scheduled into Redis instead of locally; its start() takes leases).

Captures go to the spool (crawler.distributed.spool); a batch's leases complete only once its
file is closed, so a worker killed at any moment loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.robotstxt import ProtegoRobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from crawler.analysis import Analyser, PageAnalysis, PageJob, default_workers
from crawler.discovery import DEPTH_COST, REDIRECT, Link, follow_links, probe_urls, robots_sitemaps, site_key
from crawler.distributed.cluster import Cluster, ClusterError, JobConfig
from crawler.distributed.spool import SpoolWriter, worker_name
from crawler.failures import ROBOTS_REFUSAL
from crawler.frontier import Target
from crawler.items import CaptureItem, header_pairs
from crawler.journal import Record
from crawler.middlewares import SafetyMiddleware, sleep
from crawler.report import CrawlReport
from crawler.runner import build_settings
from crawler.safety import UrlPolicy
from crawler.spiders.mirrors import MirrorsSpider

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

# What a worker changes in the crawler's settings: politeness is the cluster's (Redis), not
# Scrapy's per process; robots.txt is read once for the cluster; there is no archive here.
WORKER_SETTINGS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": False,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "EXTENSIONS": {"crawler.state.CrawlState": None, "crawler.distributed.worker.WorkerState": 0},
    "ITEM_PIPELINES": {},
    "DOWNLOADER_MIDDLEWARES": {
        "crawler.middlewares.SafetyMiddleware": None,
        "crawler.distributed.worker.ClusterSafetyMiddleware": 40,
        "crawler.middlewares.ReportingRobotsTxtMiddleware": None,
        "crawler.middlewares.ConditionalRequestMiddleware": None,
        # Last before the download: the site is claimed as close to the request as can be.
        "crawler.distributed.worker.ClusterPolitenessMiddleware": 990,
    },
}


class _NoStoredCopies:
    """A worker has no archive: no conditional requests are sent, so no 304 needs a stored copy."""

    async def stored_page(self, url: str) -> None:
        """Nothing stored here."""
        return None


class _SpooledReport(CrawlReport):
    """The worker's report: its problems also travel to the coordinator in the spool's sidecars."""

    spool: SpoolWriter | None = None

    def fail(self, url: str, reason: str) -> None:
        """Record a failure (also in the spool)."""
        super().fail(url, reason)
        if self.spool is not None:
            self.spool.problem("failure", url, reason)

    def note(self, url: str, reason: str) -> None:
        """Record a note (also in the spool)."""
        super().note(url, reason)
        if self.spool is not None:
            self.spool.problem("note", url, str(reason))

    def broken_link(self, url: str, reason: str) -> None:
        """Record a broken link (also in the spool)."""
        super().broken_link(url, reason)
        if self.spool is not None:
            self.spool.problem("broken", url, reason)

    def add(self, **counts: int) -> None:
        """Add to counters (also in the spool)."""
        super().add(**counts)
        if self.spool is not None:
            self.spool.count(**counts)


class RedisFrontier:
    """The Frontier's interface for the mirrors spider, kept in Redis: new links go to the shared queues."""

    def __init__(self, state: WorkerState) -> None:
        self.state = state
        self.cluster = state.cluster
        self.max_depth = state.config.depth
        self.max_pages = state.config.max_pages
        self.disallowed = 0
        self._sites: set[str] = set()
        self._sites_read = 0.0

    @property
    def sites(self) -> set[str]:
        """The sites in scope (re-read from Redis every second)."""
        if time.monotonic() - self._sites_read > 1.0:
            self._sites = self.cluster.sites()
            self._sites_read = time.monotonic()
        return self._sites

    def mark_seen(self, url: str) -> None:
        """A URL reached by a redirect: never schedule it."""
        self.cluster.mark_seen(url)

    def take(self) -> bool:
        """A refetch (a 304 without a stored copy: never here, a worker sends no conditional requests)."""
        return True

    def children(
        self,
        links: Iterable[Link],
        parent_depth: int,
        allowed: Callable[[str], bool] | None = None,
        parent: Target | None = None,
    ) -> Iterator[Target]:
        """Schedule a page's new links in Redis; yields nothing (no worker fetches what it found itself)."""
        targets: list[Target] = []
        refused: list[str] = []
        for link in links:
            depth = parent_depth + DEPTH_COST[link.kind]
            if depth > self.max_depth:
                continue
            if not self.state.robots_allow(link.url):
                refused.append(link.url)
                continue
            if link.kind == REDIRECT and parent is not None:
                # A redirect hop continues its parent's chain, as the one-process frontier has it.
                chain = (*parent.chain, parent.url)
                targets.append(Target(link.url, link.kind, depth, parent.seed, parent.probe, chain))
            else:
                targets.append(Target(link.url, link.kind, depth))
        if refused:
            new = [u for u in refused if not self.cluster.is_seen(u)]
            self.disallowed += len(new)
            self.cluster.mark_seen(*refused)
        self.cluster.admit(targets, self.max_pages)
        return iter(())


class WorkerState:
    """One worker's share of the cluster: its Redis, its spool, its leases; found with get_extension."""

    def __init__(self, crawler: Crawler, spider: WorkerSpider) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.cluster = spider.cluster
        self.config = spider.config
        self.worker_id = spider.worker_id
        self.spool = SpoolWriter(spider.spool or self.config.spool, self.worker_id)
        self.report = _SpooledReport()
        self.report.spool = self.spool
        self.policy = UrlPolicy(allow_private=self.config.allow_private)
        for url in self.config.seed_urls:
            self.policy.trust(url)
        self.frontier = RedisFrontier(self)
        self.reader = _NoStoredCopies()
        workers = s.getint("CABLEARCHIVE_CLEAN_WORKERS", -1)
        self.analyser = Analyser(default_workers() if workers < 0 else workers)
        self.lease_seconds = self.config.lease
        self.spool_pages = max(1, s.getint("CABLEARCHIVE_SPOOL_PAGES", 100))
        self.spool_seconds = max(0.05, s.getfloat("CABLEARCHIVE_SPOOL_SECONDS", 2.0))
        self.active: dict[str, Target] = {}  # leases taken and not yet in the spool
        self.robots_refused = 0
        self.started = time.time()
        self.finished = False  # the job is over: start() ends
        self._robots: dict[str, ProtegoRobotParser | None] = {}
        self._user_agent = s.get("USER_AGENT") or ""
        self._timer: LoopingCall | None = None
        self._last_renew = time.monotonic()
        self._last_beat = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerState:
        """Scrapy factory: NotConfigured for any spider but the worker's."""
        spider = crawler.spider
        if not isinstance(spider, WorkerSpider):
            raise NotConfigured
        state = cls(crawler, spider)
        crawler.signals.connect(state._opened, signal=signals.spider_opened)
        crawler.signals.connect(state._closed, signal=signals.spider_closed)
        return state

    # ------------------------------------------------------------------ the spider's needs
    async def analyse(self, job: PageJob) -> PageAnalysis:
        """Clean the page and find its links (in a worker process unless cleaning inline)."""
        from crawler.threads import wait_for

        return await wait_for(self.analyser.submit(job))

    def record_failure(self, url: str, reason: str) -> None:
        """A failed input, reported in the cluster's run."""
        self.report.fail(url, reason)

    def note(self, url: str, reason: str) -> None:
        """Something worth knowing, reported in the cluster's run."""
        self.report.note(url, reason)

    def add_site(self, url: str) -> tuple[list[Target], list[Record]]:
        """A seed redirected to another site: bring it into scope and schedule its sitemap."""
        before = self.frontier.sites
        site = self.cluster.add_site(url)
        if site is not None and site not in before:
            probes = [Target(link.url, link.kind, 0, probe=True) for link in probe_urls(url, robots=False)]
            self.cluster.admit(probes, self.config.max_pages)
        return [], []

    # ------------------------------------------------------------------ robots.txt
    def robots_allow(self, url: str) -> bool:
        """False when the site's robots.txt (read once for the cluster) disallows `url`."""
        site = site_key(url)
        if site is None:
            return True
        if site not in self._robots:
            body = self.cluster.robots(site)
            if body is None:
                return True  # not read yet: checked again just before the request
            self._robots[site] = ProtegoRobotParser(body, None) if body.strip() else None
        parser = self._robots[site]
        return parser is None or bool(parser.allowed(url, self._user_agent))

    def robots_read(self, site: str, body: bytes) -> None:
        """Keep a site's robots.txt for the cluster (b"" when it has none)."""
        self.cluster.set_robots(site, body)
        self._robots.pop(site, None)

    # ------------------------------------------------------------------ leases and the spool
    def store(self, item: CaptureItem, lease: str | None) -> None:
        """A capture into the spool; its lease completes with the batch."""
        self.spool.add(item, lease)
        if lease is not None:
            self.active.pop(lease, None)
        self._maybe_roll()

    def done(self, lease: str | None) -> None:
        """A lease that ends without a capture."""
        if lease is not None and self.active.pop(lease, None) is not None:
            self.spool.finish_lease(lease)
            self._maybe_roll()

    def _maybe_roll(self, force: bool = False) -> None:
        batch = self.spool.batch
        if not self.spool.pending:
            return
        if (
            force
            or len(batch.records) >= self.spool_pages
            or time.monotonic() - batch.started >= self.spool_seconds
        ):
            name, leases = self.spool.close_batch()
            lost = self.cluster.complete(leases, name)
            if lost:
                logger.warning("%d leases had expired before their file closed", lost)

    def _tick(self) -> None:
        try:
            self._maybe_roll()
            now = time.monotonic()
            if now - self._last_renew >= self.lease_seconds / 4:
                self.cluster.renew([*self.active, *self.spool.batch.leases], self.lease_seconds)
                self._last_renew = now
            if now - self._last_beat >= 2.0:
                self.cluster.heartbeat(self.worker_id, self.started)
                self.cluster.reap()  # any worker may hand back a dead worker's leases
                self._last_beat = now
                if self.cluster.state() != "running":
                    self.finished = True
        except Exception:  # Redis down for a moment: the next tick tries again
            logger.exception("worker tick failed")

    def _opened(self, spider: Spider) -> None:
        self.cluster.heartbeat(self.worker_id, self.started)
        self._timer = LoopingCall(self._tick)
        self._timer.start(0.1, now=False)

    async def _closed(self, spider: Spider, reason: str) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        try:
            self._maybe_roll(force=True)
        except Exception:
            logger.exception("closing the last spool file failed")
        self.spool.abandon()
        await maybe_deferred_to_future(threads.deferToThread(self.analyser.close))


def _state_of(crawler: Crawler) -> WorkerState:
    state = crawler.get_extension(WorkerState)
    if state is None:
        raise NotConfigured
    return state


class ClusterSafetyMiddleware(SafetyMiddleware):
    """The crawler's URL safety, with the job's seeds trusted as a one-process crawl trusts them."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._worker: WorkerState | None = None

    def policy(self) -> UrlPolicy:
        """The worker's policy (it knows the seeds)."""
        if self._worker is None:
            self._worker = _state_of(self.crawler)
        return self._worker.policy


class ClusterPolitenessMiddleware:
    """robots.txt, then the site's turn claimed in Redis: the delay and concurrency hold cluster-wide."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.hold = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 30) + 10
        # Each claim keeps the site for its delay plus this margin (0 by default: the release
        # after the answer keeps it for the delay again).
        self.margin = crawler.settings.getfloat("CABLEARCHIVE_CLAIM_MARGIN", 0.0)
        self._worker: WorkerState | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClusterPolitenessMiddleware:
        """Scrapy factory."""
        return cls(crawler)

    @property
    def worker(self) -> WorkerState:
        """The worker's state (extensions are built after middlewares: found on first use)."""
        if self._worker is None:
            self._worker = _state_of(self.crawler)
        return self._worker

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Refuse what robots.txt disallows; wait for the site's turn."""
        w = self.worker
        target = request.meta.get("target")
        is_robots = isinstance(target, Target) and target.kind == "robots" and request.url == target.url
        if not is_robots and not w.robots_allow(request.url):
            w.frontier.mark_seen(request.url)
            raise IgnoreRequest(ROBOTS_REFUSAL)
        site = site_key(request.url) or "?"
        token = uuid.uuid4().hex
        cfg = w.config
        while True:
            wait = w.cluster.claim(
                site, token, cfg.delay + self.margin if cfg.delay else 0, cfg.concurrency, self.hold
            )
            if wait <= 0:
                break
            await sleep(min(wait, 1.0))
        request.meta["cluster_claim"] = (site, token)

    def _release(self, request: Request) -> None:
        claim = request.meta.pop("cluster_claim", None)
        if claim is not None:
            site, token = claim
            self.worker.cluster.release(site, token, self.worker.config.delay)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        """The request is over: its concurrency slot is free."""
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Spider | None = None) -> None:
        """The request failed: its concurrency slot is free."""
        self._release(request)


class WorkerSpider(MirrorsSpider):
    """The mirrors spider, fed with leased targets from Redis; what it finds goes back to Redis."""

    name = "cablearchive-worker"

    def __init__(
        self,
        cluster: Cluster | None = None,
        config: JobConfig | None = None,
        worker_id: str = "",
        spool: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(config.seeds if config else "(redis)", *args, **kwargs)
        if cluster is None or config is None:
            raise ValueError("a worker needs the cluster and its job")
        self.cluster = cluster
        self.config = config
        self.worker_id = worker_id
        self.spool = spool
        self._worker: WorkerState | None = None

    @property
    def state(self) -> Any:  # the WorkerState stands in for CrawlState (same names, see MirrorsSpider)
        """The worker's state."""
        if self._worker is None:
            self._worker = _state_of(self.crawler)
        return self._worker

    def request_for(self, target: Target, unconditional: bool = False, lease: str | None = None) -> Request:
        """The mirrors spider's request, carrying its lease."""
        request = super().request_for(target, unconditional)
        if lease is not None:
            request.meta["lease"] = lease
        return request

    async def start(self) -> AsyncIterator[Request]:
        """Take leases while there is room, until the job is finished."""
        w: WorkerState = self.state
        room = max(1, self.settings.getint("CONCURRENT_REQUESTS", 16))
        while not w.finished:
            free = room - len(w.active)
            leases = w.cluster.take(w.worker_id, free, w.lease_seconds, w.config.delay) if free > 0 else []
            for lease in leases:
                w.active[lease.id] = lease.target
                yield self.request_for(lease.target, lease=lease.id)
            if not leases:
                await asyncio.sleep(0.05)

    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Request | CaptureItem]:
        """Spool the capture and schedule its links; a robots.txt is also kept for the cluster."""
        w: WorkerState = self.state
        lease = response.meta.get("lease")
        target: Target = response.meta["target"]
        if target.kind == "robots":
            await self._robots_txt(response, lease)
            return
        async for out in super().parse(response, **kwargs):
            if isinstance(out, CaptureItem):
                w.store(out, lease)
            elif isinstance(out, Request):
                # Only a seed's redirect to another site gives requests here; the cluster schedules them.
                t = out.meta.get("target")
                if isinstance(t, Target):
                    w.cluster.admit([t], w.config.max_pages)
        if False:  # an async generator like the mirrors spider's parse, though it hands Scrapy nothing
            yield

    async def _robots_txt(self, response: Response, lease: str | None) -> None:
        """A robots.txt: its rules for the cluster, its Sitemap: lines scheduled, the capture spooled."""
        w: WorkerState = self.state
        url = response.url
        site = site_key(url) or "?"
        status = response.status
        w.frontier.mark_seen(url)
        w.report.add(pages=1, full_bodies=1)
        rules = response.body if status < 400 else b""
        if status >= 400 and (status >= 500 or status not in (401, 403, 404, 410)):
            w.note(url, f"robots.txt answered HTTP {status}; treated as allowing everything")
        w.robots_read(site, rules)
        if status == 200:
            links = follow_links(robots_sitemaps(rules, url), frozenset(w.frontier.sites))
            w.cluster.admit([Target(c.url, c.kind, 0, probe=True) for c in links], w.config.max_pages)
        job = PageJob(
            url, status, header_pairs(response.headers), response.body, None, frozenset(), links=False
        )
        result = (await w.analyse(job)).result
        request = response.request
        w.store(
            CaptureItem(
                url=url,
                final_url=url,
                status=status,
                headers=header_pairs(response.headers),
                body=response.body,
                request_headers=header_pairs(request.headers) if request is not None else [],
                fetched_at=response.meta.get("fetched_at") or time.time(),
                protocol=response.protocol or "HTTP/1.1",
                result=result,
            ),
            lease,
        )

    async def on_error(self, failure: Failure) -> None:
        """A request that got no response: reported as the mirrors spider does; its lease ends."""
        request = getattr(failure, "request", None)
        w: WorkerState = self.state
        target = request.meta.get("target") if isinstance(request, Request) else None
        if isinstance(target, Target) and target.kind == "robots" and isinstance(request, Request):
            site = site_key(target.url) or "?"
            w.note(target.url, "robots.txt could not be fetched; treated as allowing everything")
            w.robots_read(site, b"")
        else:
            await super().on_error(failure)
            if isinstance(target, Target) and isinstance(request, Request):
                w.frontier.mark_seen(request.url)
        w.done(request.meta.get("lease") if isinstance(request, Request) else None)


def default_worker_id() -> str:
    """host-pid: unique among running workers."""
    return worker_name(f"{socket.gethostname()}-{os.getpid()}")


def wait_for_job(cluster: Cluster, wait: float | None, poll: float = 0.5) -> JobConfig | None:
    """The running job in Redis, waiting up to `wait` seconds (None: for ever) for one to start."""
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        job = cluster.job()
        if job is not None and job[1] == "running":
            return job[0]
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(poll)


def run_worker(
    redis_url: str,
    *,
    spool: str | None = None,
    worker_id: str | None = None,
    overrides: dict[str, str] | None = None,
    wait: float | None = None,
) -> CrawlReport | None:
    """Fetch for the crawl in Redis until it is finished; None when no crawl started within `wait`."""
    cluster = Cluster.at(redis_url)
    config = wait_for_job(cluster, wait)
    if config is None:
        return None
    settings = build_settings(overrides)
    for name, value in WORKER_SETTINGS.items():
        if isinstance(value, dict):
            merged = dict(settings.getdict(name))
            merged.update(value)
            settings.set(name, merged, priority="cmdline")
        elif name not in (overrides or {}):
            settings.set(name, value, priority="cmdline")
    settings.set(
        "CONCURRENT_REQUESTS_PER_DOMAIN", settings.getint("CONCURRENT_REQUESTS", 16), priority="cmdline"
    )
    if config.user_agent and "USER_AGENT" not in (overrides or {}):
        settings.set("USER_AGENT", config.user_agent, priority="cmdline")
    if "LOG_LEVEL" not in (overrides or {}):
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(WorkerSpider)
    process.crawl(
        crawler, cluster=cluster, config=config, worker_id=worker_id or default_worker_id(), spool=spool
    )
    process.start()
    state = crawler.get_extension(WorkerState)
    if state is None:
        raise ClusterError("the worker did not start (see the log)")
    return state.report
