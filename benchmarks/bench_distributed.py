"""Distributed crawl speed: 1, 2 and 4 workers against a one-process crawl of the same polite world.

    python benchmarks/bench_distributed.py [--copies 2,4] [--delay 1.0] [--workers 1,2,4]

For each number in `--copies`, serves that many copies of the test mirror world (three sites
each: a cablegate viewer, a WordPress and a Blogger mirror; each copy on its own ports, so
3 x copies sites) on 127.0.0.1,
starts a redis-server (Debian's package) on a free port, and crawls the world with a per-site
delay of `--delay` seconds (one request at a time per site, AutoThrottle off):

- once with `cablearchive crawl` in one process (the baseline, in the same run);
- then with `cablearchive crawl --redis` and N `cablearchive worker` processes for each N.

Prints pages/s of each crawl, its ratio to the one-worker crawl and to the one-process crawl,
and the coordinator's ingest rate (captures/s over the time spent archiving). A crawl bound by
politeness is limited by sites x 1/delay, not by workers: its rate grows with the number of
sites. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler.world.server import World  # noqa: E402

WORLD = REPO / "tests" / "fixtures" / "world"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(folder: str) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server on a free port of 127.0.0.1, no persistence; (process, port)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found (Debian package redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
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
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def _settings(delay: float) -> list[str]:
    out: list[str] = []
    for s in (
        f"DOWNLOAD_DELAY={delay}",
        "AUTOTHROTTLE_ENABLED=False",
        "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        "CONCURRENT_REQUESTS=32",
        "DOWNLOAD_TIMEOUT=5",
        "CABLEARCHIVE_ALLOW_PRIVATE=True",
    ):
        out += ["-s", s]
    return out


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def one_process(seeds: Path, archive: Path, delay: float) -> dict[str, Any]:
    """The baseline: one `cablearchive crawl` process."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        _cli("crawl", str(seeds), "--archive", str(archive), "--json", *_settings(delay)),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    report = json.loads(proc.stdout)
    return {"seconds": seconds, "pages": report["pages"], "captures": report["captures"]}


def distributed(seeds: Path, archive: Path, delay: float, workers: int, redis_url: str) -> dict[str, Any]:
    """A coordinator and `workers` workers (one cleaning process each)."""
    t0 = time.perf_counter()
    coord = subprocess.Popen(
        _cli(
            "crawl", str(seeds), "--archive", str(archive), "--redis", redis_url, "--json", *_settings(delay)
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    procs = [
        subprocess.Popen(
            _cli(
                "worker",
                "--redis",
                redis_url,
                "--id",
                f"w{i}",
                *_settings(delay),
                "-s",
                "CABLEARCHIVE_CLEAN_WORKERS=1",
                "-s",
                "CABLEARCHIVE_SPOOL_SECONDS=0.5",
            ),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    out, _ = coord.communicate()
    seconds = time.perf_counter() - t0
    for p in procs:
        p.wait(timeout=60)
    report = json.loads(out)
    cluster = report["cluster"]
    return {
        "seconds": seconds,
        "pages": report["pages"],
        "captures": report["captures"],
        "ingest": cluster["ingest_captures_per_second"],
        "per_worker": {k: v["pages"] for k, v in cluster["workers"].items()},
    }


def run_world(copies: int, delay: float, worker_counts: list[int]) -> None:
    """Crawl one world of `copies` x 3 sites: one process, then each number of workers."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-dist-"))
    worlds = [World(WORLD).start() for _ in range(copies)]
    redis_proc, port = start_redis(str(tmp))
    try:
        seeds = tmp / "seeds.txt"
        urls = [w.url(site) for w in worlds for site in w.sites]
        seeds.write_text("\n".join(urls) + "\n", encoding="utf-8")
        bound = len(urls) / delay
        print(
            f"world: {len(urls)} sites, delay {delay} s per site, one request at a time per site: at most {bound:.0f} requests/s"
        )
        base = one_process(seeds, tmp / "single", delay)
        base_rate = base["pages"] / base["seconds"]
        print(
            f"  one process : {base['pages']:5d} pages in {base['seconds']:6.1f} s = {base_rate:6.2f} pages/s"
        )
        one_rate = None
        for i, n in enumerate(worker_counts):
            res = distributed(seeds, tmp / f"dist{n}", delay, n, f"redis://127.0.0.1:{port}/{i}")
            rate = res["pages"] / res["seconds"]
            one_rate = one_rate or rate
            print(
                f"  {n} worker{'s' if n > 1 else ' '}   : {res['pages']:5d} pages in {res['seconds']:6.1f} s = "
                f"{rate:6.2f} pages/s, {rate / one_rate:4.2f}x one worker, {rate / base_rate:4.2f}x one process; "
                f"writer ingest {res['ingest']} captures/s; pages per worker {res['per_worker']}"
            )
    finally:
        for w in worlds:
            w.stop()
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the crawls and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--copies", default="2,4", help="copies of the three-site test world, one world per number"
    )
    ap.add_argument("--delay", type=float, default=1.0, help="seconds between requests to one site")
    ap.add_argument("--workers", default="1,2,4", help="worker counts to run")
    args = ap.parse_args(argv)
    for copies in (int(c) for c in args.copies.split(",")):
        run_world(copies, args.delay, [int(x) for x in args.workers.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
