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
import html
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "cablemap"
PAGES = ROOT / "tests" / "fixtures" / "pages"
TEMPLATE = PAGES / "cablegate" / "09BRASILIA1447.html"
sys.path.insert(0, str(ROOT))

FIELDS = (
    "subject",
    "signers",
    "references",
    "references_ng",
    "tags",
    "summary",
    "recipients",
    "info",
    "classified_by",
    "decl",
    "malformed_ids",
    "id_c14n",
)
# What the figures are judged on; the others are measured as well.
GOALS = {"subject": 0.95, "signers": 0.95, "references": 0.90, "tags": 0.65}

_ROW = re.compile(r"(<table class='cable'>.*?</tr>\s*<tr>)(.*?)(</tr>\s*</table>)", re.S)
_PRE = re.compile(r"<code><pre>.*</pre></code>", re.S)
_ID = re.compile(r"^(\d{2})([A-Z][A-Z-]*?)(\d+)$")


def _template() -> str:
    """The viewer page the cases are put on."""
    return TEMPLATE.read_text(encoding="utf-8")


def _viewer_cell(href: str, text: str) -> str:
    """One cell of the viewer's Reference-ID table."""
    return f"<td>\n<a href='{href}'>{html.escape(text)}</a>\n</td>\n"


def render_page(template: str, content: str, ref: str, year: int, origin: str) -> bytes:
    """A viewer page naming `ref`, created in `year`, whose one <pre> box holds `content`."""
    created = f"{year}-06-15 12:00"
    row = (
        _viewer_cell(f"/cable/{year}/06/{ref}.html", ref)
        + _viewer_cell(f"/date/{year}-06_0.html", created)
        + _viewer_cell("/reldate/2010-12-05_0.html", "2010-12-05 12:12")
        + _viewer_cell("/classification/1_0.html", "CONFIDENTIAL")
        + _viewer_cell("/origin/1_0.html", origin)
    )
    page = _ROW.sub(lambda m: m.group(1) + "\n" + row + m.group(3), template, count=1)
    box = html.escape(content, quote=False).replace("\n", "&#x000A;")
    page = _PRE.sub(lambda m: f"<code><pre>{box}</pre></code>", page, count=1)
    page = re.sub(r"#09BRASILIA1447\b", "#" + ref, page)
    return page.encode("utf-8")


def render_text(content: str, ref: str, year: int, origin: str) -> bytes:
    """A text dump of a viewer page: the Reference-ID table row, the classification line, the content."""
    m = _ID.match(ref)
    station = m.group(2) if m else "STATE"
    serial = int(m.group(3)) if m else 1
    row = f"{ref} {year}-06-15 12:00 2010-12-05 12:12 CONFIDENTIAL {origin}"
    head = f"Reference ID Created Released Classification Origin\n{row}\n\nCONFIDENTIAL {station} {serial:06d}\n\n"
    return f"{head}{content}\n".encode()


def _year_of(case: dict[str, Any]) -> int:
    """The case's cable year: given, from its cable ID, else 2009."""
    if case.get("year"):
        return int(case["year"])
    m = _ID.match(case.get("cable") or case.get("reference_id") or "")
    if m:
        yy = int(m.group(1))
        return yy + (1900 if yy > 60 else 2000)
    return 2009


def _ref_of(case: dict[str, Any], year: int) -> str:
    """The ID the page names: the case's own cable where cablemap names it, else a neutral one."""
    ref = case.get("reference_id") or case.get("cable")
    if ref and _ID.match(ref):
        return ref
    return f"{year % 100:02d}STATE1"


def _origin_of(ref: str) -> str:
    """The viewer's origin cell for a cable ID (Embassy Ankara); close enough for these cases."""
    m = _ID.match(ref)
    station = m.group(2) if m else "STATE"
    return "Secretary of State" if station == "STATE" else f"Embassy {station.title()}"


def _fold(text: str | None) -> str:
    return " ".join((text or "").split())


def _signers(meta: dict[str, Any]) -> list[str]:
    if "signers" in meta:
        return list(meta.get("signers") or [])
    return [meta["signer"]] if meta.get("signer") else []


# Older trees keep each reference as a string ("A. 05 ALMATY 4441"): read an ID from its start.
_OLD_LABEL = re.compile(r"^\s*(?:\(?[A-Z]\)|[A-Z][.)])\s*")
_OLD_REF = re.compile(r"^(?:(\d{2}|\d{4})\s+)?([A-Z][A-Z' -]{1,25}?)\s+0*(\d{1,7})\b")
_NOT_POSTS = re.compile(r"E-?MAIL|IIR|REPORT|MEMO|FAX|TELCON|LETTER|CIRCULAR")


def _ref_ids(meta: dict[str, Any], year: int) -> list[str]:
    """Distinct cited cable IDs from the metadata (older trees: read from the reference strings)."""
    out: list[str] = []
    for ref in meta.get("references") or []:
        if isinstance(ref, dict):
            ids = [ref.get("id")] if ref.get("kind") == "cable" else []
        else:
            ids = []
            m = _OLD_REF.match(_OLD_LABEL.sub("", str(ref).upper()))
            if m and not _NOT_POSTS.search(m.group(2)):
                y = int(m.group(1)) % 100 if m.group(1) else year % 100
                ids.append(f"{y:02d}{re.sub(r'[^A-Z]', '', m.group(2))}{int(m.group(3))}")
        for i in ids:
            if i and i not in out:
                out.append(i)
    return out


def _tags_agree(got: list[str], want: list[str]) -> bool:
    return [t.upper() for t in got] == [t.upper() for t in want]


def _recipients(entries: Any) -> list[tuple[Any, ...]]:
    return [
        (e.get("route"), e.get("name"), e.get("precedence")) for e in entries or [] if isinstance(e, dict)
    ]


def _judge(field: str, case: dict[str, Any], meta: dict[str, Any] | None, year: int) -> tuple[bool, Any, Any]:
    """(agrees, what we read, what cablemap expects) for one case."""
    m = meta or {}
    want = case.get("expected")
    if field == "subject":
        got = m.get("subject") or ""
        return got == want, got, want
    if field == "signers":
        got = _signers(m)
        if case.get("canonicalize"):
            return [g.upper() for g in got] == [w.upper() for w in want], got, want
        return got == want, got, want
    if field == "references":
        got = _ref_ids(m, year)
        return got == want, got, want
    if field == "references_ng":
        want_ids = []
        for r in want:
            if r["kind"] == "cable" and r["value"] not in want_ids:
                want_ids.append(r["value"])
        got = _ref_ids(m, year)
        return got == want_ids, got, want_ids
    if field == "tags":
        got = list(m.get("tags") or [])
        return _tags_agree(got, want), got, want
    if field == "summary":
        got = m.get("summary")
        return _fold(got) == _fold(want), got, want
    if field in ("recipients", "info"):
        got = _recipients(m.get(field))
        exp = [(r["route"], r["name"], r["precedence"]) for r in want]
        return got == exp, got, exp
    if field == "classified_by":
        got = list(m.get("classified_by") or [])
        if case.get("normalize"):
            return [g.upper() for g in got] == [w.upper() for w in want], got, want
        return got == want, got, want
    if field == "decl":
        decl = m.get("decl") or {}
        got = decl.get("date") if isinstance(decl, dict) else None
        return got == want, got, want
    if field in ("malformed_ids", "id_c14n"):
        got = (m.get("reference_id"), m.get("canonical_id"))
        exp = (case["reference_id"], case["canonical_id"])
        return got == exp, got, exp
    raise KeyError(field)


def _content_of(field: str, case: dict[str, Any]) -> str:
    """The cable text a case stands for (the ID tables: a minimal cable naming the ID)."""
    if field in ("malformed_ids", "id_c14n"):
        return "SUBJECT: THE CABLE'S OWN ID\n\n1. (U) Text.\n"
    return case["content"]


def run(
    field: str, render: str, clean_page: Callable[..., Any], rules: Any, template: str
) -> list[dict[str, Any]]:
    """Every case of one field, cleaned and judged."""
    spec = json.loads((DATA / f"{field}.json").read_text(encoding="utf-8"))
    rows = []
    for n, case in enumerate(spec["cases"]):
        year = _year_of(case)
        ref = case["reference_id"] if field in ("malformed_ids", "id_c14n") else _ref_of(case, year)
        if case.get("page"):
            if render != "page":
                continue
            body = (PAGES / case["page"]).read_bytes()
            name = case["page"]
        elif render == "page":
            body = render_page(template, _content_of(field, case), ref, year, _origin_of(ref))
            name = f"{field}-{n}.html"
        else:
            if field in ("malformed_ids", "id_c14n"):
                continue  # a text file names no ID of its own
            body = render_text(_content_of(field, case), ref, year, _origin_of(ref))
            name = f"{field}-{n}.txt"
        result = clean_page(body, rules=rules)
        meta = result.cables[0].metadata() if result.cables else None
        ok, got, want = _judge(field, case, meta, year)
        rows.append(
            {
                "field": field,
                "n": n,
                "page": name,
                "cable": case.get("cable"),
                "ok": ok,
                "got": got,
                "want": want,
            }
        )
    return rows


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
    template = _template()
    renders = ("page", "text") if args.render == "all" else (args.render,)
    fields = args.field or list(FIELDS)
    print(f"{'field':<15}" + "".join(f"{r:>18}" for r in renders) + "   goal")
    for field in fields:
        cells = []
        bad: list[dict[str, Any]] = []
        for render in renders:
            rows = run(field, render, clean_page, rules, template)
            if args.json:
                for row in rows:
                    print(json.dumps({"render": render, **row}, ensure_ascii=False, default=list))
            agree = sum(r["ok"] for r in rows)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
