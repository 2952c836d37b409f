"""The distributed crawl: a real redis-server on 127.0.0.1, the mock world, worker and coordinator processes.

Three workers and a coordinator archive what a one-process crawl archives; a worker or the
coordinator killed with SIGKILL loses nothing and duplicates nothing; no two requests reach
one site closer together than its delay, whichever workers sent them.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import Archive

from mockserver import REPO, MockWeb, cablearchive, cli_env, settings_args

pytestmark = pytest.mark.slow

REDIS = shutil.which("redis-server")
DELAY = 0.15  # seconds between two requests to one site, for the whole cluster
KILL_DELAY = "DOWNLOAD_DELAY=0.03"  # the crash tests only need the crawl to last a few seconds
# Workers clean in one process each (off the reactor) and close spool files often.
WORKER = ("CABLEARCHIVE_CLEAN_WORKERS=1", "CABLEARCHIVE_SPOOL_SECONDS=0.3", "CABLEARCHIVE_SPOOL_PAGES=5")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    if REDIS is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    folder = tempfile.mkdtemp(prefix="redis-")
    port = _free_port()
    proc = subprocess.Popen(
        [
            REDIS,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


_DB = iter(range(1, 16))


@pytest.fixture(scope="module")
def web() -> Iterator[MockWeb]:
    server = MockWeb()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_port: int) -> str:
    """A fresh database of the test Redis for each test."""
    return f"redis://127.0.0.1:{redis_port}/{next(_DB)}"


@pytest.fixture(scope="module")
def seeds(web: MockWeb, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeds") / "seeds.txt"
    return web.write_seeds(path, [web.url(site) for site in ("cablegate", "wordpress", "blogger")])


DEPTH = ("--depth", "10")  # deep enough that every page is reached whichever path finds it first


def _crawl_settings(*extra: str) -> list[str]:
    return settings_args(
        f"DOWNLOAD_DELAY={DELAY}", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "CABLEARCHIVE_LEASE_SECONDS=3", *extra
    )


def coordinator(seeds: Path, archive: Path, url: str, *extra: str, delay: str = "") -> subprocess.Popen[str]:
    """`cablearchive crawl SEEDS --redis URL` in a child process."""
    cmd = [
        sys.executable,
        "-m",
        "crawler.cli",
        "crawl",
        str(seeds),
        "--archive",
        str(archive),
        "--redis",
        url,
    ]
    return subprocess.Popen(
        [
            *cmd,
            *DEPTH,
            "--json",
            *_crawl_settings("CABLEARCHIVE_COMMIT_PAGES=5", *([delay] if delay else [])),
            *extra,
        ],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def worker(url: str, name: str, inline: bool = False) -> subprocess.Popen[str]:
    """`cablearchive worker --redis URL` in a child process; its log goes to a file nobody has to read.

    `inline`: clean in the worker's own process (fewer processes, where timing does not matter).
    """
    log = tempfile.NamedTemporaryFile(prefix=f"worker-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    extra = ["CABLEARCHIVE_CLEAN_WORKERS=0"] if inline else []
    cmd = [sys.executable, "-m", "crawler.cli", "worker", "--redis", url, "--id", name]
    return subprocess.Popen(
        [*cmd, *_crawl_settings(*WORKER, *extra)],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def contents(path: Path) -> dict[str, Any]:
    """What an archive holds: each cable's text and sources, the set of captured URLs, captures per URL."""
    arch = Archive.open(path)
    try:
        cables = {}
        for c in arch.list_cables():
            rec = arch.cable(c.ref)
            cables[c.ref] = (rec.text(), sorted(str(s.get("url")) for s in rec.metadata().get("sources", [])))
        per_url: dict[str, int] = defaultdict(int)
        for cap in arch.captures():
            per_url[cap.url] += 1
        return {"cables": cables, "urls": set(per_url), "per_url": dict(per_url)}
    finally:
        arch.close()


@pytest.fixture(scope="module")
def one_process(web: MockWeb, seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The archive of a one-process crawl of the same world."""
    web.reset()
    archive = tmp_path_factory.mktemp("single") / "archive"
    proc = cablearchive("crawl", str(seeds), "--archive", str(archive), *DEPTH, *settings_args())
    assert proc.returncode in (0, 1), proc.stderr
    out = contents(archive)
    assert out["cables"], "the world has cables"
    return out


def _until(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _leases_of(url: str, name: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    return sum(1 for v in client.hvals("cablearchive:lease") if json.loads(v)["w"] == name)


@pytest.fixture(scope="module")
def three(
    web: MockWeb,
    seeds: Path,
    redis_port: int,
    one_process: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """Three workers and a coordinator crawl the world; the server's hits are kept."""
    web.reset()
    url = f"redis://127.0.0.1:{redis_port}/0"
    archive = tmp_path_factory.mktemp("three") / "archive"
    coord = coordinator(seeds, archive, url)
    workers = [worker(url, f"w{i}") for i in range(3)]
    rc, out, err = finish(coord)
    for w in workers:
        assert w.wait(timeout=30) == 0
    return {"rc": rc, "report": json.loads(out), "err": err, "archive": archive, "hits": web.hits()}


def test_three_workers_archive_what_one_process_archives(
    three: dict[str, Any], one_process: dict[str, Any]
) -> None:
    assert three["rc"] in (0, 1), three["err"]
    got = contents(three["archive"])
    assert got["cables"] == one_process["cables"]  # same cables, texts and sources
    assert got["urls"] == one_process["urls"]
    assert max(got["per_url"].values()) == 1
    cluster = three["report"]["cluster"]
    assert set(cluster["workers"]) <= {"w0", "w1", "w2"} and len(cluster["workers"]) >= 2
    assert sum(w["captures"] for w in cluster["workers"].values()) == three["report"]["captures"]


def test_no_two_requests_to_a_site_closer_than_its_delay(three: dict[str, Any]) -> None:
    by_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for hit in three["hits"]:
        by_site[hit["site"]].append(hit)
    assert sum(len(v) for v in by_site.values()) > 20
    for site, hits in by_site.items():
        hits.sort(key=lambda h: h["time"])
        close = [(a, b) for a, b in itertools.pairwise(hits) if b["time"] - a["time"] < DELAY]
        assert not close, (site, [(a["path"], a["time"], b["path"], b["time"]) for a, b in close[:3]])


def test_distributed_archive_verifies(three: dict[str, Any]) -> None:
    proc = cablearchive("verify", "--archive", str(three["archive"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_killed_worker_loses_nothing(
    web: MockWeb, seeds: Path, redis_url: str, one_process: dict[str, Any], tmp_path: Path
) -> None:
    web.reset()
    archive = tmp_path / "archive"
    coord = coordinator(seeds, archive, redis_url, delay=KILL_DELAY)
    victim = worker(redis_url, "victim", inline=True)
    _until(lambda: _leases_of(redis_url, "victim") > 0)
    time.sleep(0.5)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    others = [worker(redis_url, f"w{i}", inline=True) for i in range(2)]
    rc, _out, err = finish(coord)
    for w in others:
        assert w.wait(timeout=30) == 0
    assert rc in (0, 1), err
    got = contents(archive)
    assert got["cables"] == one_process["cables"]
    assert got["urls"] == one_process["urls"]
    assert max(got["per_url"].values()) == 1  # nothing archived twice
    proc = cablearchive("verify", "--archive", str(archive))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_killed_coordinator_resumes(
    web: MockWeb, seeds: Path, redis_url: str, one_process: dict[str, Any], tmp_path: Path
) -> None:
    import redis

    web.reset()
    archive = tmp_path / "archive"
    coord = coordinator(seeds, archive, redis_url, delay=KILL_DELAY)
    workers = [worker(redis_url, f"w{i}", inline=True) for i in range(2)]
    client = redis.Redis.from_url(redis_url)
    _until(lambda: client.scard("cablearchive:ingested") > 0)
    os.kill(coord.pid, signal.SIGKILL)
    coord.communicate()
    refused = cablearchive("crawl", str(seeds), "--archive", str(archive), "--redis", redis_url)
    assert refused.returncode == 1 and "--resume" in refused.stderr
    resumed = coordinator(seeds, archive, redis_url, "--resume")
    rc, out, err = finish(resumed)
    for w in workers:
        assert w.wait(timeout=30) == 0
    assert rc in (0, 1), err
    assert json.loads(out)["cluster"]["resumed"] is True
    got = contents(archive)
    assert got["cables"] == one_process["cables"]
    assert got["urls"] == one_process["urls"]
    assert max(got["per_url"].values()) == 1
    proc = cablearchive("verify", "--archive", str(archive))
    assert proc.returncode == 0, proc.stdout + proc.stderr
