"""Verify an archive: OCFL digests and sidecars, WARC record digests, index.cdxj, provenance, index."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from archive import ocfl
from archive.captures import Capture, scan_warc
from archive.commit import Journal, JournalEntry
from archive.errors import ArchiveError, LockBusy, ReadOnlyArchive
from archive.folder import ArchiveFolder
from archive.ids import is_reference, is_source_key
from archive.layout import CABLE_JSON, CABLE_TEXT, CDXJ, INDEX, Layout, in_sources, source_key_in
from archive.progress import Progress
from archive.reindex import check_index

# The commands that repair what verify finds (each problem names one).
REPAIR = "run `cablearchive repair`"
REINDEX = "run `cablearchive reindex`"
REINDEX_WARC = "run `cablearchive reindex --from-warc`"
NO_COPY = "the archive holds no other copy: restore the file from a backup"
SETTLE = "run any writer (`cablearchive repair`) to settle it"


@dataclass
class Problem:
    """One thing wrong, naming the file, and what repairs it."""

    path: str
    message: str
    remedy: str = NO_COPY

    def __str__(self) -> str:
        return f"{self.path}: {self.message} ({self.remedy})"


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

    def add(self, path: str, message: str, remedy: str = NO_COPY) -> None:
        """Record a problem and the remedy."""
        self.problems.append(Problem(path, message, remedy))

    def bump(self, name: str, n: int = 1) -> None:
        """Count something checked."""
        self.counts[name] = self.counts.get(name, 0) + n

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "ok": self.ok,
            "problems": [{"path": p.path, "message": p.message, "remedy": p.remedy} for p in self.problems],
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


def _check_sidecar(report: VerifyReport, inv_path: str, remedy: str) -> bytes | None:
    """Check an inventory against its sidecar; returns the inventory bytes when readable."""
    try:
        with open(inv_path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        report.add(inv_path, "missing", remedy)
        return None
    except OSError as exc:
        report.add(inv_path, f"unreadable: {exc.strerror or exc}", remedy)
        return None
    side = inv_path + ".sha512"
    try:
        with open(side, encoding="ascii") as fh:
            parts = fh.read().split()
    except FileNotFoundError:
        report.add(side, "inventory sidecar missing", remedy)
        return data
    except (OSError, UnicodeDecodeError) as exc:
        report.add(side, f"unreadable: {exc}", remedy)
        return data
    if len(parts) != 2 or parts[1] != "inventory.json":
        report.add(side, "malformed sidecar (want: '<sha512>  inventory.json')", remedy)
    elif parts[0].lower() != ocfl.digest(data):
        report.add(side, "sidecar digest does not match inventory.json", remedy)
    return data


def check_links(report: VerifyReport, folder: str) -> None:
    """Name every hard or symbolic link under a folder of the storage root (OCFL 1.1 E090 forbids them)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            how = ocfl.is_link(path)
            if how is not None:
                report.add(path, f"{how}: OCFL forbids links in a storage root (E090)", REPAIR)
        report.bump("files checked for links", len(filenames))


def verify_object(report: VerifyReport, obj_dir: str, ref: str) -> list[tuple[str, bytes]]:
    """Check one OCFL object; returns the (path, bytes) of its provenance files for pointer checks."""
    provs: list[tuple[str, bytes]] = []
    check_links(report, obj_dir)
    namaste = os.path.join(obj_dir, ocfl.OBJECT_NAMASTE)
    try:
        with open(namaste, "rb") as fh:
            if fh.read() != ocfl.OBJECT_NAMASTE_CONTENT:
                report.add(namaste, "wrong object declaration content", REPAIR)
    except FileNotFoundError:
        report.add(namaste, "object declaration missing", REPAIR)
    inv_path = os.path.join(obj_dir, ocfl.INVENTORY)
    copy = ocfl.head_version_inventory(obj_dir)
    data = _check_sidecar(report, inv_path, REPAIR if copy is not None else NO_COPY)
    if data is None:
        return provs
    try:
        inv = json.loads(data)
        head = ocfl.vnum(inv["head"])
        manifest: dict[str, list[str]] = inv["manifest"]
        versions: dict[str, Any] = inv["versions"]
    except (ValueError, KeyError, TypeError) as exc:
        report.add(inv_path, f"not a valid inventory: {exc}", REPAIR if copy is not None else NO_COPY)
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
        vpath = os.path.join(obj_dir, name)
        if not os.path.isdir(vpath):
            report.add(vpath, f"version folder {name} of {ref} is missing")
            continue
        # The head version's inventory has a copy in the object's root.
        vdata = _check_sidecar(
            report, os.path.join(vpath, ocfl.INVENTORY), REPAIR if name == inv["head"] else NO_COPY
        )
        if name == inv["head"] and vdata is not None and vdata != data:
            report.add(
                os.path.join(vpath, ocfl.INVENTORY),
                "head version inventory differs from the root inventory",
                REPAIR,
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
    missing_versions = {name for name in versions if not os.path.isdir(os.path.join(obj_dir, name))}
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
            if rel.split("/")[0] in missing_versions:
                continue  # named once, with its folder
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
                    os.path.join(dirpath, fn),
                    "file not in the inventory (left by an interrupted write?)",
                    REPAIR,
                )
        for dn in list(dirnames):
            if dirpath == obj_dir and dn not in versions:
                report.add(os.path.join(dirpath, dn), "folder is not a version of this object", REPAIR)
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
    """Check the whole archive (see module doc); writes nothing, unless an interrupted commit needs settling.

    A reader's shared lock keeps writers out while it checks (nothing is written for it). A
    journal left by a writer that died is settled first when the archive can be written; on a
    read-only archive what that commit had made durable is checked, and its settling named.
    """
    report = VerifyReport()
    layout = folder.layout
    lock = folder.lock()
    journal = Journal(layout)
    live: JournalEntry | None = None
    try:
        if journal.exists():
            try:
                lock.acquire({"kind": "verify", "run": None}, wait=0, what=f"archive {folder.path}")
            except LockBusy as exc:
                report.notes.append(
                    f"{exc}: checking what is committed, skipping what the writer has in flight"
                )
                live = journal.peek()
            except ReadOnlyArchive:
                live = _read_only_journal(report, journal)
            else:
                try:
                    done = folder.recover()
                except ArchiveError as exc:
                    report.add(folder.journal_path, str(exc).split(": ", 1)[-1], REPAIR)
                    done = None
                if done:
                    report.notes.append(
                        f"an interrupted commit of run {done.run} was settled: "
                        f"{len(done.back)} version(s) rolled back, {len(done.forward)} completed"
                    )
        elif lock.acquire_shared() is False:
            # A writer started since: check what is committed.
            report.notes.append(f"archive {folder.path} is being written: skipping what is in flight")
            live = journal.peek()
        _verify(layout, report, progress, live)
    finally:
        lock.release()
    return report


def _read_only_journal(report: VerifyReport, journal: Journal) -> JournalEntry | None:
    """On a read-only archive, the journal of a writer that died: what it says was committed."""
    try:
        entry = journal.read()
    except ArchiveError as exc:
        report.add(journal.path, str(exc).split(": ", 1)[-1], REPAIR)
        return None
    if entry is not None:
        report.add(
            journal.path,
            f"run {entry.run} was interrupted and its last commit is not settled (the archive is read-only): "
            "what it committed is checked",
            "on a writable copy, " + SETTLE,
        )
    return entry


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
                report.add(namaste, "wrong storage root declaration content", REPAIR)
    except FileNotFoundError:
        report.add(namaste, "storage root declaration missing", REPAIR)
    layout_file = os.path.join(root, ocfl.LAYOUT_FILE)
    try:
        with open(layout_file, encoding="utf-8") as fh:
            root_layout = json.load(fh)
        if root_layout.get("extension") != ocfl.LAYOUT_EXTENSION:
            report.add(layout_file, f"layout is not {ocfl.LAYOUT_EXTENSION}", REPAIR)
    except (OSError, ValueError) as exc:
        report.add(layout_file, f"unreadable: {exc}", REPAIR)
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        full = os.path.join(root, name)
        how = ocfl.is_link(full)
        if how is not None:
            report.add(full, f"{how}: OCFL forbids links in a storage root (E090)", REPAIR)
        elif name not in ocfl.ROOT_ENTRIES and not (is_reference(name) and os.path.isdir(full)):
            report.add(full, "not an OCFL object folder named by a cable ID", REPAIR)
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
                path,
                f"unreadable from offset {end}: {type(exc).__name__}: {exc} (truncated or damaged)",
                REPAIR,
            )
        else:
            size = os.path.getsize(path)
            if limit is None and end != size:
                report.add(
                    path, f"{size - end} bytes after the last complete record (truncated write?)", REPAIR
                )
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
        report.add(layout.cdxj_path, "missing", REINDEX_WARC)
        data = b""
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            cap = Capture.from_cdxj(line)
        except (ValueError, KeyError) as exc:
            report.add(layout.cdxj_path, f"line {n}: malformed: {exc}", REINDEX_WARC)
            continue
        report.bump("cdxj lines")
        indexed[cap.record_id] = cap
        found = records.get((cap.warc_file, cap.offset))
        if found is None:
            report.add(
                layout.cdxj_path, f"line {n}: no record at {cap.warc_file} offset {cap.offset}", REINDEX_WARC
            )
        elif found["record_id"] != cap.record_id or found["length"] != cap.length or found["url"] != cap.url:
            report.add(
                layout.cdxj_path,
                f"line {n}: does not match the record at {cap.warc_file} offset {cap.offset}",
                REINDEX_WARC,
            )
        elif (found["digest"] or "") != cap.payload_digest:
            report.add(
                layout.cdxj_path, f"line {n}: payload digest differs from the WARC record's", REINDEX_WARC
            )
    for (name, offset), rec in records.items():
        if rec["type"] in ("response", "revisit") and rec["record_id"] not in indexed:
            report.add(layout.warc_path(name), f"record at offset {offset} is not in {CDXJ}", REINDEX_WARC)

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

    # -- the cleaned marks
    _verify_cleaned(layout, report, indexed, live.cleaned if live else None)

    # -- the derived index
    if live is None:
        _verify_index(layout, report)


def _verify_cleaned(
    layout: Layout, report: VerifyReport, indexed: dict[str, Capture], limit: int | None
) -> None:
    """Each line of cleaned.jsonl: JSON naming a capture of index.cdxj, a rules digest and a run."""
    path = layout.cleaned_path
    try:
        with open(path, "rb") as fh:
            data = fh.read() if limit is None else fh.read(limit)
    except FileNotFoundError:
        report.add(path, "missing", REPAIR)
        return
    bad = 0
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        report.bump("cleaned marks")
        try:
            mark = json.loads(line)
            rid, rules = mark["capture"], mark["rules"]
            ok = isinstance(rid, str) and isinstance(rules, str)
        except (ValueError, KeyError, TypeError):
            ok, rid = False, None
        if not ok:
            problem = f'line {n}: malformed mark (want {{"capture", "rules", "run"}})'
        elif rid not in indexed:
            problem = f"line {n}: marks capture {rid}, which is not in {CDXJ}"
        else:
            continue
        bad += 1
        if bad <= 20:
            report.add(path, problem, REPAIR)
    if bad > 20:
        report.add(path, f"{bad - 20} more bad line(s)", REPAIR)


def _verify_index(layout: Layout, report: VerifyReport) -> None:
    """index.sqlite against the files: whole, every cable at its head, every capture and mark."""
    if not os.path.exists(layout.index_path):
        report.notes.append(f"{layout.index_path} is missing; it is rebuilt from the files on next use")
        return
    for difference in check_index(layout):
        report.add(layout.index_path, f"{INDEX} is out of date: {difference}", REINDEX)
