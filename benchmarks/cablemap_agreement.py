"""Agreement with the reference cable parser's test tables, field by field, through `clean`.

    python benchmarks/cablemap_agreement.py [--render page|text|all] [--field NAME ...] [--show N] [--json]
                                            [--tree DIR]

heuer/cablemap's test tables are ported as data in tests/data/cablemap/*.json (inputs and
expected values, no code). Each case's cable content is put on a page the way a mirror would
carry it and cleaned by `clean_page`, the function behind `cablearchive clean`; the field is
read from `Cable.metadata()`, which is what `clean --json` and `clean --out` write.

Renderings (--render):
  page  a cablegate viewer page (a real one from tests/fixtures, its Reference-ID table naming
        the case's cable, or a neutral ID of the case's year, and its <pre> box holding the content)
  text  a plain-text file as a viewer page copied to text: the Reference-ID table's row, the
        classification line the cable opens with, the content

Fields and how a case agrees:
  subject        metadata `subject` equals the expected subject ('' when the cable has none)
  signers        `signers` equals the expected names (case-insensitive where cablemap upper-cases)
  references     the distinct `id`s of the `references` of kind cable equal the expected IDs
                 (also printed: the cited IDs one by one, how many found and how many right)
  references_ng  the same on the second reference table (cable references only)
  tags           `tags` equal the expected list, case-insensitively ("as written": cablemap's
                 vocabulary rewriting, e.g. STEINBERG JAMES -> STEINBERG, JAMES B., is not asked for)
  summary        `summary` equals the expected text once whitespace is folded
  recipients     (route, name, precedence) of each `recipients` entry; info: the same for `info`
  classified_by  `classified_by` equals the expected names
  decl           `decl.date` equals the expected date
  malformed_ids  a page naming a malformed viewer ID: `reference_id` is that ID, `canonical_id` the repaired one
  id_c14n        the same for IDs with aliased station names (05RIODEJAN123 -> 05RIODEJANEIRO123)

Works on older trees too (a `signer` string, `references` as strings), so that the figures of a
tree before these fields can be measured with the same cases.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cablemap_cases import FIELDS, run, template  # noqa: E402

# What the figures are judged on; the others are measured as well.
GOALS = {"subject": 0.95, "signers": 0.95, "references": 0.90, "tags": 0.65}


def main() -> int:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--render", choices=("page", "text", "all"), default="all")
    ap.add_argument("--field", action="append", choices=FIELDS, help="only these fields (repeatable)")
    ap.add_argument("--show", type=int, default=0, help="print up to N disagreements per field")
    ap.add_argument("--json", action="store_true", help="print every case as JSON lines")
    ap.add_argument("--tree", help="measure the cleaners of another checkout (its root folder)")
    args = ap.parse_args()
    if args.tree:
        sys.path.insert(0, str(Path(args.tree).resolve()))

    from cleaners import clean_page, load_rules

    rules = load_rules()
    page = template()
    renders = ("page", "text") if args.render == "all" else (args.render,)
    fields = args.field or list(FIELDS)
    print(f"{'field':<15}" + "".join(f"{r:>18}" for r in renders) + "   goal")
    per_id: list[str] = []
    for field in fields:
        cells = []
        bad: list[dict[str, Any]] = []
        for render in renders:
            rows = run(field, render, clean_page, rules, page)
            if args.json:
                for row in rows:
                    print(json.dumps({"render": render, **row}, ensure_ascii=False, default=list))
            agree = sum(r["ok"] for r in rows)
            if field in ("references", "references_ng") and rows:
                per_id.append(f"{field} ({render}): {_per_id(rows)}")
            cells.append(
                f"{agree:>4}/{len(rows):<4} {100 * agree / max(1, len(rows)):5.1f}%" if rows else "-"
            )
            bad.extend({"render": render, **r} for r in rows if not r["ok"])
        goal = f">= {GOALS[field] * 100:.0f}%" if field in GOALS else ""
        print(f"{field:<15}" + "".join(f"{c:>18}" for c in cells) + f"   {goal}")
        for row in bad[: args.show]:
            print(f"    {row['render']} {row['page']} {row['cable'] or ''}")
            print(f"      got:  {row['got']!r}")
            print(f"      want: {row['want']!r}")
    for line in per_id:
        print(f"cited IDs one by one, {line}")
    return 0


def _per_id(rows: list[dict[str, Any]]) -> str:
    """Recall and precision of the cited IDs over all cases (each ID counted, not each case)."""
    found = wanted = right = 0
    for row in rows:
        got, want = set(row["got"]), set(row["want"])
        found, wanted, right = found + len(got), wanted + len(want), right + len(got & want)
    return f"{right}/{wanted} found ({100 * right / max(1, wanted):.1f}%), {right}/{found} right ({100 * right / max(1, found):.1f}%)"


if __name__ == "__main__":
    sys.exit(main())
