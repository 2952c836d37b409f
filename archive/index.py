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
from typing import Any

from archive import ocfl
from archive.captures import Capture
from archive.errors import ArchiveError
from archive.layout import CABLE_JSON, CABLE_TEXT, Layout, source_text

SCHEMA_VERSION = 1

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
  fts_rowid INTEGER
);
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


def connect(path: str) -> sqlite3.Connection:
    """Open (creating if needed) the index database with the archive's schema."""
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA temp_store=MEMORY")
    have = conn.execute("PRAGMA user_version").fetchone()[0]
    if have not in (0, SCHEMA_VERSION):
        conn.close()
        raise sqlite3.DatabaseError(f"index schema {have}, expected {SCHEMA_VERSION}")
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
        raise sqlite3.DatabaseError(f"index schema {have}, expected {SCHEMA_VERSION}")
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


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
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
    values = (
        head,
        first,
        last,
        cable_json.get("subject"),
        cable_json.get("classification"),
        cable_json.get("origin"),
        cable_json.get("created"),
        len(cable_json.get("sources", [])),
        (cable_json.get("preferred") or {}).get("source"),
        fts_rowid,
    )
    if row:
        conn.execute(
            "UPDATE cables SET head=?, created=?, updated=?, subject=?, classification=?, origin=?, date=?, "
            "n_sources=?, preferred=?, fts_rowid=? WHERE id=?",
            (*values, row[0]),
        )
    else:
        conn.execute(
            "INSERT INTO cables(head, created, updated, subject, classification, origin, date, n_sources, "
            "preferred, fts_rowid, ref) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*values, ref),
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


_FTS_OPERATORS = ("AND", "OR", "NOT", "NEAR")


def search(conn: sqlite3.Connection, query: str, limit: int) -> list[tuple[str, str | None, float]]:
    """(ref, subject, bm25 score) of the best full-text matches; a query FTS5 rejects is searched as plain words."""
    sql = (
        "SELECT c.ref, c.subject, bm25(fts) AS score FROM fts JOIN cables c ON c.fts_rowid = fts.rowid "
        "WHERE fts MATCH ? ORDER BY score LIMIT ?"
    )
    try:
        return conn.execute(sql, (query, limit)).fetchall()
    except sqlite3.OperationalError:
        words = re.findall(r"\w+", query)
        if not words:
            return []
        quoted = " ".join('"' + w + '"' for w in words)
        return conn.execute(sql, (quoted, limit)).fetchall()


def search_terms(query: str) -> list[str]:
    """The words of a query (FTS5 operators left out), lower case: what a snippet looks for."""
    return [w.lower() for w in re.findall(r"\w+", query) if w.upper() not in _FTS_OPERATORS]


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
    return n


def index_object(conn: sqlite3.Connection, ref: str, obj_dir: str) -> bool:
    """Index one OCFL object from its files; drops the cable's rows if the object is gone."""
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
    conn.execute("DELETE FROM versions WHERE ref=?", (ref,))
    conn.execute("DELETE FROM sources WHERE ref=?", (ref,))
