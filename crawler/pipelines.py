"""The archive pipeline: every CaptureItem becomes a capture in the archive, its cables recorded."""

from __future__ import annotations

from typing import Any

from scrapy.utils.defer import maybe_deferred_to_future

from crawler.items import CaptureItem


class ArchivePipeline:
    """Hands items to the crawl session's writer thread; waits for it, so a slow disk slows the crawl."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        """Scrapy factory."""
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        """Store a CaptureItem; other items pass through untouched."""
        session = getattr(self.crawler.spider, "session", None)
        if isinstance(item, CaptureItem) and session is not None:
            await maybe_deferred_to_future(session.store(item))
        return item
