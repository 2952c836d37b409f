"""WARC files in and out: import another crawler's WARCs, export cables as JSON lines or WARC."""

from __future__ import annotations

import io
import json
import os
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
    payload_digest,
    read_warc,
    safe_url,
    to_iso,
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
) -> int:
    """Write a WARC: per cable, its text (resource), cable.json (metadata) and its sources' captures."""
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
            for s in json.loads(meta).get("sources", []):
                cid = s.get("capture_id")
                cap = arch.capture(cid) if cid else None
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
