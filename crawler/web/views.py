"""What each page shows, as plain data: the html page renders it, its /api/ twin returns it as JSON.

Each view takes the archive (opened read-only) and checked parameters and returns a `Page`:
`data` is JSON-ready and is the whole of what the page says; `extra` holds what only the
templates need (a diff's rows, say).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException

from archive import Archive, ArchiveError, index
from archive import query as query_api
from archive.consensus import similarity
from archive.diff import Diff, diff_texts
from archive.errors import QueryError
from archive.render import diff_view
from crawler.web import params

PER_PAGE = 50
# A search hit's snippet is cut from the cable's text, read from its object: fewer a page.
HITS_PER_PAGE = 20
NEWEST = 20
FEED_ENTRIES = 50
SORTS = ("id", "-id", "date", "-date", "origin", "-origin")
FILTERS = ("origin", "classification", "year", "tag", "from", "to")
FACET_VALUES = 30
WRAPPING = ("hide", "show")
DIFF_VIEWS = ("side", "inline")
_TOKEN_RE = re.compile(r"\S+")
# A paragraph starts after a blank line, or at a numbered paragraph: `¶3.` or `3. (C)`.
_PARAGRAPH_START = re.compile(r"\s*(¶\s*\d+|\d{1,3}\.\s*\([A-Z/ ]+\))")


@dataclass
class Page:
    """One page: its template, its data (the JSON twin), and what only the template needs."""

    template: str
    data: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def not_found(message: str) -> HTTPException:
    """A 404 answer saying what is missing."""
    return HTTPException(404, message)


def cable_record(arch: Archive, ref: str) -> Any:
    """The archived cable, or 404."""
    if not arch.has_cable(ref):
        raise not_found(f"{ref} is not in this archive")
    try:
        return arch.cable(ref)
    except ArchiveError as exc:
        raise not_found(str(exc)) from None


def _version_of(record: Any, v: int | None) -> int:
    """A version the cable has (default its head), or 404."""
    if v is None:
        return int(record.head)
    if not 1 <= v <= record.head:
        raise not_found(f"{record.ref} has versions v1 to v{record.head}; there is no v{v}")
    return v


# -- home ---------------------------------------------------------------------------------


def home(arch: Archive, query: dict[str, Any]) -> Page:
    """Counts, the newest versions with what changed, the runs."""
    counts = index.archive_counts(arch.conn)
    newest = [
        _version_entry(arch, ref, n, created, message, subject)
        for ref, n, created, message, subject in index.newest_versions(arch.conn, NEWEST)
    ]
    runs = []
    for r in reversed(arch.runs()[-NEWEST:]):
        runs.append(
            {
                "run": r.get("run"),
                "kind": r.get("kind"),
                "status": r.get("status"),
                "started": r.get("started"),
                "finished": r.get("finished"),
                "counts": {k: v for k, v in (r.get("counts") or {}).items() if v},
                "errors": len(r.get("errors") or []),
            }
        )
    return Page("home.html", {"counts": counts, "newest": newest, "runs": runs})


def _version_entry(
    arch: Archive,
    ref: str,
    number: int,
    created: str | None,
    message: str | None,
    subject: str | None,
    with_diff: bool = False,
) -> dict[str, Any]:
    """A version as the home page and the feeds list it: what changed, classified."""
    entry: dict[str, Any] = {
        "ref": ref,
        "version": number,
        "created": created,
        "message": message,
        "subject": subject,
        "summary": "first archived version" if number == 1 else None,
        "counts": {},
    }
    if number > 1:
        with contextlib.suppress(ArchiveError, OSError, ValueError, KeyError):
            record = arch.cable(ref)
            d = diff_texts(
                record.text(number - 1),
                record.text(number),
                title=f"{ref} v{number - 1}→v{number}",
                old_label=f"{ref} v{number - 1}",
                new_label=f"{ref} v{number}",
                ignore_wrapping=True,
            )
            entry["summary"] = d.summary()
            entry["counts"] = d.counts()
            if with_diff:
                entry["_diff"] = d
    return entry


# -- the list of cables --------------------------------------------------------------------


def _filters(query: dict[str, Any]) -> query_api.Filters:
    """The facet filters a URL sets: origin, classification, year, tag, from, to."""
    year = params.year(query.get("year"))
    values = {
        name: params.text(query.get(name), name, 100)
        for name in ("origin", "classification", "tag", "from", "to")
    }
    try:
        return query_api.Filters(
            origins=(values["origin"],) if values["origin"] else (),
            classifications=(values["classification"],) if values["classification"] else (),
            tags=(values["tag"],) if values["tag"] else (),
            years=(year,) if year else (),
            date_from=query_api.date_bound(values["from"], "from") if values["from"] else None,
            date_to=query_api.date_bound(values["to"], "to") if values["to"] else None,
        )
    except QueryError as exc:
        raise params.bad(str(exc)) from None


def _filter_args(query: dict[str, Any]) -> dict[str, Any]:
    """The filters of the URL as they are written there (for links and the JSON twin)."""
    return {k: query[k] for k in FILTERS if query.get(k)}


def _facets(arch: Archive, filters: query_api.Filters, q: str | None = None) -> dict[str, Any]:
    """Each facet's values with their counts (the URL names the tags facet `tag`)."""
    try:
        counts = query_api.facets(arch, filters, q, limit=FACET_VALUES)
    except QueryError as exc:
        raise params.bad(str(exc)) from None
    return {
        ("tag" if name == "tags" else name): [{"value": c.value, "count": c.count} for c in values]
        for name, values in counts.items()
    }


def cables(arch: Archive, query: dict[str, Any]) -> Page:
    """A page of the cables, filtered by facets and sorted."""
    sort = params.choice(query.get("sort"), SORTS, "sort")
    page = params.page(query.get("page"))
    filters = _filters(query)
    try:
        found = query_api.list_cables(
            arch,
            filters,
            sort=sort.lstrip("-"),
            descending=sort.startswith("-"),
            offset=(page - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
    except QueryError as exc:
        raise params.bad(str(exc)) from None
    data = {
        "filters": _filter_args(query),
        "sort": sort,
        "page": page,
        "per_page": PER_PAGE,
        "total": found.total,
        "pages": max(1, -(-found.total // PER_PAGE)),
        "cables": [c.to_json() for c in found.items],
        "facets": _facets(arch, filters),
    }
    return Page("cables.html", data)


# -- search --------------------------------------------------------------------------------


def search(arch: Archive, query: dict[str, Any]) -> Page:
    """Full-text search (with field terms such as tag:PREL) and facet filters; highlighted snippets."""
    q = params.text(query.get("q"), "query")
    page = params.page(query.get("page"))
    filters = _filters(query)
    data: dict[str, Any] = {
        "query": q,
        "filters": _filter_args(query),
        "page": page,
        "per_page": HITS_PER_PAGE,
    }
    if not q and not data["filters"]:
        return Page("search.html", {**data, "total": 0, "pages": 1, "hits": [], "facets": {}})
    try:
        found = query_api.search(
            arch, q or "", filters, offset=(page - 1) * HITS_PER_PAGE, limit=HITS_PER_PAGE
        )
    except QueryError as exc:
        raise params.bad(str(exc)) from None
    # No facet counts here: counting every facet over all the matches of a common word takes
    # seconds on a large archive; the header's fields filter the search instead (form and
    # field terms), and the cables list has the facets.
    data.update(
        total=found.total,
        pages=max(1, -(-found.total // HITS_PER_PAGE)),
        hits=[h.to_json() for h in found.items],
        facets={},
    )
    return Page("search.html", data)


# -- a cable -------------------------------------------------------------------------------


def cable(arch: Archive, ref: str, query: dict[str, Any]) -> Page:
    """A cable: metadata, text with paragraph anchors, references, versions, mirrors."""
    record = cable_record(arch, ref)
    v = _version_of(record, params.version(query.get("v")))
    state = record.state(v)
    meta = state.metadata
    text = state.text
    paragraphs = [{"anchor": f"p{n}", "text": p} for n, p in enumerate(paragraphs_of(text), 1)]
    cites = [
        {"label": c.label, "text": c.text, "kind": c.kind, "id": c.cited_id, "archived": c.archived_ref}
        for c in query_api.cites(arch, ref)
    ]
    preferred = (meta.get("preferred") or {}).get("source")
    entries = {s.get("key"): s for s in meta.get("sources") or [] if isinstance(s, dict)}
    base = Counter(_TOKEN_RE.findall(text))
    mirrors = []
    for key in sorted(state.sources):
        src_text, prov = state.sources[key]
        entry = entries.get(key, {})
        cap = prov.get("capture") or {}
        mirrors.append(
            {
                "key": key,
                "url": prov.get("final_url") or prov.get("url"),
                "fetched_at": prov.get("fetched_at"),
                "family": entry.get("family") or (prov.get("cleaning") or {}).get("family"),
                "preferred": key == preferred,
                "fidelity": entry.get("fidelity"),
                "distance": entry.get("distance"),
                "distance_to_preferred": round(
                    1.0 - similarity(base, Counter(_TOKEN_RE.findall(src_text))), 6
                ),
                "capture": params.capture_token(cap["record_id"]) if cap.get("record_id") else None,
            }
        )
    timeline = []
    for entry in record.log():
        item = entry.to_json()
        for s in item["sources"]:
            rid = (s.get("capture") or {}).get("record_id")
            s["capture_token"] = params.capture_token(rid) if rid else None
        if entry.version > 1:
            d = diff_texts(record.text(entry.version - 1), record.text(entry.version), ignore_wrapping=True)
            item["summary"] = d.summary().split(": ", 1)[-1]
            item["counts"] = d.counts()
        else:
            item["summary"] = "first archived version"
            item["counts"] = {}
        timeline.append(item)
    shown = {
        k: meta.get(k)
        for k in (
            "subject",
            "created",
            "released",
            "classification",
            "origin",
            "canonical_id",
            "tags",
            "signers",
            "classified_by",
            "summary",
            "partial",
        )
        if meta.get(k) not in (None, "", [])
    }
    data = {
        "ref": ref,
        "version": v,
        "head": record.head,
        "metadata": shown,
        "preferred": meta.get("preferred"),
        "text": text,
        "paragraphs": paragraphs,
        "cites": cites,
        "cited_by": [
            {"ref": c.cable.ref, "subject": c.cable.subject, "date": c.cable.date, "label": c.label}
            for c in query_api.cited_by(arch, ref)
        ],
        "versions": timeline,
        "mirrors": mirrors,
    }
    return Page("cable.html", data)


def paragraphs_of(text: str) -> list[str]:
    """The text cut into paragraphs (blank lines and paragraph numbers start one); joined with newlines they are the text."""
    out: list[list[str]] = [[]]
    for line in text.split("\n"):
        if out[-1] and (not line.strip() or _PARAGRAPH_START.match(line)) and any(x.strip() for x in out[-1]):
            out.append([])
        out[-1].append(line)
    return ["\n".join(p) for p in out]


# -- diffs ---------------------------------------------------------------------------------


def diff(arch: Archive, ref: str, query: dict[str, Any]) -> Page:
    """A diff between two versions of a cable, or two of its mirrors, at any versions."""
    record = cable_record(arch, ref)
    old_v = params.version(query.get("old"), "old version")
    new_v = params.version(query.get("new"), "new version")
    old_src = params.source(query.get("old_source"))
    new_src = params.source(query.get("new_source"))
    wrapping = params.choice(query.get("wrapping"), WRAPPING, "wrapping")
    view = params.choice(query.get("view"), DIFF_VIEWS, "view")
    head = int(record.head)
    if old_v is None and new_v is None and old_src is None and new_src is None:
        if head >= 2:
            old_v, new_v = head - 1, head
        else:
            keys = record.source_keys(head)
            preferred = (record.metadata(head).get("preferred") or {}).get("source")
            others = [k for k in keys if k != preferred]
            if not others or preferred not in keys:
                raise not_found(f"{ref} has one version and one source: nothing to compare")
            old_src, new_src = preferred, others[0]
    old_n = _version_of(record, old_v if old_v is not None else (new_v if new_v is not None else head))
    new_n = _version_of(record, new_v if new_v is not None else head)
    old_text, old_label = _side(record, old_n, old_src)
    new_text, new_label = _side(record, new_n, new_src)
    d = diff_texts(
        old_text,
        new_text,
        title=f"{old_label} → {new_label}",
        old_label=old_label,
        new_label=new_label,
        ignore_wrapping=wrapping == "hide",
    )
    data = {
        "ref": ref,
        "old": {"version": old_n, "source": old_src},
        "new": {"version": new_n, "source": new_src},
        "wrapping": wrapping,
        "view": view,
        "versions": list(range(1, head + 1)),
        "sources": record.source_keys(new_n),
        "diff": d.to_json(),
    }
    return Page("compare.html", data, {"view_model": diff_view(d, "h")})


def _side(record: Any, n: int, key: str | None) -> tuple[str, str]:
    """(text, label) of one side of a diff: the preferred text at a version, or one source's."""
    if key is None:
        return record.text(n), f"{record.ref} v{n}"
    if key not in record.source_keys(n):
        raise not_found(f"{record.ref} v{n} has no source {key}")
    return record.source(key, n)[0], f"{record.ref} v{n} {key}"


# -- captures ------------------------------------------------------------------------------


def capture_of(arch: Archive, token: str) -> Any:
    """The capture a token names, or 404."""
    rid = params.record_id(token)
    cap = arch.capture(rid)
    if cap is None:
        raise not_found(f"no capture {token} in this archive")
    return cap


def capture(arch: Archive, token: str) -> Page:
    """A capture's provenance, the cables made from it, and the page as it was served."""
    cap = capture_of(arch, token)
    status, headers, body = read_capture(arch, cap)
    title = None
    with contextlib.suppress(Exception):  # any page, however broken, still gets its capture page
        import lxml.html

        title = lxml.html.fromstring(body[:2_000_000]).findtext(".//title")
    data = {
        "token": token,
        "record_id": cap.record_id,
        "url": cap.url,
        "final_url": cap.final_url,
        "fetched_at": cap.fetched_at,
        "status": cap.status,
        "served_status": status,
        "mime": cap.mime,
        "payload_digest": cap.payload_digest,
        "revisit": cap.revisit_profile,
        "refers_to": cap.refers_to,
        "etag": cap.etag,
        "last_modified": cap.last_modified,
        "warc": {"file": cap.warc_file, "offset": cap.offset, "length": cap.length},
        "cleaned_under": cap.cleaned,
        "headers": [[k, v] for k, v in headers],
        "title": title,
        "size": len(body),
        "cables": [{"ref": r, "source": k} for r, k in index.sources_of_capture(arch.conn, cap.record_id)],
    }
    return Page("capture.html", data)


def read_capture(arch: Archive, cap: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a capture; 404 when its record cannot be read."""
    try:
        return arch.read_capture(cap)
    except ArchiveError as exc:
        raise not_found(str(exc)) from None


def warc_record(arch: Archive, cap: Any) -> bytes:
    """The capture's WARC record as stored (one gzip member of its WARC file)."""
    path = arch.layout.warc_path(cap.warc_file)
    try:
        with open(path, "rb") as fh:
            fh.seek(cap.offset)
            return fh.read(cap.length)
    except OSError as exc:
        raise not_found(f"{cap.warc_file}: {exc.strerror or exc}") from None


# -- feeds ---------------------------------------------------------------------------------


def feed(arch: Archive, ref: str | None = None) -> Page:
    """An Atom feed: an entry per new version, with its classified summary and its diff."""
    if ref is not None:
        cable_record(arch, ref)
    entries = []
    for r, n, created, message, subject in index.newest_versions(arch.conn, FEED_ENTRIES, ref):
        entry = _version_entry(arch, r, n, created, message, subject, with_diff=True)
        d: Diff | None = entry.pop("_diff", None)
        entry["diff"] = d.to_json() if d is not None else None
        entries.append((entry, diff_view(d, f"{r}-v{n}-h") if d is not None else None))
    updated = max((e["created"] or "" for e, _v in entries), default="") or None
    data = {
        "ref": ref,
        "title": f"{ref}: new versions" if ref else "New versions in the archive",
        "updated": updated,
        "entries": [e for e, _v in entries],
    }
    return Page("feed.xml", data, {"views": [v for _e, v in entries]})
