"""Finding cables: paged lists with filters and facets, full-text search with field queries and
highlighted snippets, and the citation graph (what a cable cites, what cites it).

The results are typed records; snippets are spans of plain text marked as hits or not, so
that each display (a terminal, a web page, JSON) escapes and highlights them its own way.
Every SQL statement is in `archive.index`; this module says what to ask and types the answer.

    page = list_cables(arch, Filters(origins=("KABUL",)), sort="date", offset=0, limit=50)
    counts = facets(arch, Filters(tags=("PREL",)))
    hits = search(arch, 'Karzai tag:PREL origin:"Embassy Kabul"', offset=0, limit=20)
    graph = refs(arch, "07STATE71143")
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
import os
import re
import unicodedata
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from archive import index, ocfl
from archive.errors import ArchiveError, QueryError
from archive.folder import ArchiveFolder
from archive.ids import check_reference
from archive.index import FACETS, SORTS, Filters
from archive.layout import CABLE_TEXT

__all__ = [
    "FACETS",
    "FIELDS",
    "SORTS",
    "CableItem",
    "CableRefs",
    "Citation",
    "CitingCable",
    "FacetCount",
    "Filters",
    "Hit",
    "Page",
    "ParsedQuery",
    "QueryError",
    "Span",
    "cited_by",
    "cites",
    "count_cables",
    "date_bound",
    "facets",
    "iter_cables",
    "list_cables",
    "parse_query",
    "plain",
    "refs",
    "search",
]

T = TypeVar("T")

# The field terms of a search query and the filter each one sets; `subject:` and `body:` are the
# full-text columns and stay in the full-text expression.
FIELDS = {
    "tag": "tags",
    "tags": "tags",
    "origin": "origins",
    "classification": "classifications",
    "class": "classifications",
    "ref": "cites",
    "cites": "cites",
    "year": "years",
    "from": "date_from",
    "to": "date_to",
}
_FTS_COLUMNS = ("subject", "body")
_OPERATORS = ("AND", "OR", "NOT")
MAX_LIMIT = 1000
# A search finding more cables than this is shown newest first rather than ranked (Page.order).
RANK_LIMIT = 20000


@dataclass(frozen=True)
class CableItem:
    """One cable in a list or a search: its header fields as indexed."""

    ref: str
    canonical_id: str | None
    date: str | None  # the cable's own date, `2009-12-29 17:05`
    origin: str | None
    classification: str | None
    subject: str | None
    head: int
    n_sources: int
    archived: str | None  # when the first version was written
    updated: str | None  # when the head version was written
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {**self.__dict__, "tags": list(self.tags)}


@dataclass(frozen=True)
class Span:
    """A piece of a snippet: plain text as the cable has it, and whether it matches the query."""

    text: str
    hit: bool = False

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"text": self.text, "hit": self.hit}


@dataclass(frozen=True)
class Hit:
    """A search result: the cable, its score (higher is better; None for a filter-only query), and
    the piece of its text and its subject with the query's words marked."""

    cable: CableItem
    score: float | None
    snippet: tuple[Span, ...] = ()
    subject: tuple[Span, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form: the cable's fields, the score, the snippet as spans and as marked text."""
        return {
            **self.cable.to_json(),
            "score": self.score,
            "snippet": plain(self.snippet),
            "spans": [s.to_json() for s in self.snippet],
            "subject_spans": [s.to_json() for s in self.subject],
        }


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results: the items, how many there are in all, and where the page starts."""

    items: list[T]
    total: int
    offset: int
    limit: int
    # The order the items are in: "rank" (best match first), "date", "id" or "origin".
    order: str = "date"
    descending: bool = False

    @property
    def has_next(self) -> bool:
        """True when results follow this page."""
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class FacetCount:
    """A value of a facet and how many cables have it."""

    value: str
    count: int


@dataclass(frozen=True)
class Citation:
    """One reference of a cable: as written, the cited cable's ID, and the archived cable it names."""

    label: str | None
    text: str | None
    kind: str  # "cable" or "other"
    cited_id: str | None  # canonical ID of the cited cable (None: not a cable, or not read)
    archived_ref: str | None  # the archive's cable with that ID, or None when it is not archived

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {**self.__dict__, "in_archive": self.archived_ref is not None}


@dataclass(frozen=True)
class CitingCable:
    """An archived cable whose references name a given cable, and the reference as it wrote it."""

    cable: CableItem
    label: str | None
    text: str | None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {**self.cable.to_json(), "label": self.label, "text": self.text}


@dataclass(frozen=True)
class CableRefs:
    """A cable's place in the citation graph: what it cites and which archived cables cite it."""

    ref: str
    canonical_id: str
    archived: bool
    cites: list[Citation] = field(default_factory=list)
    cited_by: list[CitingCable] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "reference_id": self.ref,
            "canonical_id": self.canonical_id,
            "in_archive": self.archived,
            "cites": [c.to_json() for c in self.cites],
            "cited_by": [c.to_json() for c in self.cited_by],
        }


@dataclass(frozen=True)
class ParsedQuery:
    """A search query taken apart: the full-text expression (FTS5 syntax, as written) and the
    filters its field terms set; `terms` are what snippets mark (phrases as word tuples)."""

    match: str | None
    filters: Filters
    terms: tuple[tuple[str, ...], ...] = ()
    prefixes: tuple[str, ...] = ()


# -- filters


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def date_bound(value: str, what: str = "date") -> str:
    """A `YYYY[-MM[-DD]]` date checked as a real date; QueryError naming it otherwise."""
    m = _DATE.match(value.strip())
    if not m:
        raise QueryError(f"{what} {value!r} is not a date: write YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = m.group(1), m.group(2), m.group(3)
    try:
        _dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise QueryError(f"{what} {value!r} is not a date") from None
    return value.strip()


def _checked(f: Filters) -> Filters:
    """The filters with their dates checked and empty values refused."""
    for name in ("origins", "classifications", "tags", "cites"):
        for value in getattr(f, name):
            if not value.strip():
                raise QueryError(f"an empty {name[:-1]} filter")
    if f.subject is not None and not _WORD.search(f.subject):
        raise QueryError(f"subject filter {f.subject!r} holds no word to look for")
    return replace(
        f,
        date_from=date_bound(f.date_from, "from") if f.date_from else None,
        date_to=date_bound(f.date_to, "to") if f.date_to else None,
        cites=tuple(c.strip().upper() for c in f.cites),
    )


def merge(a: Filters, b: Filters) -> Filters:
    """Filters that keep what both keep (the lists joined; a date bound of b wins)."""
    return Filters(
        origins=a.origins + b.origins,
        classifications=a.classifications + b.classifications,
        tags=a.tags + b.tags,
        years=a.years + b.years,
        date_from=b.date_from or a.date_from,
        date_to=b.date_to or a.date_to,
        subject=b.subject or a.subject,
        cites=a.cites + b.cites,
    )


# -- reading results


def _item(row: tuple[Any, ...], tags: dict[str, list[str]]) -> CableItem:
    ref, canonical, date, origin, classification, subject, head, n_sources, created, updated = row[:10]
    return CableItem(
        ref, canonical, date, origin, classification, subject, head, n_sources or 0, created, updated,
        tuple(tags.get(ref, ())),
    )  # fmt: skip


def _items(arch: ArchiveFolder, rows: list[tuple[Any, ...]]) -> list[CableItem]:
    tags = index.tags_of(arch.conn, list({r[0] for r in rows}))
    return [_item(r, tags) for r in rows]


def _limits(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0 or limit < 1:
        raise QueryError(f"offset {offset} and limit {limit}: the offset is 0 or more, the limit 1 or more")
    if limit > MAX_LIMIT:
        raise QueryError(
            f"a page holds at most {MAX_LIMIT} results, not {limit} (use offset for the next ones)"
        )
    return offset, limit


# Counts and facets of the same filters are asked again and again (each page of a list, each
# view of the web site); they are kept, for each archive, until its index changes: another
# connection's commit (data_version), this connection's own (total_changes), or a new index
# file (reindex swaps one in).
_CACHES: weakref.WeakKeyDictionary[ArchiveFolder, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()
_CACHE_MAX = 256


def _cached(arch: ArchiveFolder, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    conn = arch.conn
    try:
        st = os.stat(arch.index_path)
        file_id: tuple[int, int] = (st.st_ino, st.st_mtime_ns)
    except OSError:
        file_id = (0, 0)
    full = (id(conn), file_id, index.data_version(conn), conn.total_changes, *key)
    cache = _CACHES.setdefault(arch, {})
    if full in cache:
        return cache[full]
    value = compute()
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[full] = value
    return value


def clear_cache() -> None:
    """Forget every count and facet kept (for measurements)."""
    _CACHES.clear()


def _check_sort(sort: str | None) -> None:
    if sort is not None and sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}: one of {', '.join(SORTS)}")


def list_cables(
    arch: ArchiveFolder,
    filters: Filters | None = None,
    sort: str = "date",
    descending: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> Page[CableItem]:
    """A page of the archived cables the filters keep, sorted by date, id or origin."""
    f = _checked(filters or Filters())
    _check_sort(sort)
    offset, limit = _limits(offset, limit)
    rows = index.cable_page(arch.conn, f, sort, descending, offset, limit)
    total = _cached(arch, ("count", f, None), lambda: index.cable_count(arch.conn, f))
    return Page(_items(arch, rows), total, offset, limit, sort, descending)


def iter_cables(
    arch: ArchiveFolder,
    filters: Filters | None = None,
    sort: str = "date",
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[CableItem]:
    """The cables the filters keep, in order, read as they come (for a list of the whole archive)."""
    f = _checked(filters or Filters())
    _check_sort(sort)
    if offset < 0 or (limit is not None and limit < 1):
        raise QueryError(f"offset {offset} and limit {limit}: the offset is 0 or more, the limit 1 or more")
    rows = index.iter_cable_rows(arch.conn, f, sort, descending, offset, limit)
    while batch := list(itertools.islice(rows, 500)):
        yield from _items(arch, batch)


def count_cables(arch: ArchiveFolder, filters: Filters | None = None) -> int:
    """How many cables the filters keep."""
    f = _checked(filters or Filters())
    return int(_cached(arch, ("count", f, None), lambda: index.cable_count(arch.conn, f)))


def facets(
    arch: ArchiveFolder, filters: Filters | None = None, query: str | None = None, limit: int = 50
) -> dict[str, list[FacetCount]]:
    """For each facet (origin, classification, year, tags), its values with their counts among the
    cables the filters (and the query, if given) keep; each facet ignores its own filter, so the
    other values stay offered. Most frequent first; years in order."""
    f = _checked(filters or Filters())
    match = None
    if query:
        parsed = parse_query(query)
        match, f = parsed.match, merge(f, parsed.filters)
    out: dict[str, list[FacetCount]] = {}
    for name in FACETS:
        g = f.without(name)
        rows = _cached(
            arch,
            ("facet", name, g, match, limit),
            functools.partial(index.facet_counts, arch.conn, name, g, match, limit),
        )
        out[name] = [FacetCount(str(v), int(n)) for v, n in rows]
    return out


def search(
    arch: ArchiveFolder,
    query: str,
    filters: Filters | None = None,
    offset: int = 0,
    limit: int = 20,
    sort: str | None = None,
    descending: bool = False,
) -> Page[Hit]:
    """Full-text search with field terms (see parse_query), best match first unless sorted by
    date, id or origin (or when it finds more than RANK_LIMIT cables: then newest first, as
    Page.order says); QueryError for a query that cannot run as written."""
    parsed = parse_query(query, allow_empty=filters is not None and filters != Filters())
    f = _checked(merge(filters or Filters(), parsed.filters))
    _check_sort(sort)
    offset, limit = _limits(offset, limit)
    conn = arch.conn
    match = parsed.match
    if match is None:
        sort = sort or "date"
        rows = index.cable_page(conn, f, sort, descending, offset, limit)
        total = _cached(arch, ("count", f, None), lambda: index.cable_count(conn, f))
    else:
        total = _cached(arch, ("count", f, match), lambda: index.cable_count(conn, f, match))
        if sort is None and total > RANK_LIMIT:
            # Ranking computes a score for every match: for a word found in most of the archive
            # that takes seconds and says little. Newest first instead, and the page says so.
            sort, descending = "date", True
        rows = index.search_page(conn, match, f, sort, descending, offset, limit)
    scores = (
        [None if r[10] is None else round(float(r[10]), 4) for r in rows] if match else [None] * len(rows)
    )
    hits = []
    items = _items(arch, rows)
    # A search of cited cables alone: the snippet is the reference that names them.
    naming = index.references_naming(conn, [i.ref for i in items], list(f.cites)) if match is None else {}
    for item, score in zip(items, scores, strict=True):
        snippet: tuple[Span, ...] = ()
        if parsed.terms or parsed.prefixes:
            text = _head_text(arch, item.ref)
            snippet = _snippet(text, parsed) if text is not None else ()
        elif naming.get(item.ref):
            spans: list[Span] = []
            for label, ref_text in naming[item.ref]:
                lead = ("; " if spans else "REF ") + (f"{label}. " if label else "")
                spans += [Span(lead), Span(ref_text or "", True)]
            snippet = tuple(spans)
        hits.append(Hit(item, score, snippet, _mark(item.subject or "", parsed)))
    return Page(hits, total, offset, limit, sort or "rank", descending)


def _head_text(arch: ArchiveFolder, ref: str) -> str | None:
    """The preferred text at the head version, or None when it cannot be read (the hit stays)."""
    try:
        obj_dir = arch.object_dir(ref)
        inv = ocfl.load_inventory(obj_dir)
        if inv is None:
            return None
        return ocfl.read_logical(obj_dir, inv, CABLE_TEXT).decode("utf-8", "replace")
    except (OSError, ValueError, KeyError, ArchiveError):
        return None


def _resolve(arch: ArchiveFolder, ref: str) -> tuple[str, str, bool]:
    """(ref, canonical ID, archived) of the cable a REF names: by its own ID, else by canonical ID."""
    check_reference(ref)
    found = index.find_cable(arch.conn, ref)
    if found is None:
        return ref, ref, False
    return found[0], found[1] or found[0], True


def cites(arch: ArchiveFolder, ref: str) -> list[Citation]:
    """What a cable cites, in its order, each with the archived cable it names (empty when the
    cable is not archived)."""
    own, _canonical, archived = _resolve(arch, ref)
    if not archived:
        return []
    return [Citation(*row) for row in index.citations_of(arch.conn, own)]


def cited_by(arch: ArchiveFolder, ref: str) -> list[CitingCable]:
    """The archived cables whose references name this cable (archived or not), by date."""
    own, canonical, _archived = _resolve(arch, ref)
    rows = index.citing(arch.conn, [own, canonical])
    items = _items(arch, rows)
    return [CitingCable(item, row[10], row[11]) for item, row in zip(items, rows, strict=True)]


def refs(arch: ArchiveFolder, ref: str) -> CableRefs:
    """Both directions of the citation graph around one cable (BadReference for a REF that is no ID)."""
    own, canonical, archived = _resolve(arch, ref)
    return CableRefs(own, canonical, archived, cites(arch, own) if archived else [], cited_by(arch, own))


# -- queries


_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<field>(?P<name>[A-Za-z_]+):(?P<value>"(?:[^"]|"")*"|[^\s()"]+))
    |(?P<phrase>"(?:[^"]|"")*"\*?)
    |(?P<open>\()
    |(?P<close>\))
    |(?P<quote>")
    |(?P<word>[^\s()"]+)""",
    re.VERBOSE,
)
_WORD = re.compile(r"\w+")


def _fold(word: str) -> str:
    """A word as FTS5's unicode61 tokenizer compares it: case folded, diacritics removed."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def parse_query(query: str, allow_empty: bool = False) -> ParsedQuery:
    """Split a query into its full-text expression and its field terms; QueryError when it cannot run.

    Words, "phrases", prefix*, AND/OR/NOT, NEAR() and ( ) are SQLite FTS5's syntax and pass on as
    written; `subject:` and `body:` limit a term to one column. Field terms are filters every hit
    meets: tag:PREL, origin:KABUL or origin:"Embassy Kabul", classification:SECRET, ref:07STATE71143,
    year:2009, from:2009-06, to:2009-12. A query is never rewritten: a quote or parenthesis left
    open, an operator with nothing on one side, or a field term joined by an operator is refused.
    """
    pieces: list[str] = []
    values: dict[str, list[str]] = {}
    kinds: list[tuple[str, str]] = []  # (kind, text) of the full-text expression's tokens and fields
    depth = 0
    for m in _TOKEN.finditer(query):
        kind = m.lastgroup or ""
        text = m.group(0)
        if kind == "space":
            continue
        if kind == "quote":
            raise QueryError(f"invalid query {query!r}: a double quote is not closed")
        if kind == "field":
            name = m.group("name").lower()
            if name in _FTS_COLUMNS:
                kind = "word"
            elif name not in FIELDS:
                known = ", ".join(
                    f"{k}:" for k in ("tag", "origin", "classification", "ref", "year", "from", "to")
                )
                raise QueryError(
                    f"invalid query {query!r}: unknown field {m.group('name')!r}; fields are {known} "
                    f'(and subject:, body: for words in one part); quote a word with a colon: "{text}"'
                )
            else:
                if depth:
                    raise QueryError(
                        f"invalid query {query!r}: {text} is a filter every hit meets; it cannot be inside ( )"
                    )
                value = m.group("value")
                if value.startswith('"'):
                    value = value[1:-1].replace('""', '"')
                if not value.strip():
                    raise QueryError(f"invalid query {query!r}: {text} has no value")
                values.setdefault(FIELDS[name], []).append(value.strip())
                kinds.append(("field", text))
                continue
        if kind == "word" and text.endswith(":") and text[:-1].lower() in FIELDS:
            raise QueryError(
                f'invalid query {query!r}: {text} has no value (write {text}VALUE, or {text}"two words")'
            )
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            if depth < 0:
                raise QueryError(f"invalid query {query!r}: a ) closes no (")
        kinds.append((kind, text))
        pieces.append(text)
    if depth:
        raise QueryError(f"invalid query {query!r}: a ( is not closed")
    for i, (kind, text) in enumerate(kinds):
        if kind != "field":
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(kinds) and kinds[j][0] == "word" and kinds[j][1] in _OPERATORS:
                raise QueryError(
                    f"invalid query {query!r}: {text} is a filter every hit meets; it cannot be joined "
                    f"with {kinds[j][1]} (write words and filters side by side: `Karzai {text}`)"
                )
    expression = [(k, t) for k, t in kinds if k != "field"]
    if expression and expression[0] == ("word", "NOT"):
        raise QueryError(
            f"invalid query {query!r}: NOT needs words before it (`Karzai NOT Taliban` finds cables with the "
            "first word and without the second); a query of only NOT finds nothing to exclude from"
        )
    filters = _filters_of(query, values)
    match = " ".join(pieces) or None
    if match is None and not values and not allow_empty:
        raise QueryError("an empty query: give words to find or a field term (tag:PREL)")
    terms, prefixes = _terms(kinds)
    return ParsedQuery(match, filters, terms, prefixes)


def _filters_of(query: str, values: dict[str, list[str]]) -> Filters:
    years = []
    for y in values.get("years", []):
        if not re.fullmatch(r"\d{4}", y):
            raise QueryError(f"invalid query {query!r}: year:{y} is not a year (write year:2009)")
        years.append(int(y))
    for name in ("date_from", "date_to"):
        if len(values.get(name, [])) > 1:
            raise QueryError(f"invalid query {query!r}: more than one {name[5:]}: term")
    return Filters(
        origins=tuple(values.get("origins", [])),
        classifications=tuple(values.get("classifications", [])),
        tags=tuple(values.get("tags", [])),
        years=tuple(years),
        date_from=date_bound(values["date_from"][0], "from") if values.get("date_from") else None,
        date_to=date_bound(values["date_to"][0], "to") if values.get("date_to") else None,
        cites=tuple(v.upper() for v in values.get("cites", [])),
    )


def _terms(kinds: list[tuple[str, str]]) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """The words and phrases a snippet marks, and the prefixes (what follows NOT is not marked)."""
    terms: list[tuple[str, ...]] = []
    prefixes: list[str] = []
    skip = 0  # depth of a group after NOT, or 1 for a single term after NOT
    negated = False
    depth = 0
    for kind, text in kinds:
        if kind == "open":
            depth += 1
            continue
        if kind == "close":
            depth -= 1
            if negated and depth < skip:
                negated = False
            continue
        if kind == "field":
            continue
        if kind == "word" and text in ("AND", "OR", "NOT", "NEAR"):
            if text == "NOT":
                negated, skip = True, depth + 1
            continue
        if negated and depth < skip:
            negated = False  # the single term after NOT: skip it
            continue
        if negated:
            continue
        body = text.split(":", 1)[1] if kind == "word" and ":" in text else text
        star = body.endswith("*")
        body = body.rstrip("*").strip('"').replace('""', '"')
        words = tuple(_fold(w) for w in _WORD.findall(body))
        if not words:
            continue
        if star:
            if len(words) > 1:
                terms.append(words[:-1])
            prefixes.append(words[-1])
        else:
            terms.append(words)
    return tuple(dict.fromkeys(terms)), tuple(dict.fromkeys(prefixes))


# -- snippets


@functools.lru_cache(maxsize=8192)
def _base(ch: str) -> str:
    """A character without its diacritics, when that is one character (é -> e), else itself."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return bare if len(bare) == 1 else ch


def _folded(text: str) -> str:
    """Text with its diacritics removed, character for character (so positions stay the same)."""
    if text.isascii():
        return text
    table = {ord(ch): base for ch in set(text) if not ch.isascii() and (base := _base(ch)) != ch}
    # Most non-ASCII characters of cables (curly quotes, ¶) have no diacritics to remove, and
    # translate() walks the whole text even when the table changes nothing.
    return text.translate(table) if table else text


@functools.lru_cache(maxsize=256)
def _pattern(terms: tuple[tuple[str, ...], ...], prefixes: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression finding every term (group tN) and prefix (group pN) as whole words."""
    alts = [f"(?P<t{n}>" + r"\W+".join(re.escape(w) for w in term) + ")" for n, term in enumerate(terms)]
    alts += [f"(?P<p{n}>{re.escape(p)}\\w*)" for n, p in enumerate(prefixes)]
    if not alts:
        return None
    # \b, not look-arounds: the regular expression engine runs it four times faster.
    return re.compile(r"\b(?:" + "|".join(alts) + r")\b", re.IGNORECASE)


def _matches(text: str, q: ParsedQuery) -> list[tuple[int, int, int]]:
    """(start, end, term number) of each place the query's terms occur in text, in order."""
    pattern = _pattern(q.terms, q.prefixes)
    if pattern is None:
        return []
    out = []
    for m in pattern.finditer(_folded(text)):
        name = m.lastgroup or "t0"
        n = int(name[1:]) + (len(q.terms) if name[0] == "p" else 0)
        out.append((m.start(), m.end(), n))
    return out


def _spans(text: str, marks: list[tuple[int, int, int]], start: int, end: int) -> list[Span]:
    spans: list[Span] = []
    pos = start
    for s, e, _n in marks:
        if s < pos or e > end:
            continue
        if s > pos:
            spans.append(Span(re.sub(r"\s+", " ", text[pos:s])))
        spans.append(Span(re.sub(r"\s+", " ", text[s:e]), True))
        pos = e
    if pos < end:
        spans.append(Span(re.sub(r"\s+", " ", text[pos:end])))
    return spans


def _mark(text: str, q: ParsedQuery) -> tuple[Span, ...]:
    """The whole of a short text (a subject) with the query's terms marked."""
    if not text:
        return ()
    return tuple(_spans(text, _matches(text, q), 0, len(text)))


def _snippet(text: str, q: ParsedQuery, width: int = 200) -> tuple[Span, ...]:
    """The piece of text, about `width` characters, where the most of the query's terms occur."""
    marks = _matches(text, q)
    if not marks:
        end = min(len(text), width)
        spans = _spans(text, [], 0, end)
        return tuple(spans + ([Span("…")] if end < len(text) else []))
    best, best_key = 0, (-1, 0)
    reach = width * 3 // 4
    for i, (s, _e, _n) in enumerate(marks[:200]):  # a word found everywhere: its first places will do
        inside = set()
        for _s2, e2, n in marks[i:]:
            if e2 > s + reach:
                break
            inside.add(n)
        key = (len(inside), -s)
        if key > best_key:
            best, best_key = i, key
    anchor = marks[best][0]
    start = max(0, anchor - width // 4)
    # Start and end at whitespace, so no word is cut.
    if start > 0:
        space = text.rfind(" ", 0, start + 1)
        nl = text.rfind("\n", 0, start + 1)
        start = max(space, nl) + 1 if max(space, nl) >= 0 else 0
    end = min(len(text), start + width)
    if end < len(text):
        cut = max(text.rfind(" ", anchor, end), text.rfind("\n", anchor, end))
        if cut > anchor:
            end = cut
    spans = _spans(text, marks, start, end)
    if spans and not spans[0].hit:
        spans[0] = Span(spans[0].text.lstrip())
    if spans and not spans[-1].hit:
        spans[-1] = Span(spans[-1].text.rstrip())
    spans = [s for s in spans if s.text]
    return tuple(([Span("…")] if start > 0 else []) + spans + ([Span("…")] if end < len(text) else []))


def plain(spans: tuple[Span, ...] | list[Span], before: str = "**", after: str = "**") -> str:
    """Spans as one line of plain text, hits between markers (`**word**`)."""
    return "".join(f"{before}{s.text}{after}" if s.hit else s.text for s in spans)
