"""The reference parser's test tables as cases: each case's cable put on a page, cleaned, judged.

heuer/cablemap's test tables are ported as data in tests/data/cablemap/*.json (inputs and
expected values, no code). `run` puts each case's cable content on a page the way a mirror
carries it, cleans it with `clean_page` (the function behind `cablearchive clean`) and reads the
field from `Cable.metadata()` (what `clean --json` writes). Used by the tests and by
benchmarks/cablemap_agreement.py.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data" / "cablemap"
PAGES = TESTS / "fixtures" / "pages"
TEMPLATE = PAGES / "cablegate" / "09BRASILIA1447.html"

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


def cases(field: str) -> list[dict[str, Any]]:
    """The ported cases of one field."""
    return json.loads((DATA / f"{field}.json").read_text(encoding="utf-8"))["cases"]


def template() -> str:
    """The viewer page the cases are put on."""
    return TEMPLATE.read_text(encoding="utf-8")


_ROW = re.compile(r"(<table class='cable'>.*?</tr>\s*<tr>)(.*?)(</tr>\s*</table>)", re.S)
_PRE = re.compile(r"<code><pre>.*</pre></code>", re.S)
_ID = re.compile(r"^(\d{2})([A-Z][A-Z-]*?)(\d+)$")


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
    field: str, render: str, clean_page: Callable[..., Any], rules: Any, page_template: str
) -> list[dict[str, Any]]:
    """Every case of one field, cleaned and judged: dicts with ok, got, want and where the case is."""
    rows = []
    for n, case in enumerate(cases(field)):
        year = _year_of(case)
        ref = case["reference_id"] if field in ("malformed_ids", "id_c14n") else _ref_of(case, year)
        if case.get("page"):
            if render != "page":
                continue
            body = (PAGES / case["page"]).read_bytes()
            name = case["page"]
        elif render == "page":
            body = render_page(page_template, _content_of(field, case), ref, year, _origin_of(ref))
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
