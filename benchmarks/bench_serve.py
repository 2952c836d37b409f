"""Response times of `cablearchive serve` on a large archive (251,287 cables by default).

Builds the archive as bench_reclean.py does (real cablegate pages whose reference ID is
rewritten; reused when --work holds one), gives a few hundred of its cables a second version (a
redaction) and a second mirror (re-wrapped text), then starts `cablearchive serve` on
127.0.0.1 and asks it, one request at a time over one connection, for pages of each kind:

- list: /cables pages, at random offsets, sorted in each way, with a facet filter or none;
- search: /search for words common and rare, some with a field filter;
- cable: /cable/REF of random cables;
- diff: /cable/REF/diff of the cables that have two versions, and the mirror diffs.

It prints the median and 95th percentile of each (goal: p95 under 200 ms), next to baselines
measured in the same run: a static file of the same server, and the same kinds of pages on a
small archive built by the run (--baseline-cables).

    python benchmarks/bench_serve.py --work /tmp/bench-serve-archive        # 251,287 cables
    python benchmarks/bench_serve.py --cables 20000 --work /tmp/bs20k       # a smaller run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PREPARED = "bench-serve"  # the run kind that marks an archive as prepared
WORDS = (
    "Karzai",
    "embassy",
    "minister",
    "nuclear",
    "election",
    "Zimbabwe",
    "oil",
    "corruption",
    "ambassador",
)


def cache_corpus() -> None:
    """Clean the corpus once per run: the builder and prepare() both ask for it."""
    import functools

    import bench_archive

    bench_archive.load_corpus = functools.lru_cache(maxsize=None)(bench_archive.load_corpus)


def build_or_reuse(work: str, n: int) -> str:
    """The archive under work/: reused when one is there (whatever its size), else built with n cables."""
    from bench_reclean import build

    path = os.path.join(work, "archive")
    if os.path.exists(os.path.join(path, "cablearchive.json")):
        print(f"reusing the archive in {path}", flush=True)
        return path
    shutil.rmtree(path, ignore_errors=True)
    print(f"building an archive of {n} cables in {path}", flush=True)
    seconds = build(path, n, 1000)
    Path(work, "built.json").write_text(json.dumps({"cables": n, "seconds": seconds}))
    print(f"  built in {seconds:.0f} s", flush=True)
    return path


def prepare(path: str, changed: int) -> tuple[list[str], list[str]]:
    """Give `changed` cables a second version (a redaction) and as many a second mirror (re-wrapped);
    returns (refs with two versions, refs with two mirrors). Done once per archive."""
    from bench_archive import HEADERS, load_corpus, synthetic

    from archive import Archive, index

    arch = Archive.open(path)
    arch.conn  # noqa: B018 - an index of an older schema is rebuilt here, before serving
    total = index.archive_counts(arch.conn)["cables"]
    stride = max(1, total // (2 * changed + 1))
    chosen = list(range(0, total, stride))[: 2 * changed]
    versioned, mirrored = chosen[0::2], chosen[1::2]
    done = [r for r in arch.runs() if r.get("kind") == PREPARED]
    corpus = load_corpus(None)
    refs_v = [synthetic(corpus, i)[2].cables[0].reference_id for i in versioned]
    refs_m = [synthetic(corpus, i)[2].cables[0].reference_id for i in mirrored]
    if done:
        refs_v = [r for r in refs_v if arch.cable(r).head >= 2]
        refs_m = [r for r in refs_m if len(arch.cable(r).source_keys()) >= 2]
        arch.close()
        return refs_v, refs_m
    print(f"  preparing {len(versioned)} second versions and {len(mirrored)} second mirrors", flush=True)
    with arch.writer(kind=PREPARED, args={"changed": changed}) as w:
        for i in versioned:
            url, body, res = synthetic(corpus, i)
            c = res.cables[0]
            # A redaction: a word of the body becomes XXXXXXXXXXXX.
            words = list(re.finditer(r"\b[A-Za-z]{4,}\b", c.text))
            m = words[len(words) // 2]
            c.text = c.text[: m.start()] + "XXXXXXXXXXXX" + c.text[m.end() :]
            cap = w.add_capture(url, 200, HEADERS, body + b"\n<!-- build 2 -->")
            w.record(cap, res)
        for i in mirrored:
            url, body, res = synthetic(corpus, i)
            c = res.cables[0]
            # Another mirror of the same cable whose lines are joined: a re-wrapped copy.
            c.text = re.sub(r"(?<=\S)\n(?=\S)", " ", c.text) + "\n\n(reflowed copy)"
            c.lines_kept = False
            ref = c.reference_id
            cap = w.add_capture(f"https://reflowed.example.net/cables/{ref}.html", 200, HEADERS, body)
            w.record(cap, res)
    # Only the cables that did gain a version or a mirror (a page can give an unchanged text).
    refs_v = [r for r in refs_v if arch.cable(r).head >= 2]
    refs_m = [r for r in refs_m if len(arch.cable(r).source_keys()) >= 2]
    arch.close()
    return refs_v, refs_m


class Server:
    """`cablearchive serve` on 127.0.0.1, port 0, in a child process."""

    def __init__(self, path: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "serve", "--archive", path, "--port", "0"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            raise SystemExit(f"serve did not start: {line}")
        self.port = int(m.group(1))
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for _ in range(100):
            try:
                self.get("/robots.txt")
                break
            except OSError:
                time.sleep(0.1)
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of one GET over the kept connection."""
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def stop(self) -> None:
        """End the server."""
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def time_pages(server: Server, paths: list[str]) -> list[float]:
    """Milliseconds of each GET; every answer must be 200."""
    out = []
    for p in paths:
        t = time.perf_counter()
        status, body = server.get(p)
        out.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise SystemExit(f"{p}: HTTP {status}: {body[:200]!r}")
    return out


def page_sets(
    server: Server, refs_v: list[str], refs_m: list[str], n: int, rng: random.Random
) -> dict[str, list[str]]:
    """n paths of each kind of page, drawn at random from the archive's content."""
    data = json.loads(server.get("/api/cables")[1])
    pages = max(1, data["pages"])
    origins = [f["value"] for f in data["facets"]["origin"]][:20] or [""]
    years = [f["value"] for f in data["facets"]["year"]] or [""]
    tags = [f["value"] for f in data["facets"]["tag"]][:20] or [""]
    listing = []
    for k in range(n):
        sort = ("id", "-date", "date", "origin")[k % 4]
        kind = k % 4
        q = f"/cables?sort={sort}&page={rng.randint(1, min(pages, 2000))}"
        if kind == 1:
            q = f"/cables?sort={sort}&origin={origins[k % len(origins)]}"
        elif kind == 2:
            q = f"/cables?sort={sort}&year={years[k % len(years)]}"
        elif kind == 3:
            q = f"/cables?sort={sort}&tag={tags[k % len(tags)]}"
        listing.append(q.replace(" ", "+"))
    search = []
    for k in range(n):
        word = WORDS[k % len(WORDS)]
        q = f"/search?q={word}"
        if k % 3 == 1:
            q += f"&year={years[k % len(years)]}"
        elif k % 3 == 2:
            q = f"/search?q={word}+tag:{tags[k % len(tags)]}"
        search.append(q)
    all_refs = [
        c["ref"] for c in json.loads(server.get(f"/api/cables?page={rng.randint(1, pages)}")[1])["cables"]
    ]
    for _ in range(5):
        all_refs += [
            c["ref"] for c in json.loads(server.get(f"/api/cables?page={rng.randint(1, pages)}")[1])["cables"]
        ]
    cables = [f"/cable/{rng.choice(all_refs)}" for _ in range(n)]
    diffs = []
    for k in range(n):
        if k % 2 and refs_m:
            diffs.append(f"/cable/{refs_m[k % len(refs_m)]}/diff")
        else:
            diffs.append(f"/cable/{refs_v[k % len(refs_v)]}/diff")
    return {"list": listing, "search": search, "cable": cables, "diff": diffs}


def figures(ms: list[float]) -> str:
    """`median X ms, p95 Y ms`."""
    q = statistics.quantiles(ms, n=20, method="inclusive") if len(ms) > 1 else ms * 19
    return f"median {statistics.median(ms):6.1f} ms, p95 {q[18]:6.1f} ms"


def p95(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=20, method="inclusive")[18]


def measure(path: str, refs_v: list[str], refs_m: list[str], n: int, seed: int) -> dict[str, list[float]]:
    """Serve the archive at path and time n pages of each kind (plus the static-file baseline)."""
    server = Server(path)
    try:
        rng = random.Random(seed)
        sets = page_sets(server, refs_v, refs_m, n, rng)
        for paths in sets.values():  # warm-up: one of each kind, not counted
            time_pages(server, paths[:2])
        out = {kind: time_pages(server, paths) for kind, paths in sets.items()}
        out["static"] = time_pages(server, ["/static/site.css"] * n)
        return out
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--cables", type=int, default=251287, help="cables of the archive to build (when none is in --work)"
    )
    ap.add_argument(
        "--work", default=None, help="folder for the archive (default: a temp folder; kept when given)"
    )
    ap.add_argument("--requests", type=int, default=100, help="requests of each kind (default 100)")
    ap.add_argument(
        "--changed", type=int, default=200, help="cables given a second version and a second mirror"
    )
    ap.add_argument("--baseline-cables", type=int, default=1000, help="cables of the small baseline archive")
    args = ap.parse_args()

    from bench_archive import CORPUS

    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    cache_corpus()
    work = args.work or tempfile.mkdtemp(prefix="bench-serve-")
    os.makedirs(work, exist_ok=True)
    path = build_or_reuse(work, args.cables)
    refs_v, refs_m = prepare(path, args.changed)

    small_work = tempfile.mkdtemp(prefix="bench-serve-small-")
    try:
        small = build_or_reuse(small_work, args.baseline_cables)
        small_v, small_m = prepare(small, min(args.changed, args.baseline_cables // 10))
        base = measure(small, small_v, small_m, args.requests, seed=2)
    finally:
        shutil.rmtree(small_work, ignore_errors=True)
    big = measure(path, refs_v, refs_m, args.requests, seed=1)

    from archive import Archive, index

    arch = Archive.open_read_only(path)
    counts = index.archive_counts(arch.conn)
    arch.close()
    print(
        f"archive: {counts['cables']:,} cables, {counts['versions']:,} versions, {counts['captures']:,} captures; "
        f"{args.requests} requests of each kind, one at a time over one connection"
    )
    print(f"  baseline, static file (same server):      {figures(big['static'])}")
    for kind in ("list", "search", "cable", "diff"):
        ok = "ok" if p95(big[kind]) < 200 else "OVER the 200 ms goal"
        print(
            f"  {kind:6s} {counts['cables']:>9,} cables: {figures(big[kind])}  ({ok}) | "
            f"baseline {args.baseline_cables:,} cables: {figures(base[kind])}"
        )
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
