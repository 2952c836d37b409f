"""A small world of mirror sites served on 127.0.0.1, one port per site (for the demo and the tests).

A world folder holds one sub-folder per site plus `world.json`. Pages refer to each site as
`http://<site>.world.invalid`; the server rewrites that to the site's real address. It sends
ETag and Last-Modified and answers conditional requests with 304, like a real server, and a
page can be replaced while it runs (`set_page`, or `PUT /__world__/page?site=S&path=P`),
which is how a site "publishes a new build" between two crawls.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import os
import posixpath
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

PLACEHOLDER = "http://{site}.world.invalid"
CONTROL_PREFIX = "/__world__/"


def query_filename(path: str, query: str) -> str:
    """The file that stores `path?query`: the query is kept in the name after an `@`."""
    if not query:
        return path
    return f"{path}@{quote(unquote(query), safe='=&-_.~')}"


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def sniff_type(rel: str, body: bytes) -> str:
    """Content-Type for a world file: by its bytes (feeds, sitemaps, HTML), else by its name."""
    head = body[:1024].lstrip().lower()
    name = rel.rsplit("/", 1)[-1]
    if name == "robots.txt":
        return "text/plain; charset=utf-8"
    if head.startswith(b"<?xml") or head.startswith(b"<rss") or head.startswith(b"<feed"):
        if b"<rss" in head:
            return "application/rss+xml; charset=utf-8"
        if b"<feed" in head:
            return "application/atom+xml; charset=utf-8"
        if b"<urlset" in head or b"<sitemapindex" in head:
            return "application/xml; charset=utf-8"
        if b"<html" in body[:4096].lower():
            return _html_type(body)
        return "application/xml; charset=utf-8"
    guessed = mimetypes.guess_type(name)[0]
    if guessed and guessed != "text/html":
        return guessed
    return _html_type(body)


def _html_type(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "text/html"
    return "text/html; charset=utf-8"


@dataclass
class Hit:
    """One request the world served."""

    site: str
    method: str
    path: str
    status: int
    conditional: bool
    bytes: int
    user_agent: str = ""
    time: float = 0.0


@dataclass
class World:
    """A world folder served on 127.0.0.1: one HTTP server per site."""

    root: Path
    host: str = "127.0.0.1"
    control: bool = False
    servers: dict[str, ThreadingHTTPServer] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    overlay: dict[tuple[str, str], tuple[bytes, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        meta = json.loads((self.root / "world.json").read_text(encoding="utf-8"))
        self.meta: dict[str, Any] = meta
        self.sites: list[str] = list(meta["sites"])

    # --------------------------------------------------------------- lifecycle
    def start(self, ports: dict[str, int] | None = None) -> World:
        """Start one server per site (port 0: any free port) in daemon threads."""
        for site in self.sites:
            handler = type(f"Handler_{site}", (WorldHandler,), {"world": self, "site": site})
            server = ThreadingHTTPServer((self.host, (ports or {}).get(site, 0)), handler)
            server.daemon_threads = True
            self.servers[site] = server
            self.ports[site] = server.server_address[1]
            threading.Thread(target=server.serve_forever, name=f"world-{site}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop every server."""
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        self.servers.clear()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- addresses
    def base(self, site: str) -> str:
        """The real base URL of a site, e.g. http://127.0.0.1:43121."""
        return f"http://{self.host}:{self.ports[site]}"

    def url(self, site: str, path: str = "/") -> str:
        """The real URL of a path on a site."""
        return self.base(site) + path

    def localize(self, data: bytes) -> bytes:
        """Replace every site placeholder with the site's real base URL."""
        if b".world.invalid" not in data:
            return data
        for site in self.sites:
            data = data.replace(PLACEHOLDER.format(site=site).encode(), self.base(site).encode())
        return data

    # --------------------------------------------------------------- content
    def set_page(self, site: str, path: str, body: bytes | None) -> None:
        """Serve `body` at `path` from now on (None: back to the file, or 404 if there is none)."""
        with self.lock:
            if body is None:
                self.overlay.pop((site, path), None)
            else:
                self.overlay[(site, path)] = (body, time.time())

    def file_for(self, site: str, path: str, query: str = "") -> Path | None:
        """The world file behind a request path, or None (also for anything outside the site)."""
        rel = unquote(path)
        if "\x00" in rel or "\\" in rel:
            return None
        rel = posixpath.normpath("/" + rel.lstrip("/"))
        if path.endswith("/") and rel != "/":
            rel += "/"
        if any(part in ("..", ".") for part in rel.split("/")):
            return None
        site_root = (self.root / site).resolve()
        name = query_filename(rel, query).lstrip("/")
        candidates = [name + "index.html", name + "index.xml"] if name.endswith("/") or not name else [name]
        for cand in candidates:
            p = (site_root / cand).resolve() if cand else site_root
            if site_root not in p.parents and p != site_root:
                return None
            if p.is_file():
                return p
        return None

    def page(self, site: str, path: str, query: str = "") -> tuple[bytes, float, str] | None:
        """(body, last-modified time, content type) of a page, or None when there is no such page."""
        key = query_filename(path, query)
        with self.lock:
            over = self.overlay.get((site, key))
        if over is not None:
            body, mtime = over
            return self.localize(body), mtime, sniff_type(path, body)
        p = self.file_for(site, path, query)
        if p is None:
            return None
        raw = p.read_bytes()
        return self.localize(raw), p.stat().st_mtime, sniff_type(p.name, raw)

    def record(self, hit: Hit) -> None:
        """Keep a served request in the log."""
        with self.lock:
            self.hits.append(hit)

    def hits_json(self) -> list[dict[str, Any]]:
        """The request log as plain JSON."""
        with self.lock:
            return [h.__dict__.copy() for h in self.hits]


class WorldHandler(BaseHTTPRequestHandler):
    """Serves one site of a World; subclasses may add routes by overriding `route`."""

    world: World
    site: str
    server_version = "worldserver/1.0"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a small body waits for a delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --------------------------------------------------------------- dispatch
    def do_GET(self) -> None:
        self.handle_request("GET")

    def do_HEAD(self) -> None:
        self.handle_request("HEAD")

    def do_PUT(self) -> None:
        self.handle_request("PUT")

    def handle_request(self, method: str) -> None:
        """Control routes, then `route` (for subclasses), then the world's files."""
        parts = urlsplit(self.path)
        if self.world.control and parts.path.startswith(CONTROL_PREFIX):
            self.control(method, parts.path[len(CONTROL_PREFIX) :], parse_qs(parts.query))
            return
        if method == "PUT":
            self.send_simple(405, b"method not allowed\n")
            return
        if self.route(method, parts.path, parts.query):
            return
        self.serve_file(method, parts.path, parts.query)

    def route(self, method: str, path: str, query: str) -> bool:
        """Extra routes of a subclass; return True when the request was answered."""
        return False

    # --------------------------------------------------------------- answers
    def serve_file(self, method: str, path: str, query: str) -> None:
        """A world page with ETag / Last-Modified, 304 on a matching conditional request."""
        page = self.world.page(self.site, path, query)
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        if page is None:
            self.send_simple(
                404,
                b"<html><body><h1>404 Not Found</h1></body></html>\n",
                "text/html",
                method=method,
                conditional=conditional,
            )
            return
        body, mtime, ctype = page
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        last_modified = _http_date(mtime)
        if self._not_modified(etag, mtime):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            self._log(method, path, query, 304, conditional, 0)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)
        self._log(method, path, query, 200, conditional, len(body))

    def _not_modified(self, etag: str, mtime: float) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                return False
            return int(mtime) <= int(since)
        return False

    def send_simple(
        self,
        status: int,
        body: bytes,
        ctype: str = "text/plain",
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        conditional: bool = False,
    ) -> None:
        """A complete small response."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)
        parts = urlsplit(self.path)
        self._log(method, parts.path, parts.query, status, conditional, len(body))

    def _log(self, method: str, path: str, query: str, status: int, conditional: bool, size: int) -> None:
        shown = path + (f"?{query}" if query else "")
        self.world.record(
            Hit(
                self.site,
                method,
                shown,
                status,
                conditional,
                size,
                self.headers.get("User-Agent", ""),
                time.time(),
            )
        )

    # --------------------------------------------------------------- control
    def control(self, method: str, name: str, query: dict[str, list[str]]) -> None:
        """GET __world__/hits (the request log); PUT __world__/page?site=S&path=P (new content)."""
        if name == "hits" and method == "GET":
            data = json.dumps(self.world.hits_json()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if name == "page" and method == "PUT":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            site = (query.get("site") or [self.site])[0]
            path = (query.get("path") or ["/"])[0]
            self.world.set_page(site, path, body if length or not query.get("reset") else None)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve_world(root: str | os.PathLike[str], control: bool = False) -> World:
    """Start serving a world folder; the caller stops it with `.stop()`."""
    return World(Path(root), control=control).start()


_SITE_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def check_world(root: str | os.PathLike[str]) -> list[str]:
    """Problems with a world folder (missing world.json, bad site names); empty when fine."""
    problems = []
    try:
        meta = json.loads((Path(root) / "world.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{root}/world.json: {exc}"]
    for site in meta.get("sites", {}):
        if not _SITE_RE.match(site):
            problems.append(f"site name {site!r}: lower-case letters, digits and dashes only")
        elif not (Path(root) / site).is_dir():
            problems.append(f"{root}/{site}: missing")
    return problems
