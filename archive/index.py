"""index.sqlite: a derived, rebuildable index of captures, cables, versions, sources and full text.

This module holds every SQL statement of the archive; the rest asks it by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from archive import ocfl
from archive.captures import Capture
from archive.errors import ArchiveError, DamagedIndex, DiskFull, QueryError
from archive.layout import CABLE_JSON, CABLE_TEXT, Layout, source_text

# 2: the header fields (canonical ID, post, year, classification level), tags and citations;
# 3: tags carry their cable's date (a tag's cables in date order from its index); tag_counts;
# 4: tags also carry their cable's full-text rowid, origin, post, classification and year (a
#    tag's cables matched against a search, and counted by facet, in the tags index alone).
SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS captures(
  id INTEGER PRIMARY KEY,
  record_id TEXT UNIQUE NOT NULL,
  url TEXT NOT NULL,
  fetched_at TEXT NOT NULL,
  status INTEGER,
  mime TEXT,
  digest TEXT,
  filename TEXT NOT NULL,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL,
  revisit TEXT,
  refers_to TEXT,
  final_url TEXT,
  etag TEXT,
  last_modified TEXT,
  cleaned TEXT
);
CREATE INDEX IF NOT EXISTS captures_url ON captures(url, fetched_at);
CREATE INDEX IF NOT EXISTS captures_digest ON captures(digest);
CREATE TABLE IF NOT EXISTS cables(
  id INTEGER PRIMARY KEY,
  ref TEXT UNIQUE NOT NULL,
  head INTEGER NOT NULL,
  created TEXT,
  updated TEXT,
  subject TEXT,
  classification TEXT,
  origin TEXT,
  date TEXT,
  n_sources INTEGER,
  preferred TEXT,
  fts_rowid INTEGER,
  canonical_id TEXT,
  post TEXT,
  year INTEGER,
  level TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS cables_fts ON cables(fts_rowid);
CREATE INDEX IF NOT EXISTS cables_date ON cables(date, ref);
CREATE INDEX IF NOT EXISTS cables_origin ON cables(origin COLLATE NOCASE, date);
CREATE INDEX IF NOT EXISTS cables_origin_post ON cables(origin COLLATE NOCASE, post);
CREATE INDEX IF NOT EXISTS cables_post ON cables(post, date);
CREATE INDEX IF NOT EXISTS cables_post_class ON cables(post, classification);
CREATE INDEX IF NOT EXISTS cables_post_year ON cables(post, year);
CREATE INDEX IF NOT EXISTS cables_level ON cables(level, date);
CREATE INDEX IF NOT EXISTS cables_class ON cables(classification, date);
CREATE INDEX IF NOT EXISTS cables_year ON cables(year, date);
CREATE INDEX IF NOT EXISTS cables_canonical ON cables(canonical_id);
CREATE TABLE IF NOT EXISTS tags(
  ref TEXT NOT NULL, seq INTEGER NOT NULL, tag TEXT NOT NULL, date TEXT,
  fts_rowid INTEGER, origin TEXT, classification TEXT, year INTEGER, post TEXT,
  PRIMARY KEY(ref, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_post ON tags(post, tag COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag COLLATE NOCASE, date, ref, fts_rowid);
CREATE INDEX IF NOT EXISTS tags_fts ON tags(tag COLLATE NOCASE, fts_rowid, origin COLLATE NOCASE, classification, year);
CREATE TABLE IF NOT EXISTS tag_counts(tag TEXT PRIMARY KEY COLLATE NOCASE, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS citations(
  ref TEXT NOT NULL, seq INTEGER NOT NULL, cited TEXT, label TEXT, text TEXT, kind TEXT,
  PRIMARY KEY(ref, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS citations_cited ON citations(cited, ref);
CREATE TABLE IF NOT EXISTS versions(
  ref TEXT NOT NULL, number INTEGER NOT NULL, created TEXT, message TEXT, user TEXT,
  PRIMARY KEY(ref, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources(
  ref TEXT NOT NULL, key TEXT NOT NULL, url TEXT, text_digest TEXT, meta_digest TEXT,
  capture_id TEXT, fidelity REAL,
  PRIMARY KEY(ref, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sources_key ON sources(key);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(subject, body, content='');
"""

_CAPTURE_COLS = (
    "record_id, url, fetched_at, status, mime, digest, filename, offset, length, "
    "revisit, refers_to, final_url, etag, last_modified, cleaned"
)


class OldSchema(sqlite3.DatabaseError):
    """An index written by another version of cablearchive: derived data, rebuilt from the files."""


def connect(path: str) -> sqlite3.Connection:
    """Open (creating if needed) the index database with the archive's schema."""
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA temp_store=MEMORY")
    have = conn.execute("PRAGMA user_version").fetchone()[0]
    if have not in (0, SCHEMA_VERSION):
        conn.close()
        # Raised as a DatabaseError so that the archive rebuilds the index from its files.
        raise OldSchema(
            f"index schema {have}, this version of cablearchive uses {SCHEMA_VERSION} (run `cablearchive reindex`)"
        )
    if have == 0:
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return conn


def connect_read_only(path: str) -> sqlite3.Connection:
    """Open the index database for reading only (it may be on a read-only mount); never creates or migrates it."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60.0)
    have = conn.execute("PRAGMA user_version").fetchone()[0]
    if have != SCHEMA_VERSION:
        conn.close()
        raise sqlite3.DatabaseError(
            f"index schema {have}, this version of cablearchive uses {SCHEMA_VERSION}"
        )
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def rollback_journal(path: str) -> str:
    """The rollback journal SQLite keeps beside a database file while it writes."""
    return path + "-journal"


def connect_for_rebuild(path: str) -> sqlite3.Connection:
    """A new index file to fill in one go: no rollback journal, no syncs (it is swapped in whole)."""
    conn = connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def raise_if_busy(path: str, exc: sqlite3.DatabaseError) -> None:
    """A locked index is busy, not broken: rebuilding it would wait on the very lock that holds it."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        raise ArchiveError(f"{path}: the index is busy ({exc}); another process holds it, try again") from exc


def archive_error(path: str, exc: sqlite3.Error) -> ArchiveError:
    """An SQLite error as the archive's own, naming the file: DiskFull, DamagedIndex or ArchiveError."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name == "SQLITE_FULL" or "disk is full" in text:
        return DiskFull(f"disk full while writing {path}: {text}")
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text:
        return DamagedIndex(f"{path} is damaged ({text}): run `cablearchive reindex`")
    return ArchiveError(f"{path}: {text}")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
        # SQLite may have rolled back already (a full disk, an I/O error): the first error is the one to tell.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def capture_row(cap: Capture) -> tuple[Any, ...]:
    """The captures-table row of a Capture."""
    return (
        cap.record_id,
        cap.url,
        cap.fetched_at,
        cap.status,
        cap.mime,
        cap.payload_digest,
        cap.warc_file,
        cap.offset,
        cap.length,
        cap.revisit_profile,
        cap.refers_to,
        cap.final_url,
        cap.etag,
        cap.last_modified,
        cap.cleaned,
    )


def row_capture(row: tuple[Any, ...]) -> Capture:
    """A Capture from a captures-table row (columns in _CAPTURE_COLS order)."""
    (rid, url, fetched_at, status, mime, digest, filename, offset, length, revisit, refers_to,
     final_url, etag, last_modified, cleaned) = row  # fmt: skip
    return Capture(
        capture_id=rid,
        url=url,
        warc_file=filename,
        offset=offset,
        length=length,
        record_id=rid,
        payload_digest=digest,
        revisit=revisit is not None,
        status=status,
        mime=mime,
        fetched_at=fetched_at,
        final_url=final_url,
        etag=etag,
        last_modified=last_modified,
        revisit_profile=revisit,
        refers_to=refers_to,
        cleaned=cleaned,
    )


def insert_captures(conn: sqlite3.Connection, caps: list[Capture]) -> None:
    """Add captures (already present ones are left as they are)."""
    conn.executemany(
        f"INSERT OR IGNORE INTO captures({_CAPTURE_COLS}) VALUES ({','.join('?' * 15)})",
        [capture_row(c) for c in caps],
    )


def set_cleaned(conn: sqlite3.Connection, notes: Iterable[tuple[str, str | None]]) -> None:
    """Record under which rules digest each capture was last cleaned: [(record_id, digest or None)]."""
    conn.executemany("UPDATE captures SET cleaned=? WHERE record_id=?", [(d, r) for r, d in notes])


def cleaned_digest(conn: sqlite3.Connection, record_id: str) -> str | None:
    """The rules digest a capture was last cleaned under (None: never cleaned, or not indexed)."""
    row = conn.execute("SELECT cleaned FROM captures WHERE record_id=?", (record_id,)).fetchone()
    return row[0] if row else None


def has_capture(conn: sqlite3.Connection, url: str, fetched_at: str, digest: str) -> bool:
    """True when a capture of this URL, at this time, with this payload digest is indexed."""
    row = conn.execute(
        "SELECT 1 FROM captures WHERE url=? AND fetched_at=? AND digest=? LIMIT 1", (url, fetched_at, digest)
    ).fetchone()
    return row is not None


def drop_captures_past(conn: sqlite3.Connection, prefix: str, lengths: dict[str, int]) -> int:
    """Drop the rows of captures in WARC files named `prefix`... that lie past those files' `lengths`."""
    rows = conn.execute(
        "SELECT id, filename, offset FROM captures WHERE substr(filename, 1, ?) = ?", (len(prefix), prefix)
    ).fetchall()
    gone = [(rid,) for rid, name, off in rows if off >= lengths.get(name, 0)]
    conn.executemany("DELETE FROM captures WHERE id=?", gone)
    return len(gone)


def iter_captures(conn: sqlite3.Connection, newest_per_url: bool) -> Iterator[Capture]:
    """Captures in the index, oldest first; only the newest of each URL when asked."""
    if newest_per_url:
        sql = (
            f"SELECT {_CAPTURE_COLS} FROM captures WHERE id IN ("
            "SELECT id FROM (SELECT id, MAX(fetched_at || '|' || printf('%012d', id)) FROM captures GROUP BY url)"
            ") ORDER BY fetched_at, id"
        )
    else:
        sql = f"SELECT {_CAPTURE_COLS} FROM captures ORDER BY fetched_at, id"
    for row in conn.execute(sql):
        yield row_capture(row)


def get_capture(conn: sqlite3.Connection, record_id: str) -> Capture | None:
    """One capture by record id."""
    row = conn.execute(f"SELECT {_CAPTURE_COLS} FROM captures WHERE record_id=?", (record_id,)).fetchone()
    return row_capture(row) if row else None


def newest_capture(conn: sqlite3.Connection, url: str, status: int | None = None) -> Capture | None:
    """The newest capture of a URL (optionally only with that HTTP status)."""
    sql = f"SELECT {_CAPTURE_COLS} FROM captures WHERE url=?"
    args: list[Any] = [url]
    if status is not None:
        sql += " AND status=?"
        args.append(status)
    row = conn.execute(sql + " ORDER BY fetched_at DESC, id DESC LIMIT 1", args).fetchone()
    return row_capture(row) if row else None


def original_by_digest(conn: sqlite3.Connection, digest: str) -> Capture | None:
    """The first full (non-revisit) capture with this payload digest."""
    row = conn.execute(
        f"SELECT {_CAPTURE_COLS} FROM captures WHERE digest=? AND revisit IS NULL ORDER BY id LIMIT 1",
        (digest,),
    ).fetchone()
    return row_capture(row) if row else None


def refs_by_key(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """For each source key, the cables the archive holds from it."""
    out: dict[str, set[str]] = {}
    for key, ref in conn.execute("SELECT key, ref FROM sources"):
        out.setdefault(key, set()).add(ref)
    return out


def source_digests(conn: sqlite3.Connection, ref: str, key: str) -> tuple[str, str] | None:
    """(text digest, metadata digest) of a cable's source as last archived, or None."""
    row = conn.execute(
        "SELECT text_digest, meta_digest FROM sources WHERE ref=? AND key=?", (ref, key)
    ).fetchone()
    return (row[0], row[1]) if row else None


def _text(value: Any) -> str | None:
    """A metadata value as text (None for a missing or empty one): cable.json is input, not trusted."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def _unique(tags: list[str]) -> list[str]:
    """Tags without repeats (any case): a cable has a tag once, whatever the teletype did."""
    seen: set[str] = set()
    out = []
    for t in tags:
        if t.casefold() not in seen:
            seen.add(t.casefold())
            out.append(t)
    return out


def _strings(value: Any) -> list[str]:
    """The non-empty strings of a metadata list."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and v.strip()]


_ID_POST = re.compile(r"^\d{2}([A-Z][A-Z-]*?)\d+$")
_LEVELS = re.compile(r"[^A-Z ]+")


def post_of(canonical_id: str | None) -> str | None:
    """The post an ID is sent from (`KABUL` of `09KABUL123`), or None for an ID without that form."""
    m = _ID_POST.match(canonical_id or "")
    return m.group(1) if m else None


def year_of(date: str | None) -> int | None:
    """The year of a cable's date (`2009-12-29 17:05`), or None."""
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


def level_of(classification: str | None) -> str | None:
    """The classification level, without its handling caveats: `SECRET` of `SECRET//NOFORN`."""
    if not classification:
        return None
    level = " ".join(_LEVELS.sub(" ", classification.split("//")[0].upper()).split())
    return level or None


def citation_row(ref: Any) -> tuple[str | None, str | None, str | None, str]:
    """(cited ID, label, text, kind) of one item of a cable's references."""
    if not isinstance(ref, dict):
        return None, None, _text(ref), "other"
    cited = _text(ref.get("id"))
    kind = str(ref["kind"]) if ref.get("kind") in ("cable", "other") else ("cable" if cited else "other")
    return (cited.upper() if cited else None), _text(ref.get("label")), _text(ref.get("text")), kind


def _count_tags(conn: sqlite3.Connection, tags: list[str], step: int) -> None:
    """Keep tag_counts (the cables of each tag: the tags facet of the whole archive, read at once)."""
    conn.executemany(
        "INSERT INTO tag_counts(tag, n) VALUES (?, ?) ON CONFLICT(tag) DO UPDATE SET n = n + excluded.n",
        [(t, step) for t in tags],
    )
    if step < 0:
        conn.executemany("DELETE FROM tag_counts WHERE tag = ? AND n <= 0", [(t,) for t in tags])


def _write_tags(
    conn: sqlite3.Connection, ref: str, tags: list[str] | None, cable: tuple[Any, ...] = ()
) -> None:
    """Replace a cable's tags (None: remove them); cable: the fields each tag row copies (date,
    full-text rowid, origin, classification, year, post)."""
    old = conn.execute(
        "SELECT tag, date, fts_rowid, origin, classification, year, post FROM tags WHERE ref=? ORDER BY seq",
        (ref,),
    ).fetchall()
    if tags is not None and [r[0] for r in old] == tags and all(tuple(r[1:]) == cable for r in old):
        return  # most commits leave a cable's tags as they were
    conn.execute("DELETE FROM tags WHERE ref=?", (ref,))
    _count_tags(conn, [r[0] for r in old], -1)
    if tags:
        conn.executemany(
            "INSERT INTO tags(ref, seq, tag, date, fts_rowid, origin, classification, year, post) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(ref, i, t, *cable) for i, t in enumerate(tags)],
        )
        _count_tags(conn, tags, 1)


def write_cable(
    conn: sqlite3.Connection,
    ref: str,
    inv: dict[str, Any],
    cable_json: dict[str, Any],
    text: str,
    text_changed: bool = True,
) -> None:
    """Replace a cable's rows (summary, versions, sources, full text) from its head state."""
    head = ocfl.head_number(inv)
    versions = inv["versions"]
    first = versions.get("v1", {}).get("created")
    last = versions[inv["head"]]["created"]
    row = conn.execute("SELECT id, fts_rowid, subject FROM cables WHERE ref=?", (ref,)).fetchone()
    fts_rowid = row[1] if row else None
    subject = cable_json.get("subject") or ""
    if fts_rowid is None or text_changed or (row[2] or "") != subject:
        # The full-text table is contentless (it holds no copy of the text), so the row of a
        # replaced text stays behind, unlinked: search joins on cables.fts_rowid, and
        # compact_fts() / reindex rebuild the table. (Deleting a row means giving its words
        # again: twice the work of an insert, and the space only comes back at a merge.)
        cur = conn.execute("INSERT INTO fts(subject, body) VALUES (?, ?)", (subject, text))
        fts_rowid = cur.lastrowid
    canonical = _text(cable_json.get("canonical_id")) or ref
    date = _text(cable_json.get("created"))
    classification = _text(cable_json.get("classification"))
    values = (
        head,
        first,
        last,
        _text(cable_json.get("subject")),
        classification,
        _text(cable_json.get("origin")),
        date,
        len(cable_json.get("sources", [])),
        (cable_json.get("preferred") or {}).get("source"),
        fts_rowid,
        canonical,
        post_of(canonical) or (post_key(_text(cable_json.get("origin")) or "") or None),
        year_of(date),
        level_of(classification),
    )
    if row:
        conn.execute(
            "UPDATE cables SET head=?, created=?, updated=?, subject=?, classification=?, origin=?, date=?, "
            "n_sources=?, preferred=?, fts_rowid=?, canonical_id=?, post=?, year=?, level=? WHERE id=?",
            (*values, row[0]),
        )
    else:
        conn.execute(
            "INSERT INTO cables(head, created, updated, subject, classification, origin, date, n_sources, "
            "preferred, fts_rowid, canonical_id, post, year, level, ref) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (*values, ref),
        )
    origin = _text(cable_json.get("origin"))
    _write_tags(
        conn,
        ref,
        _unique(_strings(cable_json.get("tags"))),
        (date, fts_rowid, origin, classification, year_of(date), values[11]),
    )
    conn.execute("DELETE FROM citations WHERE ref=?", (ref,))
    conn.executemany(
        "INSERT INTO citations(ref, seq, cited, label, text, kind) VALUES (?,?,?,?,?,?)",
        [(ref, i, *citation_row(r)) for i, r in enumerate(cable_json.get("references") or [])],
    )
    conn.execute("DELETE FROM versions WHERE ref=?", (ref,))
    conn.executemany(
        "INSERT INTO versions(ref, number, created, message, user) VALUES (?,?,?,?,?)",
        [
            (ref, ocfl.vnum(name), v.get("created"), v.get("message"), (v.get("user") or {}).get("name"))
            for name, v in versions.items()
        ],
    )
    conn.execute("DELETE FROM sources WHERE ref=?", (ref,))
    state = ocfl.version_state(inv)
    conn.executemany(
        "INSERT INTO sources(ref, key, url, text_digest, meta_digest, capture_id, fidelity) VALUES (?,?,?,?,?,?,?)",
        [
            (
                ref,
                s["key"],
                s.get("url"),
                state.get(source_text(s["key"])),
                s.get("metadata_digest"),
                s.get("capture_id"),
                s.get("fidelity"),
            )
            for s in cable_json.get("sources", [])
        ],
    )


# A row of the cables table as `list` shows it: ref, head, created, updated, subject,
# classification, origin, date, n_sources, preferred.
CableRow = tuple[
    str,
    int,
    "str | None",
    "str | None",
    "str | None",
    "str | None",
    "str | None",
    "str | None",
    int,
    "str | None",
]


def cable_rows(conn: sqlite3.Connection) -> Iterator[CableRow]:
    """Every cable's summary row, by reference ID."""
    yield from conn.execute(
        "SELECT ref, head, created, updated, subject, classification, origin, date, n_sources, preferred "
        "FROM cables ORDER BY ref"
    )


def heads(conn: sqlite3.Connection) -> dict[str, int]:
    """The head version of each indexed cable."""
    return dict(conn.execute("SELECT ref, head FROM cables").fetchall())


def count_captures(conn: sqlite3.Connection) -> int:
    """How many captures are indexed."""
    n: int = conn.execute("SELECT count(*) FROM captures").fetchone()[0]
    return n


def archive_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many cables, versions, sources and captures are indexed."""
    counts = {}
    for name, sql in (
        ("cables", "SELECT count(*) FROM cables"),
        ("versions", "SELECT count(*) FROM versions"),
        ("sources", "SELECT count(*) FROM sources"),
        ("captures", "SELECT count(*) FROM captures"),
    ):
        counts[name] = int(conn.execute(sql).fetchone()[0])
    return counts


def newest_versions(
    conn: sqlite3.Connection, limit: int, ref: str | None = None
) -> list[tuple[str, int, str | None, str | None, str | None]]:
    """(ref, number, created, message, subject) of the newest versions, newest first (of one cable when ref is given)."""
    sql = (
        "SELECT v.ref, v.number, v.created, v.message, c.subject FROM versions v "
        "LEFT JOIN cables c ON c.ref = v.ref"
    )
    if ref is not None:
        return conn.execute(sql + " WHERE v.ref=? ORDER BY v.number DESC LIMIT ?", (ref, limit)).fetchall()
    return conn.execute(sql + " ORDER BY v.created DESC, v.ref, v.number DESC LIMIT ?", (limit,)).fetchall()


def sources_of_capture(conn: sqlite3.Connection, record_id: str) -> list[tuple[str, str]]:
    """(ref, source key) of each cable whose current text of a source came from this capture."""
    return conn.execute(
        "SELECT ref, key FROM sources WHERE capture_id=? ORDER BY ref, key", (record_id,)
    ).fetchall()


def read_only_summary(path: str) -> tuple[dict[str, int], int]:
    """(head of each cable, number of captures) of an index file, opened read-only; sqlite3.Error when unreadable."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return heads(conn), count_captures(conn)
    finally:
        conn.close()


# -- queries: the list, facets, full-text search and citations (archive.query types the results)


@dataclass(frozen=True)
class Filters:
    """What cables a list, a search or facet counts keep; every field that is set must hold.

    Values are matched as written by people: origins by name (`Embassy Kabul`, any case) or by
    post (`KABUL`, as cable IDs spell it); a classification by level (`SECRET` keeps
    `SECRET//NOFORN`) or whole when it has `//`; tags case-insensitively. Several origins,
    classifications or years: any of them; several tags or cited IDs: all of them. Dates are
    `YYYY[-MM[-DD]]` bounds on the cable's own date, both ends included; subject: a piece of it.
    """

    origins: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    subject: str | None = None
    cites: tuple[str, ...] = ()

    def without(self, facet: str) -> Filters:
        """These filters less the one on `facet` (a facet's counts ignore its own selection)."""
        if facet == "origin":
            return replace(self, origins=())
        if facet == "classification":
            return replace(self, classifications=())
        if facet == "year":
            return replace(self, years=())
        if facet == "tags":
            return replace(self, tags=())
        raise ValueError(f"unknown facet {facet!r}; one of {', '.join(FACETS)}")


SORTS = ("date", "id", "origin")
FACETS = ("origin", "classification", "year", "tags")

# A row of a list or search page: ref, canonical_id, date, origin, classification, subject, head,
# n_sources, created, updated (and the score in a search).
_ITEM_COLS = "c.ref, c.canonical_id, c.date, c.origin, c.classification, c.subject, c.head, c.n_sources, c.created, c.updated"
_ORDER = {
    "date": "c.date {d}, c.ref {d}",
    "id": "c.ref {d}",
    "origin": "c.origin COLLATE NOCASE {d}, c.date {d}, c.ref {d}",
}


def post_key(name: str) -> str:
    """An origin as IDs spell its post: `Rio de Janeiro` -> `RIODEJANEIRO`."""
    return re.sub(r"[^0-9A-Z]+", "", name.upper())


def subject_match(text: str) -> str:
    """The FTS5 expression for subjects holding these words in this order, the last one maybe
    the start of a word (words only: the text is the user's, not FTS5 syntax)."""
    return 'subject : "' + " ".join(re.findall(r"\w+", text)) + '" *'


def _posts(conn: sqlite3.Connection, origins: tuple[str, ...]) -> list[str]:
    """The posts these origins name: each as a post (`KABUL`), and the posts of the cables of that
    name (`Embassy Kabul`). One column to filter on, so that its index also gives the order."""
    posts = {post_key(o) for o in origins}
    for o in origins:
        sql = "SELECT DISTINCT post FROM cables WHERE origin = ? COLLATE NOCASE AND post IS NOT NULL"
        posts.update(p for (p,) in conn.execute(sql, (o,)))
    return sorted(p for p in posts if p)


def _tag_cond(key: str, probe: bool) -> str:
    """The cable whose full-text rowid is `key` has the tag `?`. Probed in the tags index for each
    cable (probe: when the cables are fewer than the tag's), or the tag's rowids read once."""
    if probe:
        return f"EXISTS (SELECT 1 FROM tags t WHERE t.tag = ? COLLATE NOCASE AND t.fts_rowid = {key})"
    return f"{key} IN (SELECT t.fts_rowid FROM tags t WHERE t.tag = ? COLLATE NOCASE)"


def _where(
    conn: sqlite3.Connection,
    f: Filters,
    skip_tag: bool = False,
    key: str = "c.fts_rowid",
    probe: bool = False,
) -> tuple[list[str], list[Any]]:
    """SQL conditions on the cables table `c` for the filters, with their arguments; with
    skip_tag, the caller reads the first tag's rows of the tags index (`t0`) itself, and the
    dates are asked of that index (it holds each cable's date). Tags are matched on the cable's
    full-text rowid `key` (see _tag_cond for probe)."""
    conds: list[str] = []
    args: list[Any] = []
    if f.origins:
        posts = _posts(conn, f.origins) or [""]
        conds.append(f"c.post IN ({','.join('?' * len(posts))})")
        args += posts
    if f.classifications:
        parts = []
        for value in f.classifications:
            if "//" in value:
                parts.append("c.classification = ? COLLATE NOCASE")
                args.append(value)
            else:
                parts.append("c.level = ?")
                args.append(level_of(value) or "")
        conds.append("(" + " OR ".join(parts) + ")")
    ref = "t0.ref" if skip_tag else "c.ref"
    # Beside the first tag's rows, read in order, the others are probed: a page stops early.
    for tag in f.tags[1:] if skip_tag else f.tags:
        conds.append(_tag_cond("t0.fts_rowid" if skip_tag else key, probe or skip_tag))
        args.append(tag)
    date = "t0.date" if skip_tag else "c.date"
    if f.years and skip_tag:
        conds.append("(" + " OR ".join(f"({date} >= ? AND {date} < ?)" for _ in f.years) + ")")
        for y in f.years:
            args += [f"{y:04d}", f"{y + 1:04d}"]
    elif f.years:
        conds.append(f"c.year IN ({','.join('?' * len(f.years))})")
        args += list(f.years)
    if f.date_from:
        conds.append(f"{date} >= ?")
        args.append(f.date_from)
    if f.date_to:
        # `~` sorts after every character of a date: `2009-12~` is past every time of December 2009.
        conds.append(f"{date} <= ?")
        args.append(f.date_to + "~")
    if f.subject:
        # The words of the subject, in this order, from the full-text index: a scan of every
        # subject would take longer than the rest of the query.
        conds.append("c.fts_rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
        args.append(subject_match(f.subject))
    for cited in f.cites:
        conds.append(f"{ref} IN (SELECT r.ref FROM citations r WHERE r.cited = ?)")
        args.append(cited.upper())
    return conds, args


def _order(sort: str, descending: bool) -> str:
    if sort not in _ORDER:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    return _ORDER[sort].format(d="DESC" if descending else "ASC")


def _query_error(match: str, exc: sqlite3.OperationalError) -> QueryError | None:
    """The QueryError for an FTS5 error about the query itself (None for any other failure)."""
    text = str(exc)
    if text.startswith("no such column"):
        # FTS5 reads `a-b` and `x:y` as column filters.
        return QueryError(
            f"invalid query {match!r}: {text} (put a word that holds punctuation in double quotes: "
            '"al-Qaida", "U.S.")'
        )
    if text == 'fts5: syntax error near ""':
        return QueryError(
            f"invalid query {match!r}: it ends where a word is expected (after AND, OR, NOT or NEAR)"
        )
    if text.startswith("fts5:") or "unterminated string" in text:
        return QueryError(
            f'invalid query {match!r}: {text} (SQLite FTS5 syntax: words, "phrases", prefix*, AND, OR, NOT, '
            "NEAR(a b), parentheses; put a word that holds punctuation in double quotes)"
        )
    return None


def _run(conn: sqlite3.Connection, sql: str, args: list[Any], match: str | None) -> list[Any]:
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        err = _query_error(match, exc) if match is not None else None
        if err is not None:
            raise err from None
        raise


def _match_rows(conn: sqlite3.Connection, match: str) -> int:
    """How many full-text rows match (replaced texts included: an upper bound, for choosing a plan)."""
    return int(_run(conn, "SELECT count(*) FROM fts WHERE fts MATCH ?", [match], match)[0][0])


# A date-sorted search page with a tag reads the tag's rows in order and asks the full-text
# index of each (a probe costs about a match of the whole expression's rowid: some 50 µs) when
# it expects to find its page within this many rows; else the matches are sorted.
BY_TAG_ROWS = 5000


def _walk_by_tag(conn: sqlite3.Connection, match: str, offset: int, limit: int) -> bool:
    """True when the first offset + limit matches are expected within BY_TAG_ROWS rows of a tag
    (the matches spread as evenly among a tag's cables as among all)."""
    cables = conn.execute("SELECT max(id) FROM cables").fetchone()[0] or 0
    return (offset + limit) * cables <= BY_TAG_ROWS * max(_match_rows(conn, match), 1)


def _from(
    conn: sqlite3.Connection,
    match: str | None,
    f: Filters,
    tags: bool = False,
    by_tag: bool = False,
    join_cable: bool = True,
) -> tuple[str, list[Any]]:
    """FROM and WHERE of a list (match None) or a full-text search (match: an FTS5 expression);
    with tags, a row per tag of each cable kept (as `t`); with by_tag, the cables of the first
    tag read from the tags index (as `t0`, in date order), each row then checked against the
    full-text index. A search probes the tags of each match (_tag_cond): FTS5 answers
    `rowid IN (the tag's rowids)` by matching each rowid, slower than reading every match."""
    probe = match is not None
    key = "fts.rowid" if match is not None and not by_tag else "c.fts_rowid"
    conds, args = _where(conn, f, skip_tag=by_tag, key=key, probe=probe)
    # Without a condition on the cable itself, the tags index (and the full-text one) answer alone.
    needs_cable = join_cable or any(re.search(r"\bc\.", cond) for cond in conds)
    if match is not None and not by_tag:
        # Tag rows name live full-text rows only: without the cables table, no replaced text counts.
        alone = not needs_cable and bool(f.tags)
        head = "FROM fts" if alone else "FROM fts JOIN cables c ON c.fts_rowid = fts.rowid"
        conds.insert(0, "fts MATCH ?")
        args.insert(0, match)
    elif tags and not conds and match is None and not by_tag:
        return "FROM tags t", []
    elif by_tag:
        head = "FROM tags t0 JOIN cables c ON c.fts_rowid = t0.fts_rowid" if needs_cable else "FROM tags t0"
        conds.insert(0, "t0.tag = ? COLLATE NOCASE")
        args.insert(0, f.tags[0])
        if match is not None:
            conds.append("EXISTS (SELECT 1 FROM fts WHERE fts MATCH ? AND fts.rowid = t0.fts_rowid)")
            args.append(match)
    else:
        head = "FROM cables c"
    if tags:
        head += " JOIN tags t ON t.ref = " + ("c.ref" if needs_cable or not by_tag else "t0.ref")
    return head + (" WHERE " + " AND ".join(conds) if conds else ""), args


def cable_page(
    conn: sqlite3.Connection, f: Filters, sort: str, descending: bool, offset: int, limit: int
) -> list[tuple[Any, ...]]:
    """One page of the cables the filters keep, as rows of _ITEM_COLS."""
    return list(iter_cable_rows(conn, f, sort, descending, offset, limit))


def _by_tag_order(sort: str, descending: bool) -> str:
    """The order of a date-sorted page read from the first tag's rows (its index holds the order)."""
    return _order(sort, descending).replace("c.date", "t0.date").replace("c.ref", "t0.ref")


def iter_cable_rows(
    conn: sqlite3.Connection,
    f: Filters,
    sort: str,
    descending: bool,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The cables the filters keep, as rows of _ITEM_COLS, read as they come (limit None: all)."""
    # The cables of a tag in date order come straight from the tags index (a tag may hold a third
    # of the archive: sorting them for each page would take longer).
    by_tag = bool(f.tags) and sort == "date"
    where, args = _from(conn, None, f, by_tag=by_tag)
    order = _by_tag_order(sort, descending) if by_tag else _order(sort, descending)
    sql = f"SELECT {_ITEM_COLS} {where} ORDER BY {order} LIMIT ? OFFSET ?"
    yield from conn.execute(sql, [*args, -1 if limit is None else limit, offset])


# A search matching more rows than this is counted from the cables its filters keep, each
# looked up in the full-text matches, when those cables are fewer than 1/FILTER_FIRST of the matches.
MANY_MATCHES = 20000
FILTER_FIRST = 50


def _filter_first(conn: sqlite3.Connection, match: str, f: Filters) -> bool:
    """True when a search's cables are better counted from its filters than from its matches."""
    conds, _args = _where(conn, f)
    if not conds:
        return False
    rows = _match_rows(conn, match)
    return rows > MANY_MATCHES and cable_count(conn, f) * FILTER_FIRST < rows


def cable_count(
    conn: sqlite3.Connection, f: Filters, match: str | None = None, filter_first: bool | None = None
) -> int:
    """How many cables the filters (and the full-text expression, if given) keep; filter_first:
    the plan of a search (see _filter_first; None: chosen by it)."""
    if match is not None and (filter_first if filter_first is not None else _filter_first(conn, match, f)):
        conds, args = _where(conn, f)
        sql = (
            "SELECT count(*) FROM fts WHERE fts MATCH ? AND fts.rowid IN "
            f"(SELECT c.fts_rowid FROM cables c WHERE {' AND '.join(conds)})"
        )
        return int(_run(conn, sql, [match, *args], match)[0][0])
    # A tag's cables are counted in the tags index (its entries are in date order too).
    where, args = _from(conn, match, f, by_tag=match is None and bool(f.tags), join_cable=False)
    rows = _run(conn, f"SELECT count(*) {where}", args, match)
    return int(rows[0][0])


def search_page(
    conn: sqlite3.Connection,
    match: str,
    f: Filters,
    sort: str | None,
    descending: bool,
    offset: int,
    limit: int,
    by_tag: bool | None = None,
) -> list[tuple[Any, ...]]:
    """One page of full-text matches (rows of _ITEM_COLS and the score, higher is better), best
    first unless a sort is given (then no score); QueryError when FTS5 rejects the expression.
    by_tag: read a date-sorted page from the first tag's rows, each checked against the
    full-text index (None: so when the page is expected within BY_TAG_ROWS of them)."""
    if by_tag is None:
        by_tag = sort == "date" and bool(f.tags) and _walk_by_tag(conn, match, offset, limit)
    where, args = _from(conn, match, f, by_tag=by_tag)
    # The subject weighs more than the body: a word in the subject says what the cable is about.
    if sort is None:
        score, order = "-bm25(fts, 4.0, 1.0)", "score DESC, c.ref"
    elif by_tag:
        score, order = "NULL", _by_tag_order(sort, descending)
    else:
        score, order = "NULL", _order(sort, descending)  # no score: it would be computed for every match
    sql = f"SELECT {_ITEM_COLS}, {score} AS score {where} ORDER BY {order} LIMIT ? OFFSET ?"
    return _run(conn, sql, [*args, limit, offset], match)


# The facets a tag's rows hold themselves (copied from their cable), as grouped.
_TAG_FACETS = {"origin": "t0.origin COLLATE NOCASE", "classification": "t0.classification", "year": "t0.year"}


def facet_counts(
    conn: sqlite3.Connection, facet: str, f: Filters, match: str | None = None, limit: int = 50
) -> list[tuple[Any, int]]:
    """(value, cables) of one facet (origin, classification, year, tags) among the cables kept,
    most frequent first (years in order)."""
    # Under tags alone, a tag's rows answer from the tags index, without the cables table.
    tags_only = match is None and bool(f.tags) and f == Filters(tags=f.tags)
    if facet == "tags":
        if match is None and not _where(conn, f)[0]:
            sql = "SELECT tag, n FROM tag_counts ORDER BY n DESC, tag LIMIT ?"
            return conn.execute(sql, (limit,)).fetchall()
        if match is None and f == Filters(origins=f.origins):
            # Under origins alone, the tags of their posts in the tags index alone.
            posts = _posts(conn, f.origins) or [""]
            sql = (
                f"SELECT t.tag, count(*) AS n FROM tags t WHERE t.post IN ({','.join('?' * len(posts))}) "
                "GROUP BY t.tag COLLATE NOCASE ORDER BY n DESC, t.tag LIMIT ?"
            )
            return conn.execute(sql, [*posts, limit]).fetchall()
        where, args = _from(conn, match, f, tags=True, by_tag=tags_only, join_cable=not tags_only)
        sql = f"SELECT t.tag, count(*) AS n {where} GROUP BY t.tag COLLATE NOCASE ORDER BY n DESC, t.tag LIMIT ?"
        return _run(conn, sql, [*args, limit], match)
    if tags_only:
        where, args = _from(conn, None, f, by_tag=True, join_cable=False)
        column = _TAG_FACETS[facet]
    else:
        where, args = _from(conn, match, f)
        # NOCASE for origins: the collation of their index, which the count then reads alone.
        column = {
            "origin": "c.origin COLLATE NOCASE",
            "classification": "c.classification",
            "year": "c.year",
        }[facet]
    nonnull = f"{column} IS NOT NULL"
    where = where + (" AND " if " WHERE " in where else " WHERE ") + nonnull
    order = f"{column}" if facet == "year" else f"n DESC, {column}"
    sql = f"SELECT {column}, count(*) AS n {where} GROUP BY {column} ORDER BY {order} LIMIT ?"
    return _run(conn, sql, [*args, limit], match)


def tags_of(conn: sqlite3.Connection, refs: list[str]) -> dict[str, list[str]]:
    """The tags of each of these cables, in the order the cable gives them."""
    out: dict[str, list[str]] = {r: [] for r in refs}
    for i in range(0, len(refs), 500):
        chunk = refs[i : i + 500]
        sql = f"SELECT ref, tag FROM tags WHERE ref IN ({','.join('?' * len(chunk))}) ORDER BY ref, seq"
        for ref, tag in conn.execute(sql, chunk):
            out[ref].append(tag)
    return out


def find_cable(conn: sqlite3.Connection, ref: str) -> tuple[str, str | None] | None:
    """(ref, canonical ID) of the indexed cable with this ID, as the page names it or in canonical form."""
    row = conn.execute("SELECT ref, canonical_id FROM cables WHERE ref=?", (ref,)).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT ref, canonical_id FROM cables WHERE canonical_id=? ORDER BY ref LIMIT 1", (ref,)
        ).fetchone()
    return (row[0], row[1]) if row else None


def citations_of(conn: sqlite3.Connection, ref: str) -> list[tuple[Any, ...]]:
    """A cable's references in its order: (label, text, kind, cited ID, ref of the archived cited cable or None)."""
    sql = (
        "SELECT r.label, r.text, r.kind, r.cited, "
        "(SELECT min(a.ref) FROM cables a WHERE a.canonical_id = r.cited OR a.ref = r.cited) "
        "FROM citations r WHERE r.ref = ? ORDER BY r.seq"
    )
    return conn.execute(sql, (ref,)).fetchall()


def citing(conn: sqlite3.Connection, ids: list[str]) -> list[tuple[Any, ...]]:
    """The archived cables whose references name one of these IDs: rows of _ITEM_COLS and the
    reference's label and text, by the citing cable's date."""
    ids = sorted({i.upper() for i in ids if i})
    if not ids:
        return []
    sql = (
        f"SELECT {_ITEM_COLS}, r.label, r.text FROM citations r JOIN cables c ON c.ref = r.ref "
        f"WHERE r.cited IN ({','.join('?' * len(ids))}) ORDER BY c.date, c.ref, r.seq"
    )
    return conn.execute(sql, ids).fetchall()


def references_naming(
    conn: sqlite3.Connection, refs: list[str], cited: list[str]
) -> dict[str, list[tuple[Any, ...]]]:
    """For each of these cables, its references that name one of the cited IDs: (label, text)."""
    out: dict[str, list[tuple[Any, ...]]] = {r: [] for r in refs}
    if not refs or not cited:
        return out
    sql = (
        f"SELECT ref, label, text FROM citations WHERE ref IN ({','.join('?' * len(refs))}) "
        f"AND cited IN ({','.join('?' * len(cited))}) ORDER BY ref, seq"
    )
    for ref, label, text in conn.execute(sql, [*refs, *cited]):
        out[ref].append((label, text))
    return out


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes when another connection commits to the index (for caches)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def search(conn: sqlite3.Connection, query: str, limit: int) -> list[tuple[str, str | None, float]]:
    """(ref, subject, score: higher is better) of the best full-text matches; QueryError when FTS5 rejects the query."""
    return [(r[0], r[5], r[-1]) for r in search_page(conn, query, Filters(), None, False, 0, limit)]


def fts_rows(conn: sqlite3.Connection) -> tuple[int, int]:
    """(rows in the full-text table, cables): the difference is rows of replaced texts."""
    rows = conn.execute("SELECT count(*) FROM fts_docsize").fetchone()[0]
    return rows, conn.execute("SELECT count(*) FROM cables").fetchone()[0]


def compact_fts(conn: sqlite3.Connection, archive: Layout) -> int:
    """Rebuild the full-text table from each cable's head text, in one transaction; returns the rows."""
    n = 0
    with transaction(conn):
        conn.execute("INSERT INTO fts(fts) VALUES ('delete-all')")
        rows = conn.execute("SELECT id, ref, subject FROM cables ORDER BY id").fetchall()
        for cable_id, ref, subject in rows:
            try:
                obj_dir = archive.object_dir(ref)
                inv = ocfl.load_inventory(obj_dir)
                text = ocfl.read_logical(obj_dir, inv, CABLE_TEXT).decode("utf-8", "replace") if inv else None
            except (OSError, ValueError, KeyError, ArchiveError):
                text = None
            fts_rowid = None
            if text is not None:
                fts_rowid = conn.execute(
                    "INSERT INTO fts(subject, body) VALUES (?, ?)", (subject or "", text)
                ).lastrowid
                n += 1
            conn.execute("UPDATE cables SET fts_rowid=? WHERE id=?", (fts_rowid, cable_id))
            conn.execute("UPDATE tags SET fts_rowid=? WHERE ref=?", (fts_rowid, ref))
    return n


def index_object(conn: sqlite3.Connection, ref: str, obj_dir: str, inv: dict[str, Any] | None = None) -> bool:
    """Index one OCFL object from its files (inv: its inventory, if read already); drops its rows if it is gone."""
    if inv is None:
        inv = ocfl.load_inventory(obj_dir) if os.path.isdir(obj_dir) else None
    if inv is None:
        drop_cable(conn, ref)
        return False
    cable_json = json.loads(ocfl.read_logical(obj_dir, inv, CABLE_JSON))
    text = ocfl.read_logical(obj_dir, inv, CABLE_TEXT).decode("utf-8", "replace")
    write_cable(conn, ref, inv, cable_json, text)
    return True


def drop_cable(conn: sqlite3.Connection, ref: str) -> None:
    """Remove a cable's rows."""
    conn.execute("DELETE FROM cables WHERE ref=?", (ref,))
    _write_tags(conn, ref, None)
    conn.execute("DELETE FROM citations WHERE ref=?", (ref,))
    conn.execute("DELETE FROM versions WHERE ref=?", (ref,))
    conn.execute("DELETE FROM sources WHERE ref=?", (ref,))
