"""Verify an archive: OCFL digests and sidecars, WARC record digests, index.cdxj, provenance, index."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from archive import index, ocfl
from archive.captures import Capture, scan_warc
from archive.commit import Journal, JournalEntry
from archive.errors import ArchiveError
from archive.folder import ArchiveFolder
from archive.ids import is_reference, is_source_key
from archive.layout import CABLE_JSON, CABLE_TEXT, CABLES, CDXJ, INDEX, Layout, in_sources, source_key_in
from archive.progress import Progress


@dataclass
class Problem:
    """One thing wrong, naming the file."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class VerifyReport:
    """What verify found: problems (any one fails the archive), notes, and what was checked."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def add(self, path: str, message: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(path, message))

    def bump(self, name: str, n: int = 1) -> None:
        """Count something checked."""
        self.counts[name] = self.counts.get(name, 0) + n

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "ok": self.ok,
            "problems": [{"path": p.path, "message": p.message} for p in self.problems],
            "notes": self.notes,
            "counts": self.counts,
        }


def _sha512_file(path: str) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def _check_sidecar(report: VerifyReport, inv_path: str) -> bytes | None:
    """Check an inventory against its sidecar; returns the inventory bytes when readable."""
    try:
        with open(inv_path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        report.add(inv_path, "missing")
        return None
    side = inv_path + ".sha512"
    try:
        with open(side, encoding="ascii") as fh:
            parts = fh.read().split()
    except FileNotFoundError:
        report.add(side, "inventory sidecar missing")
        return data
    except (OSError, UnicodeDecodeError) as exc:
        report.add(side, f"unreadable: {exc}")
        return data
    if len(parts) != 2 or parts[1] != "inventory.json":
        report.add(side, "malformed sidecar (want: '<sha512>  inventory.json')")
    elif parts[0].lower() != ocfl.digest(data):
        report.add(side, "sidecar digest does not match inventory.json")
    return data


def verify_object(report: VerifyReport, obj_dir: str, ref: str) -> list[tuple[str, bytes]]:
    """Check one OCFL object; returns the (path, bytes) of its provenance files for pointer checks."""
    provs: list[tuple[str, bytes]] = []
    namaste = os.path.join(obj_dir, ocfl.OBJECT_NAMASTE)
    try:
        with open(namaste, "rb") as fh:
            if fh.read() != ocfl.OBJECT_NAMASTE_CONTENT:
                report.add(namaste, "wrong object declaration content")
    except FileNotFoundError:
        report.add(namaste, "object declaration missing")
    inv_path = os.path.join(obj_dir, ocfl.INVENTORY)
    data = _check_sidecar(report, inv_path)
    if data is None:
        return provs
    try:
        inv = json.loads(data)
        head = ocfl.vnum(inv["head"])
        manifest: dict[str, list[str]] = inv["manifest"]
        versions: dict[str, Any] = inv["versions"]
    except (ValueError, KeyError, TypeError) as exc:
        report.add(inv_path, f"not a valid inventory: {exc}")
        return provs
    if inv.get("id") != ref:
        report.add(inv_path, f"object id {inv.get('id')!r} does not match its folder {ref!r}")
    if inv.get("type") != ocfl.INVENTORY_TYPE:
        report.add(inv_path, f"type {inv.get('type')!r} is not {ocfl.INVENTORY_TYPE}")
    if inv.get("digestAlgorithm") != ocfl.DIGEST_ALGORITHM:
        report.add(inv_path, f"digestAlgorithm {inv.get('digestAlgorithm')!r} is not sha512")
    expected_versions = {ocfl.vname(n) for n in range(1, head + 1)}
    if set(versions) != expected_versions:
        report.add(inv_path, f"versions {sorted(versions)} are not v1..v{head}")
    allowed = {ocfl.OBJECT_NAMASTE, ocfl.INVENTORY, ocfl.SIDECAR}
    for name in versions:
        allowed.add(f"{name}/{ocfl.INVENTORY}")
        allowed.add(f"{name}/{ocfl.SIDECAR}")
        vdata = _check_sidecar(report, os.path.join(obj_dir, name, ocfl.INVENTORY))
        if name == inv["head"] and vdata is not None and vdata != data:
            report.add(
                os.path.join(obj_dir, name, ocfl.INVENTORY),
                "head version inventory differs from the root inventory",
            )
        for d in versions[name].get("state", {}):
            if d not in manifest:
                report.add(inv_path, f"{name} state digest {d[:16]}… is not in the manifest")
    report.bump("versions", len(versions))
    # Provenance files are found by logical path (content paths are free-form in OCFL).
    prov_digests = {
        d
        for v in versions.values()
        for d, paths in (v.get("state") or {}).items()
        if any(in_sources(p, "json") for p in paths)
    }
    for d, paths in manifest.items():
        for rel in paths:
            allowed.add(rel)
            full = os.path.join(obj_dir, rel)
            if (
                ".." in rel.split("/")
                or rel.split("/")[0] not in versions
                or rel.split("/")[1:2] != ["content"]
            ):
                report.add(full, "content path outside the object's version content folders")
                continue
            try:
                actual = _sha512_file(full)
            except FileNotFoundError:
                report.add(full, "content file listed in the manifest is missing")
                continue
            report.bump("content files")
            if actual != d:
                report.add(full, "content digest mismatch (file changed or damaged)")
            elif d in prov_digests:
                with open(full, "rb") as fh:
                    provs.append((full, fh.read()))
    for dirpath, dirnames, filenames in os.walk(obj_dir):
        for fn in filenames:
            rel = os.path.relpath(os.path.join(dirpath, fn), obj_dir).replace(os.sep, "/")
            if rel not in allowed:
                report.add(
                    os.path.join(dirpath, fn), "file not in the inventory (left by an interrupted write?)"
                )
        for dn in list(dirnames):
            rel = os.path.relpath(os.path.join(dirpath, dn), obj_dir).replace(os.sep, "/")
            if dirpath == obj_dir and dn not in versions:
                report.add(os.path.join(dirpath, dn), "folder is not a version of this object")
                dirnames.remove(dn)
    head_state = ocfl.version_state(inv)
    for needed in (CABLE_TEXT, CABLE_JSON):
        if needed not in head_state:
            report.add(inv_path, f"head version has no {needed}")
    for path in head_state:
        key = source_key_in(path)
        if key is not None and not is_source_key(key):
            report.add(inv_path, f"source key {key!r} is not a safe key")
    return provs


def verify_archive(folder: ArchiveFolder, progress: Progress | None = None) -> VerifyReport:
    """Check the whole archive (see module doc); settles an interrupted commit first when it can."""
    report = VerifyReport()
    lock = folder.lock()
    live: JournalEntry | None = None
    try:
        lock.acquire({"kind": "verify", "run": None}, wait=0, what=f"archive {folder.path}")
        have_lock = True
    except ArchiveError as exc:
        have_lock = False
        report.notes.append(f"{exc}: checking what is committed, skipping what the writer has in flight")
        live = Journal(folder.layout).peek()
    try:
        if have_lock:
            try:
                done = folder.recover()
            except ArchiveError as exc:
                report.add(folder.journal_path, str(exc))
                done = None
            if done:
                report.notes.append(
                    f"an interrupted commit of run {done.run} was settled: "
                    f"{len(done.back)} version(s) rolled back, {len(done.forward)} completed"
                )
        _verify(folder.layout, report, progress, live)
    finally:
        if have_lock:
            lock.release()
    return report


def _verify(
    layout: Layout, report: VerifyReport, progress: Progress | None, live: JournalEntry | None
) -> None:
    try:
        with open(layout.marker, encoding="utf-8") as fh:
            json.load(fh)
    except (OSError, ValueError) as exc:
        report.add(layout.marker, f"unreadable: {exc}")
    in_flight = {o.ref for o in live.objects} if live else set()
    live_lengths: dict[str, int] = live.warc if live else {}
    live_prefix = f"{live.run}-" if live else None

    # -- OCFL storage root
    root = layout.cables_dir
    namaste = os.path.join(root, ocfl.ROOT_NAMASTE)
    try:
        with open(namaste, "rb") as fh:
            if fh.read() != ocfl.ROOT_NAMASTE_CONTENT:
                report.add(namaste, "wrong storage root declaration content")
    except FileNotFoundError:
        report.add(namaste, "storage root declaration missing")
    layout_file = os.path.join(root, ocfl.LAYOUT_FILE)
    try:
        with open(layout_file, encoding="utf-8") as fh:
            root_layout = json.load(fh)
        if root_layout.get("extension") != ocfl.LAYOUT_EXTENSION:
            report.add(layout_file, f"layout is not {ocfl.LAYOUT_EXTENSION}")
    except (OSError, ValueError) as exc:
        report.add(layout_file, f"unreadable: {exc}")
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if name not in ocfl.ROOT_ENTRIES and not (
            is_reference(name) and os.path.isdir(os.path.join(root, name))
        ):
            report.add(os.path.join(root, name), "not an OCFL object folder named by a cable ID")
    refs = layout.object_refs()
    provs: list[tuple[str, bytes]] = []
    for i, ref in enumerate(refs):
        if ref in in_flight:
            report.notes.append(f"{ref}: skipped (being written by the running writer)")
            continue
        provs += verify_object(report, layout.object_dir(ref), ref)
        report.bump("objects")
        if progress and (i % 200 == 0 or i + 1 == len(refs)):
            progress("checking cables", i + 1, len(refs))

    # -- WARC files
    records: dict[tuple[str, int], dict[str, Any]] = {}
    files = layout.warc_files()
    for i, name in enumerate(files):
        path = layout.warc_path(name)
        limit = live_lengths.get(name) if live_prefix and name.startswith(live_prefix) else None
        if live_prefix and name.startswith(live_prefix) and limit is None:
            continue
        end = 0
        try:
            for rec in scan_warc(path, check_digests=True):
                if limit is not None and rec["offset"] >= limit:
                    break
                report.bump("warc records")
                records[(name, rec["offset"])] = rec
                end = rec["offset"] + rec["length"]
                for prob in rec["problems"]:
                    report.add(path, f"record {rec['record_id']} at offset {rec['offset']}: {prob}")
        except Exception as exc:
            report.add(
                path, f"unreadable from offset {end}: {type(exc).__name__}: {exc} (truncated or damaged)"
            )
        else:
            size = os.path.getsize(path)
            if limit is None and end != size:
                report.add(path, f"{size - end} bytes after the last complete record (truncated write?)")
        report.bump("warc files")
        if progress:
            progress("checking WARC files", i + 1, len(files))

    # -- index.cdxj against the WARC files
    indexed: dict[str, Capture] = {}
    limit_cdxj = live.cdxj if live else None
    try:
        with open(layout.cdxj_path, "rb") as fh:
            data = fh.read() if limit_cdxj is None else fh.read(limit_cdxj)
    except FileNotFoundError:
        report.add(layout.cdxj_path, "missing")
        data = b""
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            cap = Capture.from_cdxj(line)
        except (ValueError, KeyError) as exc:
            report.add(layout.cdxj_path, f"line {n}: malformed: {exc}")
            continue
        report.bump("cdxj lines")
        indexed[cap.record_id] = cap
        found = records.get((cap.warc_file, cap.offset))
        if found is None:
            report.add(layout.cdxj_path, f"line {n}: no record at {cap.warc_file} offset {cap.offset}")
        elif found["record_id"] != cap.record_id or found["length"] != cap.length or found["url"] != cap.url:
            report.add(
                layout.cdxj_path,
                f"line {n}: does not match the record at {cap.warc_file} offset {cap.offset}",
            )
        elif (found["digest"] or "") != cap.payload_digest:
            report.add(layout.cdxj_path, f"line {n}: payload digest differs from the WARC record's")
    for (name, offset), rec in records.items():
        if rec["type"] in ("response", "revisit") and rec["record_id"] not in indexed:
            report.add(layout.warc_path(name), f"record at offset {offset} is not in {CDXJ}")

    # -- provenance pointers
    for path, raw in provs:
        try:
            prov = json.loads(raw)
            cap_info = prov["capture"]
            rid = cap_info["record_id"]
        except (ValueError, KeyError, TypeError) as exc:
            report.add(path, f"provenance unreadable: {exc}")
            continue
        report.bump("provenance pointers")
        pointed = indexed.get(rid)
        if pointed is None:
            report.add(path, f"points at capture {rid}, which is not in {CDXJ}")
        elif pointed.warc_file != cap_info.get("warc_file") or pointed.offset != cap_info.get("offset"):
            report.add(
                path,
                f"points at {cap_info.get('warc_file')} offset {cap_info.get('offset')}, "
                f"but capture {rid} is at {pointed.warc_file} offset {pointed.offset}",
            )

    # -- the derived index
    if live is None:
        _verify_index(layout, report, refs, indexed)


def _verify_index(layout: Layout, report: VerifyReport, refs: list[str], indexed: dict[str, Capture]) -> None:
    hint = f"{INDEX} is out of date: run `cablearchive reindex`"
    if not os.path.exists(layout.index_path):
        report.notes.append(f"{layout.index_path} is missing; it is rebuilt from the files on next use")
        return
    try:
        heads, n_caps = index.read_only_summary(layout.index_path)
    except sqlite3.Error as exc:
        report.add(layout.index_path, f"unreadable ({exc}); run `cablearchive reindex`")
        return
    if set(heads) != set(refs):
        report.add(layout.index_path, f"{hint} ({len(heads)} cables indexed, {len(refs)} in {CABLES}/)")
        return
    for ref in refs:
        inv = ocfl.load_inventory(layout.object_dir(ref))
        if inv is not None and heads.get(ref) != ocfl.head_number(inv):
            report.add(
                layout.index_path, f"{hint} ({ref} indexed at v{heads.get(ref)}, object at {inv['head']})"
            )
            return
    if n_caps != len(indexed):
        report.add(layout.index_path, f"{hint} ({n_caps} captures indexed, {len(indexed)} in {CDXJ})")
