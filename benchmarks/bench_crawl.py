"""Crawl speed: `cablearchive crawl` against a bare Scrapy spider fetching the same URLs, same settings.

    python benchmarks/bench_crawl.py [--corpus ../shared/corpus] [--rounds 2] [--configs polite,unthrottled]

Builds a local world of mirror sites from the corpus (four cablegate viewer mirrors sharing the
903 cable pages, with their list pages, and two blogs with 20 posts each: over 2,000 pages),
serves it on 127.0.0.1, and times, in the same run and with the same Scrapy settings:

- `cablearchive crawl`: discovery from the front pages, robots.txt, every response archived
  (WARC), cleaned (cleaners.clean_page, in worker processes) and its cables versioned (OCFL);
- a bare Scrapy spider given the list of URLs the crawl fetched, doing nothing with them.

Two setting sets: `polite` (robots.txt obeyed, AutoThrottle on, DOWNLOAD_DELAY 0.04 s and 2
requests at a time per site: the shape of the crawler's defaults, scaled to a local world) and
`unthrottled` (no delay, no AutoThrottle, 8 per site: what the machine can do). The target,
crawl <= 1.25x the bare spider, is for the polite set; the unthrottled one shows the CPU cost of
archiving and cleaning. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples"))

CONFIGS: dict[str, dict[str, str]] = {
    "polite": {
        "ROBOTSTXT_OBEY": "True",
        "AUTOTHROTTLE_ENABLED": "True",
        "AUTOTHROTTLE_START_DELAY": "0.04",
        "AUTOTHROTTLE_TARGET_CONCURRENCY": "1.0",
        "DOWNLOAD_DELAY": "0.04",
        "CONCURRENT_REQUESTS": "16",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
    },
    "unthrottled": {
        "ROBOTSTXT_OBEY": "True",
        "AUTOTHROTTLE_ENABLED": "False",
        "DOWNLOAD_DELAY": "0",
        "CONCURRENT_REQUESTS": "16",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    },
}
# Both crawlers: no cookies, every status reaches the callback.
COMMON = {"COOKIES_ENABLED": "False", "HTTPERROR_ALLOW_ALL": "True", "TELNETCONSOLE_ENABLED": "False"}


def build_world(corpus: Path, out: Path) -> dict[str, int]:
    """Write the benchmark world; returns pages per site."""
    import build_world as bw

    bw.CORPUS = corpus
    refs = sorted(p.stem for p in (corpus / "cablegate" / "pages").glob("*.html"))
    history = sorted(p.name for p in (corpus / "cablegate-history").iterdir() if p.is_dir())[0]
    sites = {}
    variants: dict[str, dict[str, bytes]] = {}
    for n in range(4):
        half = refs[n % 2 :: 2]
        profile = {"cablegate": half, "history": history, "per_page": 20}
        site, _variant, _ = bw.build_cablegate(profile)
        site.name = f"mirror{n + 1}"
        sites[site.name] = site
    templates = {
        "wordpress": "05_wp_kubrick-alterorabolish_pixelmonkey",
        "blogger": "10_blogger_simple_lostinjit",
    }
    numbers = [f"{i:02d}" for i in range(20)]
    wp, _ = bw.build_wordpress({"wordpress": (templates["wordpress"], numbers), "per_page": 5})
    bl, _ = bw.build_blogger({"blogger": (templates["blogger"], numbers), "per_page": 5})
    sites[wp.name], sites[bl.name] = wp, bl
    bw.close_world(sites)
    # The viewer mirrors keep /tag/, /origin/ and /date/ out (robots.txt), as the demo's does.
    bw.write_world(out, sites, variants, [], "bench")
    return {name: len(site.pages) for name, site in sites.items()}


# ----------------------------------------------------------------------------- the bare spider


def run_bare(urls_file: str, settings_json: str) -> None:
    """A bare Scrapy spider: fetch the listed URLs with the given settings, nothing else."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    urls = Path(urls_file).read_text(encoding="utf-8").split()

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self):  # type: ignore[no-untyped-def]
            for url in urls:
                parts = urlsplit(url)
                # Same politeness unit as the crawler: one download slot per site (host and port).
                yield scrapy.Request(
                    url, callback=self.parse, meta={"download_slot": f"{parts.hostname}:{parts.port}"}
                )

        def parse(self, response):  # type: ignore[no-untyped-def]
            return None

    settings = {**json.loads(settings_json), "LOG_LEVEL": "WARNING", "USER_AGENT": "cablearchive-bench-bare"}
    process = CrawlerProcess(settings)
    process.crawl(Bare)
    process.start()


# ----------------------------------------------------------------------------- timing


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds of the child and its workers, result) of a command."""
    cpu0 = _child_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, _child_cpu() - cpu0, proc


def main(argv: list[str] | None = None) -> int:
    """Build the world, serve it, time both crawlers, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpus"))
    ap.add_argument("--rounds", type=int, default=2, help="runs of each crawler per setting set (best kept)")
    ap.add_argument("--configs", default="polite,unthrottled")
    ap.add_argument("--bare", nargs=2, metavar=("URLS", "SETTINGS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bare:
        run_bare(*args.bare)
        return 0
    from crawler.world.server import World

    corpus = Path(args.corpus)
    if not (corpus / "cablegate" / "pages").is_dir():
        print(f"bench_crawl: no corpus at {corpus}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        per_site = build_world(corpus, work / "world")
        world = World(work / "world").start()
        seeds = work / "seeds.txt"
        seeds.write_text("\n".join(world.url(s, "/") for s in world.sites) + "\n", encoding="utf-8")
        print(
            f"world: {sum(per_site.values())} pages on {len(per_site)} sites ({per_site}); "
            f"{os.cpu_count()} cores"
        )
        results: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for name in args.configs.split(","):
            config = {**CONFIGS[name], **COMMON}
            results[name] = {"crawl": [], "bare": []}
            for rnd in range(args.rounds):
                archive = work / f"archive-{name}-{rnd}"
                with world.lock:
                    world.hits.clear()
                cmd = [
                    sys.executable,
                    "-m",
                    "crawler.cli",
                    "crawl",
                    str(seeds),
                    "--archive",
                    str(archive),
                    "--depth",
                    "5",
                ]
                for k, v in config.items():
                    cmd += ["-s", f"{k}={v}"]
                wall, cpu, proc = timed(cmd, env)
                if proc.returncode not in (0, 1):
                    print(proc.stdout, proc.stderr, file=sys.stderr)
                    return 1
                hits = world.hits_json()
                urls = [
                    world.url(h["site"], h["path"]) for h in hits if not h["path"].endswith("/robots.txt")
                ]
                summary = next((ln.strip() for ln in proc.stdout.splitlines() if "pages fetched" in ln), "")
                results[name]["crawl"].append((wall, cpu))
                print(f"[{name} {rnd + 1}] crawl: {wall:6.1f} s wall, {cpu:6.1f} s CPU  ({summary})")
                urls_file = work / "urls.txt"
                urls_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
                with world.lock:
                    world.hits.clear()
                bare_cmd = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--bare",
                    str(urls_file),
                    json.dumps(config),
                ]
                wall_b, cpu_b, proc_b = timed(bare_cmd, env)
                fetched = len([h for h in world.hits_json() if not h["path"].endswith("/robots.txt")])
                if proc_b.returncode != 0:
                    print(proc_b.stdout, proc_b.stderr, file=sys.stderr)
                    return 1
                results[name]["bare"].append((wall_b, cpu_b))
                print(
                    f"[{name} {rnd + 1}] bare : {wall_b:6.1f} s wall, {cpu_b:6.1f} s CPU  "
                    f"({fetched} of the crawl's {len(urls)} URLs fetched)"
                )
                shutil.rmtree(archive, ignore_errors=True)
        world.stop()
        print()
        print(
            f"{'settings':12s} {'crawl (best)':>13s} {'bare (best)':>12s} {'ratio':>6s}  target <= 1.25x (polite)"
        )
        for name, res in results.items():
            crawl = min(w for w, _ in res["crawl"])
            bare = min(w for w, _ in res["bare"])
            pages = len(urls)
            print(
                f"{name:12s} {crawl:11.1f} s {bare:10.1f} s {crawl / bare:5.2f}x  "
                f"({pages / crawl:.0f} vs {pages / bare:.0f} pages/s; settings: "
                + ", ".join(f"{k}={v}" for k, v in CONFIGS[name].items())
                + ")"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
