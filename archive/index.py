"""index.sqlite: a derived, rebuildable index of captures, cables, versions, sources and full text."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

from archive import ocfl
from archive.captures import Capture

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


def set_cleaned(conn: sqlite3.Connection, notes: list[tuple[str, str]]) -> None:
    """Record under which rules digest each capture was last cleaned: [(record_id, digest)]."""
    conn.executemany("UPDATE captures SET cleaned=? WHERE record_id=?", [(d, r) for r, d in notes])


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
                state.get(f"sources/{s['key']}.txt"),
                s.get("metadata_digest"),
                s.get("capture_id"),
                s.get("fidelity"),
            )
            for s in cable_json.get("sources", [])
        ],
    )


def fts_rows(conn: sqlite3.Connection) -> tuple[int, int]:
    """(rows in the full-text table, cables): the difference is rows of replaced texts."""
    rows = conn.execute("SELECT count(*) FROM fts_docsize").fetchone()[0]
    return rows, conn.execute("SELECT count(*) FROM cables").fetchone()[0]


def compact_fts(conn: sqlite3.Connection, cables_dir: str) -> int:
    """Rebuild the full-text table from each cable's head text, in one transaction; returns the rows."""
    conn.execute("BEGIN")
    try:
        conn.execute("INSERT INTO fts(fts) VALUES ('delete-all')")
        rows = conn.execute("SELECT id, ref, subject FROM cables ORDER BY id").fetchall()
        n = 0
        for cable_id, ref, subject in rows:
            obj_dir = os.path.join(cables_dir, ref)
            try:
                inv = ocfl.load_inventory(obj_dir)
                text = (
                    ocfl.read_logical(obj_dir, inv, "cable.txt").decode("utf-8", "replace") if inv else None
                )
            except (OSError, ValueError, KeyError):
                text = None
            fts_rowid = None
            if text is not None:
                fts_rowid = conn.execute(
                    "INSERT INTO fts(subject, body) VALUES (?, ?)", (subject or "", text)
                ).lastrowid
                n += 1
            conn.execute("UPDATE cables SET fts_rowid=? WHERE id=?", (fts_rowid, cable_id))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n


def index_object(conn: sqlite3.Connection, ref: str, obj_dir: str) -> bool:
    """Index one OCFL object from its files; drops the cable's rows if the object is gone."""
    inv = ocfl.load_inventory(obj_dir) if os.path.isdir(obj_dir) else None
    if inv is None:
        drop_cable(conn, ref)
        return False
    cable_json = json.loads(ocfl.read_logical(obj_dir, inv, "cable.json"))
    text = ocfl.read_logical(obj_dir, inv, "cable.txt").decode("utf-8", "replace")
    write_cable(conn, ref, inv, cable_json, text)
    return True


def drop_cable(conn: sqlite3.Connection, ref: str) -> None:
    """Remove a cable's rows."""
    conn.execute("DELETE FROM cables WHERE ref=?", (ref,))
    conn.execute("DELETE FROM versions WHERE ref=?", (ref,))
    conn.execute("DELETE FROM sources WHERE ref=?", (ref,))
