"""Rebuild the derived files (index.sqlite, and index.cdxj on request) from the archive's own files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from archive import index
from archive.capturelog import cdxj_bytes, read_cdxj, read_cleaned
from archive.captures import Capture, header_value, mime_of, scan_warc
from archive.fsutil import atomic_write
from archive.layout import Layout
from archive.progress import Progress


def captures_from_warc(path: str, name: str, problems: list[str] | None = None) -> list[Capture]:
    """The captures (response and revisit records) of one WARC file, read from the file itself."""
    out: list[Capture] = []
    try:
        for rec in scan_warc(path, check_digests=False):
            if rec["type"] not in ("response", "revisit") or not rec["record_id"]:
                continue
            headers = rec["headers"]
            profile = rec["profile"] or ""
            out.append(
                Capture(
                    capture_id=rec["record_id"],
                    url=rec["url"] or "",
                    warc_file=name,
                    offset=rec["offset"],
                    length=rec["length"],
                    record_id=rec["record_id"],
                    payload_digest=rec["digest"] or "",
                    revisit=rec["type"] == "revisit",
                    status=rec["status"] or 0,
                    mime=mime_of(headers),
                    fetched_at=rec["date"] or "",
                    final_url=rec.get("final_url"),
                    etag=header_value(headers, "etag"),
                    last_modified=header_value(headers, "last-modified"),
                    revisit_profile=profile.rsplit("/", 1)[-1] if rec["type"] == "revisit" else None,
                    refers_to=rec["refers_to"],
                )
            )
    except Exception as exc:
        if problems is not None:
            problems.append(f"{path}: unreadable past {out[-1].offset if out else 0}: {exc}")
    return out


def rebuild_index(
    layout: Layout,
    progress: Progress | None = None,
    *,
    from_warc: bool = False,
    notify: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write a fresh index.sqlite (and, with from_warc, index.cdxj) and swap it in atomically.

    The caller holds the lock. Each file that cannot be read whole is reported to `notify`.
    """
    problems: list[str] = []
    if from_warc:
        caps: list[Capture] = []
        files = layout.warc_files()
        for i, name in enumerate(files):
            caps += captures_from_warc(layout.warc_path(name), name, problems)
            if progress:
                progress("reading WARC files", i + 1, len(files))
        atomic_write(layout.cdxj_path, cdxj_bytes(caps))
    tmp = layout.index_rebuild_path
    for stale in (tmp, index.rollback_journal(tmp)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    conn = index.connect_for_rebuild(tmp)
    n_caps = n_obj = 0
    with index.transaction(conn):
        batch: list[Capture] = []
        for cap in read_cdxj(layout):
            batch.append(cap)
            if len(batch) >= 5000:
                index.insert_captures(conn, batch)
                n_caps += len(batch)
                batch = []
        index.insert_captures(conn, batch)
        n_caps += len(batch)
        index.set_cleaned(conn, read_cleaned(layout))
        refs = layout.object_refs()
        for i, ref in enumerate(refs):
            obj_dir = layout.object_dir(ref)
            try:
                if index.index_object(conn, ref, obj_dir):
                    n_obj += 1
            except (OSError, ValueError, KeyError) as exc:
                problems.append(f"{obj_dir}: not indexed: {exc}")
            if progress and (i % 500 == 0 or i + 1 == len(refs)):
                progress("indexing cables", i + 1, len(refs))
    conn.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    # A rollback journal left by the old file must not be applied to the new one.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(index.rollback_journal(layout.index_path))
    os.replace(tmp, layout.index_path)
    for p in problems:
        if notify is not None:
            notify(p)
    return {"captures": n_caps, "cables": n_obj, "problems": len(problems)}
