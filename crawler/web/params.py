"""Checking what a URL asks for: cable IDs, versions, source keys, capture tokens, paging, sorting.

Every value taken from a URL goes through here before it reaches the archive, so no path is
ever built from unchecked input.
"""

from __future__ import annotations

import base64
import binascii
import re

from starlette.exceptions import HTTPException

from archive.ids import is_reference, is_source_key

_VERSION = re.compile(r"v?([1-9][0-9]{0,5})")
_UUID_ID = re.compile(r"<urn:uuid:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})>")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TOKEN = re.compile(r"r-[A-Za-z0-9_-]{4,400}")
_YEAR = re.compile(r"(19|20)[0-9]{2}")
MAX_PAGE = 100000
MAX_QUERY = 500


def bad(message: str) -> HTTPException:
    """A 400 answer saying what was wrong with the request."""
    return HTTPException(400, message)


def reference(ref: str) -> str:
    """A cable reference ID from a URL; 400 unless it is one."""
    if not is_reference(ref):
        raise bad(f"{ref[:80]!r} is not a cable reference ID (e.g. 08ASTANA611)")
    return ref


def version(value: str | None, what: str = "version") -> int | None:
    """A version number (`3` or `v3`) from a URL; None when absent, 400 when malformed."""
    if value is None or value == "":
        return None
    m = _VERSION.fullmatch(value)
    if not m:
        raise bad(f"{what} {value[:20]!r} is not a version number (write 2 or v2)")
    return int(m.group(1))


def source(value: str | None) -> str | None:
    """A source key from a URL; None when absent, 400 when it does not have a source key's form."""
    if value is None or value == "":
        return None
    if not is_source_key(value):
        raise bad(f"{value[:80]!r} is not a source key")
    return value


def capture_token(record_id: str) -> str:
    """The URL name of a capture: its UUID, or a base64 form of a record ID of another shape."""
    m = _UUID_ID.fullmatch(record_id)
    if m:
        return m.group(1)
    return "r-" + base64.urlsafe_b64encode(record_id.encode("utf-8")).decode("ascii").rstrip("=")


def record_id(token: str) -> str:
    """The WARC-Record-ID a capture token names; 400 for a token of no known form."""
    if _UUID.fullmatch(token):
        return f"<urn:uuid:{token}>"
    if _TOKEN.fullmatch(token):
        data = token[2:]
        try:
            return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
    raise bad(f"{token[:80]!r} is not a capture")


def page(value: str | None) -> int:
    """A page number of a paged list (from 1)."""
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise bad(f"page {value[:20]!r} is not a page number")
    return int(value)


def choice(value: str | None, allowed: tuple[str, ...], what: str) -> str:
    """One of allowed (the first when absent); 400 otherwise."""
    if value is None or value == "":
        return allowed[0]
    if value not in allowed:
        raise bad(f"{what} {value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def year(value: str | None) -> int | None:
    """A year filter (1966 to 2099)."""
    if value is None or value == "":
        return None
    if not _YEAR.fullmatch(value):
        raise bad(f"year {value[:20]!r} is not a year")
    return int(value)


def text(value: str | None, what: str, limit: int = MAX_QUERY) -> str | None:
    """A free-text value (a query, a facet value), bounded in length; None when absent."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise bad(f"{what} is longer than {limit} characters")
    if any(ord(c) < 32 for c in value):
        raise bad(f"{what} holds control characters")
    return value or None
