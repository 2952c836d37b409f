"""The raw layer: captures written as per-record-gzip WARC files, indexed one CDXJ line each."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http
import io
import json
import mmap
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, BinaryIO, Union
from urllib.parse import urlsplit

from w3lib.url import safe_url_string
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


# Looks up the stored response an identical payload (by digest) or a 304 (by URL) refers to.
Lookup = Callable[[str], "Capture | None"]


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
        refers: Capture | None = None
        if status == 304:
            refers = by_url(url)
            if refers is not None:
                profile = REVISIT_NOT_MODIFIED
                digest = refers.payload_digest
                # Replay shows the revisit's own HTTP headers with the stored payload: they are the
                # stored response's, updated by the 304's (RFC 9111 4.3.4), so that every index
                # entry replays as the page it stands for. The profile says the server answered 304.
                http_headers = self._not_modified_headers(refers, stored_headers, protocol) or http_headers
        elif status == 200 and body:
            refers = by_digest(digest)
            if refers is not None:
                profile = REVISIT_IDENTICAL
        if profile is not None and refers is not None:
            record = writer.create_revisit_record(
                url,
                digest,
                refers.url,
                refers.fetched_at,
                http_headers=http_headers,
                warc_headers_dict=warc_headers,
            )
            record.rec_headers.replace_header(
                "WARC-Profile", PROFILE_NOT_MODIFIED if profile == REVISIT_NOT_MODIFIED else PROFILE_IDENTICAL
            )
            record.rec_headers.add_header("WARC-Refers-To", refers.record_id)
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
            refers_to=refers.record_id if profile is not None and refers is not None else None,
        )

    def _not_modified_headers(
        self, original: Capture, not_modified: list[tuple[str, str]], protocol: str
    ) -> StatusAndHeaders | None:
        """The HTTP head a 304 revisit stores: "200 OK" and the stored response's headers, updated
        by the 304's own; None when the stored response cannot be read."""
        try:
            _t, _rh, status, stored, _body = read_record(
                self._path(original.warc_file), original.offset, original.length
            )
        except (OSError, ValueError):
            return None
        fresh = {k.lower() for k, _ in not_modified if k.lower() != "content-length"}
        merged = [(k, v) for k, v in stored if k.lower() not in fresh]
        merged += [(k, v) for k, v in not_modified if k.lower() in fresh]
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "OK"
        return StatusAndHeaders(f"{status} {reason}", merged, protocol=protocol)

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
    """Read one record and check it against itself: (WARC-Type, WARC headers, HTTP status, HTTP headers, payload).

    Raises ValueError naming the file, the offset and the reason when the record is damaged
    (gzip member, Content-Length, digests): a damaged record is never read as if whole.
    """
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:
        raise ValueError(f"{path}: record at offset {offset} is cut short (file truncated?)")
    found = list(read_warc_bytes(data, path, base=offset, gzipped=data[:2] == _GZIP_MAGIC[:2]))
    for item in found:
        if isinstance(item, BadRecord):
            raise ValueError(item.message)
    if not found:
        raise ValueError(f"{path}: no WARC record at offset {offset}")
    rec = found[0]
    assert isinstance(rec, WarcRecord)
    return rec.rec_type, rec.rec_headers, rec.status, rec.headers, rec.payload


def gunzip_member(raw: bytes) -> tuple[bytes | None, str | None]:
    """(the bytes of one whole gzip member, None), or (None, why it is damaged)."""
    plain, end, problem = _inflate(raw, 0)
    if problem is None and end != len(raw):
        return None, "bytes after the record's gzip member"
    return plain, problem


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


# ----------------------------------------------------------------------------- reading WARC files

_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/"
# Inflated a piece at a time, so that a damaged member is found without reading the rest of the file.
_CHUNK = 1 << 20
# A WARC file's bytes: read whole (one record) or mapped (a file).
Buffer = Union[bytes, "mmap.mmap"]


@dataclass
class WarcRecord:
    """One WARC record, read whole and found consistent with itself."""

    offset: int  # where its gzip member (or the uncompressed record) starts in the file
    length: int  # the member's (or record's) length in the file
    rec_type: str
    rec_headers: Any  # warcio StatusAndHeaders of the WARC header block
    http_headers: Any  # warcio StatusAndHeaders of the HTTP header block, or None
    payload: bytes  # the block past the HTTP headers, as stored (transfer and content codings kept)
    body: bytes | None  # the payload decoded (codings undone); None when not an HTTP response

    @property
    def status(self) -> int:
        """The HTTP status code (0 without HTTP headers)."""
        if self.http_headers is None:
            return 0
        try:
            return int(self.http_headers.get_statuscode())
        except (TypeError, ValueError):
            return 0

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The HTTP headers ([] without)."""
        return list(self.http_headers.headers) if self.http_headers is not None else []

    def header(self, name: str) -> str | None:
        """A WARC header's value."""
        value: str | None = self.rec_headers.get_header(name)
        return value


@dataclass
class BadRecord:
    """A stretch of a WARC file that is not a whole, consistent record: where, how long, and why."""

    path: str
    offset: int
    length: int
    reason: str

    @property
    def message(self) -> str:
        """`FILE: bad record at offset N: REASON`."""
        return f"{self.path}: bad record at offset {self.offset}: {self.reason}"


def _inflate(data: Buffer, pos: int) -> tuple[bytes, int, str | None]:
    """(decompressed bytes, end offset, None) of the gzip member at `pos`, or (b"", pos, why it is damaged).

    zlib checks the member's CRC-32 and length in its trailer; a member that stops before its
    trailer is cut short.
    """
    d = zlib.decompressobj(zlib.MAX_WBITS + 16)
    out = []
    at = pos
    size = len(data)
    # Small pieces first, growing: most members are a few KiB, and what zlib reads past a
    # member's end is copied again as its unused data.
    step = 1 << 14
    try:
        while at < size and not d.eof:
            piece = data[at : at + step]
            out.append(d.decompress(piece))
            at += len(piece)
            step = min(step * 4, _CHUNK)
    except zlib.error as exc:
        return b"", pos, f"gzip member damaged ({exc})"
    if not d.eof:
        return b"", pos, "gzip member cut short (the file ends inside it: truncated?)"
    return b"".join(out), at - len(d.unused_data), None


def _next_member(data: Buffer, start: int) -> int | None:
    """The offset of the next gzip member at or past `start` whose content starts a WARC record."""
    i = data.find(_GZIP_MAGIC, start)
    while i >= 0:
        d = zlib.decompressobj(zlib.MAX_WBITS + 16)
        try:
            head = d.decompress(data[i : i + 4096], len(_WARC_MAGIC))
        except zlib.error:
            head = b""
        if head.startswith(_WARC_MAGIC):
            return i
        i = data.find(_GZIP_MAGIC, i + 1)
    return None


def _next_plain_record(data: Buffer, start: int) -> int | None:
    """The offset of the next uncompressed WARC record at or past `start` (one that ends where it says)."""
    i = data.find(_WARC_MAGIC, start)
    while i >= 0 and _plain_record_end(data, i) is None:
        i = data.find(_WARC_MAGIC, i + 1)
    return None if i < 0 else i


def _digest_of(algo: str, data: bytes) -> list[str] | None:
    """The encodings a digest value may be written in (base32, hex, base64); None for an unknown algorithm."""
    name = algo.lower().replace("-", "")
    if name not in ("sha1", "sha256", "sha512", "md5"):
        return None
    raw = hashlib.new(name, data).digest()
    return [base64.b32encode(raw).decode("ascii"), raw.hex(), base64.b64encode(raw).decode("ascii")]


def _digest_problem(field_name: str, declared: str | None, data: bytes) -> str | None:
    """Why `data` disagrees with a declared WARC digest, or None (also when it cannot be checked)."""
    if not declared:
        return None
    algo, sep, value = declared.strip().partition(":")
    if not sep:
        return None
    forms = _digest_of(algo, data)
    if forms is None:
        return None
    value = value.strip()
    if value.upper() in (f.upper() for f in forms[:2]) or value in forms[2:]:
        return None
    return f"its content does not match its {field_name}"


def _decoded_body(http_headers: Any, payload: bytes) -> tuple[bytes | None, str | None]:
    """The payload with its transfer and content codings undone, or (None, why it cannot be)."""
    from warcio.bufferedreaders import ChunkedDataReader

    te = (http_headers.get_header("Transfer-Encoding") or "").lower()
    ce = (http_headers.get_header("Content-Encoding") or "").strip().lower()
    data = payload
    if "chunked" in te:
        try:
            data = ChunkedDataReader(io.BytesIO(payload), raise_exceptions=True).read()
        except Exception as exc:  # warcio raises ChunkedDataException and ValueError
            return None, f"bad chunked transfer coding ({type(exc).__name__})"
    if ce in ("", "identity", "none"):
        return data, None
    if ce in ("gzip", "x-gzip", "deflate"):
        # Tried as gzip, zlib and raw deflate (servers mix them up); a stream that stops before its
        # end is a body cut in transit, never a page.
        for wbits in (zlib.MAX_WBITS + 32, -zlib.MAX_WBITS):
            d = zlib.decompressobj(wbits)
            try:
                out = d.decompress(data) + d.flush()
            except zlib.error:
                continue
            if d.eof:
                return out, None
            return None, f"{ce} content coding cut short (the body was cut in transit)"
        if data.startswith(b"\x1f\x8b"):
            return None, f"{ce} content coding damaged"
        # Not compressed at all: some tools store the decoded body under the received headers
        # (warcio reads such a body as it is, and so do we).
        return data, None
    if ce in ("br", "brotli"):
        from warcio.bufferedreaders import DecompressingBufferedReader

        try:
            return DecompressingBufferedReader(io.BytesIO(data), decomp_type="br").read(), None
        except Exception:  # brotli's own error types: read as it is, as warcio does
            return data, None
    # An unknown coding: the body as stored, as warcio gives it.
    return data, None


def _parse_records(plain: bytes, path: str, offset: int, length: int) -> Iterator[WarcRecord | BadRecord]:
    """The records of one gzip member's content (usually one), each checked against itself."""
    from warcio.recordloader import ArcWarcRecordLoader

    at = 0
    while at < len(plain):
        if not plain.startswith(_WARC_MAGIC, at):
            yield BadRecord(path, offset, length, "not a WARC record (no WARC/1.x version line)")
            return
        stream = io.BytesIO(plain)
        stream.seek(at)
        try:
            rec = ArcWarcRecordLoader().parse_record_stream(stream, known_format="warc")
        except Exception as exc:  # warcio's ArchiveLoadFailed, StatusAndHeadersParserException, ...
            yield BadRecord(path, offset, length, f"WARC headers unreadable ({_short(exc)})")
            return
        declared = rec.rec_headers.get_header("Content-Length")
        try:
            want = int(declared)
            if want < 0:
                raise ValueError(declared)
        except (TypeError, ValueError):
            yield BadRecord(path, offset, length, f"bad WARC Content-Length {str(declared)[:40]!r}")
            return
        block_start = plain.find(b"\r\n\r\n", at)
        block_start = block_start + 4 if block_start >= 0 else len(plain)
        block = plain[block_start : block_start + want]
        if len(block) < want:
            yield BadRecord(
                path,
                offset,
                length,
                f"block shorter than its WARC Content-Length ({len(block)} of {want} bytes: cut short)",
            )
            return
        try:
            payload = rec.raw_stream.read()
            while more := rec.raw_stream.read(_CHUNK):
                payload += more
        except Exception as exc:  # a digest-checking stream may raise on bad data
            yield BadRecord(path, offset, length, f"block unreadable ({_short(exc)})")
            return
        problem = _digest_problem("WARC-Block-Digest", rec.rec_headers.get_header("WARC-Block-Digest"), block)
        if problem is None and rec.rec_type == "response" and rec.http_headers is not None:
            problem = _digest_problem(
                "WARC-Payload-Digest", rec.rec_headers.get_header("WARC-Payload-Digest"), payload
            )
            if problem is not None:
                # Some crawlers digest the payload with its chunked transfer coding undone.
                dechunked, _ = _decoded_body(_NoContentCoding(rec.http_headers), payload)
                if (
                    dechunked is not None
                    and _digest_problem(
                        "WARC-Payload-Digest", rec.rec_headers.get_header("WARC-Payload-Digest"), dechunked
                    )
                    is None
                ):
                    problem = None
        decoded: bytes | None = None
        if problem is None and rec.rec_type == "response" and rec.http_headers is not None:
            problem = _http_length_problem(rec.http_headers, payload)
            if problem is None:
                decoded, problem = _decoded_body(rec.http_headers, payload)
        # The record ends with two CRLFs; what follows in the same member is the next record, or a
        # block longer than its Content-Length says.
        nxt = block_start + want
        while plain.startswith(b"\r\n", nxt):
            nxt += 2
        if problem is None and nxt < len(plain) and not plain.startswith(_WARC_MAGIC, nxt):
            problem = f"{len(plain) - nxt} bytes after its block (longer than its WARC Content-Length)"
        if problem is not None:
            yield BadRecord(path, offset, length, problem)
            # In a member holding several records (a whole file gzipped at once), the next one
            # starts where this one's block ends.
            if nxt < len(plain) and plain.startswith(_WARC_MAGIC, nxt):
                at = nxt
                continue
            return
        yield WarcRecord(offset, length, rec.rec_type, rec.rec_headers, rec.http_headers, payload, decoded)
        at = nxt


class _NoContentCoding:
    """HTTP headers seen without their Content-Encoding (to undo the transfer coding alone)."""

    def __init__(self, headers: Any) -> None:
        self._headers = headers

    def get_header(self, name: str) -> str | None:
        if name.lower() == "content-encoding":
            return None
        value: str | None = self._headers.get_header(name)
        return value


def cut_body_problem(body: bytes, declared_length: int | None) -> str | None:
    """Why a body handed in for storing is not whole (shorter than the length declared for it), or None."""
    if declared_length is not None and len(body) < declared_length:
        return f"body cut short ({len(body)} of the {declared_length} bytes declared)"
    return None


def content_coding_problem(headers: list[tuple[str, str]], raw_body: bytes) -> str | None:
    """Why a body as received (transfer and content codings still applied) cannot be decoded whole, or None.

    A gzip or deflate stream that stops before its end is a body cut in transit: HTTP clients
    (Scrapy's among them) decode what arrived and say nothing, so a crawler checks here first.
    """
    return _decoded_body(StatusAndHeaders("200 OK", list(headers)), raw_body)[1]


def _http_length_problem(http_headers: Any, payload: bytes) -> str | None:
    """Why an HTTP body disagrees with its HTTP Content-Length (shorter: a cut download), or None."""
    if "chunked" in (http_headers.get_header("Transfer-Encoding") or "").lower():
        return None
    declared = http_headers.get_header("Content-Length")
    if declared is None:
        return None
    try:
        want = int(declared.strip())
    except ValueError:
        return None
    if len(payload) < want:
        return f"HTTP body shorter than its Content-Length ({len(payload)} of {want} bytes: a cut download)"
    return None


def _short(exc: BaseException) -> str:
    """An exception as a short, printable message (warcio quotes whole binary lines)."""
    text = f"{type(exc).__name__}: {exc}"
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 160 else text[:157] + "..."


def read_warc_bytes(
    data: Buffer, path: str, *, base: int = 0, gzipped: bool = True
) -> Iterator[WarcRecord | BadRecord]:
    """Every record of WARC data (offsets counted from `base`): whole ones, and the damaged stretches.

    A damaged gzip member, a record cut short or inconsistent with its own Content-Length or
    digests is a BadRecord; reading goes on at the next gzip member (or line) that starts a
    WARC record, so one damage costs one record.
    """
    size = len(data)
    pos = 0
    while pos < size:
        if gzipped:
            if data[pos : pos + 3] != _GZIP_MAGIC:
                if not data[pos : pos + 64].strip(b"\x00\r\n\t "):
                    return  # padding at the end of a file
                nxt = _next_member(data, pos + 1)
                end = size if nxt is None else nxt
                yield BadRecord(path, base + pos, end - pos, f"{end - pos} bytes that are not a gzip member")
                pos = end
                continue
            plain, end, problem = _inflate(data, pos)
            if problem is not None:
                nxt = _next_member(data, pos + 1)
                stop = size if nxt is None else nxt
                yield BadRecord(path, base + pos, stop - pos, problem)
                pos = stop
                continue
            yield from _parse_records(plain, path, base + pos, end - pos)
            pos = end
        else:
            if not data[pos : pos + 64].strip(b"\x00\r\n\t "):
                return
            rec_end = _plain_record_end(data, pos)
            if rec_end is None:
                nxt = _next_plain_record(data, pos + 1)
                stop = size if nxt is None else nxt
                yield BadRecord(path, base + pos, stop - pos, "not a whole WARC record (cut short?)")
                pos = stop
                continue
            yield from _parse_records(data[pos:rec_end], path, base + pos, rec_end - pos)
            pos = rec_end


def _plain_record_end(data: Buffer, pos: int) -> int | None:
    """Where the uncompressed record at `pos` ends (its Content-Length and the two CRLFs), or None."""
    head_end = data[pos : pos + 65536].find(b"\r\n\r\n")
    if data[pos : pos + 5] != _WARC_MAGIC or head_end < 0:
        return None
    head = data[pos : pos + head_end].decode("latin-1")
    if head.find("WARC/1.", 1) >= 0:
        return None  # a header block cut short, run into the next record's
    m = re.search(r"(?im)^content-length:\s*(\d+)\s*$", head)
    if m is None:
        return None
    end = pos + head_end + 4 + int(m.group(1))
    # A record ends with two CRLFs, then the file ends or the next record starts.
    if end > len(data) or data[end : end + 4] != b"\r\n\r\n":
        return None
    while data[end : end + 2] == b"\r\n":
        end += 2
    return end


def read_warc(path: str) -> Iterator[WarcRecord | BadRecord]:
    """Every record of a WARC file (.warc.gz per-record gzip, or .warc): see read_warc_bytes()."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return
        gzipped = fh.read(2) == _GZIP_MAGIC[:2]
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            yield from read_warc_bytes(mm, path, gzipped=gzipped)


def check_record(path: str, offset: int, length: int) -> str | None:
    """Why the record stored at (offset, length) of a WARC file is not whole and consistent, or None."""
    try:
        read_record(path, offset, length)
    except (OSError, ValueError) as exc:
        return str(exc)
    return None


def scan_warc(path: str, check_digests: bool = True) -> Iterator[dict[str, Any]]:
    """Every record of a WARC file with its offset, length, type, ids and problems.

    A damaged stretch comes as an entry of type "" with its reason in `problems`; reading goes
    on past it (see read_warc). `check_digests` is kept for callers: every record is checked.
    """
    for item in read_warc(path):
        if isinstance(item, BadRecord):
            yield {
                "type": "",
                "offset": item.offset,
                "length": item.length,
                "record_id": None,
                "url": None,
                "date": None,
                "digest": None,
                "profile": None,
                "refers_to": None,
                "final_url": None,
                "status": None,
                "headers": [],
                "problems": [item.reason],
            }
            continue
        status = item.status if item.rec_type in ("response", "revisit") and item.http_headers else None
        if item.rec_type == "revisit" and (item.header("WARC-Profile") or "").endswith(REVISIT_NOT_MODIFIED):
            # The revisit's HTTP head is the stored response's, for replay; the server answered 304.
            status = 304
        yield {
            "type": item.rec_type,
            "offset": item.offset,
            "length": item.length,
            "record_id": item.header("WARC-Record-ID"),
            "url": item.header("WARC-Target-URI"),
            "date": item.header("WARC-Date"),
            "digest": item.header("WARC-Payload-Digest"),
            "profile": item.header("WARC-Profile"),
            "refers_to": item.header("WARC-Refers-To"),
            "final_url": item.header(FINAL_URL_HEADER),
            "status": status,
            "headers": item.headers if item.rec_type in ("response", "revisit") else [],
            "problems": [],
        }
