"""The `mirrors` spider: from seed URLs through same-site links, feeds and sitemaps, every response archived.

scrapy crawl mirrors -a seeds=FILE [-a depth=3] [-a max_pages=N] [-a resume=1] [-s NAME=VALUE]

The spider turns targets into requests and responses into CaptureItems (which the archive
pipeline stores) and new targets; what the crawl knows lives in the CrawlState extension.
"""

from __future__ import annotations

import http
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from archive.layout import tool_version
from cleaners import PageResult, Warn
from crawler.analysis import PageJob
from crawler.discovery import REDIRECT, Link, is_redirect, site_key, url_key
from crawler.failures import ROBOTS_REFUSAL, describe_exception
from crawler.frontier import Target
from crawler.items import CaptureItem, header_pairs
from crawler.journal import Done, Record
from crawler.middlewares import ReportingRobotsTxtMiddleware
from crawler.signals import targets_found
from crawler.state import DEFAULT_DEPTH, CrawlOptions, CrawlState

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


def user_agent(contact: str) -> str:
    """The crawler's honest User-Agent: name/version, and how to reach whoever runs it."""
    ua = f"cablearchive/{tool_version()}"
    return f"{ua} (+{contact.strip()})" if contact.strip() else ua


def _flag(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _phrase(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


class MirrorsSpider(scrapy.Spider):
    """Crawls mirror sites of the cables from a seeds file into the archive."""

    name = "mirrors"

    def __init__(
        self,
        seeds: str | None = None,
        depth: int | str = DEFAULT_DEPTH,
        max_pages: int | str | None = None,
        resume: bool | str = False,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not seeds:
            raise ValueError("the mirrors spider needs a seeds file: scrapy crawl mirrors -a seeds=FILE")
        # The CrawlState extension reads these (spider arguments reach components as attributes).
        self.crawl_options = CrawlOptions(
            seeds=str(seeds),
            depth=int(depth),
            max_pages=int(max_pages) if max_pages not in (None, "", "0", 0) else None,
            resume=_flag(resume),
        )
        self._state: CrawlState | None = None
        self._robots: ReportingRobotsTxtMiddleware | None = None

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Set the User-Agent from CABLEARCHIVE_CONTACT unless the user set one."""
        super().update_settings(settings)
        ua_priority = settings.getpriority("USER_AGENT") or 0
        if (
            ua_priority < (settings.getpriority("CABLEARCHIVE_CONTACT") or 0) or ua_priority <= 10
        ):  # 10: Scrapy's default
            contact = settings.get("CABLEARCHIVE_CONTACT") or os.environ.get("CABLEARCHIVE_CONTACT", "")
            settings.set("USER_AGENT", user_agent(contact), priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> MirrorsSpider:
        """Scrapy factory: the spider, listening for targets other components find."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._schedule, signal=targets_found)
        return spider

    @property
    def state(self) -> CrawlState:
        """The crawl's state (the CrawlState extension; built after the spider, so found on first use)."""
        if self._state is None:
            state = self.crawler.get_extension(CrawlState)
            if state is None:
                raise RuntimeError("the mirrors spider needs crawler.state.CrawlState in EXTENSIONS")
            self._state = state
        return self._state

    # ------------------------------------------------------------------ requests
    async def start(self) -> AsyncIterator[Request]:
        """Seeds and their sites' robots.txt and sitemap first; on --resume, what was left."""
        state = self.state
        if state.report.fatal:
            return
        self._robots = self.crawler.get_downloader_middleware(ReportingRobotsTxtMiddleware)
        if not self.settings.get("CABLEARCHIVE_CONTACT") and not os.environ.get("CABLEARCHIVE_CONTACT"):
            self.logger.info(
                "no CABLEARCHIVE_CONTACT set: the User-Agent gives site owners no way to reach you"
            )
        for target in state.start_targets:
            yield self.request_for(target)

    def request_for(self, target: Target, unconditional: bool = False) -> Request:
        """The Scrapy request for a target; its download slot is the site (host and port)."""
        meta: dict[str, Any] = {"target": target, "download_slot": site_key(target.url) or "?"}
        if unconditional:
            meta["unconditional"] = (
                True  # no If-None-Match / If-Modified-Since (ConditionalRequestMiddleware)
            )
        return Request(
            target.url,
            callback=self.parse,
            errback=self.on_error,
            priority=target.priority,
            meta=meta,
            dont_filter=unconditional,
        )

    def _schedule(self, targets: list[Target]) -> None:
        """Fetch targets found outside a callback (the robots middleware's Sitemap: lines)."""
        engine = self.crawler.engine
        for target in targets:
            engine.crawl(self.request_for(target))

    # ------------------------------------------------------------------ responses
    async def parse(self, response: Response, **kwargs: Any) -> AsyncIterator[Request | CaptureItem]:
        """Archive the response, clean it, and follow its links."""
        state = self.state
        target: Target = response.meta["target"]
        status = response.status
        final = response.url
        headers = header_pairs(response.headers)
        ctype = response.headers.get(b"Content-Type")
        content_type = ctype.decode("latin-1") if ctype else None
        journal: list[Record] = []
        state.report.add(pages=1)
        if target.seed and target.chain and site_key(final) != site_key(target.origin):
            # A seed that redirected to another site: that site is in scope now.
            probes, records = state.add_site(final)
            journal.extend(records)
            for probe in probes:
                yield self.request_for(probe)
        sites = frozenset(state.frontier.sites)
        result = None
        links = []
        stored_status = status
        if status == 304:
            # Not modified: the archived copy is still the page. It is read exactly as a fresh
            # answer would be (cleaned again, so a rule change since the last crawl shows up, and
            # everything it leads on to followed: links, refresh, a stored redirect, feed, sitemap).
            state.report.add(not_modified=1)
            stored = await state.reader.stored_page(final)
            if stored is None:
                # A 304 with nothing stored to stand for: ask again, unconditionally.
                if response.meta.get("unconditional") or not state.frontier.take():
                    state.record_failure(
                        target.origin, "HTTP 304 Not Modified, and no archived copy to read it from"
                    )
                else:
                    state.note(final, "HTTP 304 Not Modified, but no archived copy: fetched again in full")
                    yield self.request_for(target, unconditional=True)
                    return
            else:
                stored_status, s_headers, s_body = stored
                s_type = next((v for k, v in s_headers if k.lower() == "content-type"), None)
                analysis = await state.analyse(
                    PageJob(
                        final,
                        stored_status,
                        s_headers,
                        s_body,
                        s_type,
                        sites,
                        clean=not is_redirect(stored_status),
                        depth=target.depth,
                        max_depth=state.frontier.max_depth,
                        seed=target.seed,
                    )
                )
                result, links = analysis.result, analysis.links
        else:
            state.report.add(full_bodies=1)
            job = PageJob(
                final,
                status,
                headers,
                response.body,
                content_type,
                sites,
                clean=not is_redirect(status),
                links=status < 400,
                depth=target.depth,
                max_depth=state.frontier.max_depth,
                seed=target.seed,
            )
            analysis = await state.analyse(job)
            result, links = analysis.result, analysis.links
            if analysis.error:
                state.report.note(final, analysis.error)
        links = self._check_redirects(target, links)
        self._report_status(target, response, result, stored_status, links)
        allowed = self._robots.allowed if self._robots is not None else None
        for child in state.frontier.children(links, target.depth, allowed, parent=target):
            journal.append(child.record())
            yield self.request_for(child)
        journal.append(Done(target.url, final))
        request = response.request
        yield CaptureItem(
            url=target.url,
            final_url=final,
            status=status,
            headers=headers,
            body=response.body,
            request_headers=header_pairs(request.headers) if request is not None else [],
            fetched_at=response.meta.get("fetched_at") or time.time(),
            method=request.method if request is not None else "GET",
            protocol=response.protocol or "HTTP/1.1",
            result=result,
            journal=journal,
        )

    def _check_redirects(self, target: Target, links: list[Link]) -> list[Link]:
        """The links without the redirects that would loop or go on too long (each one a failure)."""
        if not any(link.kind == REDIRECT for link in links):
            return links
        state = self.state
        hops = [*target.chain, target.url]
        keys = {url_key(u) for u in hops}
        limit = self.settings.getint("REDIRECT_MAX_TIMES", 10)
        out = []
        for link in links:
            if link.kind == REDIRECT:
                if url_key(link.url) in keys:
                    start = next(i for i, u in enumerate(hops) if url_key(u) == url_key(link.url))
                    state.record_failure(
                        target.origin, "redirect loop: " + " -> ".join([*hops[start:], link.url])
                    )
                    continue
                if len(hops) > limit:
                    state.record_failure(
                        target.origin,
                        f"too many redirects (more than REDIRECT_MAX_TIMES={limit}), at {target.url}",
                    )
                    continue
            out.append(link)
        return out

    def _report_status(
        self,
        target: Target,
        response: Response,
        result: PageResult | None,
        status: int,
        links: list[Link],
    ) -> None:
        """Failures and notes for statuses (of the answer, or of the stored copy a 304 stands for) and odd bodies."""
        state = self.state
        url = response.url
        if is_redirect(status):
            if not any(link.kind == REDIRECT for link in links):
                failed, reason = self._unfollowed(status, response)
                if failed:
                    state.record_failure(target.origin, reason)
                else:
                    state.note(target.origin, reason)
        elif status >= 500 or status in (408, 429):
            attempts = response.meta.get("retry_times", 0) + 1
            reason = _phrase(status) + (f" after {attempts} attempts" if attempts > 1 else "")
            if response.meta.get("retry_gave_up"):
                reason += (
                    f"; not retried: {response.meta['retry_gave_up']}, more than CABLEARCHIVE_RETRY_AFTER_MAX"
                )
            if target.probe:
                state.report.note(url, reason)
            else:
                state.record_failure(url, reason)
        elif status >= 400:
            if target.seed:
                state.record_failure(
                    target.origin, _phrase(status) + (f" (at {url})" if url != target.origin else "")
                )
            elif not target.probe:
                state.report.broken_link(url, _phrase(status))
        earlier = response.meta.get("retry_reasons")
        if earlier and status < 400:
            state.report.note(
                url, f"fetched on attempt {len(earlier) + 1}; earlier attempts: {'; '.join(earlier)}"
            )
        if result is not None:
            for warning in result.warnings:
                # Odd input is worth a note; a feed or sitemap served as XML is routine.
                if warning.kind == Warn.BAD_INPUT or (
                    warning.kind == Warn.CONTENT_TYPE and "xml" not in (warning.detail or "")
                ):
                    state.report.note(url, warning)

    def _unfollowed(self, status: int, response: Response) -> tuple[bool, str]:
        """Why a redirect was not followed, and whether that is a failure (no usable Location, another
        scheme) or only worth a note (a redirect off the sites in scope, or to a URL never fetched)."""
        header = response.headers.get(b"Location")
        if not header:
            return True, f"{_phrase(status)} without a usable Location header"
        location = header.decode("latin-1")
        try:
            target = urljoin(response.url, safe_url_string(location))
        except ValueError:
            target = location
        scheme = urlsplit(target).scheme or "(none)"
        if scheme not in ("http", "https"):
            return (
                True,
                f"redirect to {target[:200]} refused: scheme {scheme!r} (only http and https are fetched)",
            )
        return (
            False,
            f"{_phrase(status)} to {target[:200]}: not followed (off the sites crawled, or not a page)",
        )

    async def on_error(self, failure: Failure) -> None:
        """A request that got no response: report why (robots.txt refusals are only counted)."""
        request = getattr(failure, "request", None)  # Scrapy sets it on the failures it hands errbacks
        target = request.meta.get("target") if isinstance(request, Request) else None
        if request is None or not isinstance(target, Target):
            return
        state = self.state
        reason = describe_exception(failure.value)
        if reason == ROBOTS_REFUSAL:
            state.robots_refused += 1
            if target.seed:
                state.record_failure(target.url, reason)
            return
        attempts = request.meta.get("retry_times", 0) + 1
        if attempts > 1:
            reason += f" (after {attempts} attempts)"
        if target.probe:
            state.report.note(request.url, reason)
        else:
            origin = target.origin
            state.record_failure(origin, reason if request.url == origin else f"{reason} (at {request.url})")
