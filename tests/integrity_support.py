"""Helpers of the integrity tests: built archives, WARC surgery, mounts, a terminal, a mirror behind 304s.

Everything here drives the archive through its command line (`cablearchive ...` in a child
process) or through `from archive import Archive` and `cleaners.clean_page`, as a user would.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archive import Archive
from cleaners import clean_page
from crawler.world.server import World, WorldHandler

from archive_support import cablegate_pages, html_headers
from mockserver import REPO, cablearchive, cli_env

HERE = Path(__file__).resolve().parent
WORLD = HERE / "fixtures" / "world"
CABLEGATE = HERE / "fixtures" / "archive" / "cablegate"


# ----------------------------------------------------------------------------- archives


def build_archive(path: Path, pages: list[tuple[str, bytes, str]] | None = None) -> Path:
    """An archive holding the fixture cablegate pages, each cleaned and committed as a crawl would."""
    arch = Archive.create(path)
    try:
        with arch.writer(kind="crawl", args={"built": "for a test"}) as w:
            for url, body, _text in pages if pages is not None else cablegate_pages():
                cap = w.add_capture(url, 200, html_headers(), body)
                w.record(cap, clean_page(body, url=url, headers=html_headers()))
    finally:
        arch.close()
    return path


def snapshot(path: Path) -> dict[str, Any]:
    """Every cable's head, preferred text and sources' texts (what "nothing lost, nothing wrong" compares)."""
    out: dict[str, Any] = {}
    with Archive.open(path) as arch:
        for summary in arch.list_cables():
            rec = arch.cable(summary.ref)
            out[summary.ref] = {
                "text": rec.text(),
                "sources": {k: rec.source(k)[0] for k in rec.source_keys()},
            }
    return out


def heads(path: Path) -> dict[str, int]:
    """Head version of every cable."""
    with Archive.open(path) as arch:
        return {c.ref: c.head for c in arch.list_cables()}


def export_warc(archive: Path, out: Path) -> Path:
    """`cablearchive export --format warc --out OUT`; the export must succeed."""
    proc = cablearchive("export", "--archive", str(archive), "--format", "warc", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def all_files(root: Path) -> Iterator[Path]:
    """Every file under a folder."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            yield Path(folder) / name


def tree_digest(root: Path) -> dict[str, tuple[int, float]]:
    """(size, mtime) of every file under a folder: a reader must leave this unchanged."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime) for p in all_files(root)}


def zero_pages(db: Path) -> None:
    """Zero every other 4 KiB page of an SQLite file after the first (a malformed database)."""
    data = bytearray(db.read_bytes())
    page = 4096
    for start in range(page, len(data), page * 2):
        data[start : start + page] = b"\0" * min(page, len(data) - start)
    db.write_bytes(bytes(data))


# ----------------------------------------------------------------------------- WARC surgery


@dataclass
class Member:
    """One gzip member of a WARC file: where it starts and ends, and the record it holds."""

    start: int
    end: int
    rec_type: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def gzip_members(path: Path) -> list[Member]:
    """The gzip members of a per-record-gzipped WARC file (zlib alone, no WARC library)."""
    data = path.read_bytes()
    out: list[Member] = []
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(31)
        raw = d.decompress(data[pos:])
        end = len(data) - len(d.unused_data)
        head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        fields = {}
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            fields[name.strip()] = value.strip()
        out.append(Member(pos, end, fields.get("WARC-Type", ""), fields.get("WARC-Target-URI", ""), fields))
        pos = end
    return out


def member_bytes(path: Path, m: Member) -> bytes:
    """The compressed bytes of a member."""
    with open(path, "rb") as fh:
        fh.seek(m.start)
        return fh.read(m.end - m.start)


def gz(data: bytes) -> bytes:
    """One gzip member."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(data)
    return buf.getvalue()


def record_block(member: bytes) -> tuple[bytes, bytes]:
    """(WARC header block, content block) of a gzipped record."""
    raw = gzip.decompress(member)
    head, _, rest = raw.partition(b"\r\n\r\n")
    return head, rest[: -len(b"\r\n\r\n")] if rest.endswith(b"\r\n\r\n") else rest


def rewrite_record(
    member: bytes, *, block: bytes | None = None, fix_length: bool = True, **set_headers: str
) -> bytes:
    """A record with another content block and/or header values; Content-Length follows the block
    unless fix_length is False (then it still says the old length)."""
    head, old = record_block(member)
    block = old if block is None else block
    lines = head.split(b"\r\n")
    names = {k.replace("_", "-").lower(): v for k, v in set_headers.items()}
    out = [lines[0]]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].decode().strip().lower()
        if name == "content-length" and fix_length:
            out.append(b"Content-Length: " + str(len(block)).encode())
        elif name in names:
            out.append(line.split(b":", 1)[0] + b": " + names.pop(name).encode())
        else:
            out.append(line)
    for name, value in names.items():
        out.append(name.encode() + b": " + value.encode())
    return gz(b"\r\n".join(out) + b"\r\n\r\n" + block + b"\r\n\r\n")


def warc_record_fields(path: Path) -> list[dict[str, Any]]:
    """Type, headers and HTTP status of every record, read by warcio (the reference reader)."""
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            out.append(
                {
                    "type": rec.rec_type,
                    "headers": dict(rec.rec_headers.headers),
                    "status": rec.http_headers.get_statuscode() if rec.http_headers else None,
                    "payload": rec.content_stream().read(),
                }
            )
    return out


# ----------------------------------------------------------------------------- mounts


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, check=False)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (skips the test when mounting is not permitted)."""
    path.mkdir(parents=True, exist_ok=True)
    proc = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount rights): {proc.stderr.strip()}")
    try:
        yield path
    finally:
        for _ in range(20):
            if _run("umount", str(path)).returncode == 0:
                break
            time.sleep(0.25)
        else:
            _run("umount", "-l", str(path))


@contextlib.contextmanager
def read_only_copy(archive: Path, where: Path) -> Iterator[Path]:
    """The archive copied onto a tmpfs that is then remounted read-only."""
    size = sum(p.stat().st_size for p in all_files(archive))
    with tmpfs(where, f"{max(8, size // (1 << 20) * 3 + 8)}m") as mnt:
        shutil.copytree(archive, mnt / "archive", symlinks=True)
        proc = _run("mount", "-o", "remount,ro", str(mnt))
        if proc.returncode != 0:
            pytest.skip(f"cannot remount read-only: {proc.stderr.strip()}")
        try:
            (mnt / "probe").write_text("x")
        except OSError:
            pass
        else:
            pytest.skip("the remounted tmpfs still takes writes")
        try:
            yield mnt / "archive"
        finally:
            _run("mount", "-o", "remount,rw", str(mnt))


# ----------------------------------------------------------------------------- a terminal


def cli_on_terminal(*args: str, timeout: float = 120) -> tuple[int, bytes]:
    """Run `cablearchive ARGS` with stdout and stderr on a pseudo-terminal; (exit code, raw bytes shown)."""
    master, slave = pty.openpty()
    env = cli_env()
    env["TERM"] = "xterm-256color"
    env["COLUMNS"] = "200"
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    data = b""
                if not data:
                    if proc.poll() is not None:
                        break
                    continue
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, b"".join(chunks)


# ----------------------------------------------------------------------------- a mirror behind 304s


class ChainHandler(WorldHandler):
    """World files plus the two routes a mirror world needs: a root served from another file
    (a meta-refresh page, with ETag and 304 like every page) and permanent redirects."""

    routes: dict[str, tuple[str, str]]  # path -> ("file", other path) | ("redirect", location)

    def route(self, method: str, path: str, query: str) -> bool:
        what = self.routes.get(path)
        if what is None:
            return False
        kind, target = what
        if kind == "file":
            self.serve_file(method, target, query)
        else:
            self.send_simple(301, b"", headers={"Location": target}, method=method)
        return True


class ChainWorld(World):
    """A World served in this process, one ChainHandler per site."""

    routes: dict[str, dict[str, tuple[str, str]]]

    def start(self, ports: dict[str, int] | None = None) -> ChainWorld:
        """Start one server per site on 127.0.0.1, port 0."""
        import threading

        for site in self.sites:
            handler = type(
                f"Chain_{site}",
                (ChainHandler,),
                {"world": self, "site": site, "routes": self.routes.get(site, {})},
            )
            server = ThreadingHTTPServer((self.host, 0), handler)
            server.daemon_threads = True
            self.servers[site] = server
            self.ports[site] = server.server_address[1]
            threading.Thread(target=server.serve_forever, name=f"chain-{site}", daemon=True).start()
        return self

    def paths_served(self, since: int = 0) -> set[str]:
        """Paths answered (any status) since the `since`-th hit."""
        with self.lock:
            return {h.path for h in self.hits[since:]}


def write_json(path: Path, obj: Any) -> None:
    """Write JSON, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1), encoding="utf-8")


# ----------------------------------------------------------------------------- the mirror world of the re-crawl tests

SITE = "mirror"
BASE = f"http://{SITE}.world.invalid"

# chain -> (cable path on the mirror, world file it is copied from)
CHAINS: dict[str, tuple[str, Path]] = {
    "meta-refresh": (
        "/cable/2009/05/09TELAVIV1060.html",
        WORLD / "cablegate/cable/2009/05/09TELAVIV1060.html",
    ),
    "redirect-301": ("/cable/2010/02/10HARARE93.html", WORLD / "cablegate/cable/2010/02/10HARARE93.html"),
    "pagination": ("/cable/2006/04/06MADRID934.html", WORLD / "cablegate/cable/2006/04/06MADRID934.html"),
    "feed": ("/cable/2007/01/07PARIS170.html", WORLD / "cablegate/cable/2007/01/07PARIS170.html"),
    "robots-sitemap": ("/cable/2006/08/06BERLIN2546.html", CABLEGATE / "06BERLIN2546.html"),
}

ROOT_REFRESH = (
    '<!DOCTYPE html><html><head><meta http-equiv="refresh" content="0; url=/index.html">'
    "<title>Cablegate mirror</title></head><body></body></html>"
)


def _page(title: str, body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>"


def build_mirror(root: Path) -> dict[str, bytes]:
    """Write the mirror world (see test_integrity_recrawl); returns {cable path: changed page body} for the second build."""
    site = root / SITE
    cables = {chain: path for chain, (path, _src) in CHAINS.items()}
    files = {
        "_root.html": ROOT_REFRESH,
        "index.html": _page(
            "Cablegate mirror", f'<p><a href="{cables["meta-refresh"]}">latest cable</a></p>'
        ),
        "hub.html": _page(
            "Browse",
            '<p><a href="/latest.html">newest release</a></p><p><a rel="next" href="/page/2/">older</a></p>',
            head=f'<link rel="alternate" type="application/rss+xml" href="{BASE}/feed/">',
        ),
        "support.html": _page("Support", "<p>Mirror of the cables.</p>"),
        "page/2/index.html": _page("Browse, page 2", f'<p><a href="{cables["pagination"]}">a cable</a></p>'),
        "feed/index.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>mirror</title>'
            f"<link>{BASE}/</link><item><title>a cable</title><link>{BASE}{cables['feed']}</link>"
            "</item></channel></rss>"
        ),
        "maps/cables-sitemap.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{BASE}{cables['robots-sitemap']}</loc></url></urlset>"
        ),
        "robots.txt": (
            "User-agent: *\nDisallow: /articles/\nDisallow: /static/\nDisallow: /reldate/\n"
            f"Disallow: /tag/\nDisallow: /origin/\nDisallow: /date/\nDisallow: /classification/\n"
            f"Sitemap: {BASE}/maps/cables-sitemap.xml\n"
        ),
    }
    for rel, text in files.items():
        p = site / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    changed: dict[str, bytes] = {}
    for path, src in CHAINS.values():
        body = src.read_bytes()
        (site / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (site / path.lstrip("/")).write_bytes(body)
        changed[path] = _changed_build(body)
    write_json(root / "world.json", {"profile": "chains", "sites": {SITE: {"seed": "/"}}, "pages": []})
    return changed


def _changed_build(body: bytes) -> bytes:
    """The same page with one word of the cable's text changed (as a mirror re-publishing it)."""
    before = clean_page(body).cables[0]
    words = [w for w in re.findall(r"\b[A-Z]{7,}\b", before.text) if w not in (before.reference_id or "")]
    word = words[len(words) // 2]
    new = body.replace(word.encode(), (word[:-1] + "Q").encode())
    after = clean_page(new).cables[0]
    assert after.reference_id == before.reference_id and after.text != before.text
    return new


def start_mirror(root: Path) -> tuple[ChainWorld, dict[str, bytes], Path]:
    """Build the mirror world under `root` and serve it: (world, {path: changed body}, seeds file)."""
    changed = build_mirror(root)
    world = ChainWorld(root)
    world.routes = {
        SITE: {"/": ("file", "/_root.html"), "/latest.html": ("redirect", CHAINS["redirect-301"][0])}
    }
    world.start()
    seeds = root / "seeds.txt"
    seeds.write_text(f"{world.url(SITE, '/')}\n{world.url(SITE, '/hub.html')}\n", encoding="utf-8")
    return world, changed, seeds
