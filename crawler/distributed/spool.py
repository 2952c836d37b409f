"""The workers' spool: closed WARC files, each with a JSON sidecar of what was cleaned from it.

A worker writes its captures into `.<name>.open` in the spool folder, with the archive's own
WARC record format (archive.captures.WarcSink: response + request records, encoding headers
renamed); when a batch is done it writes `<name>.json` (the sidecar), makes both durable and
renames the WARC to `<name>`. Only then does it list the name in Redis: the coordinator never
sees a file that is still being written, and a killed worker leaves only a `.open` file.

Names are Heritrix-like and never collide across workers: `CABLEARCHIVE-<worker>-<start
time>-<serial>.warc.gz` (the worker id holds its host and pid unless given).

The sidecar holds, per response record (by WARC-Record-ID): the target URL, the final URL,
status and headers as received, request headers, method, protocol, the fetch time in seconds
and the cleaner's PageResult as JSON; and the batch's problems (failures, notes, broken links)
and counters.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.captures import WarcSink, to_iso
from archive.fsutil import fsync_dir
from archive.layout import Layout
from cleaners import PageResult
from cleaners.model import Cable, CleanerWarning, RulesetInfo
from crawler.items import CaptureItem

SIDECAR_SUFFIX = ".json"
OPEN_PREFIX = "."
OPEN_SUFFIX = ".open"
_SAFE = re.compile(r"[^A-Za-z0-9_.~]+")


def worker_name(raw: str) -> str:
    """A worker id fit for a file name."""
    return _SAFE.sub("_", raw).strip("._") or "worker"


def sidecar_path(warc: str | os.PathLike[str]) -> Path:
    """The sidecar of a spool WARC file."""
    return Path(str(warc) + SIDECAR_SUFFIX)


def page_result_from_json(d: dict[str, Any]) -> PageResult:
    """Rebuild a PageResult from its to_json() form."""
    return PageResult(
        cables=[Cable.from_json(c) for c in d.get("cables", [])],
        family=d.get("family", "generic"),
        profile=d.get("profile"),
        ruleset=RulesetInfo(**d["ruleset"]),
        cleaner_version=d.get("cleaner_version", ""),
        encoding=d.get("encoding"),
        repairs=list(d.get("repairs", [])),
        warnings=[CleanerWarning.of(w) for w in d.get("warnings", [])],
    )


class _SpoolSink(WarcSink):
    """The archive's WARC sink, writing into the spool folder under the `.open` name."""

    def __init__(self, folder: Path, run_id: str) -> None:
        super().__init__(Layout.at(str(folder)), run_id, {"software": "cablearchive worker"}, 0)
        self.folder = folder

    def _path(self, name: str) -> str:
        return str(self.folder / f"{OPEN_PREFIX}{name}{OPEN_SUFFIX}")


@dataclass
class Batch:
    """What one spool file will hold: records, problems, counters and the leases it completes."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    leases: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


class SpoolWriter:
    """One worker's spool files: captures appended to the open file, closed batch by batch."""

    def __init__(self, folder: str | os.PathLike[str], worker: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.worker = worker
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        self._sink = _SpoolSink(self.folder, f"CABLEARCHIVE-{worker}-{stamp}")
        self.batch = Batch()

    def add(self, item: CaptureItem, lease: str | None) -> None:
        """Write a capture to the open file; its lease completes with the batch."""
        cap = self._sink.write(
            item.url,
            item.status,
            item.headers,
            item.body,
            fetched_at=to_iso(item.fetched_at),
            final_url=item.final_url if item.final_url != item.url else None,
            request_headers=item.request_headers,
            method=item.method,
            protocol=item.protocol,
            by_digest=lambda _d: None,  # no revisits in the spool: the archive decides those
            by_url=lambda _u: None,
        )
        self.batch.records[cap.record_id] = {
            "url": item.url,
            "final_url": item.final_url,
            "status": item.status,
            "headers": item.headers,
            "request_headers": item.request_headers,
            "method": item.method,
            "protocol": item.protocol,
            "fetched_at": item.fetched_at,
            "result": item.result.to_json() if item.result is not None else None,
        }
        if lease is not None:
            self.batch.leases.append(lease)

    def finish_lease(self, lease: str) -> None:
        """A lease that ends without a capture (a failed fetch, a robots.txt refusal)."""
        self.batch.leases.append(lease)

    def problem(self, kind: str, url: str, reason: str) -> None:
        """A failure, note or broken link to report in the cluster's run."""
        self.batch.problems.append({"kind": kind, "url": url, "reason": reason})

    def count(self, **counts: int) -> None:
        """Add to the batch's counters."""
        for k, v in counts.items():
            self.batch.counts[k] = self.batch.counts.get(k, 0) + v

    @property
    def pending(self) -> int:
        """Records and leases waiting for the batch to close."""
        return len(self.batch.records) + len(self.batch.leases) + len(self.batch.problems)

    def close_batch(self) -> tuple[str | None, list[str]]:
        """Close the open file: (its name, or None when the batch had no capture; the batch's leases)."""
        batch, self.batch = self.batch, Batch()
        name = self._sink.name if batch.records else None
        if name is None and not batch.problems:
            return None, batch.leases
        if name is None:
            # Problems without captures still need a file to travel in: an empty WARC.
            self._sink._open_next()
            name = self._sink.name
        assert name is not None
        self._sink.fsync()
        self._sink.close()
        final = self.folder / name
        side = {
            "worker": self.worker,
            "file": name,
            "records": batch.records,
            "problems": batch.problems,
            "counts": batch.counts,
        }
        tmp = self.folder / f"{OPEN_PREFIX}{name}{SIDECAR_SUFFIX}{OPEN_SUFFIX}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(side, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, sidecar_path(final))
        os.replace(self._sink._path(name), final)
        fsync_dir(str(self.folder))
        # The next capture opens the next serial.
        self._sink.fh = None
        return name, batch.leases

    def abandon(self) -> None:
        """Close the open file without listing it (the worker stops; its leases expire)."""
        self._sink.close()


def read_sidecar(path: Path) -> dict[str, Any]:
    """A spool file's sidecar."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
