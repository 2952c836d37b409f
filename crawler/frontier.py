"""What is left to crawl, kept in the archive's state/ folder so that a killed crawl can resume.

The journal is append-only JSON lines. A page's line ("done") and the links it scheduled
are appended only after the archive committed that page, so after a kill -9 every page the
journal calls done is in the archive, and every other page is fetched again on --resume.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.discovery import DEPTH_COST, PRIORITY, Link, site_key, url_key

STATE_VERSION = 1


@dataclass(frozen=True)
class Target:
    """A URL to fetch: how it was found and at what depth."""

    url: str
    kind: str
    depth: int
    seed: bool = False
    probe: bool = False

    @property
    def priority(self) -> int:
        """Scheduler priority: likely cables first, shallower first among equals."""
        return PRIORITY[self.kind] * 100 - min(self.depth, 99)

    def to_json(self) -> dict[str, Any]:
        """Journal form."""
        d: dict[str, Any] = {"t": "s", "u": self.url, "k": self.kind, "d": self.depth}
        if self.seed:
            d["seed"] = 1
        if self.probe:
            d["probe"] = 1
        return d


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
    """The crawl's resume state in `<archive>/state/crawl/`: job.json plus journal.jsonl."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.job_path = self.folder / "job.json"
        self.log_path = self.folder / "journal.jsonl"
        self._fh: Any = None
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
        return bool(job) and job.get("status") != "finished" and self.log_path.exists()

    def start(self, job: dict[str, Any], resume: bool) -> None:
        """Open the journal: continue it when resuming, else begin a new one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        job = {**job, "version": STATE_VERSION, "status": "running", "updated": time.time()}
        if not resume and self.log_path.exists():
            self.log_path.unlink()
        write_json_atomic(self.job_path, job)
        self._fh = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the crawl
        self.started = True

    def records(self) -> Iterator[dict[str, Any]]:
        """Every whole record of the journal; a line torn by a kill is skipped."""
        try:
            fh = open(self.log_path, encoding="utf-8")  # noqa: SIM115
        except OSError:
            return
        with fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # the last line was being written when the process died
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    yield rec

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records and make them durable before returning."""
        if self._fh is None:
            return
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        if not lines:
            return
        self._fh.write(lines)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def finish(self, status: str, extra: dict[str, Any] | None = None) -> None:
        """Close the journal and mark the job finished or interrupted."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        job = self.job() or {"version": STATE_VERSION}
        job.update(extra or {})
        job.update(status=status, updated=time.time())
        write_json_atomic(self.job_path, job)


class Frontier:
    """Which URLs are known, which sites are in scope, and the depth and page limits."""

    def __init__(self, max_depth: int, max_pages: int | None) -> None:
        self.max_depth = max_depth
        self.max_pages = max_pages
        self.sites: set[str] = set()
        self.seen: set[str] = set()
        self.done: set[str] = set()
        self.pages = 0  # page requests scheduled so far (probes not counted)
        self.dropped_for_limit = 0
        self.disallowed = 0  # links not scheduled because robots.txt disallows them

    def add_site(self, url: str) -> str | None:
        """Bring the site of `url` into scope; returns its key."""
        key = site_key(url)
        if key:
            self.sites.add(key)
        return key

    def full(self) -> bool:
        """True when --max-pages pages have been scheduled."""
        return self.max_pages is not None and self.pages >= self.max_pages

    def admit(self, target: Target, key: str | None = None) -> bool:
        """Record `target` as scheduled if it is new, within depth and within the page limit."""
        key = key or url_key(target.url)
        if key in self.seen:
            return False
        if target.depth > self.max_depth and not target.seed:
            return False
        if not target.probe:
            if self.full():
                self.dropped_for_limit += 1
                return False
            self.pages += 1
        self.seen.add(key)
        return True

    def mark_seen(self, url: str) -> None:
        """A URL reached by a redirect: do not schedule it again."""
        self.seen.add(url_key(url))

    def children(
        self, links: Iterable[Link], parent_depth: int, allowed: Callable[[str], bool] | None = None
    ) -> Iterator[Target]:
        """The new targets among a page's links, depth by what following each costs.

        `allowed` (robots.txt) is asked about new URLs only; a refused one is remembered as seen.
        """
        for link in links:
            key = link.key or url_key(link.url)
            depth = parent_depth + DEPTH_COST[link.kind]
            if key in self.seen or depth > self.max_depth:
                continue
            if allowed is not None and not allowed(link.url):
                self.seen.add(key)
                self.disallowed += 1
                continue
            target = Target(link.url, link.kind, depth)
            if self.admit(target, key):
                yield target

    def restore(
        self, journal: Journal, captured: Callable[[str, list[str]], set[str]] | None = None
    ) -> list[Target]:
        """Load an interrupted crawl's state; returns the targets still to fetch, in journal order.

        Records are journaled in batches: "b" (batch start, before the archive commit), the
        batch's records, then "c" once the commit returned. Within a batch each page's records
        are the links it scheduled ("s") followed by its "d". A batch without its "c" was cut by
        a kill in or around the commit: `captured(run, urls)` tells which of its pages have a
        capture in the archive from that run. Those pages are done (their links kept: an archive
        commit is all or nothing, so their cables were kept with their captures); the others are
        dropped and fetched again.
        """
        scheduled: dict[str, Target] = {}
        done: list[str] = []
        sites: list[str] = []
        open_batch: tuple[str, list[dict[str, Any]]] | None = None

        def apply(recs: Iterable[dict[str, Any]]) -> None:
            for rec in recs:
                t = rec.get("t")
                if t == "s" and isinstance(rec.get("u"), str) and rec.get("k") in PRIORITY:
                    target = Target(
                        rec["u"],
                        rec["k"],
                        int(rec.get("d", 0)),
                        bool(rec.get("seed")),
                        bool(rec.get("probe")),
                    )
                    scheduled.setdefault(url_key(target.url), target)
                elif t == "d" and isinstance(rec.get("u"), str):
                    done.append(rec["u"])
                    if isinstance(rec.get("f"), str):
                        done.append(rec["f"])  # the URL a redirect ended at
                elif t == "site" and isinstance(rec.get("s"), str):
                    sites.append(rec["s"])

        def settle(batch: tuple[str, list[dict[str, Any]]]) -> None:
            run, recs = batch
            apply(r for r in recs if r.get("t") == "site")
            groups: list[list[dict[str, Any]]] = [[]]
            for rec in recs:
                if rec.get("t") == "site":
                    continue
                groups[-1].append(rec)
                if rec.get("t") == "d":
                    groups.append([])
            urls = [r["u"] for r in recs if r.get("t") == "d" and isinstance(r.get("u"), str)]
            have = captured(run, urls) if captured is not None and urls else set()
            for group in groups:
                page = next(
                    (r["u"] for r in group if r.get("t") == "d" and isinstance(r.get("u"), str)), None
                )
                if page is not None and page in have:
                    apply(group)

        for rec in journal.records():
            t = rec.get("t")
            if t == "b":
                if open_batch is not None:
                    settle(open_batch)
                open_batch = (str(rec.get("run", "")), [])
            elif t == "c":
                if open_batch is not None:
                    apply(open_batch[1])
                open_batch = None
            elif open_batch is not None:
                open_batch[1].append(rec)
            else:
                apply([rec])
        if open_batch is not None:
            settle(open_batch)
        self.done.update(url_key(u) for u in done)
        self.sites.update(sites)
        self.seen.update(scheduled)
        self.seen.update(self.done)
        self.pages = sum(1 for t in scheduled.values() if not t.probe)
        return [t for key, t in scheduled.items() if key not in self.done]
