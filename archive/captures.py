"""The raw layer: captures written as per-record-gzip WARC files, indexed one CDXJ line each."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from w3lib.url import safe_url_string
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.fsutil import raise_if_disk_full
from archive.layout import Layout, warc_name

try:  # pywb's SURT; without it the urlkey falls back to the lower-cased URL
    import surt as _surt
except ImportError:  # pragma: no cover - surt is a dependency
    _surt = None

WARC_VERSION = "WARC/1.0"
PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.0/revisit/server-not-modified"
REVISIT_IDENTICAL = "identical-payload-digest"
REVISIT_NOT_MODIFIED = "server-not-modified"

# On the corpus pages level 5 compresses 0.5% worse than 6 in two thirds of the time (level
# 6: 1% worse than 9 in less than half its time); level 4 costs 2.7% more bytes.
GZIP_LEVEL = 5

# The body handed to add_capture is already decoded (the crawler's and warcio's readers
# undo transfer and content codings), so the headers that announce an encoding are kept
# under another name: the stored record must describe the stored bytes.
_RENAMED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
ORIG_HEADER_PREFIX = "X-Archive-Orig-"
# WARC field naming the URL a response finally came from, after redirects.
FINAL_URL_HEADER = "X-Cablearchive-Final-URI"

_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]")


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with a Z, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_iso(value: str | float | datetime | None) -> str:
    """Normalise a fetch time (datetime, epoch seconds or ISO string) to ISO 8601 UTC with Z."""
    if value is None:
        return now_iso()
    if isinstance(value, (int, float)):
        dt = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                dt = parsedate_to_datetime(text)
            except (TypeError, ValueError):
                return now_iso()
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp14(iso: str) -> str:
    """The 14-digit CDX timestamp of an ISO 8601 time."""
    return re.sub(r"\D", "", iso)[:14].ljust(14, "0")


def urlkey(url: str) -> str:
    """The SURT form of a URL, as pywb sorts and looks up captures."""
    if _surt is not None:
        try:
            return _surt.surt(url)
        except Exception:
            pass
    return url.lower()


def payload_digest(body: bytes) -> str:
    """The WARC payload digest of a body: sha1 in base32, as warcio and pywb write it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def safe_url(url: str) -> str:
    """A URL fit for a WARC header: percent-encoded, no whitespace or control characters."""
    try:
        out = safe_url_string(url)
    except Exception:
        out = url
    return _CTRL_RE.sub(lambda m: f"%{ord(m.group()):02X}", out).replace(" ", "%20")


def _clean_header(name: str, value: str) -> tuple[str, str]:
    """A header pair with no CR/LF (a header must never break the record's framing)."""
    return _CTRL_RE.sub("", str(name)).strip() or "X-Empty", _CTRL_RE.sub(" ", str(value)).strip()


def header_value(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value of a header, matched case-insensitively."""
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def mime_of(headers: list[tuple[str, str]]) -> str:
    """The media type of a response (no parameters), lower case; 'unk' when absent."""
    ctype = header_value(headers, "content-type") or ""
    return ctype.split(";", 1)[0].strip().lower() or "unk"


@dataclass
class Capture:
    """One stored response (or revisit): where it lives in which WARC file and what it was."""

    capture_id: str
    url: str
    warc_file: str
    offset: int
    length: int
    record_id: str
    payload_digest: str
    revisit: bool
    status: int
    mime: str
    fetched_at: str
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    revisit_profile: str | None = None
    refers_to: str | None = None
    cleaned: str | None = field(default=None, compare=False)

    @property
    def timestamp(self) -> str:
        """The 14-digit CDX timestamp."""
        return timestamp14(self.fetched_at)

    def to_cdxj(self) -> str:
        """The capture's CDXJ line (no newline): urlkey, timestamp, JSON block."""
        block: dict[str, Any] = {
            "url": self.url,
            "mime": "warc/revisit" if self.revisit else self.mime,
            "status": str(self.status),
            "digest": self.payload_digest,
            "length": str(self.length),
            "offset": str(self.offset),
            "filename": self.warc_file,
            "record_id": self.record_id,
            "fetched_at": self.fetched_at,
        }
        if self.revisit:
            block["orig_mime"] = self.mime
            block["revisit"] = self.revisit_profile
            block["refers_to"] = self.refers_to
        for name in ("final_url", "etag", "last_modified"):
            value = getattr(self, name)
            if value:
                block[name] = value
        return f"{urlkey(self.url)} {self.timestamp} {json.dumps(block, ensure_ascii=False, sort_keys=True)}"

    @classmethod
    def from_cdxj(cls, line: str) -> Capture:
        """Parse one CDXJ line written by to_cdxj(); raises ValueError on a malformed line."""
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) != 3:
            raise ValueError("not a CDXJ line (want: urlkey timestamp {json})")
        block = json.loads(parts[2])
        revisit = "revisit" in block
        return cls(
            capture_id=block["record_id"],
            url=block["url"],
            warc_file=block["filename"],
            offset=int(block["offset"]),
            length=int(block["length"]),
            record_id=block["record_id"],
            payload_digest=block["digest"],
            revisit=revisit,
            status=int(block["status"]),
            mime=block.get("orig_mime", block["mime"]) if revisit else block["mime"],
            fetched_at=block["fetched_at"],
            final_url=block.get("final_url"),
            etag=block.get("etag"),
            last_modified=block.get("last_modified"),
            revisit_profile=block.get("revisit"),
            refers_to=block.get("refers_to"),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


class _GzipMember:
    """Compress one record as its own gzip member (per-record gzip, level GZIP_LEVEL)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> None:
        self.out.write(self.comp.compress(data))

    def flush(self) -> None:
        # warcio flushes once at the end of each record: that ends the gzip member.
        self.out.write(self.comp.flush())
        self.comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)


# Looks up an earlier capture with this payload digest (for identical-payload revisits)
# or the newest capture of this URL (for 304 revisits): returns (record_id, url, warc date).
Lookup = Callable[[str], "tuple[str, str, str, str] | None"]


class WarcSink:
    """Appends captures of one run to `<run>-<n>.warc.gz` files, rolling past a size limit."""

    def __init__(self, layout: Layout, run_id: str, info: dict[str, Any], size_limit: int) -> None:
        self.layout = layout
        self.run_id = run_id
        self.info = info
        self.size_limit = size_limit
        self.n = 0
        self.fh: BinaryIO | None = None
        self.name: str | None = None
        # Bytes written so far to each file of the run (complete records only); what of it is
        # committed is the writer's business (the commit journal).
        self.sizes: dict[str, int] = {}
        self._writer: WARCWriter | None = None

    def _path(self, name: str) -> str:
        return self.layout.warc_path(name)

    def _open_next(self) -> None:
        # The file left behind may hold records of the commit in progress: durable before it is closed.
        self.fsync()
        self.close()
        self.n += 1
        self.name = warc_name(self.run_id, self.n)
        path = self._path(self.name)
        try:
            self.fh = open(path, "xb")  # noqa: SIM115 - kept open across calls
        except OSError as exc:
            raise_if_disk_full(exc, path)
            raise
        self._writer = WARCWriter(_GzipMember(self.fh), gzip=False, warc_version=WARC_VERSION)
        record = self._writer.create_warcinfo_record(self.name, self.info)
        self._write(record)

    def _write(self, record: Any) -> tuple[int, int]:
        # record: a warcio ArcWarcRecord (warcio has no type information)
        assert self.fh is not None and self._writer is not None and self.name is not None
        start = self.fh.tell()
        try:
            self._writer.write_record(record)
            # Flushed at once: a reader (verify, a revisit's lookup) may read the record before the commit.
            self.fh.flush()
        except OSError as exc:
            # A half-written record would make the file unreadable past it: cut it off.
            with contextlib.suppress(OSError):
                self.fh.truncate(start)
                self.fh.seek(start)
            raise_if_disk_full(exc, self._path(self.name))
            raise
        end = self.fh.tell()
        self.sizes[self.name] = end
        return start, end - start

    def write(
        self,
        url: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        fetched_at: str,
        final_url: str | None,
        request_headers: list[tuple[str, str]] | None,
        method: str,
        protocol: str,
        by_digest: Lookup,
        by_url: Lookup,
    ) -> Capture:
        """Write one capture (response + request, or revisit + request) and return it."""
        if self.fh is None or (self.size_limit and self.fh.tell() >= self.size_limit):
            self._open_next()
        assert self._writer is not None and self.name is not None
        writer = self._writer
        url = safe_url(url)
        final = safe_url(final_url) if final_url and final_url != url else None
        stored_headers: list[tuple[str, str]] = []
        for k, v in headers:
            k, v = _clean_header(k, v)
            if k.lower() in _RENAMED_HEADERS:
                stored_headers.append((ORIG_HEADER_PREFIX + k, v))
            else:
                stored_headers.append((k, v))
        stored_headers.append(("Content-Length", str(len(body))))
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        http_headers = StatusAndHeaders(f"{status} {reason}", stored_headers, protocol=protocol)
        digest = payload_digest(body)
        warc_date = fetched_at
        warc_headers = {"WARC-Date": warc_date}
        if final:
            warc_headers[FINAL_URL_HEADER] = final
        profile = None
        refers = None
        if status == 304:
            refers = by_url(url)
            if refers is not None:
                profile = REVISIT_NOT_MODIFIED
                digest = refers[3]
        elif status == 200 and body:
            refers = by_digest(digest)
            if refers is not None:
                profile = REVISIT_IDENTICAL
        if profile is not None and refers is not None:
            record = writer.create_revisit_record(
                url, digest, refers[1], refers[2], http_headers=http_headers, warc_headers_dict=warc_headers
            )
            record.rec_headers.replace_header(
                "WARC-Profile", PROFILE_NOT_MODIFIED if profile == REVISIT_NOT_MODIFIED else PROFILE_IDENTICAL
            )
            record.rec_headers.add_header("WARC-Refers-To", refers[0])
        else:
            record = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        offset, length = self._write(record)
        split = urlsplit(url)
        path = (split.path or "/") + (f"?{split.query}" if split.query else "")
        req_headers = [_clean_header(k, v) for k, v in (request_headers or [])]
        if not any(k.lower() == "host" for k, _ in req_headers) and split.netloc:
            req_headers.insert(0, ("Host", split.netloc))
        request = writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(f"{method} {path} {protocol}", req_headers, is_http_request=True),
            warc_headers_dict={"WARC-Date": warc_date, "WARC-Concurrent-To": record_id},
        )
        self._write(request)
        return Capture(
            capture_id=record_id,
            url=url,
            warc_file=self.name,
            offset=offset,
            length=length,
            record_id=record_id,
            payload_digest=digest,
            revisit=profile is not None,
            status=int(status),
            mime=mime_of(headers),
            fetched_at=fetched_at,
            final_url=final,
            etag=header_value(headers, "etag"),
            last_modified=header_value(headers, "last-modified"),
            revisit_profile=profile,
            refers_to=refers[0] if profile is not None and refers is not None else None,
        )

    def fsync(self) -> None:
        """Make the open file's records durable (files rolled past were made durable when closed)."""
        if self.fh is not None and self.name is not None:
            try:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            except OSError as exc:
                raise_if_disk_full(exc, self._path(self.name))
                raise

    def sync(self) -> dict[str, int]:
        """fsync the open WARC file; returns the length of every file of this run."""
        self.fsync()
        return dict(self.sizes)

    def close(self) -> None:
        """Close the current file (it stays as it is; the next write opens a new one)."""
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
        self.fh = None


def read_record(path: str, offset: int, length: int) -> tuple[str, Any, int, list[tuple[str, str]], bytes]:
    """Read one record: (WARC-Type, WARC headers, HTTP status, HTTP headers, payload bytes)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:
        raise ValueError(f"{path}: record at offset {offset} is cut short (file truncated?)")
    # Decompressed and checked here (CRC, length, nothing after it): warcio alone reads some
    # damaged members as an empty record instead of failing.
    plain, problem = gunzip_member(data)
    if plain is None:
        raise ValueError(f"{path}: record at offset {offset}: {problem}")
    for record in ArchiveIterator(io.BytesIO(plain)):
        rec_type = record.rec_type
        status = 0
        headers: list[tuple[str, str]] = []
        if record.http_headers is not None:
            headers = list(record.http_headers.headers)
            with contextlib.suppress(ValueError, TypeError):
                status = int(record.http_headers.get_statuscode())
        body = record.raw_stream.read()
        declared = record.rec_headers.get_header("WARC-Payload-Digest")
        if rec_type == "response" and declared and declared != payload_digest(body):
            raise ValueError(
                f"{path}: record at offset {offset}: payload does not match its WARC-Payload-Digest"
            )
        return rec_type, record.rec_headers, status, headers, body
    raise ValueError(f"{path}: no WARC record at offset {offset}")


def gunzip_member(raw: bytes) -> tuple[bytes | None, str | None]:
    """(the bytes of one whole gzip member, None), or (None, why it is damaged)."""
    d = zlib.decompressobj(zlib.MAX_WBITS + 16)
    try:
        plain = d.decompress(raw)
    except zlib.error as exc:
        return None, f"gzip member damaged: {exc}"
    if not d.eof:
        return None, "gzip member cut short (file truncated?)"
    if d.unused_data:
        return None, "bytes after the record's gzip member"
    return plain, None


def restore_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The response headers as received: renamed encoding headers given back their names."""
    out = []
    for k, v in headers:
        if k.startswith(ORIG_HEADER_PREFIX):
            out.append((k[len(ORIG_HEADER_PREFIX) :], v))
        elif k.lower() == "content-length" and any(
            h.lower() == (ORIG_HEADER_PREFIX + "content-length").lower() for h, _ in headers
        ):
            continue
        else:
            out.append((k, v))
    return out


def _member_problem(fh: BinaryIO, offset: int, length: int) -> str | None:
    """Why the gzip member of a record is damaged (cut short, bad CRC, trailing bytes), or None.

    warcio stops quietly at a member cut short, so each record's member is decompressed
    again here, which also checks the CRC and length in its trailer.
    """
    pos = fh.tell()
    try:
        fh.seek(offset)
        raw = fh.read(length)
    finally:
        fh.seek(pos)
    if len(raw) < length:
        return f"record cut short ({len(raw)} of {length} bytes)"
    return gunzip_member(raw)[1]


def scan_warc(path: str, check_digests: bool = True) -> Iterator[dict[str, Any]]:
    """Every record of a WARC file with its offset, length, type, ids and digest check.

    Raises warcio's ArchiveLoadFailed (or an OSError/zlib error) where the file stops
    being readable; the records before that point have been yielded.
    """
    gzipped = path.endswith(".gz")
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh, check_digests=check_digests)
        for record in it:
            rh = record.rec_headers
            status = None
            headers: list[tuple[str, str]] = []
            if record.http_headers is not None and record.rec_type in ("response", "revisit"):
                headers = list(record.http_headers.headers)
                with contextlib.suppress(ValueError, TypeError):
                    status = int(record.http_headers.get_statuscode())
            while record.raw_stream.read(1 << 20):
                pass
            offset = it.get_record_offset()
            length = it.get_record_length()
            problems = list(record.digest_checker.problems) if record.digest_checker.passed is False else []
            if gzipped and check_digests:
                problem = _member_problem(fh, offset, length)
                if problem:
                    problems.append(problem)
            yield {
                "type": record.rec_type,
                "offset": offset,
                "length": length,
                "record_id": rh.get_header("WARC-Record-ID"),
                "url": rh.get_header("WARC-Target-URI"),
                "date": rh.get_header("WARC-Date"),
                "digest": rh.get_header("WARC-Payload-Digest"),
                "profile": rh.get_header("WARC-Profile"),
                "refers_to": rh.get_header("WARC-Refers-To"),
                "final_url": rh.get_header(FINAL_URL_HEADER),
                "status": status,
                "headers": headers,
                "problems": problems,
            }
