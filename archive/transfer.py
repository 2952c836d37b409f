"""WARC files in and out: import another crawler's WARCs, export cables as JSON lines or WARC."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from warcio.warcwriter import WARCWriter

from archive import index
from archive.captures import (
    BadRecord,
    Capture,
    WarcRecord,
    check_record,
    mime_of,
    now_iso,
    payload_digest,
    read_warc,
    safe_url,
    timestamp14,
    to_iso,
    urlkey,
)
from archive.errors import ArchiveError
from archive.ids import check_reference
from archive.layout import CABLE_JSON, CABLE_TEXT, tool_name
from archive.progress import Progress
from cleaners import Ruleset, clean_page

if TYPE_CHECKING:
    # Only for types: import and export use an archive's writer() and readers, never the writer's code.
    from archive.commit import CommitReport
    from archive.store import Archive

# Media types worth cleaning; everything else in a foreign WARC (images, scripts) is skipped.
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml", "unk")


@dataclass
class ImportReport:
    """What import-warc did, per the whole batch of files."""

    run_id: str = ""
    files: int = 0
    records: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    bad: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return dict(self.__dict__)


def iter_warc_records(path: str, bad: list[str]) -> Iterator[WarcRecord]:
    """Each whole, self-consistent record of a WARC file; each damaged one is noted in `bad` and skipped.

    A damaged record costs that record only: reading goes on at the next gzip member that
    starts a WARC record (archive.captures.read_warc).
    """
    for item in read_warc(path):
        if isinstance(item, BadRecord):
            bad.append(f"{item.message}; skipped, nothing archived from it")
        else:
            yield item


def import_warcs(
    arch: Archive,
    paths: Iterable[str],
    *,
    rules: Ruleset | None = None,
    progress: Progress | None = None,
    commit_every: int = 200,
    wait: float | None = None,
) -> ImportReport:
    """Store each HTML/text response of the WARC files as a capture, clean it and archive its cables."""
    paths = list(paths)
    report = ImportReport()
    with arch.writer(kind="import", args={"files": [os.path.abspath(p) for p in paths]}, wait=wait) as w:
        report.run_id = w.run_id
        seen: set[tuple[str, str, str]] = set()
        since_commit = 0
        for n, path in enumerate(paths):
            report.files += 1
            bad: list[str] = []
            try:
                records = iter_warc_records(path, bad)
                for record in records:
                    report.records += 1
                    kind = record.rec_type
                    body = record.body if kind == "response" else record.payload
                    if kind not in ("response", "resource") or body is None:
                        report.skipped += 1
                        continue
                    url = record.rec_headers.get_header("WARC-Target-URI") or ""
                    if not url or url.startswith(("urn:", "dns:", "metadata:")):
                        report.skipped += 1
                        continue
                    if kind == "response" and record.http_headers is not None:
                        headers, status = record.headers, record.status
                    else:
                        ctype = record.rec_headers.get_header("Content-Type") or "application/octet-stream"
                        headers, status = [("Content-Type", ctype)], 200
                    if mime_of(headers) not in PAGE_TYPES:
                        report.skipped += 1
                        continue
                    fetched_at = to_iso(record.rec_headers.get_header("WARC-Date"))
                    ident = (safe_url(url), fetched_at, payload_digest(body))
                    if ident in seen or index.has_capture(arch.conn, *ident):
                        report.duplicates += 1
                        continue
                    seen.add(ident)
                    cap = w.add_capture(url, status, headers, body, fetched_at=fetched_at)
                    report.imported += 1
                    if status == 200:
                        w.record(cap, clean_page(body, url=url, headers=headers, rules=rules))
                    since_commit += 1
                    if since_commit >= commit_every:
                        _add(report, w.commit(note=f"import of {os.path.basename(path)}"))
                        since_commit = 0
            except OSError as exc:
                bad.append(f"{path}: cannot read: {exc.strerror or exc}")
            for b in bad:
                w.record_failure(path, b)
            report.bad += bad
            if progress:
                progress("importing WARC files", n + 1, len(paths))
        _add(report, w.commit())
    return report


def _add(report: ImportReport, commit: CommitReport) -> None:
    report.new += len(commit.new)
    report.changed += len(commit.changed)
    report.unchanged += len(commit.unchanged)


# ----------------------------------------------------------------------------- export


def _refs(arch: Archive, refs: list[str] | None) -> list[str]:
    if refs:
        return [check_reference(r) for r in refs]
    return [c.ref for c in arch.list_cables()]


def export_jsonl(
    arch: Archive,
    out: IO[str],
    refs: list[str] | None = None,
    progress: Progress | None = None,
    on_error: Callable[[str], None] | None = None,
) -> int:
    """Write one JSON line per cable (metadata, preferred text, sources); returns how many."""
    n = 0
    todo = _refs(arch, refs)
    for i, ref in enumerate(todo):
        try:
            rec = arch.cable(ref)
            meta = rec.metadata()
            line = {**meta, "version": rec.head, "text": rec.text()}
        except (ArchiveError, OSError, ValueError) as exc:
            if on_error:
                on_error(f"{ref}: {exc}")
            continue
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
        if progress and (i % 200 == 0 or i + 1 == len(todo)):
            progress("exporting", i + 1, len(todo))
    return n


def export_warc(
    arch: Archive,
    out: IO[bytes],
    refs: list[str] | None = None,
    progress: Progress | None = None,
    on_error: Callable[[str], None] | None = None,
    on_source: Callable[[str, Capture, dict[str, Any]], None] | None = None,
) -> int:
    """Write a WARC: per cable, its text (resource), cable.json (metadata) and its sources' captures.

    `on_source(ref, capture, metadata)` is called for each source capture exported.
    """
    writer = WARCWriter(out, gzip=True)
    writer.write_record(
        writer.create_warcinfo_record(
            "cablearchive-export.warc.gz",
            {
                "software": tool_name(),
                "format": "WARC File Format 1.0",
                "description": "cables exported from an archive",
            },
        )
    )
    copied: set[str] = set()
    n = 0
    todo = _refs(arch, refs)
    for i, ref in enumerate(todo):
        try:
            rec = arch.cable(ref)
            text = rec.read(CABLE_TEXT)
            meta = rec.read(CABLE_JSON)
            uri = f"urn:cablearchive:cable:{ref}:v{rec.head}"
            resource = writer.create_warc_record(
                uri,
                "resource",
                payload=io.BytesIO(text),
                length=len(text),
                warc_content_type="text/plain; charset=utf-8",
            )
            writer.write_record(resource)
            rid = resource.rec_headers.get_header("WARC-Record-ID")
            metadata = writer.create_warc_record(
                uri,
                "metadata",
                payload=io.BytesIO(meta),
                length=len(meta),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Refers-To": rid},
            )
            writer.write_record(metadata)
            cable_meta = json.loads(meta)
            for s in cable_meta.get("sources", []):
                cid = s.get("capture_id")
                cap = arch.capture(cid) if cid else None
                if cap is not None and on_source is not None:
                    on_source(ref, cap, cable_meta)
                while cap is not None and cap.record_id not in copied:
                    _copy_record(arch, cap, out)
                    copied.add(cap.record_id)
                    cap = arch.capture(cap.refers_to) if cap.refers_to else None
        except (ArchiveError, OSError, ValueError) as exc:
            if on_error:
                on_error(f"{ref}: {exc}")
            continue
        n += 1
        if progress and (i % 200 == 0 or i + 1 == len(todo)):
            progress("exporting", i + 1, len(todo))
    return n


def _copy_record(arch: Archive, cap: Capture, out: IO[bytes]) -> None:
    """Copy a capture's record byte for byte (each record is its own gzip member)."""
    path = arch.layout.warc_path(cap.warc_file)
    # A damaged record is never exported as if whole.
    problem = check_record(path, cap.offset, cap.length)
    if problem is not None:
        raise ArchiveError(problem)
    with open(path, "rb") as fh:
        fh.seek(cap.offset)
        out.write(fh.read(cap.length))


# ----------------------------------------------------------------------------- WACZ

WACZ_VERSION = "1.1.1"
WACZ_WARC = "archive/cables.warc.gz"
WACZ_INDEX = "indexes/index.cdxj"
WACZ_PAGES = "pages/pages.jsonl"
WACZ_PACKAGE = "datapackage.json"
WACZ_DIGEST = "datapackage-digest.json"


def wacz_index(warc_path: str, filename: str) -> list[str]:
    """The sorted CDXJ lines of a WARC file's responses and revisits, as replay tools (pywb) read them.

    A revisit's line has mime `warc/revisit`: a replay tool resolves it to the response its
    WARC-Refers-To-Target-URI, WARC-Refers-To-Date and digest name.
    """
    lines = []
    for rec in read_warc(warc_path):
        if isinstance(rec, BadRecord):
            raise ArchiveError(rec.message)
        url = rec.header("WARC-Target-URI") or ""
        if rec.rec_type not in ("response", "revisit") or not url.startswith(("http:", "https:")):
            continue
        block = {
            "url": url,
            "mime": "warc/revisit" if rec.rec_type == "revisit" else mime_of(rec.headers),
            "status": str(rec.status),
            "digest": rec.header("WARC-Payload-Digest") or "",
            "length": str(rec.length),
            "offset": str(rec.offset),
            "filename": filename,
        }
        stamp = timestamp14(to_iso(rec.header("WARC-Date")))
        lines.append(f"{urlkey(url)} {stamp} {json.dumps(block, sort_keys=True)}")
    return sorted(lines)


def export_wacz(
    arch: Archive,
    out_path: str,
    refs: list[str] | None = None,
    progress: Progress | None = None,
    on_error: Callable[[str], None] | None = None,
) -> int:
    """Write a WACZ 1.1.1 package of the cables' captures; returns how many cables it holds.

    archive/cables.warc.gz is the WARC export; indexes/index.cdxj its index; pages/pages.jsonl
    one page per source capture (titled with the cable it gives); datapackage.json lists every
    file with its sha256 and datapackage-digest.json the package's own. Built with the standard
    library, so that it works on every Python the project supports; the `wacz` package
    (Python 3.11+) validates it.
    """
    pages: dict[str, dict[str, Any]] = {}

    def page(ref: str, cap: Capture, meta: dict[str, Any]) -> None:
        entry = pages.setdefault(
            cap.record_id,
            {
                "id": hashlib.sha1(cap.record_id.encode()).hexdigest()[:24],
                "url": cap.url,
                "ts": cap.fetched_at,
                "title": "",
                "cables": [],
            },
        )
        subject = str(meta.get("subject") or "").strip()
        entry["cables"].append(ref)
        entry["title"] = "; ".join(entry["cables"]) + (
            f": {subject}" if len(entry["cables"]) == 1 and subject else ""
        )

    folder = os.path.dirname(os.path.abspath(out_path)) or "."
    fd, tmp_warc = tempfile.mkstemp(prefix=".cables-", suffix=".warc.gz", dir=folder)
    tmp_zip = out_path + ".part"
    try:
        with os.fdopen(fd, "wb") as fh:
            n = export_warc(arch, fh, refs, progress, on_error, on_source=page)
        index_bytes = "".join(line + "\n" for line in wacz_index(tmp_warc, os.path.basename(WACZ_WARC)))
        header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
        page_lines = [json.dumps(header)] + [
            json.dumps({k: v for k, v in p.items() if k != "cables"}, ensure_ascii=False, sort_keys=True)
            for p in sorted(pages.values(), key=lambda p: (p["url"], p["ts"]))
        ]
        files: list[tuple[str, bytes | str, int]] = [
            (WACZ_WARC, tmp_warc, zipfile.ZIP_STORED),  # WARCs are stored, not compressed again
            (WACZ_INDEX, index_bytes.encode("utf-8"), zipfile.ZIP_DEFLATED),
            (WACZ_PAGES, ("\n".join(page_lines) + "\n").encode("utf-8"), zipfile.ZIP_DEFLATED),
        ]
        resources = []
        with zipfile.ZipFile(tmp_zip, "w") as z:
            for name, data, how in files:
                if isinstance(data, str):
                    z.write(data, name, compress_type=how)
                    digest, size = _sha256_file(data)
                else:
                    z.writestr(zipfile.ZipInfo(name, _zip_time()), data, compress_type=how)
                    digest, size = "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
                resources.append(
                    {"name": os.path.basename(name).lower(), "path": name, "hash": digest, "bytes": size}
                )
            package = {
                "profile": "data-package",
                "resources": resources,
                "title": "cables exported from a cablearchive archive",
                "created": now_iso(),
                "wacz_version": WACZ_VERSION,
                "software": tool_name(),
            }
            package_bytes = json.dumps(package, indent=2).encode("utf-8")
            z.writestr(
                zipfile.ZipInfo(WACZ_PACKAGE, _zip_time()), package_bytes, compress_type=zipfile.ZIP_DEFLATED
            )
            digest_doc = {"path": WACZ_PACKAGE, "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
            z.writestr(
                zipfile.ZipInfo(WACZ_DIGEST, _zip_time()),
                json.dumps(digest_doc, indent=2),
                compress_type=zipfile.ZIP_DEFLATED,
            )
        os.replace(tmp_zip, out_path)
    finally:
        for leftover in (tmp_warc, tmp_zip):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return n


def _zip_time() -> tuple[int, int, int, int, int, int]:
    """Now, as a ZIP entry's date and time."""
    t = time.gmtime()
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def _sha256_file(path: str) -> tuple[str, int]:
    """("sha256:<hex>", size) of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size
