"""runs/<run>.json: what each run did (arguments, times, counts, errors), and run ids."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from archive.captures import now_iso
from archive.errors import ArchiveError
from archive.fsutil import atomic_write, json_bytes
from archive.layout import RUN_SUFFIX, Layout, tool_name

RUN_KINDS = ("crawl", "reclean", "import")
# A run's status, as runs/<run>.json says it: running, then one of the others.
RUNNING = "running"
DONE = "done"
DONE_WITH_ERRORS = "done with errors"  # finished; some inputs failed (listed in `errors`)
INTERRUPTED = "interrupted"  # stopped before its end (Ctrl-C, SIGTERM, killed): its commits are kept
FAILED = "failed"  # ended by an error (a full disk, a damaged archive): its commits are kept
STATUSES = (RUNNING, DONE, DONE_WITH_ERRORS, INTERRUPTED, FAILED)
FINISHED = (DONE, DONE_WITH_ERRORS)
_KIND = re.compile(r"[a-z][a-z0-9-]{0,19}")
# Inputs kept per list of a run record (errors are all kept: each one is an input that failed).
MAX_LISTED = 10000
# The counts every run record has, in this order.
COUNTS = (
    "captures",
    "revisits",
    "pages",
    "cables",
    "new",
    "changed",
    "unchanged",
    "versions",
    "no_id",
    "refused",
    "failures",
    "commits",
)


def check_kind(kind: str) -> str:
    """Return a run kind: crawl, reclean, import, or a short lower-case word of a caller's own."""
    if kind not in RUN_KINDS and not _KIND.fullmatch(kind):
        raise ArchiveError(f"run kind {kind!r} is not one of {', '.join(RUN_KINDS)}")
    return kind


def new_run_id(kind: str) -> str:
    """`<UTC time>-<kind>-<6 hex>`: run ids sort by start time."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{kind}-{secrets.token_hex(3)}"


def _entry(url: str, reason: str) -> dict[str, str]:
    return {"input": str(url)[:2048], "reason": str(reason)}


@dataclass
class RunRecord:
    """One run as runs/<run>.json has it; the writer keeps it up to date while the run goes on."""

    run: str
    kind: str
    args: dict[str, Any]
    started: str
    status: str = RUNNING
    finished: str | None = None
    tool: str = field(default_factory=tool_name)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    warc_files: list[str] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)

    def error(self, url: str, reason: str) -> None:
        """Keep an input that failed."""
        self.errors.append(_entry(url, reason))

    def warn(self, url: str, reason: str) -> None:
        """Keep a warning about an input (a cable not archived and the like)."""
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(_entry(url, reason))

    def note(self, url: str, reason: str) -> None:
        """Keep something worth telling about an input that is not a failure."""
        if len(self.notes) < MAX_LISTED:
            self.notes.append(_entry(url, reason))

    def to_json(self) -> dict[str, Any]:
        """The record as written, keys in the order people read them."""
        return {
            "run": self.run,
            "kind": self.kind,
            "args": self.args,
            "status": self.status,
            "started": self.started,
            "finished": self.finished,
            "tool": self.tool,
            "counts": self.counts,
            "warc_files": self.warc_files,
            "commits": self.commits,
            "errors": self.errors,
            "warnings": self.warnings,
            "notes": self.notes,
        }

    def write(self, layout: Layout, status: str, warc_files: list[str]) -> None:
        """Write runs/<run>.json with this status (the finish time is set unless still running)."""
        self.status = status
        self.finished = None if status == RUNNING else now_iso()
        self.warc_files = sorted(warc_files)
        data = json.dumps(self.to_json(), ensure_ascii=False, indent=1, default=str) + "\n"
        atomic_write(layout.run_path(self.run), data.encode("utf-8"))


def mark_interrupted(layout: Layout, run_id: str, recovered: dict[str, Any] | None = None) -> bool:
    """Mark a run still "running" as interrupted, with what recovery settled (a best effort); True when marked."""
    with contextlib.suppress(OSError, ValueError, ArchiveError):
        path = layout.run_path(run_id)
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
        if rec.get("status") == RUNNING:
            rec["status"] = INTERRUPTED
            rec["finished"] = None
            rec["recovered"] = {"at": now_iso(), **(recovered or {})}
            atomic_write(path, json_bytes(rec))
            return True
    return False


def mark_unfinished(layout: Layout) -> list[str]:
    """Mark every run still "running" as interrupted (the caller holds the lock: none of them is alive)."""
    marked = []
    for path in layout.run_records():
        run_id = os.path.basename(path)[: -len(RUN_SUFFIX)]
        with contextlib.suppress(OSError, ValueError), open(path, encoding="utf-8") as fh:
            if json.load(fh).get("status") != RUNNING:
                continue
        if mark_interrupted(layout, run_id):
            marked.append(run_id)
    return marked


def read_runs(layout: Layout) -> list[dict[str, Any]]:
    """The run records, oldest first (an unreadable one is left out)."""
    out = []
    for path in layout.run_records():
        with contextlib.suppress(OSError, ValueError), open(path, encoding="utf-8") as fh:
            out.append(json.load(fh))
    return out
