"""Shared helpers of the archive tests: fixture pages, cable records, validators, a child writer."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

from cleaners.model import Cable, PageResult, RulesetInfo

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "archive"
CABLEGATE = FIXTURES / "cablegate"

RULES_A = RulesetInfo(name="default", version="default@1", digest="sha256:" + "a" * 64)
RULES_B = RulesetInfo(name="default", version="default@2", digest="sha256:" + "b" * 64)


def cablegate_pages() -> list[tuple[str, bytes, str]]:
    """(url, body, true text) of each fixture cablegate page."""
    out = []
    for html in sorted(CABLEGATE.glob("*.html")):
        truth = json.loads(html.with_suffix(".json").read_text())
        out.append((truth["url"], html.read_bytes(), html.with_suffix(".txt").read_text()))
    return out


def true_text(ref: str) -> str:
    """The true text of a fixture cable."""
    return (CABLEGATE / f"{ref}.txt").read_text()


def cable(ref: str | None, text: str, *, rules: RulesetInfo = RULES_A, family: str = "cablegate",
          lines_kept: bool = True, subject: str = "TEST SUBJECT", classification: str = "CONFIDENTIAL") -> Cable:
    """A Cable as the cleaner returns it, with the given text."""
    return Cable(text=text, reference_id=ref, id_source="table", subject=subject, classification=classification,
                 family=family, lines_kept=lines_kept, ruleset=rules, cleaner_version="test")


def result(*cables: Cable, rules: RulesetInfo = RULES_A) -> PageResult:
    """A PageResult holding the given cables."""
    return PageResult(cables=list(cables), family="cablegate", profile=None, ruleset=rules, cleaner_version="test")


def html_headers() -> list[tuple[str, str]]:
    """Response headers of an HTML page."""
    return [("Content-Type", "text/html; charset=utf-8"), ("ETag", '"v1"'),
            ("Last-Modified", "Wed, 08 Dec 2010 21:09:00 GMT")]


def object_dirs(archive_path: str | os.PathLike[str]) -> list[str]:
    """The OCFL object folders of an archive."""
    root = os.path.join(archive_path, "cables")
    return sorted(d for d in glob.glob(os.path.join(root, "*")) if os.path.isfile(os.path.join(d, "0=ocfl_object_1.1")))


def ocfl_validate(archive_path: str | os.PathLike[str]) -> subprocess.CompletedProcess:
    """Run ocfl-py's validator on the storage root and on every object (it skips objects' errors at root level)."""
    exe = os.path.join(os.path.dirname(sys.executable), "ocfl-validate.py")
    args = [sys.executable, exe, "-q", os.path.join(archive_path, "cables"), *object_dirs(archive_path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def warc_files(archive_path: str | os.PathLike[str]) -> list[str]:
    """The WARC files of an archive."""
    return sorted(glob.glob(os.path.join(archive_path, "captures", "*.warc.gz")))


def warcio_check(files: list[str]) -> subprocess.CompletedProcess:
    """Run `warcio check` on WARC files."""
    exe = os.path.join(os.path.dirname(sys.executable), "warcio")
    return subprocess.run([exe, "check", *files], capture_output=True, text=True, timeout=300)


# A writer run in a child process. argv: archive, generation, crash_at (-1: never; 0: count
# the steps and print them), refs (comma separated). It commits one batch: for each ref a
# source whose text depends on the generation, plus one new cable per generation. With
# crash_at=n it SIGKILLs itself at the n-th file-system step of the commit.
CHILD = r"""
import os, signal, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from archive import Archive, fsutil, ocfl, store
from archive_support import cable, result, html_headers

path, gen, crash_at, refs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
arch = Archive.open_or_create(path)
steps = [0]

def counting(fn):
    def wrapped(*a, **k):
        steps[0] += 1
        if steps[0] == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)
        out = fn(*a, **k)
        steps[0] += 1
        if steps[0] == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    return wrapped

with arch.writer(kind="crawl", args={{"gen": gen}}) as w:
    items = [(r, f"https://mirror.example.org/{{r}}.html") for r in refs]
    items.append((f"10NEWCABLE{{gen}}", f"https://mirror.example.org/new{{gen}}.html"))
    for ref, url in items:
        body = f"<html><body><pre>{{ref}} generation {{gen}}</pre></body></html>".encode()
        cap = w.add_capture(url, 200, html_headers(), body)
        w.record(cap, result(cable(ref, f"{{ref}}\nTEXT OF GENERATION {{gen}}\n")))
    if crash_at >= 0:
        for mod, name in ((ocfl, "write_bytes"), (ocfl, "atomic_write"), (store, "atomic_write"),
                          (store, "sync_files"), (fsutil.os, "replace"), (store.index, "write_cable"),
                          (store.os, "truncate"), (store.os, "unlink")):
            setattr(mod, name, counting(getattr(mod, name)))
    w.commit()
    if crash_at == 0:
        print("STEPS", steps[0])
print("DONE")
"""


def run_child(archive_path: str, gen: int, crash_at: int, refs: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the child writer; returns the finished process (returncode -9 when it killed itself)."""
    code = CHILD.format(root=str(ROOT), tests=str(Path(__file__).resolve().parent))
    return subprocess.run([sys.executable, "-c", code, str(archive_path), str(gen), str(crash_at), ",".join(refs)],
                          capture_output=True, text=True, timeout=timeout)
