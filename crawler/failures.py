"""Plain-words reasons for failed fetches, from the exceptions Scrapy and Twisted raise."""

from __future__ import annotations

import re

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from twisted.internet import error as tx_error

ROBOTS_REFUSAL = "disallowed by robots.txt"


class ResponseCutError(Exception):
    """A response whose body the server cut short (its message says how): nothing of it is kept."""


def _mb(n: str) -> str:
    return f"{int(n) / (1024 * 1024):.1f} MB"


def describe_exception(exc: BaseException) -> str:
    """A one-line reason naming what went wrong with a fetch."""
    msg = str(exc).strip()
    if isinstance(exc, IgnoreRequest):
        if "exceeded DOWNLOAD_MAXSIZE" in msg:
            limit = re.search(r"DOWNLOAD_MAXSIZE \((\d+) B\)", msg)
            return (
                "body too large after decompression (possible decompression bomb): stopped at the "
                f"DOWNLOAD_MAXSIZE limit of {_mb(limit.group(1)) if limit else 'the size limit'}"
            )
        if msg == "max redirections reached":
            return "too many redirects (REDIRECT_MAX_TIMES reached)"
        return msg or "request ignored"
    if isinstance(exc, DownloadTimeoutError):
        took = re.search(r"longer than ([\d.]+) seconds", msg)
        return f"timed out: no complete response within {took.group(1) if took else 'the timeout of'} s (DOWNLOAD_TIMEOUT)"
    if isinstance(exc, DownloadCancelledError):
        sizes = re.search(r"receive (\d+) bytes .*max size \((\d+)\)", msg)
        if sizes:
            expected = "announced" if "Expected" in msg else "received"
            return (
                f"too large: {expected} size {_mb(sizes.group(1))} is over the DOWNLOAD_MAXSIZE limit of "
                f"{_mb(sizes.group(2))}"
            )
        if not msg or "max size" in msg:
            # Scrapy cancels a body that grows past DOWNLOAD_MAXSIZE without a message.
            return "too large: the body grew past the DOWNLOAD_MAXSIZE limit; download stopped"
        return f"download cancelled ({msg[:200]})"
    if isinstance(exc, ResponseCutError):
        return f"truncated response: {msg}"
    if isinstance(exc, ResponseDataLossError) or "_DataLoss" in msg or "DataLoss" in type(exc).__name__:
        return "truncated response: the connection closed before the announced Content-Length arrived"
    if isinstance(exc, DownloadConnectionRefusedError | tx_error.ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, CannotResolveHostError | tx_error.DNSLookupError):
        return "host name does not resolve"
    if isinstance(exc, UnsupportedURLSchemeError):
        return "scheme refused: only http and https are fetched"
    if isinstance(exc, DownloadFailedError | tx_error.ConnectionLost | tx_error.ConnectionDone):
        if "ConnectionLost" in msg or "ConnectionDone" in msg or "connection was lost" in msg.lower():
            return "connection reset or closed by the server before the response was complete"
        return f"download failed ({msg[:200]})"
    if isinstance(exc, tx_error.TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return f"network error: {exc.strerror or msg}"
    return f"{type(exc).__name__}: {msg[:200]}"
