"""How often the year of an undated cable is inferred right, wrong, or not at all.

    python benchmarks/year_inference.py [--show N]

Takes the cablegate dev cables whose text has a DECL line, removes every date-time group from
the text (the pages' tables and URLs are not used), reads the header and compares the year of
the ID built from it with the cable's true year. A wrong year makes a wrong ID (a cable the
page does not carry); no year gives no ID, with a warning.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT.parent / "shared" / "corpus" / "cablegate" / "truth"
sys.path.insert(0, str(ROOT))


def main() -> int:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", type=int, default=0, help="print up to N wrong years")
    args = ap.parse_args()
    if not TRUTH.is_dir():
        print(f"corpus not found at {TRUTH}", file=sys.stderr)
        return 2
    from cleaners.header import DTG, derive_ref, parse_header

    counts: collections.Counter[str] = collections.Counter()
    wrong: list[str] = []
    for path in sorted(TRUTH.glob("*.json")):
        page = json.loads(path.read_text(encoding="utf-8"))
        ref = page["cables"][0]["reference_id"]
        text = (TRUTH / f"{page['id']}.{ref}.txt").read_text(encoding="utf-8")
        if not re.search(r"(?i)DECL", text):
            continue
        h = parse_header(DTG.sub("", text).split("\n"))
        if h.year is not None:
            counts["dated all the same (a date line)"] += 1
            continue
        if h.decl_year is None:
            counts["no DECL date read"] += 1
            continue
        got, _how, _warnings = derive_ref(h)
        if got is None:
            counts["no year (no ID)"] += 1
        elif got[:2] == ref[:2]:
            counts["right year"] += 1
        else:
            counts["wrong year"] += 1
            wrong.append(f"{ref}: read as {got} (DECL {h.decl_year})")
    for key in (
        "right year",
        "wrong year",
        "no year (no ID)",
        "no DECL date read",
        "dated all the same (a date line)",
    ):
        print(f"{key:34} {counts[key]:5}")
    for line in wrong[: args.show]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
