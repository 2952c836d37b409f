"""Downloader middlewares: URL safety, robots.txt that reports its troubles, conditional requests,
retries with backoff and Retry-After, fetch times.

Redirects (3xx and refresh) are not followed here: each answer is archived as it came and the
spider follows what it leads on to (`crawler.discovery.leads_on`), from a fresh answer and from
the stored copy a 304 stands for alike.

Each one reaches the crawl's state through `crawler.get_extension(CrawlState)`; with another
spider (no state) they do Scrapy's job alone, strictly.
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from crawler.analysis import PageJob
from crawler.discovery import follow_links, header_links, is_redirect, robots_sitemaps, site_key
from crawler.failures import ROBOTS_REFUSAL, describe_exception
from crawler.frontier import Target
from crawler.items import CaptureItem, header_pairs
from crawler.journal import Done, Record
from crawler.pipelines import ArchivePipeline
from crawler.safety import IPAddress, UrlPolicy, literal_address, resolve_host
from crawler.signals import targets_found
from crawler.state import CrawlState

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider


def _state(crawler: Crawler) -> CrawlState | None:
    """The crawl's state, or None for a spider without one."""
    return crawler.get_extension(CrawlState)


async def sleep(seconds: float) -> None:
    """Wait without blocking the reactor."""
    from twisted.internet import reactor  # not at import time: Scrapy installs the reactor it wants first

    await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


class SafetyMiddleware:
    """Refuses non-http(s) URLs and, before any connection, hosts that resolve to private addresses."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.state = _state(crawler)
        self.allow_private = crawler.settings.getbool("CABLEARCHIVE_ALLOW_PRIVATE")
        self._addresses: dict[str, list[IPAddress]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafetyMiddleware:
        """Scrapy factory."""
        return cls(crawler)

    def policy(self) -> UrlPolicy:
        """The crawl's policy (it knows the seeds), or a strict one for other spiders."""
        if self.state is not None:
            return self.state.policy
        return UrlPolicy(allow_private=self.allow_private)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Raise IgnoreRequest (reaching the errback with the reason) for a refused URL."""
        # Politeness is per site (host and port), also for requests the spider did not make.
        request.meta.setdefault("download_slot", site_key(request.url) or "?")
        policy = self.policy()
        reason = policy.scheme_refusal(request.url)
        if reason:
            raise IgnoreRequest(reason)
        if not policy.needs_address_check(request.url):
            return
        host = urlsplit(request.url).hostname or ""
        known = self._addresses.get(host)
        if known is None:
            literal = literal_address(host)
            if literal is not None:
                known = [literal]
            else:
                known = await maybe_deferred_to_future(threads.deferToThread(resolve_host, host))
            if len(self._addresses) > 10000:
                self._addresses.clear()
            self._addresses[host] = known
        reason = policy.address_refusal(host, known)
        if reason:
            raise IgnoreRequest(reason)


class ReportingRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling (an unreadable robots.txt allows everything), but it says so,
    archives the robots.txt it read, follows its Sitemap: lines and re-reads it conditionally."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.state = _state(crawler)
        self._pipeline: ArchivePipeline | None = None

    def allowed(self, url: str) -> bool:
        """False when the site's robots.txt, already read, disallows `url` (not read yet: True)."""
        try:
            rp = self._parsers.get(urlsplit(url).netloc)
            if rp is None or isinstance(rp, Deferred):
                return True
            return bool(rp.allowed(url, self._robotstxt_useragent or self._default_useragent))
        except ValueError:
            return True

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        rules = response.body
        if self.state is not None:
            response, rules = await self._read(self.state, response)
        if is_redirect(response.status):
            rules = b""  # a redirect not followed (RFC 9309: up to five hops) is no robots.txt
        if response.status >= 400:
            # An error page is not a robots.txt. RFC 9309 reads 4xx as "no rules" and 5xx as
            # "unreachable", which Scrapy (and this crawler) treats as allow, but reports.
            if response.status >= 500 or response.status not in (401, 403, 404, 410):
                self._tell(
                    response.url,
                    f"robots.txt answered HTTP {response.status}; treated as allowing everything",
                )
            rules = b""
        await super()._parse_robots(response.replace(body=rules), netloc, request)

    async def _read(self, state: CrawlState, response: Response) -> tuple[Response, bytes]:
        """The robots.txt answer and its rules, every response on the way archived: redirects
        followed (up to five hops, RFC 9309), a 304 read from the archived copy, or asked again
        in full when there is none."""
        hops: list[str] = []
        unconditional = False
        while True:
            rules = response.body
            if response.status == 304:
                # Unchanged since the last crawl: read the rules from the archived copy.
                stored = await state.reader.stored_page(response.url)
                if stored is None and not unconditional:
                    self._tell(
                        response.url, "HTTP 304 Not Modified, but no archived copy: fetched again in full"
                    )
                    unconditional = True
                    response = await self._fetch(response.url, unconditional=True)
                    continue
                rules = stored[2] if stored is not None and stored[0] == 200 else b""
            await self._archive(state, response, rules)
            if not is_redirect(response.status) or len(hops) >= 5:
                return response, rules
            links = header_links(response.status, header_pairs(response.headers), response.url)
            if not links or links[0].url in hops or state.policy.scheme_refusal(links[0].url):
                return response, rules
            hops.append(response.url)
            response = await self._fetch(links[0].url)

    async def _fetch(self, url: str, unconditional: bool = False) -> Response:
        """Download `url` as the robots.txt request (not itself subject to robots.txt)."""
        meta = {"dont_obey_robotstxt": True, "unconditional": unconditional}
        request = Request(url, priority=self.DOWNLOAD_PRIORITY, meta=meta, callback=NO_CALLBACK)
        assert self.crawler.engine is not None
        return await self.crawler.engine.download_async(request)

    async def _archive(self, state: CrawlState, response: Response, rules: bytes) -> None:
        """Archive a robots.txt like any page, and have the spider follow its Sitemap: lines."""
        url = response.url
        state.frontier.mark_seen(url)
        state.report.add(pages=1, **({"not_modified": 1} if response.status == 304 else {"full_bodies": 1}))
        journal: list[Record] = []
        if response.status in (200, 304):
            links = follow_links(robots_sitemaps(rules, url), frozenset(state.frontier.sites))
            found = [Target(c.url, c.kind, c.depth, probe=True) for c in state.frontier.children(links, 0)]
            journal.extend(t.record() for t in found)
            if found:
                self.crawler.signals.send_catch_log(signal=targets_found, targets=found)
        journal.append(Done(url))
        result = None
        if state.analyser is not None and (response.status != 304 or rules):
            job = PageJob(
                url,
                200 if response.status == 304 else response.status,
                header_pairs(response.headers),
                rules if response.status == 304 else response.body,
                None,
                frozenset(),
                links=False,
            )
            result = (await state.analyse(job)).result
        item = CaptureItem(
            url=url,
            final_url=url,
            status=response.status,
            headers=header_pairs(response.headers),
            body=response.body,
            request_headers=header_pairs(response.request.headers) if response.request else [],
            fetched_at=response.meta.get("fetched_at") or time.time(),
            protocol=response.protocol or "HTTP/1.1",
            result=result,
            journal=journal,
        )
        pipeline = self._archive_pipeline()
        if pipeline is not None and not state.closed:
            pipeline.store(item)

    def _archive_pipeline(self) -> ArchivePipeline | None:
        # Item pipelines are built after the downloader's middlewares: found on first use.
        if self._pipeline is None:
            self._pipeline = self.crawler.get_item_pipeline(ArchivePipeline)
        return self._pipeline

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        # A refused host is reported on the page request itself.
        if not isinstance(exc, IgnoreRequest):
            self._tell(
                f"//{netloc}/robots.txt",
                f"robots.txt could not be fetched ({describe_exception(exc)}); treated as allowing everything",
            )
        super()._robots_error(exc, netloc)

    def _tell(self, url: str, message: str) -> None:
        if self.state is not None:
            self.state.note(url, message)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        """Scrapy's check, with a plainer reason."""
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            raise IgnoreRequest(ROBOTS_REFUSAL) from None


class ConditionalRequestMiddleware:
    """Adds If-None-Match / If-Modified-Since from the archive, so an unchanged page costs no body."""

    def __init__(self, state: CrawlState | None) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        """Scrapy factory."""
        return cls(_state(crawler))

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Look the URL up in the archive (off the reactor thread) and add its validators."""
        if self.state is None or request.method != "GET" or request.meta.get("unconditional"):
            return
        if b"If-None-Match" in request.headers or b"If-Modified-Since" in request.headers:
            return
        for name, value in (await self.state.reader.conditional_headers(request.url)).items():
            request.headers[name] = value


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None when absent or invalid."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, spaced out: exponential backoff, and Retry-After when the server sends one."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("CABLEARCHIVE_RETRY_BACKOFF", 1.0)
        self.max_delay = settings.getfloat("CABLEARCHIVE_RETRY_MAX_DELAY", 60.0)
        self.retry_after_max = settings.getfloat("CABLEARCHIVE_RETRY_AFTER_MAX", 300.0)
        self.state: CrawlState | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        """Scrapy factory: the retry middleware, counting retries in the crawl's report."""
        mw = super().from_crawler(crawler)
        mw.state = _state(crawler)
        return mw

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Hold a retry until its backoff has passed (the reactor keeps serving other requests)."""
        wait = request.meta.get("retry_not_before", 0.0) - time.monotonic()
        if wait > 0:
            await sleep(wait)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        # A little jitter keeps many failed requests from coming back at the same instant.
        return min(self.max_delay, self.backoff * 2 ** max(0, attempt - 1)) * random.uniform(0.9, 1.1)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        """Retry a 5xx/429/408 after a delay; give up at once if Retry-After asks for too long."""
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        retry_after = retry_after_seconds(response.headers.get(b"Retry-After"))
        if retry_after is not None and retry_after > self.retry_after_max:
            request.meta["retry_gave_up"] = f"server asked to retry after {retry_after:.0f} s"
            return response
        new = super().process_response(request, response)
        if isinstance(new, Request):
            new.meta["retry_not_before"] = time.monotonic() + self._delay(
                new.meta["retry_times"], retry_after
            )
            new.meta["retry_reasons"] = [*request.meta.get("retry_reasons", []), f"HTTP {response.status}"]
            self._count()
        return new

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        """Retry a connection failure or timeout after a delay."""
        new = super().process_exception(request, exception)
        if isinstance(new, Request):
            new.meta["retry_not_before"] = time.monotonic() + self._delay(new.meta["retry_times"], None)
            new.meta["retry_reasons"] = [
                *request.meta.get("retry_reasons", []),
                describe_exception(exception),
            ]
            self._count()
        return new

    def _count(self) -> None:
        if self.state is not None:
            self.state.report.add(retried=1)


class FetchTimeMiddleware:
    """Stamps each response with the time it arrived (for the WARC record)."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        """Record the arrival time in the request's meta."""
        request.meta["fetched_at"] = time.time()
        return response
