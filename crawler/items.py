"""The item the spider hands to the archive pipeline: one response, cleaned, with its journal entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.http.headers import Headers

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
    # The Content-Length of a body stored as received (not decoded); the archive refuses it shorter.
    declared_length: int | None = None
    # Journal records to write once this capture is committed (crawler.journal).
    journal: list[Record] = field(default_factory=list)

    def __repr__(self) -> str:
        # Scrapy logs items; a body in the log helps no one.
        return f"<CaptureItem {self.status} {self.final_url} {len(self.body)} B>"


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    """Scrapy Headers as (name, value) pairs, every value kept."""
    out = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for v in values:
            out.append((key, v.decode("latin-1") if isinstance(v, bytes) else str(v)))
    return out
