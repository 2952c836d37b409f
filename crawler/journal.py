"""The crawl's resume journal: its records, one typed class per entry kind, and its files.

A crawl keeps two files in the archive's crawl state folder (`Layout.crawl_state_dir`):
`job.json` (what was asked, which runs worked on it, whether it finished) and
`journal.jsonl`, append-only, one compact JSON object a line:

    {"t":"s","u":URL,"k":KIND,"d":DEPTH[,"seed":1][,"probe":1]}   Scheduled: a target to fetch
    {"t":"d","u":URL[,"f":FINAL_URL]}                             Done: a page is in the archive
    {"t":"b","n":N,"run":RUN}                                     BatchStart: commit N of RUN begins
    {"t":"c","n":N}                                               BatchCommitted: commit N returned
    {"t":"site","s":SITE}                                         SiteAdded: a site came into scope

A page's Done record and the targets it scheduled are written only inside the batch of the
archive commit that made the page durable, so after a kill -9 every page the journal calls
done is in the archive and every other page is fetched again on --resume. This module is the
one place that spells that format.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from crawler.discovery import PRIORITY

STATE_VERSION = 1

JsonRecord = dict[str, Any]
# (run, page URLs) -> the pages among them that have a capture written by that run.
Captured = Callable[[str, list[str]], set[str]]


def _int(value: object) -> int | None:
    """`value` as an int, or None when it is not a whole number (a damaged line)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class Scheduled:
    """A target was scheduled: its URL, what kind of link it is, its depth, and whether a seed or probe."""

    url: str
    kind: str
    depth: int
    seed: bool = False
    probe: bool = False

    def to_json(self) -> JsonRecord:
        """The journal line's object."""
        d: JsonRecord = {"t": "s", "u": self.url, "k": self.kind, "d": self.depth}
        if self.seed:
            d["seed"] = 1
        if self.probe:
            d["probe"] = 1
        return d

    @classmethod
    def from_json(cls, d: JsonRecord) -> Scheduled | None:
        """The record of a journal object; None when it is damaged."""
        url, kind, depth = d.get("u"), d.get("k"), _int(d.get("d", 0))
        if not isinstance(url, str) or kind not in PRIORITY or depth is None:
            return None
        return cls(url, str(kind), depth, bool(d.get("seed")), bool(d.get("probe")))


@dataclass(frozen=True)
class Done:
    """A page was archived: the URL requested and, after a redirect, the URL that answered."""

    url: str
    final_url: str | None = None

    def to_json(self) -> JsonRecord:
        """The journal line's object."""
        d: JsonRecord = {"t": "d", "u": self.url}
        if self.final_url is not None and self.final_url != self.url:
            d["f"] = self.final_url
        return d

    @classmethod
    def from_json(cls, d: JsonRecord) -> Done | None:
        """The record of a journal object; None when it is damaged."""
        url, final = d.get("u"), d.get("f")
        if not isinstance(url, str):
            return None
        return cls(url, final if isinstance(final, str) else None)


@dataclass(frozen=True)
class BatchStart:
    """The records up to the matching BatchCommitted belong to archive commit `n` of run `run`."""

    n: int
    run: str

    def to_json(self) -> JsonRecord:
        """The journal line's object."""
        return {"t": "b", "n": self.n, "run": self.run}

    @classmethod
    def from_json(cls, d: JsonRecord) -> BatchStart:
        """The record of a journal object (a damaged number or run still opens a batch)."""
        return cls(_int(d.get("n")) or 0, str(d.get("run", "")))


@dataclass(frozen=True)
class BatchCommitted:
    """Archive commit `n` returned: every record of its batch is durable in the archive."""

    n: int

    def to_json(self) -> JsonRecord:
        """The journal line's object."""
        return {"t": "c", "n": self.n}

    @classmethod
    def from_json(cls, d: JsonRecord) -> BatchCommitted:
        """The record of a journal object."""
        return cls(_int(d.get("n")) or 0)


@dataclass(frozen=True)
class SiteAdded:
    """A site (host and port, see discovery.site_key) came into the crawl's scope."""

    site: str

    def to_json(self) -> JsonRecord:
        """The journal line's object."""
        return {"t": "site", "s": self.site}

    @classmethod
    def from_json(cls, d: JsonRecord) -> SiteAdded | None:
        """The record of a journal object; None when it is damaged."""
        site = d.get("s")
        return cls(site) if isinstance(site, str) else None


Record = Scheduled | Done | BatchStart | BatchCommitted | SiteAdded

_KINDS: dict[str, Callable[[JsonRecord], Record | None]] = {
    "s": Scheduled.from_json,
    "d": Done.from_json,
    "b": BatchStart.from_json,
    "c": BatchCommitted.from_json,
    "site": SiteAdded.from_json,
}


def record_from_json(d: JsonRecord) -> Record | None:
    """The typed record of one journal object; None for an unknown or damaged one."""
    parse = _KINDS.get(d.get("t"))  # type: ignore[arg-type]  # any value may come off the disk
    return parse(d) if parse is not None else None


def replay(records: Iterable[Record], captured: Captured | None = None) -> list[Record]:
    """The records that stand after a crash, in journal order.

    Those outside batches and those of committed batches stand. A batch without its
    BatchCommitted was cut by a kill in or around its commit: `captured(run, urls)` tells
    which of its pages have a capture from that run. Those pages stand with the targets they
    scheduled (an archive commit is all or nothing, so their cables were kept with their
    captures); the others are dropped and fetched again. The batch's sites always stand.
    """
    out: list[Record] = []
    open_batch: tuple[str, list[Record]] | None = None

    def settle(run: str, recs: list[Record]) -> None:
        out.extend(r for r in recs if isinstance(r, SiteAdded))
        # Within a batch each page's records are the targets it scheduled, then its Done.
        groups: list[list[Record]] = [[]]
        for rec in recs:
            if isinstance(rec, SiteAdded):
                continue
            groups[-1].append(rec)
            if isinstance(rec, Done):
                groups.append([])
        urls = [r.url for r in recs if isinstance(r, Done)]
        have = captured(run, urls) if captured is not None and urls else set()
        for group in groups:
            page = next((r.url for r in group if isinstance(r, Done)), None)
            if page is not None and page in have:
                out.extend(group)

    for rec in records:
        if isinstance(rec, BatchStart):
            if open_batch is not None:
                settle(*open_batch)
            open_batch = (rec.run, [])
        elif isinstance(rec, BatchCommitted):
            if open_batch is not None:
                out.extend(open_batch[1])
            open_batch = None
        elif open_batch is not None:
            open_batch[1].append(rec)
        else:
            out.append(rec)
    if open_batch is not None:
        settle(*open_batch)
    return out


def _fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temp file, fsync and rename, so a kill leaves the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Journal:
    """The crawl's resume state in a folder: job.json plus journal.jsonl."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.job_path = self.folder / "job.json"
        self.log_path = self.folder / "journal.jsonl"
        self._fh: IO[str] | None = None
        self.started = False

    def job(self) -> dict[str, Any] | None:
        """The saved job description, or None when there is none (or it is unreadable)."""
        try:
            data = json.loads(self.job_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else None

    def resumable(self) -> bool:
        """True when an earlier crawl in this archive stopped before it finished."""
        job = self.job()
        return job is not None and job.get("status") != "finished" and self.log_path.exists()

    def start(self, job: dict[str, Any], resume: bool) -> None:
        """Open the journal: continue it when resuming, else begin a new one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        job = {**job, "version": STATE_VERSION, "status": "running", "updated": time.time()}
        if not resume and self.log_path.exists():
            self.log_path.unlink()
        write_json_atomic(self.job_path, job)
        self._fh = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the crawl
        self.started = True

    def records(self) -> Iterator[Record]:
        """Every whole record of the journal; a line torn by a kill, or damaged, is skipped."""
        try:
            fh = open(self.log_path, encoding="utf-8")  # noqa: SIM115
        except OSError:
            return
        with fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # the last line was being written when the process died
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                rec = record_from_json(obj) if isinstance(obj, dict) else None
                if rec is not None:
                    yield rec

    def replay(self, captured: Captured | None = None) -> list[Record]:
        """The records of this journal that stand after a crash (see `replay`)."""
        return replay(self.records(), captured)

    def append(self, records: Iterable[Record]) -> None:
        """Append records and make them durable before returning."""
        if self._fh is None:
            return
        lines = "".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in records)
        if not lines:
            return
        self._fh.write(lines)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def begin_batch(self, n: int, run: str, records: Iterable[Record]) -> None:
        """Before archive commit `n` of `run`: the records it makes durable."""
        self.append([BatchStart(n, run), *records])

    def end_batch(self, n: int) -> None:
        """After archive commit `n` returned."""
        self.append([BatchCommitted(n)])

    def finish(self, status: str, extra: dict[str, Any] | None = None) -> None:
        """Close the journal and mark the job finished or interrupted."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        job = self.job() or {"version": STATE_VERSION}
        job.update(extra or {})
        job.update(status=status, updated=time.time())
        write_json_atomic(self.job_path, job)
