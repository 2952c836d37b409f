"""Re-clean time and memory on a synthetic archive of cablegate pages (251,287 cables by default).

Builds the archive with the builder of bench_archive.py (real corpus pages whose reference
ID is rewritten), then measures, each in a fresh process:

- the full re-clean: a rules folder whose digest differs but whose output does not, so every
  capture is read and cleaned again and nothing is written (target ≤ 15 min on 2 cores);
- the no-op re-clean that follows: every capture already cleaned under these rules (≤ 60 s);
- peak memory of the parent and of each worker (target ≤ 1 GB in all);

next to a baseline measured in the same run: clean_page alone over a sample of the same
pages in one process, scaled to the archive's size and the worker count.

    python benchmarks/bench_reclean.py --cables 20000          # a smaller run
    python benchmarks/bench_reclean.py                          # 251,287 cables (build ~1 h)
    python benchmarks/bench_reclean.py --work DIR --keep        # keep the archive; reuse it next time
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# A rule file that changes the rules' digest and nothing a page gives: a family whose
# detection can never fire (a URL pattern no page has), so no page is cleaned by it.
NOOP_RULE = """\
[rules]
family = "bench-never"
version = 1
priority = 99
description = "matches no page; only changes the rules digest (run {stamp})"

[detect]
url_patterns = ['^bench-never:']
min_signals = 1
"""


def build(path: str, n: int, batch: int) -> float:
    """Build an archive of n synthetic cables at path; returns the seconds it took."""
    from bench_archive import HEADERS, load_corpus, synthetic

    from archive import Archive

    t = time.perf_counter()
    corpus = load_corpus(None)
    print(f"  corpus: {len(corpus)} single-cable cablegate pages", flush=True)
    arch = Archive.create(path)
    with arch.writer(kind="crawl", args={"benchmark": "bench_reclean"}) as w:
        for i in range(n):
            url, body, res = synthetic(corpus, i)
            cap = w.add_capture(url, 200, HEADERS, body)
            w.record(cap, res)
            if (i + 1) % batch == 0:
                w.commit()
            if (i + 1) % 20000 == 0:
                el = time.perf_counter() - t
                print(f"  built {i + 1} cables, {(i + 1) / el:.0f}/s", flush=True)
    arch.close()
    return time.perf_counter() - t


def phase_reclean(path: str, rules: str | None, jobs: int) -> dict:
    """One re-clean, in this process; returns its figures (run in a fresh process per phase)."""
    from archive import Archive
    from archive.reclean import reclean

    arch = Archive.open(path)
    t = time.perf_counter()
    last = [0.0]
    workers_peak = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if total and (done == total or now - last[0] > 30):
            last[0] = now
            # Workers are alive now; their VmHWM counts from their own start (ru_maxrss of
            # children would count the parent's pages they shared between fork and exec).
            workers_peak[0] = max([workers_peak[0], *child_peaks_mb()])
            print(f"    {stage}: {done}/{total} ({now - t:.0f} s)", file=sys.stderr, flush=True)

    report = reclean(arch, rules=rules, jobs=jobs, progress=progress)
    seconds = time.perf_counter() - t
    arch.close()
    return {
        "seconds": seconds,
        "captures": report.captures,
        "skipped": report.skipped,
        "cleaned": report.cleaned,
        "failed": len(report.failed),
        "versions": len(report.versions),
        "outcomes": len(report.outcomes),
        "parent_rss_mb": peak_mb("self"),
        "worker_rss_mb": workers_peak[0],
    }


def peak_mb(pid: str) -> float:
    """Peak resident memory (VmHWM) of a process, in MB; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid == "self":  # not Linux: the rusage figure (KiB on Linux, bytes on macOS)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return 0.0


def child_peaks_mb() -> list[float]:
    """Peak resident memory of each child process of this one (the re-clean workers)."""
    peaks = []
    for task in Path("/proc/self/task").glob("*/children"):
        try:
            pids = task.read_text().split()
        except OSError:
            continue
        peaks.extend(peak_mb(pid) for pid in pids)
    return peaks


def baseline(sample: int) -> float:
    """clean_page alone, one process, over `sample` synthetic pages: pages per second."""
    from bench_archive import load_corpus, synthetic

    from cleaners import clean_page

    corpus = load_corpus(None)
    pages = [synthetic(corpus, i)[:2] for i in range(sample)]
    clean_page(pages[0][1], url=pages[0][0])
    t = time.perf_counter()
    for url, body in pages:
        clean_page(body, url=url)
    return sample / (time.perf_counter() - t)


def run_phase(name: str, path: str, rules: str | None, jobs: int) -> dict:
    """Run one measured phase in a fresh interpreter and return its figures."""
    cmd = [sys.executable, __file__, "--phase", name, "--work", path, "--jobs", str(jobs)]
    if rules:
        cmd += ["--rules", rules]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cables", type=int, default=251287)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--batch", type=int, default=1000, help="commit every N pages while building")
    ap.add_argument("--work", default=None, help="folder for the archive (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the archive afterwards")
    ap.add_argument("--sample", type=int, default=2000, help="pages for the clean_page baseline")
    ap.add_argument("--phase", choices=("noop", "full"), help=argparse.SUPPRESS)
    ap.add_argument("--rules", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.phase:  # a measured phase, in its own process
        figures = phase_reclean(os.path.join(args.work, "archive"), args.rules, args.jobs)
        print(json.dumps(figures))
        return 0

    from bench_archive import CORPUS

    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    work = args.work or tempfile.mkdtemp(prefix="bench-reclean-")
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "archive")
    stamp = os.path.join(work, "built.json")
    built = json.loads(Path(stamp).read_text()) if os.path.exists(stamp) else {}
    if built.get("cables") == args.cables and os.path.isdir(path):
        print(f"reusing the archive of {args.cables} cables in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)
        print(f"building an archive of {args.cables} cables in {path}", flush=True)
        seconds = build(path, args.cables, args.batch)
        Path(stamp).write_text(json.dumps({"cables": args.cables, "seconds": seconds}))
        print(f"  built in {seconds:.0f} s")

    rate = baseline(args.sample)
    ideal = args.cables / (rate * args.jobs)
    print(
        f"baseline: clean_page alone {rate:.0f} pages/s on one core; {args.cables} pages on "
        f"{args.jobs} cores ≥ {ideal:.0f} s"
    )

    rules_dir = os.path.join(work, "bench-rules")
    os.makedirs(rules_dir, exist_ok=True)
    # A new digest on every run, so that a kept archive is cleaned in full again.
    Path(rules_dir, "bench_never.toml").write_text(NOOP_RULE.format(stamp=time.time()))
    full = run_phase("full", work, rules_dir, args.jobs)
    total_mb = full["parent_rss_mb"] + args.jobs * full["worker_rss_mb"]
    print(
        f"full reclean: {full['seconds']:.0f} s = {full['seconds'] / 60:.1f} min (target ≤ 15 min for "
        f"251,287 cables), {full['cleaned'] / full['seconds']:.0f} pages/s on {args.jobs} workers "
        f"({full['seconds'] / ideal:.2f}x the clean_page baseline); {full['cleaned']} cleaned, "
        f"{full['failed']} failed, {full['versions']} new versions (0 unless the shipped rules "
        "changed since the archive was built)"
    )
    print(
        f"  peak RSS: parent {full['parent_rss_mb']:.0f} MB, largest worker {full['worker_rss_mb']:.0f} MB; "
        f"parent + {args.jobs} workers {total_mb:.0f} MB (target ≤ 1024 MB)"
    )

    # Every capture is now cleaned under these rules: the second run is the no-op re-clean.
    noop = run_phase("noop", work, rules_dir, args.jobs)
    print(
        f"no-op reclean: {noop['seconds']:.1f} s (target ≤ 60 s); {noop['captures']} captures, "
        f"{noop['skipped']} already cleaned, {noop['cleaned']} cleaned (expected 0); "
        f"peak RSS {noop['parent_rss_mb']:.0f} MB"
    )
    if args.cables != 251287:
        scale = 251287 / args.cables
        print(
            f"  scaled to 251,287 cables: full ≈ {full['seconds'] * scale / 60:.1f} min, "
            f"no-op ≈ {noop['seconds'] * scale:.0f} s"
        )
    if not args.keep:
        if args.work:  # only what this script made in the given folder
            for made in (path, rules_dir):
                shutil.rmtree(made, ignore_errors=True)
            Path(stamp).unlink(missing_ok=True)
        else:
            shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
