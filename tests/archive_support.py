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


def cable(
    ref: str | None,
    text: str,
    *,
    rules: RulesetInfo = RULES_A,
    family: str = "cablegate",
    lines_kept: bool = True,
    subject: str = "TEST SUBJECT",
    classification: str = "CONFIDENTIAL",
) -> Cable:
    """A Cable as the cleaner returns it, with the given text."""
    return Cable(
        text=text,
        reference_id=ref,
        id_source="table",
        subject=subject,
        classification=classification,
        family=family,
        lines_kept=lines_kept,
        ruleset=rules,
        cleaner_version="test",
    )


def result(*cables: Cable, rules: RulesetInfo = RULES_A) -> PageResult:
    """A PageResult holding the given cables."""
    return PageResult(
        cables=list(cables), family="cablegate", profile=None, ruleset=rules, cleaner_version="test"
    )


def html_headers() -> list[tuple[str, str]]:
    """Response headers of an HTML page."""
    return [
        ("Content-Type", "text/html; charset=utf-8"),
        ("ETag", '"v1"'),
        ("Last-Modified", "Wed, 08 Dec 2010 21:09:00 GMT"),
    ]


def object_dirs(archive_path: str | os.PathLike[str]) -> list[str]:
    """The OCFL object folders of an archive."""
    root = os.path.join(archive_path, "cables")
    return sorted(
        d for d in glob.glob(os.path.join(root, "*")) if os.path.isfile(os.path.join(d, "0=ocfl_object_1.1"))
    )


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
# the steps and print them), refs (comma separated), mode. Mode "crawl" commits one batch:
# for each ref a source whose text depends on the generation, plus one new cable per
# generation, all cleaned under RULES_A. Mode "reclean" cleans the newest capture of each
# URL again under RULES_B (other texts), skipping those already cleaned under RULES_B, and
# commits once. With crash_at=n it SIGKILLs itself at the n-th file-system step from the
# commit on. Mode "loop" crawls generation after generation.
CHILD = r"""
import os, signal, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from archive import Archive, commit, index, ocfl, runs
from archive_support import RULES_B, cable, html_headers, page_body, parse_body, result, text_for

path, gen, crash_at, refs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
mode = sys.argv[5] if len(sys.argv) > 5 else "crawl"
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

def arm():
    if crash_at >= 0:
        for mod, name in ((ocfl, "write_bytes"), (ocfl, "atomic_write"), (commit, "atomic_write"),
                          (runs, "atomic_write"), (commit, "sync_files"), (index, "write_cable"),
                          (commit, "append_at"), (os, "replace"), (os, "truncate"), (os, "unlink"),
                          (os, "mkdir"), (os, "link")):
            setattr(mod, name, counting(getattr(mod, name)))

def crawl(gen):
    with arch.writer(kind="crawl", args={{"gen": gen}}) as w:
        items = [(r, f"https://mirror.example.org/{{r}}.html") for r in refs]
        items.append((f"10NEWCABLE{{gen}}", f"https://mirror.example.org/new{{gen}}.html"))
        for ref, url in items:
            cap = w.add_capture(url, 200, html_headers(), page_body(ref, gen))
            w.record(cap, result(cable(ref, text_for(ref, gen))))
        arm()
        w.commit()

if mode == "crawl":
    crawl(gen)
elif mode == "loop":  # one crawl after another, until killed from outside
    for g in range(gen, gen + 1000):
        crawl(g)
else:
    # As `cablearchive reclean` does: captures already cleaned under these rules are skipped.
    caps = [c for c in arch.captures() if c.cleaned != RULES_B.digest]
    with arch.writer(kind="reclean", args={{"gen": gen}}) as w:
        for cap in caps:
            _status, _headers, body = arch.read_capture(cap)
            ref, page_gen = parse_body(body)
            w.record(cap, result(cable(ref, text_for(ref, page_gen, RULES_B), rules=RULES_B), rules=RULES_B))
        arm()
        w.commit()
if crash_at == 0:
    print("STEPS", steps[0])
print("DONE")
"""


def page_body(ref: str, gen: int) -> bytes:
    """The page the child writer stores for a cable at a generation."""
    return f"<html><body><pre>{ref} generation {gen}</pre></body></html>".encode()


def parse_body(body: bytes) -> tuple[str, int]:
    """(ref, generation) of a page written by page_body()."""
    ref, _, gen = body.decode().split("<pre>")[1].split("</pre>")[0].split(" ")
    return ref, int(gen)


def check_marks(archive_path: str | os.PathLike[str]) -> int:
    """Assert that the newest capture of each URL is marked cleaned, and that under the rules it is
    marked with (cleaned.jsonl and the index agree) its cable's source holds the text that cleaning
    gave; returns how many captures were checked."""
    from archive import Archive, source_key

    arch = Archive.open(archive_path)
    try:
        marks: dict[str, str] = {}
        with open(arch.cleaned_path, encoding="utf-8") as fh:
            for line in fh:
                mark = json.loads(line)
                marks[mark["capture"]] = mark["rules"]
        n = 0
        for cap in arch.captures():
            rules = marks.get(cap.record_id)
            assert rules is not None, f"capture {cap.url} kept without its cleaned mark"
            assert arch.cleaned_digest(cap) == rules, cap.url
            ref, gen = parse_body(arch.read_capture(cap)[2])
            expected = text_for(ref, gen, RULES_B if rules == RULES_B.digest else RULES_A)
            assert arch.has_cable(ref), f"{cap.url} marked cleaned under {rules[:15]}, but {ref} is missing"
            text, _prov = arch.cable(ref).source(source_key(cap.final_url or cap.url))
            assert text == expected, f"{cap.url} marked cleaned under {rules[:15]}, but {ref} holds {text!r}"
            n += 1
        return n
    finally:
        arch.close()


def text_for(ref: str, gen: int, rules: RulesetInfo = RULES_A) -> str:
    """The text the child's cleaning gives for a page, under a ruleset."""
    return f"{ref}\nTEXT OF GENERATION {gen}\n" + ("CLEANED UNDER RULES B\n" if rules is RULES_B else "")


def run_child(
    archive_path: str, gen: int, crash_at: int, refs: list[str], timeout: float = 60, mode: str = "crawl"
) -> subprocess.CompletedProcess:
    """Run the child writer; returns the finished process (returncode -9 when it killed itself)."""
    code = CHILD.format(root=str(ROOT), tests=str(Path(__file__).resolve().parent))
    return subprocess.run(
        [sys.executable, "-c", code, str(archive_path), str(gen), str(crash_at), ",".join(refs), mode],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
