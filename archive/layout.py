"""The archive's on-disk layout: every folder and file name of an archive, and of a cable object.

This module is the one place that spells a path of the layout (docs/archive-format.md
describes it for other tools). Everything else asks a `Layout` for a path, or uses the
object file helpers below for the logical paths inside a cable's OCFL object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from archive.errors import ArchiveError
from archive.ids import check_reference, is_reference, is_source_key

FORMAT_NAME = "cablearchive"
FORMAT_VERSION = 1

# -- the archive folder
MARKER = "cablearchive.json"
CAPTURES = "captures"
CABLES = "cables"
RUNS = "runs"
STATE = "state"
INDEX = "index.sqlite"
CDXJ = "index.cdxj"
CLEANED = "cleaned.jsonl"
JOURNAL = "journal.json"
LOCK = "lock"
CRAWL_STATE = "crawl"
LOST_FOUND = "lost+found"  # state/lost+found/: what repair moved out of the archive's folders
RUN_SUFFIX = ".json"  # runs/<run>.json
# Folders a new archive starts with (cables/ is made by the OCFL storage root).
FOLDERS = (CAPTURES, RUNS, STATE)

# -- a cable object's logical files (the state of every OCFL version)
CABLE_TEXT = "cable.txt"
CABLE_JSON = "cable.json"
SOURCES = "sources"
_SOURCE_PATH = re.compile(r"sources/(?P<key>[^/]+)\.(?P<ext>txt|json)")

# How cablearchive.json describes the layout to other tools.
CAPTURES_DESCRIPTION = f"{CAPTURES}/<run>-<n>.warc.gz, {CAPTURES}/{CDXJ}"

# -- WARC files: <run>-<n>.warc.gz, n counted from 1 within a run
WARC_SUFFIXES = (".warc.gz", ".warc")
_WARC_NAME = re.compile(r"(?P<run>.+)-(?P<n>\d{5,})\.warc\.gz")


def source_text(key: str) -> str:
    """The logical path of a source's text: sources/<key>.txt."""
    return f"{SOURCES}/{key}.txt"


def source_json(key: str) -> str:
    """The logical path of a source's provenance: sources/<key>.json."""
    return f"{SOURCES}/{key}.json"


def source_of(path: str) -> tuple[str, str] | None:
    """(key, "txt" or "json") of a source's logical path; None for any other path."""
    m = _SOURCE_PATH.fullmatch(path)
    return (m["key"], m["ext"]) if m else None


def in_sources(path: str, ext: str | None = None) -> bool:
    """True for any logical path under sources/ (with that extension, when given), well-formed or not."""
    return path.startswith(SOURCES + "/") and (ext is None or path.endswith("." + ext))


def source_key_in(path: str) -> str | None:
    """The key part of any logical path under sources/ (unchecked: verify checks it); None elsewhere."""
    if not in_sources(path):
        return None
    return path[len(SOURCES) + 1 :].rsplit(".", 1)[0]


def source_keys(paths: Iterable[str]) -> list[str]:
    """The keys of the sources whose texts are among logical `paths`, sorted."""
    keys = []
    for path in paths:
        parsed = source_of(path)
        if parsed is not None and parsed[1] == "txt":
            keys.append(parsed[0])
    return sorted(keys)


def warc_name(run_id: str, n: int) -> str:
    """The name of a run's n-th WARC file."""
    return f"{run_id}-{n:05d}.warc.gz"


def is_warc_name(name: str) -> bool:
    """True for a WARC file name (ours, or one an import or a worker brought)."""
    return name.endswith(WARC_SUFFIXES) and "/" not in name and not name.startswith(".")


def run_of_warc(name: str) -> str | None:
    """The run that wrote a WARC file of ours, from its name."""
    m = _WARC_NAME.fullmatch(name)
    return m["run"] if m else None


def tool_version() -> str:
    """The installed cablearchive version ("0+unknown" when it is not installed)."""
    try:
        return version("cablearchive")
    except PackageNotFoundError:
        return "0+unknown"


def tool_name() -> str:
    """Tool name and version, as written into WARC warcinfo records, OCFL version users and run records."""
    return f"cablearchive {tool_version()}"


@dataclass(frozen=True)
class Layout:
    """The paths of one archive folder."""

    root: str

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> Layout:
        """The layout of the archive at `path` (made absolute)."""
        return cls(os.path.abspath(os.fspath(path)))

    @property
    def marker(self) -> str:
        """cablearchive.json: format name and version, creation time, tool version."""
        return os.path.join(self.root, MARKER)

    @property
    def captures_dir(self) -> str:
        """captures/: the WARC files, index.cdxj and cleaned.jsonl."""
        return os.path.join(self.root, CAPTURES)

    @property
    def cables_dir(self) -> str:
        """cables/: the OCFL storage root."""
        return os.path.join(self.root, CABLES)

    @property
    def runs_dir(self) -> str:
        """runs/: one JSON record per run."""
        return os.path.join(self.root, RUNS)

    @property
    def state_dir(self) -> str:
        """state/: lock file, commit journal, crawl job state."""
        return os.path.join(self.root, STATE)

    @property
    def index_path(self) -> str:
        """index.sqlite: the derived index."""
        return os.path.join(self.root, INDEX)

    @property
    def index_rebuild_path(self) -> str:
        """index.sqlite.rebuild: a new index being built, swapped in whole when done."""
        return self.index_path + ".rebuild"

    @property
    def cdxj_path(self) -> str:
        """captures/index.cdxj: one line per capture."""
        return os.path.join(self.captures_dir, CDXJ)

    @property
    def cleaned_path(self) -> str:
        """captures/cleaned.jsonl: under which rules each capture was cleaned."""
        return os.path.join(self.captures_dir, CLEANED)

    @property
    def journal_path(self) -> str:
        """state/journal.json: the commit journal, present while a writer is open (or after it died)."""
        return os.path.join(self.state_dir, JOURNAL)

    @property
    def lock_path(self) -> str:
        """state/lock: the writers' lock file."""
        return os.path.join(self.state_dir, LOCK)

    @property
    def lost_found_dir(self) -> str:
        """state/lost+found/: files repair moved out of the storage root (nothing is deleted)."""
        return os.path.join(self.state_dir, LOST_FOUND)

    @property
    def crawl_state_dir(self) -> str:
        """state/crawl/: a crawl's job, frontier journal, log and report, for --resume."""
        return os.path.join(self.state_dir, CRAWL_STATE)

    def run_path(self, run_id: str) -> str:
        """runs/<run>.json."""
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise ArchiveError(f"{run_id!r} is not a run id")
        return os.path.join(self.runs_dir, f"{run_id}{RUN_SUFFIX}")

    def run_records(self) -> list[str]:
        """The paths of the run records in runs/, oldest run first."""
        try:
            names = os.listdir(self.runs_dir)
        except FileNotFoundError:
            return []
        return [os.path.join(self.runs_dir, n) for n in sorted(names) if n.endswith(RUN_SUFFIX)]

    def warc_path(self, name: str) -> str:
        """captures/<name> for a WARC file name as an index or provenance records it (never a path outside)."""
        base = os.path.basename(name)
        if not is_warc_name(base):
            raise ArchiveError(f"{name!r} is not a WARC file name")
        return os.path.join(self.captures_dir, base)

    def object_dir(self, ref: str) -> str:
        """cables/<REF>: a cable's OCFL object folder (the reference ID is checked first)."""
        return os.path.join(self.cables_dir, check_reference(ref))

    def warc_files(self) -> list[str]:
        """The WARC file names in captures/, oldest run first (run ids start with their UTC time)."""
        try:
            names = os.listdir(self.captures_dir)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if is_warc_name(n))

    def run_warc_files(self, run_id: str) -> list[str]:
        """The WARC files one run of ours wrote (<run>-<n>.warc.gz), in order."""
        return [n for n in self.warc_files() if run_of_warc(n) == run_id]

    def object_refs(self) -> list[str]:
        """The cable IDs that have an object folder in cables/, sorted."""
        try:
            names = os.listdir(self.cables_dir)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if is_reference(n) and os.path.isdir(os.path.join(self.cables_dir, n)))


def check_source_key(key: str) -> str:
    """Return key if it is a safe source key; ArchiveError (never a path) otherwise."""
    if not is_source_key(key):
        raise ArchiveError(f"{key[:80]!r} is not a source key (host-<12 hex digits>)")
    return key
