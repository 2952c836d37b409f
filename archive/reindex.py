"""Rebuild the derived files (index.sqlite, and index.cdxj on request) from the archive's own files."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from archive import index
from archive.captures import Capture, header_value, mime_of, scan_warc
from archive.fsutil import atomic_write
from archive.ids import is_reference

if TYPE_CHECKING:
    from archive.store import Archive, Progress


def warc_files(arch: Archive) -> list[str]:
    """The archive's WARC file names, oldest run first (run ids start with their UTC time)."""
    return sorted(n for n in os.listdir(arch.captures_dir) if n.endswith((".warc.gz", ".warc")))


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


def object_refs(arch: Archive) -> list[str]:
    """The cable IDs that have an object folder in the storage root."""
    try:
        names = os.listdir(arch.cables_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if is_reference(n) and os.path.isdir(os.path.join(arch.cables_dir, n)))


def rebuild_index(
    arch: Archive, progress: Progress | None = None, *, from_warc: bool = False
) -> dict[str, Any]:
    """Write a fresh index.sqlite (and, with from_warc, index.cdxj) and swap it in atomically."""
    problems: list[str] = []
    if from_warc:
        caps: list[Capture] = []
        files = warc_files(arch)
        for i, name in enumerate(files):
            caps += captures_from_warc(os.path.join(arch.captures_dir, name), name, problems)
            if progress:
                progress("reading WARC files", i + 1, len(files))
        atomic_write(arch.cdxj_path, "".join(c.to_cdxj() + "\n" for c in caps).encode("utf-8"))
    tmp = arch.index_path + ".rebuild"
    for suffix in ("", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp + suffix)
    conn = index.connect(tmp)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    n_caps = 0
    batch: list[Capture] = []
    for cap in arch._read_cdxj():
        batch.append(cap)
        if len(batch) >= 5000:
            index.insert_captures(conn, batch)
            n_caps += len(batch)
            batch = []
    index.insert_captures(conn, batch)
    n_caps += len(batch)
    index.set_cleaned(conn, arch._read_cleaned())
    refs = object_refs(arch)
    n_obj = 0
    for i, ref in enumerate(refs):
        try:
            if index.index_object(conn, ref, os.path.join(arch.cables_dir, ref)):
                n_obj += 1
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{os.path.join(arch.cables_dir, ref)}: not indexed: {exc}")
        if progress and (i % 500 == 0 or i + 1 == len(refs)):
            progress("indexing cables", i + 1, len(refs))
    conn.execute("COMMIT")
    conn.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    # A rollback journal left by the old file must not be applied to the new one.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(arch.index_path + "-journal")
    os.replace(tmp, arch.index_path)
    for p in problems:
        arch.notify(p)
    return {"captures": n_caps, "cables": n_obj, "problems": len(problems)}
