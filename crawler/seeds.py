"""Reading a seeds file: one URL a line, `#` comments and blank lines; bad lines reported, not fatal."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from w3lib.url import safe_url_string

from crawler.discovery import MAX_URL_LENGTH, site_key

# A seeds file is a short list written by hand; anything this big is a mistake.
MAX_SEEDS_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SeedError:
    """A line of the seeds file that was skipped, and why."""

    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return f"line {self.line}: {self.reason}: {shown!r}"


@dataclass
class Seeds:
    """The URLs of a seeds file, in file order without repeats, and the lines that were skipped."""

    path: str
    urls: list[str] = field(default_factory=list)
    errors: list[SeedError] = field(default_factory=list)


class SeedsFileError(Exception):
    """The seeds file itself cannot be read (missing, a folder, unreadable, too big)."""


def parse_seed_line(text: str) -> str:
    """The URL on one seeds line (already stripped of comments); ValueError with the reason if unusable."""
    if any(ch.isspace() for ch in text):
        raise ValueError("more than one word on the line (one URL a line)")
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters")
    if "://" not in text:
        raise ValueError("not an absolute URL (no scheme://)")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"malformed URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"scheme {parts.scheme!r} refused (only http and https)")
    if not parts.hostname:
        raise ValueError("no host name")
    if parts.username or parts.password:
        raise ValueError("user name or password in the URL")
    try:
        url = safe_url_string(text)
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"cannot encode URL ({exc})") from None
    if site_key(url) is None:
        raise ValueError("no usable host")
    return url


def read_seeds(path: str | Path) -> Seeds:
    """Parse a seeds file; raises SeedsFileError only when the file itself cannot be read."""
    p = Path(path)
    try:
        if p.is_dir():
            raise SeedsFileError(f"{p}: is a folder, not a seeds file")
        if p.stat().st_size > MAX_SEEDS_FILE_BYTES:
            raise SeedsFileError(f"{p}: larger than {MAX_SEEDS_FILE_BYTES // (1024 * 1024)} MB")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise SeedsFileError(f"{p}: no such seeds file") from None
    except OSError as exc:
        raise SeedsFileError(f"{p}: cannot read ({exc.strerror or exc})") from None
    seeds = Seeds(path=str(p))
    seen: set[str] = set()
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    for number, line in enumerate(text.splitlines(), start=1):
        # A comment is a line starting with #, or " #" after the URL (a URL's own #fragment has no space).
        body = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if not body or body.startswith("#"):
            continue
        if "\ufffd" in body:
            seeds.errors.append(SeedError(number, body, "not valid UTF-8"))
            continue
        try:
            url = parse_seed_line(body)
        except ValueError as exc:
            seeds.errors.append(SeedError(number, body, str(exc)))
            continue
        if url in seen:
            continue
        seen.add(url)
        seeds.urls.append(url)
    return seeds
