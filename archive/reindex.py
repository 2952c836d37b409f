"""Rebuild the derived files (index.sqlite, and index.cdxj on request) from the archive's own files."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

from archive import index, ocfl
from archive.capturelog import cdxj_bytes, read_cdxj, read_cleaned
from archive.captures import Capture, header_value, mime_of, scan_warc
from archive.fsutil import atomic_write
from archive.layout import CABLES, CDXJ, CLEANED, INDEX, Layout
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
                inv = object_inventory(obj_dir)
                if inv is not None and ocfl.load_inventory_quiet(obj_dir) is None:
                    problems.append(
                        f"{obj_dir}/{ocfl.INVENTORY} is missing or damaged; indexed from its head version "
                        f"{inv['head']}: run `cablearchive repair`"
                    )
                if index.index_object(conn, ref, obj_dir, inv):
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


def object_inventory(obj_dir: str) -> dict[str, Any] | None:
    """An object's inventory: the root one, else its head version's copy (repair reinstalls it); None: no object."""
    inv = ocfl.load_inventory_quiet(obj_dir)
    if inv is not None:
        return inv
    copy = ocfl.head_version_inventory(obj_dir)
    if copy is None:
        return None
    loaded: dict[str, Any] = json.loads(copy[1])
    return loaded


def check_index(layout: Layout) -> list[str]:
    """How index.sqlite differs from the files (empty when it is current); reads only, writes nothing."""
    path = layout.index_path
    if not os.path.exists(path):
        return [f"{path} is missing"]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"{path} is unreadable ({exc})"]
    try:
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            if ok != ("ok",):
                return [f"{path} is damaged ({ok[0] if ok else 'no answer'})"]
            schema = conn.execute("PRAGMA user_version").fetchone()[0]
            if schema != index.SCHEMA_VERSION:
                return [
                    f"{path} has schema {schema}; this version of cablearchive reads {index.SCHEMA_VERSION}"
                ]
            heads = index.heads(conn)
            marks_indexed = {c.record_id: c.cleaned for c in index.iter_captures(conn, False)}
        except sqlite3.Error as exc:
            return [f"{path} is unreadable ({exc})"]
    finally:
        conn.close()
    out: list[str] = []
    refs = layout.object_refs()
    objects = {}
    for ref in refs:
        with contextlib.suppress(OSError, ValueError, KeyError):
            inv = object_inventory(layout.object_dir(ref))
            if inv is not None:
                objects[ref] = ocfl.head_number(inv)
    missing = sorted(set(objects) - set(heads))
    extra = sorted(set(heads) - set(objects))
    stale = sorted(r for r in set(objects) & set(heads) if objects[r] != heads[r])
    if missing:
        out.append(f"{len(missing)} cable(s) in {CABLES}/ not in {INDEX} (first: {missing[0]})")
    if extra:
        out.append(f"{len(extra)} cable(s) in {INDEX} not in {CABLES}/ (first: {extra[0]})")
    if stale:
        r = stale[0]
        out.append(
            f"{len(stale)} cable(s) indexed at another version (first: {r} v{heads[r]}, object v{objects[r]})"
        )
    caps = {c.record_id for c in read_cdxj(layout)}
    if caps != set(marks_indexed):
        out.append(
            f"{len(caps - set(marks_indexed))} capture(s) of {CDXJ} not indexed, "
            f"{len(set(marks_indexed) - caps)} indexed but not in {CDXJ}"
        )
    else:
        last = dict(read_cleaned(layout))
        differ = sum(1 for r, d in marks_indexed.items() if last.get(r) != d)
        if differ:
            out.append(f"{differ} capture(s) with another cleaned mark than {CLEANED} gives")
    return out
