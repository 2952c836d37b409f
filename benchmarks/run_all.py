"""Run every benchmark at a size that takes minutes, not hours, and print their figures.

    python benchmarks/run_all.py [--full]

--full runs the archive and re-clean benchmarks at 251,287 cables (about an hour each, ~20 GB
of disk). The benchmarks read the corpus in ../shared/corpus.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run each benchmark in its own process; exit 1 if any failed to run."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the archive and re-clean benchmarks at full size")
    args = ap.parse_args()
    size = [] if args.full else ["--cables", "20000"]
    runs = [
        ["bench_clean.py"],
        ["cablemap_agreement.py"],
        ["robustness.py", "--seed", "7"],
        ["bench_crawl.py", "--rounds", "1"],
        ["bench_archive.py", *size],
        ["bench_reclean.py", *size],
    ]
    failed = []
    for argv in runs:
        print(f"\n### {' '.join(argv)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], check=False).returncode != 0:
            failed.append(argv[0])
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
