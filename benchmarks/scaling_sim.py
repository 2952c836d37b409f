"""Figures for the plan to internet scale (docs/scaling.md), measured on this machine.

    python benchmarks/scaling_sim.py [--urls 1000000] [--ingest-pages 2000] [--mirrors 1000] [--pages 251287]

1. Redis memory per million URLs: a real redis-server (Debian's package), INFO memory before and
   after `--urls` synthetic cable URLs go through the crawl's own admission script (seen-set +
   per-site queues, as a distributed crawl schedules them), then once they are all archived
   (queues empty, seen-set + archived set).
2. The single writer's ingest rate: `--ingest-pages` cable pages of the test world, cleaned and
   written to spool files by the workers' SpoolWriter, ingested by the coordinator into a new
   archive (captures/s, and the spool WARC and archive bytes per page).
3. What follows for `--mirrors` mirrors x `--pages` pages at 1 request/s per host: the
   aggregate fetch rate, the number of hosts one writer keeps up with, the archive and WARC
   sizes, and the number of archive shards needed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_distributed import start_redis  # noqa: E402

from archive import Archive  # noqa: E402
from cleaners import clean_page  # noqa: E402
from crawler.distributed.cluster import Cluster, JobConfig  # noqa: E402
from crawler.distributed.coordinator import ClusterReport, Coordinator  # noqa: E402
from crawler.distributed.spool import SpoolWriter  # noqa: E402
from crawler.frontier import Target  # noqa: E402
from crawler.items import CaptureItem  # noqa: E402

WORLD = REPO / "tests" / "fixtures" / "world"


def _used(cluster: Cluster) -> int:
    info: dict[str, Any] = cluster.r.info("memory")
    return int(info["used_memory"])


def redis_memory(cluster: Cluster, n: int, sites: int = 1000) -> dict[str, float]:
    """Bytes per URL: queued (seen + queue entry) and archived (seen + archived key)."""
    cluster.clear()
    base = _used(cluster)
    batch: list[Target] = []
    for i in range(n):
        site = i % sites
        url = f"https://mirror{site:04d}.example.org/cable/2010/02/10MOSCOW{i:07d}.html"
        batch.append(Target(url, "cable", 2))
        if len(batch) == 1000:
            cluster.admit(batch, None)
            batch = []
    cluster.admit(batch, None)
    queued = _used(cluster) - base
    # All fetched and archived: the queues are empty; the seen-set and the archived set remain.
    for site in range(sites):
        cluster.r.delete(cluster.key(f"q:127.0.0.{site}"))
    keys = [k for k in cluster.r.scan_iter(match=cluster.key("q:*"), count=1000)]
    for i in range(0, len(keys), 500):
        cluster.r.unlink(*keys[i : i + 500])
    members = [m for m in cluster.r.sscan_iter(cluster.key("seen"), count=5000)]
    for i in range(0, len(members), 5000):
        cluster.r.sadd(cluster.key("archived"), *members[i : i + 5000])
    done = _used(cluster) - base
    cluster.clear()
    return {"queued": queued / n, "archived": done / n}


def world_pages() -> list[tuple[str, bytes]]:
    """The test world's pages (49, 12 cables): (path, body)."""
    pages = []
    for path in sorted(WORLD.rglob("*.html")):
        rel = path.relative_to(WORLD)
        pages.append(("/" + "/".join(rel.parts[1:]), path.read_bytes()))
    return pages


def corpus_pages(corpus: Path) -> list[tuple[str, bytes]]:
    """The corpus's cablegate viewer pages (903 distinct cables): (path, body)."""
    return [
        (f"/cable/{p.name}", p.read_bytes()) for p in sorted((corpus / "cablegate" / "pages").glob("*.html"))
    ]


def ingest_rate(cluster: Cluster, folder: Path, pages: list[tuple[str, bytes]], n: int) -> dict[str, float]:
    """Spool `n` cleaned pages as workers do (page i on mirror i // len(pages)), then time the coordinator archiving them."""
    cluster.clear()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    spool = folder / "spool"
    writer = SpoolWriter(spool, "sim")
    names: list[str] = []
    t0 = time.time()
    for i in range(n):
        path, body = pages[i % len(pages)]
        # Each copy on its own mirror host: distinct URLs, as 1,000 mirrors give.
        url = f"http://mirror{i // len(pages):04d}.example.org{path}"
        headers = [("Content-Type", "text/html; charset=utf-8")]
        item = CaptureItem(
            url,
            url,
            200,
            headers,
            body,
            [],
            t0 + i * 0.001,
            result=clean_page(body, url=url, headers=headers),
        )
        writer.add(item, None)
        if len(writer.batch.records) >= 100:
            name, _ = writer.close_batch()
            if name:
                names.append(name)
    name, _ = writer.close_batch()
    if name:
        names.append(name)
    spool_bytes = sum((spool / nm).stat().st_size for nm in names)
    config = JobConfig("sim", 3, None, 1.0, 1, 60.0, str(spool), [])
    arch = Archive.create(str(folder / "archive"))
    out = ClusterReport()
    w = arch.writer(kind="crawl", args={"simulation": True})
    coord = Coordinator(cluster, config, arch, w, out)
    coord.commit_pages = 200
    t1 = time.perf_counter()
    for i in range(0, len(names), 2):
        coord.ingest(names[i : i + 2])
    coord.commit()
    seconds = time.perf_counter() - t1
    w.close()
    arch.close()
    archive_bytes = sum(f.stat().st_size for f in (folder / "archive").rglob("*") if f.is_file())
    cluster.clear()
    return {
        "captures_per_second": out.report.captures / seconds,
        "spool_bytes_per_page": spool_bytes / n,
        "archive_bytes_per_page": archive_bytes / n,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--ingest-pages", type=int, default=2000)
    ap.add_argument("--mirrors", type=int, default=1000)
    ap.add_argument("--pages", type=int, default=251_287)
    ap.add_argument(
        "--corpus", default=str(REPO.parent / "shared" / "corpus"), help="corpus with cablegate/pages"
    )
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="scaling-"))
    proc, port = start_redis(str(tmp))
    try:
        cluster = Cluster.at(f"redis://127.0.0.1:{port}/0")
        mem = redis_memory(cluster, args.urls)
        print(
            f"Redis memory: {mem['queued']:.0f} B per queued URL ({mem['queued'] * 1e6 / 2**20:.0f} MiB per million), "
            f"{mem['archived']:.0f} B per archived URL ({mem['archived'] * 1e6 / 2**20:.0f} MiB per million) "
            f"[{args.urls:,} synthetic URLs]"
        )
        runs = {"world": (world_pages(), "test world pages, 12 cables, each on up to %d mirrors")}
        corpus = Path(args.corpus)
        if (corpus / "cablegate" / "pages").is_dir():
            runs["corpus"] = (
                corpus_pages(corpus),
                "viewer pages of distinct cables, one mirror (a first crawl)",
            )
        rates = {}
        for name, (pages, what) in runs.items():
            n = min(args.ingest_pages, len(pages)) if name == "corpus" else args.ingest_pages
            ing = ingest_rate(cluster, tmp / name, pages, n)
            rates[name] = ing
            mirrors = -(-n // len(pages))
            print(
                f"single writer: {ing['captures_per_second']:.0f} captures/s ingested (cleaned by the workers); "
                f"spool WARC {ing['spool_bytes_per_page'] / 1024:.1f} KiB/page, archive "
                f"{ing['archive_bytes_per_page'] / 1024:.1f} KiB/page [{n:,} {what.replace('%d', str(mirrors))}]"
            )
        ing = rates.get("corpus", rates["world"])
        total = args.mirrors * args.pages
        fetch_rate = args.mirrors * 1.0
        keep_up = ing["captures_per_second"]
        print(f"{args.mirrors:,} mirrors x {args.pages:,} pages = {total:,} pages")
        print(
            f"  at 1 request/s per host: {fetch_rate:,.0f} pages/s aggregate; the whole crawl takes "
            f"{args.pages / 86400:.1f} days (each host's pages at 1/s), whatever the number of workers"
        )
        print(
            f"  one writer keeps up with {keep_up:,.0f} hosts; {args.mirrors:,} hosts need "
            f"{max(1, -(-int(fetch_rate) // max(1, int(keep_up))))} archive shards (writers)"
        )
        print(
            f"  Redis for the seen-set of {total:,} URLs: {mem['archived'] * total / 2**30:,.0f} GiB "
            f"(queued: {mem['queued'] * total / 2**30:,.0f} GiB)"
        )
        # Every page is a WARC record; only the distinct cables become OCFL objects, every further
        # page of a cable adds a source to its object (and rows to the index).
        warc = ing["spool_bytes_per_page"] * total
        first = ing["archive_bytes_per_page"] - ing["spool_bytes_per_page"]
        world = rates["world"]
        more = max(0.0, world["archive_bytes_per_page"] - world["spool_bytes_per_page"])
        cables = args.pages
        rest = first * cables + more * (total - cables)
        print(
            f"  WARC: {warc / 2**40:,.1f} TiB; cable objects and index: {rest / 2**30:,.0f} GiB "
            f"({first / 1024:.1f} KiB per distinct cable, {more:.0f} B per further source); "
            "less where identical payloads become revisits"
        )
        print(json.dumps({"redis": mem, "ingest": rates, "pages": total}))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
