"""The item the spider hands to the archive pipeline: one response, cleaned, with its journal entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from cleaners import PageResult
from crawler.journal import Record


@dataclass
class CaptureItem:
    """One response to store as a capture, and what cleaning it gave."""

    url: str  # the URL requested (before redirects)
    final_url: str  # the URL that answered
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    request_headers: list[tuple[str, str]]
    fetched_at: float
    method: str = "GET"
    protocol: str = "HTTP/1.1"
    result: PageResult | None = None  # None for a 304 (nothing new to clean)
    # Journal records to write once this capture is committed (crawler.journal).
    journal: list[Record] = field(default_factory=list)

    def __repr__(self) -> str:
        # Scrapy logs items; a body in the log helps no one.
        return f"<CaptureItem {self.status} {self.final_url} {len(self.body)} B>"
