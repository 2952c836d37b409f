"""kill -9 in the middle of a crawl, then --resume: the archive verifies and ends as an uninterrupted crawl's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import Archive

from mockserver import REPO, MockWeb, cablearchive, cli_env, settings_args

pytestmark = pytest.mark.slow

# The run that gets killed goes slowly (one request at a time per site, a delay) and commits
# every 3 pages, so that a kill lands between commits, in a commit, or before the first one.
SLOW = ("CONCURRENT_REQUESTS_PER_DOMAIN=1", "DOWNLOAD_DELAY=0.08", "CABLEARCHIVE_COMMIT_PAGES=3")


@pytest.fixture(scope="module")
def web() -> Iterator[MockWeb]:
    server = MockWeb()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seeds(web: MockWeb, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeds") / "seeds.txt"
    return web.write_seeds(path, [web.url(site) for site in ("cablegate", "wordpress", "blogger")])


def _snapshot(archive: Path) -> dict[str, Any]:
    """Every cable's preferred text and its sources' texts, by reference ID and source key.

    The preferred text depends on the sources only (not on fetch order), so it is compared too.
    """
    out: dict[str, Any] = {}
    with Archive.open(archive) as arch:
        for summary in arch.list_cables():
            cable = arch.cable(summary.ref)
            sources = {k: cable.source(k)[0] for k in cable.source_keys()}
            assert cable.text() in sources.values(), summary.ref
            out[summary.ref] = {"preferred": cable.text(), "sources": sources}
    return out


@pytest.fixture(scope="module")
def uninterrupted(web: MockWeb, seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    archive = tmp_path_factory.mktemp("whole") / "archive"
    proc = cablearchive("crawl", str(seeds), "--archive", str(archive), *settings_args())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return _snapshot(archive)


def _commits(journal: Path) -> int:
    try:
        return sum(1 for line in journal.read_text(encoding="utf-8").splitlines() if '"t":"c"' in line)
    except OSError:
        return -1


def _kill_when(proc: subprocess.Popen[str], journal: Path, commits: int, extra_wait: float) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if _commits(journal) >= commits:
            break
        time.sleep(0.01)
    time.sleep(extra_wait)
    assert proc.poll() is None, "the crawl ended before it could be killed; slow it down"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("commits", "extra_wait"),
    [(0, 0.2), (2, 0.0), (4, 0.05)],
    ids=["before-first-commit", "right-after-a-commit", "between-commits"],
)
def test_kill_then_resume_equals_an_uninterrupted_crawl(
    web: MockWeb, seeds: Path, uninterrupted: dict[str, Any], tmp_path: Path, commits: int, extra_wait: float
) -> None:
    archive = tmp_path / "archive"
    journal = archive / "state" / "crawl" / "journal.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "crawler.cli",
        "crawl",
        str(seeds),
        "--archive",
        str(archive),
        *settings_args(*SLOW),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    _kill_when(proc, journal, commits, extra_wait)

    # Killed: the archive still verifies (opening it settles an interrupted commit).
    with Archive.open(archive) as arch:
        report = arch.verify()
        assert report.ok, report.problems
        killed_run = {c.url for c in arch.captures(newest_per_url=False)}
    job = json.loads((archive / "state" / "crawl" / "job.json").read_text(encoding="utf-8"))
    assert job["status"] == "running"

    resumed = cablearchive("crawl", str(seeds), "--archive", str(archive), "--resume", *settings_args())
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "no interrupted crawl" not in resumed.stdout

    assert _snapshot(archive) == uninterrupted
    with Archive.open(archive) as arch:
        assert arch.verify().ok
        captures = Counter(c.url for c in arch.captures(newest_per_url=False))
        runs = arch.runs()
    # Nothing fetched twice, apart from robots.txt (read again by each run, as a 304).
    twice = {u: n for u, n in captures.items() if n > 1 and not u.endswith("/robots.txt")}
    assert not twice, twice
    assert len(runs) == 2 and killed_run <= set(captures)
    assert (
        json.loads((archive / "state" / "crawl" / "job.json").read_text(encoding="utf-8"))["status"]
        == "finished"
    )


def test_resume_without_an_interrupted_crawl_starts_afresh(web: MockWeb, tmp_path: Path) -> None:
    seeds = web.write_seeds(tmp_path / "seeds.txt", [web.url("badrobots", "/")])
    proc = cablearchive("crawl", str(seeds), "--archive", str(tmp_path / "a"), "--resume", *settings_args())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no interrupted crawl to resume; starting a new one" in proc.stdout
