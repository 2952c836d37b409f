"""Cleaning speed on the 903 cablegate dev pages, next to a bare lxml parse of the same pages.

    python benchmarks/bench_clean.py [--rounds 3] [--set cablegate]

Prints pages/s on one core for `clean_page` and for `lxml.html.document_fromstring` measured in
the same run (rounds alternate between the two, best of --rounds each, so that a machine whose
speed drifts affects both alike), their ratio, and the same for trafilatura on a sample.
Target: clean >= 300 pages/s where a bare lxml parse runs ~840 pages/s, i.e. a ratio >= 0.36;
the clean rate scaled to that reference speed is printed too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))


REFERENCE_LXML = 840.0  # pages/s of a bare lxml parse on the machine the target was set on


def rate(fn, pages: list[bytes]) -> float:
    """Pages per second of `fn` over all pages, once."""
    t0 = time.perf_counter()
    for page in pages:
        fn(page)
    return len(pages) / (time.perf_counter() - t0)


def main() -> int:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--set", default="cablegate")
    ap.add_argument("--trafilatura-sample", type=int, default=60)
    args = ap.parse_args()
    folder = CORPUS / args.set / "pages"
    if not folder.is_dir():
        print(f"corpus set not found: {folder}", file=sys.stderr)
        return 2
    pages = [p.read_bytes() for p in sorted(folder.glob("*.html"))]

    from lxml import html as lxml_html

    from cleaners import clean_page, load_rules

    rules = load_rules()
    clean_page(pages[0], rules=rules)  # warm up: rules compiled, modules imported
    lxml_rate = clean_rate = 0.0
    for _ in range(args.rounds):
        lxml_rate = max(lxml_rate, rate(lxml_html.document_fromstring, pages))
        clean_rate = max(clean_rate, rate(lambda p: clean_page(p, rules=rules), pages))
    ratio = clean_rate / lxml_rate
    print(f"pages: {len(pages)} ({args.set})")
    print(f"lxml parse:   {lxml_rate:8.0f} pages/s")
    print(
        f"clean_page:   {clean_rate:8.0f} pages/s   ({ratio:.2f}x of a bare lxml parse; target >= 300 pages/s)"
    )
    print(
        f"  at the reference speed (lxml {REFERENCE_LXML:.0f} pages/s): {ratio * REFERENCE_LXML:.0f} pages/s"
    )
    if args.trafilatura_sample:
        import trafilatura

        sample = pages[: args.trafilatura_sample]
        traf = rate(lambda p: trafilatura.extract(p, include_comments=False), sample)
        print(f"trafilatura:  {traf:8.0f} pages/s   (sample of {len(sample)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
