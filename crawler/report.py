"""What a crawl did: counters, failed inputs and notes; live progress on stderr and the final report."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from archive.layout import Layout

if TYPE_CHECKING:
    from rich.live import Live
    from rich.text import Text

logger = logging.getLogger(__name__)


@dataclass
class Problem:
    """One input that failed (or deserves a note): the URL or seeds line, and why."""

    url: str
    reason: str

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


@dataclass
class CrawlReport:
    """Counters and problems of one crawl; safe to update from the reactor and the archive thread."""

    pages: int = 0  # responses handled (any status)
    captures: int = 0  # captures written to the archive
    not_modified: int = 0  # 304 answers to conditional requests
    full_bodies: int = 0  # responses that carried a body (not 304)
    cables_new: int = 0
    cables_changed: int = 0
    cables_unchanged: int = 0
    pages_with_cables: int = 0
    cables_found: int = 0  # cables with an ID on the pages recorded so far (before commits)
    cables_without_id: int = 0
    robots_skipped: int = 0
    retried: int = 0
    queued: int = 0
    commits: int = 0
    failures: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    broken: list[Problem] = field(default_factory=list)  # 4xx on links found on the sites themselves
    run_ids: list[str] = field(default_factory=list)
    fatal: str | None = None
    finish_reason: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None
    full_path: str | None = None  # the JSON file holding the whole report
    archive: str | None = None  # the archive folder the crawl wrote to
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, url: str, reason: str) -> None:
        """Record an input that failed: it makes the exit code 1."""
        with self._lock:
            self.failures.append(Problem(url, reason))

    def note(self, url: str, reason: str) -> None:
        """Record something worth telling that is not a failure of the crawl."""
        with self._lock:
            self.notes.append(Problem(url, reason))

    def broken_link(self, url: str, reason: str) -> None:
        """Record a link of the site that leads nowhere (404 and the like): worth telling, not a failure."""
        with self._lock:
            self.broken.append(Problem(url, reason))

    def add(self, **counts: int) -> None:
        """Add to counters by name."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    @property
    def failed(self) -> bool:
        """True when some input failed or the crawl could not run."""
        return bool(self.failures or self.fatal)

    def summary_line(self) -> str:
        """One line with the main counters, for progress and the report."""
        return (
            f"{self.pages} pages fetched ({self.not_modified} not modified), {self.captures} captures, "
            f"{self.cables_found} cables found: {self.cables_new} new / {self.cables_changed} changed / "
            f"{self.cables_unchanged} unchanged, {len(self.failures)} errors, {self.queued} queued"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "runs": list(self.run_ids),
            "archive": os.path.abspath(self.archive) if self.archive else None,
            "run_records": [os.path.abspath(Layout.at(self.archive).run_path(r)) for r in self.run_ids]
            if self.archive
            else [],
            "finish_reason": self.finish_reason,
            "fatal": self.fatal,
            "seconds": round((self.ended or time.time()) - self.started, 3),
            "pages": self.pages,
            "captures": self.captures,
            "not_modified": self.not_modified,
            "full_bodies": self.full_bodies,
            "cables": {
                "found": self.cables_found,
                "new": self.cables_new,
                "changed": self.cables_changed,
                "unchanged": self.cables_unchanged,
            },
            "pages_with_cables": self.pages_with_cables,
            "cables_without_id": self.cables_without_id,
            "robots_skipped": self.robots_skipped,
            "retried": self.retried,
            "failures": [{"url": p.url, "reason": p.reason} for p in self.failures],
            "notes": [{"url": p.url, "reason": p.reason} for p in self.notes],
            "broken_links": [{"url": p.url, "reason": p.reason} for p in self.broken],
        }

    def save(self, path: Path) -> None:
        """Write the whole report as JSON (through a temp file; a failure is logged, not raised)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            logger.warning("could not write %s: %s", path, exc)

    def render(
        self, out: TextIO, max_notes: int = 100, max_broken: int = 10, full: str | None = None
    ) -> None:
        """Print the end-of-crawl report; `full` names the file that holds all of it."""
        took = (self.ended or time.time()) - self.started
        runs = ", ".join(self.run_ids) or "(none)"
        print(f"crawl {self.finish_reason or 'ended'} in {took:.1f} s; run {runs}", file=out)
        print(f"  {self.summary_line()}", file=out)
        if self.robots_skipped:
            print(f"  {self.robots_skipped} links not fetched: disallowed by robots.txt", file=out)
        if self.cables_without_id:
            print(
                f"  {self.cables_without_id} cables found without an established reference ID: not archived",
                file=out,
            )
        if self.fatal:
            print(f"error: {self.fatal}", file=out)
        cut = False
        for title, problems, limit in (
            ("failed", self.failures, None),
            ("notes", self.notes, max_notes),
            ("broken links on the sites", self.broken, max_broken),
        ):
            if not problems:
                continue
            print(f"{title} ({len(problems)}):", file=out)
            for p in problems[:limit]:
                print(f"  {p}", file=out)
            if limit is not None and len(problems) > limit:
                cut = True
                print(f"  ... {len(problems) - limit} more", file=out)
        for line in self.saved_lines(full if cut else None):
            print(line, file=out)

    def saved_lines(self, full: str | None = None) -> list[str]:
        """Where the crawl was saved: the archive, each run's record, the whole report (`full`)."""
        lines = []
        if self.archive and self.run_ids:
            lines.append(f"saved in the archive {os.path.abspath(self.archive)}")
            layout = Layout.at(self.archive)
            for run in self.run_ids:
                path = os.path.abspath(layout.run_path(run))
                if os.path.isfile(path):
                    lines.append(f"  run record: {path}")
        if full:
            lines.append(f"the whole report: {full}")
        return lines


class ProgressDisplay:
    """Live counters on stderr: a rich status line on a terminal, a plain line every few seconds otherwise."""

    def __init__(self, report: CrawlReport, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.report = report
        # A live line draws with control codes and shows counters only: it writes under a
        # command's escaping wrapper (crawler.cli.terminal), if there is one.
        stream = stream or sys.stderr
        self.stream: TextIO = getattr(stream, "underlying", stream)
        self.interval = interval
        self._live: Live | None = None
        self._last = time.time()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def start(self) -> None:
        """Begin showing progress."""
        if self._tty:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                self._renderable(),
                console=Console(file=self.stream),
                refresh_per_second=4,
                transient=True,
                get_renderable=self._renderable,
            )
            self._live.start()

    def _renderable(self) -> Text:
        from rich.text import Text

        took = time.time() - self.report.started
        return Text(f"crawling {took:6.0f} s  {self.report.summary_line()}", style="bold")

    def tick(self) -> None:
        """Called periodically: prints a plain line when not on a terminal."""
        if self._tty or self.interval <= 0:
            return
        now = time.time()
        if now - self._last >= self.interval:
            self._last = now
            print(f"progress: {self.report.summary_line()}", file=self.stream, flush=True)

    def stop(self) -> None:
        """Stop showing progress."""
        if self._live is not None:
            self._live.stop()
            self._live = None
