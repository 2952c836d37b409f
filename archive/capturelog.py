"""The two append-only logs beside the WARC files: index.cdxj (one line per capture) and cleaned.jsonl.

cleaned.jsonl says under which rules digest each capture was cleaned and recorded
(`{"capture": <record id>, "rules": <digest>, "run": <run id>}`, the last line of a capture
counting). Both grow only at a commit, by whole lines, from their committed length.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator

from archive.captures import Capture
from archive.fsutil import raise_if_disk_full
from archive.layout import Layout

# A cleaned mark: (capture record id, rules digest).
Mark = tuple[str, str]


def cdxj_bytes(caps: Iterable[Capture]) -> bytes:
    """The index.cdxj lines of captures."""
    return "".join(c.to_cdxj() + "\n" for c in caps).encode("utf-8")


def cleaned_bytes(marks: Iterable[Mark], run_id: str) -> bytes:
    """The cleaned.jsonl lines of a run's marks."""
    return "".join(json.dumps({"capture": r, "rules": d, "run": run_id}) + "\n" for r, d in marks).encode(
        "utf-8"
    )


def _read_from(path: str, start: int, end: int | None = None) -> str:
    """The text of a log from byte `start` (to `end`); empty when the file is missing."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below, after the seek
    except FileNotFoundError:
        return ""
    with fh:
        fh.seek(start)
        data = fh.read() if end is None else fh.read(max(0, end - start))
    return data.decode("utf-8", "replace")


def read_cdxj(layout: Layout, start: int = 0, end: int | None = None) -> Iterator[Capture]:
    """The captures of index.cdxj from byte `start` (to `end`); a malformed line is skipped."""
    for line in _read_from(layout.cdxj_path, start, end).splitlines():
        if line.strip():
            with contextlib.suppress(ValueError, KeyError):
                yield Capture.from_cdxj(line)


def read_cleaned(layout: Layout, start: int = 0) -> list[Mark]:
    """The marks of cleaned.jsonl from byte `start`, in order; a malformed line is skipped."""
    out = []
    for line in _read_from(layout.cleaned_path, start).splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            d = json.loads(line)
            out.append((d["capture"], d["rules"]))
    return out


def append_at(path: str, data: bytes, expected: int) -> None:
    """Append to a log at its committed length, cutting what a failed commit left past it.

    Made durable by the commit's sync pass, not here.
    """
    if not data:
        return
    try:
        with open(path, "r+b") as fh:
            fh.truncate(expected)
            fh.seek(expected)
            fh.write(data)
    except OSError as exc:
        raise_if_disk_full(exc, path)
        raise
