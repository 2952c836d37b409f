"""The `mirrors` spider: from seed URLs through same-site links, feeds and sitemaps, every response archived.

scrapy crawl mirrors -a seeds=FILE [-a depth=3] [-a max_pages=N] [-a resume=1] [-s NAME=VALUE]
"""

from __future__ import annotations

import http
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from cleaners import Warn
from crawler.analysis import PageJob
from crawler.discovery import site_key
from crawler.failures import ROBOTS_REFUSAL, describe_exception
from crawler.frontier import Target
from crawler.items import CaptureItem
from crawler.journal import Done, Record
from crawler.session import DEFAULT_DEPTH, CrawlOptions, CrawlSession
from crawler.session import header_pairs as _pairs


def tool_version() -> str:
    """The installed cablearchive version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cablearchive")
    except PackageNotFoundError:
        return "0.1.0"


def user_agent(contact: str) -> str:
    """The crawler's honest User-Agent: name/version, and how to reach whoever runs it."""
    ua = f"cablearchive/{tool_version()}"
    return f"{ua} (+{contact.strip()})" if contact.strip() else ua


def _flag(value: Any) -> bool:
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
        self.options = CrawlOptions(
            seeds=str(seeds),
            depth=int(depth),
            max_pages=int(max_pages) if max_pages not in (None, "", "0", 0) else None,
            resume=_flag(resume),
        )
        self.session: CrawlSession

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        """Set the User-Agent from CABLEARCHIVE_CONTACT unless the user set one."""
        super().update_settings(settings)
        if settings.getpriority("USER_AGENT") < settings.getpriority("CABLEARCHIVE_CONTACT") or (
            settings.getpriority("USER_AGENT") <= 10  # Scrapy's default
        ):
            contact = settings.get("CABLEARCHIVE_CONTACT") or os.environ.get("CABLEARCHIVE_CONTACT", "")
            settings.set("USER_AGENT", user_agent(contact), priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> MirrorsSpider:
        """Scrapy factory: the spider and its crawl session."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.session = CrawlSession(crawler, spider.options)
        crawler.signals.connect(spider._on_closed, signal=signals.spider_closed)
        return spider

    async def _on_closed(self, spider: Any, reason: str) -> None:
        await self.session.close(reason)

    # ------------------------------------------------------------------ requests
    async def start(self) -> AsyncIterator[Any]:
        """Seeds and their sites' robots.txt and sitemap first; on --resume, what was left."""
        targets = await self.session.open()
        if self.session.report.fatal:
            return
        if not self.settings.get("CABLEARCHIVE_CONTACT") and not os.environ.get("CABLEARCHIVE_CONTACT"):
            self.logger.info(
                "no CABLEARCHIVE_CONTACT set: the User-Agent gives site owners no way to reach you"
            )
        for target in targets:
            yield self.request_for(target)

    def request_for(self, target: Target) -> Request:
        """The Scrapy request for a target; its download slot is the site (host and port)."""
        return Request(
            target.url,
            callback=self.parse,
            errback=self.on_error,
            priority=target.priority,
            meta={"target": target, "download_slot": site_key(target.url) or "?"},
        )

    # ------------------------------------------------------------------ responses
    async def parse(self, response: Response) -> AsyncIterator[Any]:
        """Archive the response, clean it, and follow its links."""
        session = self.session
        target: Target = response.meta["target"]
        status = response.status
        final = response.url
        headers = _pairs(response.headers)
        ctype = response.headers.get(b"Content-Type")
        content_type = ctype.decode("latin-1") if ctype else None
        session.report.add(pages=1)
        if final != target.url:
            session.frontier.mark_seen(final)
            if target.seed and site_key(final) != site_key(target.url):
                for probe in session.add_site(final):
                    yield self.request_for(probe)
        sites = frozenset(session.frontier.sites)
        result = None
        links = []
        if status == 304:
            # Not modified: the archived copy is still the page; clean it again (no network, and a
            # rule change since the last crawl shows up) and take its links.
            session.report.add(not_modified=1)
            stored = await session.stored_page(final)
            if stored is not None:
                s_headers, s_body = stored
                s_type = next((v for k, v in s_headers if k.lower() == "content-type"), None)
                analysis = await session.analyse(
                    PageJob(
                        final,
                        200,
                        s_headers,
                        s_body,
                        s_type,
                        sites,
                        depth=target.depth,
                        max_depth=session.frontier.max_depth,
                    )
                )
                result, links = analysis.result, analysis.links
        else:
            session.report.add(full_bodies=1)
            job = PageJob(
                final,
                status,
                headers,
                response.body,
                content_type,
                sites,
                links=status < 400,
                depth=target.depth,
                max_depth=session.frontier.max_depth,
            )
            analysis = await session.analyse(job)
            result, links = analysis.result, analysis.links
            if analysis.error:
                session.report.note(final, analysis.error)
        self._report_status(target, response, result)
        journal: list[Record] = []
        for child in session.frontier.children(links, target.depth, session.robots_allowed):
            journal.append(child.record())
            yield self.request_for(child)
        journal.append(Done(target.url, final))
        yield CaptureItem(
            url=target.url,
            final_url=final,
            status=status,
            headers=headers,
            body=response.body,
            request_headers=_pairs(response.request.headers),
            fetched_at=response.meta.get("fetched_at") or time.time(),
            method=response.request.method,
            protocol=response.protocol or "HTTP/1.1",
            result=result,
            journal=journal,
        )

    def _report_status(self, target: Target, response: Response, result: Any) -> None:
        """Failures and notes for statuses and odd bodies."""
        session = self.session
        status = response.status
        url = response.url
        if 300 <= status < 400 and status != 304:
            reason = (
                response.meta.get("redirect_refused") or f"{_phrase(status)} without a usable Location header"
            )
            session.record_failure(target.url, reason)
        elif status >= 500 or status in (408, 429):
            attempts = response.meta.get("retry_times", 0) + 1
            reason = _phrase(status) + (f" after {attempts} attempts" if attempts > 1 else "")
            if response.meta.get("retry_gave_up"):
                reason += (
                    f"; not retried: {response.meta['retry_gave_up']}, more than CABLEARCHIVE_RETRY_AFTER_MAX"
                )
            if target.probe:
                session.report.note(url, reason)
            else:
                session.record_failure(url, reason)
        elif status >= 400:
            if target.seed:
                session.record_failure(target.url, _phrase(status))
            elif not target.probe:
                session.report.broken_link(url, _phrase(status))
        earlier = response.meta.get("retry_reasons")
        if earlier and status < 400:
            session.report.note(
                url, f"fetched on attempt {len(earlier) + 1}; earlier attempts: {'; '.join(earlier)}"
            )
        if result is not None:
            for warning in result.warnings:
                # Odd input is worth a note; a feed or sitemap served as XML is routine.
                if warning.kind == Warn.BAD_INPUT or (
                    warning.kind == Warn.CONTENT_TYPE and "xml" not in (warning.detail or "")
                ):
                    session.report.note(url, warning)

    async def on_error(self, failure: Failure) -> None:
        """A request that got no response: report why (robots.txt refusals are only counted)."""
        request = failure.request
        target: Target | None = request.meta.get("target")
        if target is None:
            return
        reason = describe_exception(failure.value)
        if reason == ROBOTS_REFUSAL:
            self.session.robots_refused += 1
            if target.seed:
                self.session.record_failure(target.url, reason)
            return
        attempts = request.meta.get("retry_times", 0) + 1
        if attempts > 1:
            reason += f" (after {attempts} attempts)"
        if target.probe:
            self.session.report.note(request.url, reason)
        else:
            self.session.record_failure(
                request.url if request.url == target.url else target.url,
                reason if request.url == target.url else f"{reason} (at {request.url})",
            )
