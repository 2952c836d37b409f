"""A re-crawl reaches every page the first crawl reached, whatever led there, and archives every change.

The mirror below answers conditional requests with 304, as real mirrors do. Each cable page is
reachable one way only: through the root's meta refresh, a 301, pagination (rel=next), an RSS
feed, or a sitemap named only by robots.txt's `Sitemap:` line. Between the two crawls the mirror
changes every cable page; the pages that lead to them stay the same (so they answer 304 and the
crawler must read their stored copies).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archive import Archive, source_key
from cleaners import clean_page

from integrity_support import CHAINS, SITE, ChainWorld, heads, start_mirror
from mockserver import cablearchive, settings_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    world, changed, seeds = start_mirror(tmp_path_factory.mktemp("chainworld"))
    yield {"world": world, "changed": changed, "seeds": seeds}
    world.stop()


def _crawl(seeds: Path, archive: Path) -> Any:
    return cablearchive("crawl", str(seeds), "--archive", str(archive), *settings_args(), timeout=300)


@pytest.fixture(scope="module")
def recrawl(mirror: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    world: ChainWorld = mirror["world"]
    archive = tmp_path_factory.mktemp("chains") / "archive"
    first = _crawl(mirror["seeds"], archive)
    first_paths = world.paths_served()
    before = heads(archive)
    for path, body in mirror["changed"].items():
        world.set_page(SITE, path, body)
    mark = len(world.hits)
    second = _crawl(mirror["seeds"], archive)
    return {
        "archive": archive,
        "first": first,
        "second": second,
        "first_paths": first_paths,
        "second_paths": world.paths_served(mark),
        "second_hits": world.hits[mark:],
        "before": before,
        "after": heads(archive),
    }


def _refs(path: str) -> str:
    return Path(path).stem


def test_first_crawl_reaches_every_cable_of_the_mirror(recrawl: dict[str, Any]) -> None:
    # The precondition of everything below: each way of leading on works on a first crawl.
    assert "Traceback" not in recrawl["first"].stderr, recrawl["first"].stderr
    assert set(recrawl["before"]) == {_refs(p) for p, _ in CHAINS.values()}, recrawl["first"].stdout
    assert all(head == 1 for head in recrawl["before"].values())


@pytest.mark.parametrize(
    "chain",
    [
        "meta-refresh",
        "redirect-301",
        "pagination",
        "feed",
        "robots-sitemap",
    ],
)
def test_a_change_behind_an_unchanged_page_becomes_a_version(
    recrawl: dict[str, Any], mirror: dict[str, Any], chain: str
) -> None:
    path = CHAINS[chain][0]
    ref = _refs(path)
    world: ChainWorld = mirror["world"]
    assert path in recrawl["second_paths"], f"{chain}: {path} was not fetched again"
    assert recrawl["after"][ref] == recrawl["before"][ref] + 1, f"{chain}: {ref} got no new version"
    url = world.url(SITE, path)
    expected = clean_page(world.localize(mirror["changed"][path]), url=url).cables[0].text
    with Archive.open(recrawl["archive"]) as arch:
        assert arch.cable(ref).source(source_key(url))[0] == expected
        assert arch.cable(ref).text() == expected


def test_recrawl_reaches_every_url_and_adds_exactly_the_changed_versions(recrawl: dict[str, Any]) -> None:
    missing = recrawl["first_paths"] - recrawl["second_paths"]
    assert not missing, f"not reached again: {sorted(missing)}"
    changed = {ref for ref, head in recrawl["after"].items() if head != recrawl["before"].get(ref)}
    assert changed == {_refs(p) for p, _ in CHAINS.values()}
    assert all(recrawl["after"][r] == recrawl["before"][r] + 1 for r in changed)
    # The unchanged pages that lead on were asked for conditionally and answered 304.
    leading = [h for h in recrawl["second_hits"] if h.path in ("/", "/index.html", "/hub.html", "/page/2/")]
    assert leading and all(h.status == 304 for h in leading if h.path != "/index.html")


# ----------------------------------------------------------------------------- what leads on, one reading

LEADS_ON = [
    # (status, headers, body, the URLs it leads on to)
    (
        200,
        [("Content-Type", "text/html")],
        b'<html><head><meta http-equiv="Refresh" content="0; URL=\'/index.html\'"></head><body></body></html>',
        {"http://m.example/index.html"},
    ),
    (
        301,
        [("Location", "/cable/2010/02/10HARARE93.html")],
        b"",
        {"http://m.example/cable/2010/02/10HARARE93.html"},
    ),
    (
        302,
        [("Location", "http://m.example/x.html")],
        b"<a href='/not-this.html'>moved</a>",
        {"http://m.example/x.html"},
    ),
    (
        200,
        [("Content-Type", "text/html"), ("Refresh", "3;url=/later.html")],
        b"<p>soon</p>",
        {"http://m.example/later.html"},
    ),
    (
        200,
        [("Content-Type", "text/html")],
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed/"></head>'
        b'<body><a rel="next" href="/page/2/">older</a></body></html>',
        {"http://m.example/feed/", "http://m.example/page/2/"},
    ),
    (
        200,
        [("Content-Type", "application/rss+xml")],
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><link>http://m.example/p.html</link></item>'
        b"</channel></rss>",
        {"http://m.example/p.html"},
    ),
    (
        200,
        [("Content-Type", "application/xml")],
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://m.example/s.html</loc></url></urlset>",
        {"http://m.example/s.html"},
    ),
]


@pytest.mark.parametrize(("status", "headers", "body", "expected"), LEADS_ON)
def test_a_stored_copy_leads_on_exactly_as_the_fresh_answer(
    tmp_path: Path, status: int, headers: list[tuple[str, str]], body: bytes, expected: set[str]
) -> None:
    from crawler.discovery import leads_on
    from crawler.reader import ArchiveReader

    url = "http://m.example/"
    fresh = {link.url for link in leads_on(status, headers, body, url)}
    assert fresh == expected
    # What the crawler reads on a 304: the archived copy, through its reader.
    arch = Archive.create(tmp_path / "a")
    with arch.writer(kind="crawl") as w:
        w.add_capture(url, status, [*headers, ("ETag", '"v1"')], body)
    arch.close()
    notes: list[tuple[str, str]] = []
    reader = ArchiveReader(str(tmp_path / "a"), lambda u, r: notes.append((u, r)))
    try:
        stored = reader._stored(url)
    finally:
        reader.close()
    assert stored is not None and not notes
    s_status, s_headers, s_body = stored
    assert {link.url for link in leads_on(s_status, s_headers, s_body, url)} == expected


def test_robots_sitemap_lines_lead_on() -> None:
    from crawler.discovery import leads_on

    links = leads_on(
        200,
        [("Content-Type", "text/plain")],
        b"User-agent: *\nSitemap: /maps/a.xml\n",
        "http://m.example/robots.txt",
    )
    assert [link.url for link in links] == ["http://m.example/maps/a.xml"]


# ----------------------------------------------------------------------------- a 304 with nothing stored


class _Odd304(BaseHTTPRequestHandler):
    """Answers the first request of each path with 304 (no copy of it was ever stored), then the page;
    /always answers 304 whatever is asked."""

    hits: list[tuple[str, bool]]
    page: bytes

    def do_GET(self) -> None:
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        self.hits.append((self.path, conditional))
        first = sum(1 for p, _c in self.hits if p == self.path) == 1
        if self.path == "/robots.txt":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/always" or first:
            self.send_response(304)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(self.page)))
            self.end_headers()
            self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


def test_a_304_with_no_stored_copy_is_fetched_again_unconditionally(tmp_path: Path) -> None:
    handler = type("H", (_Odd304,), {"hits": [], "page": CHAINS["robots-sitemap"][1].read_bytes()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{base}/cable/2006/08/06BERLIN2546.html\n{base}/always\n", encoding="utf-8")
        proc = cablearchive(
            "crawl",
            str(seeds),
            "--archive",
            str(tmp_path / "a"),
            "--depth",
            "0",
            *settings_args(),
            timeout=300,
        )
    finally:
        server.shutdown()
    cable = [c for p, c in handler.hits if p == "/cable/2006/08/06BERLIN2546.html"]
    assert cable == [False, False], handler.hits  # asked twice, never conditionally
    assert heads(tmp_path / "a") == {"06BERLIN2546": 1}
    assert [c for p, c in handler.hits if p == "/always"] == [False, False]
    assert (
        proc.returncode == 1 and f"{base}/always: HTTP 304 Not Modified, and no archived copy" in proc.stdout
    )


class _MovedRobots(BaseHTTPRequestHandler):
    """A site whose robots.txt moved (301) to a file that disallows /secret/, linked from its home page."""

    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path == "/robots.txt":
            self._send(301, b"", {"Location": "/config/robots.txt"})
        elif self.path == "/config/robots.txt":
            self._send(200, b"User-agent: *\nDisallow: /secret/\n", {"Content-Type": "text/plain"})
        elif self.path == "/":
            body = (
                b'<html><body><a href="/secret/x.html">x</a> <a href="/open.html">o</a>'
                b' <a href="/out">elsewhere</a></body></html>'
            )
            self._send(200, body, {"Content-Type": "text/html"})
        elif self.path == "/out":  # a link that leaves the site through a redirect: noted, not followed
            self._send(302, b"", {"Location": "http://elsewhere.invalid/page.html"})
        else:
            self._send(200, b"<html><body>page</body></html>", {"Content-Type": "text/html"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_moved_robots_txt_is_followed_and_obeyed_and_an_offsite_redirect_noted(tmp_path: Path) -> None:
    handler = type("H", (_MovedRobots,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{base}/\n", encoding="utf-8")
        proc = cablearchive(
            "crawl",
            str(seeds),
            "--archive",
            str(tmp_path / "a"),
            "--depth",
            "1",
            *settings_args(),
            timeout=300,
        )
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{base}/out: HTTP 302 Found to http://elsewhere.invalid/page.html: not followed" in proc.stdout
    assert "/config/robots.txt" in handler.hits and "/open.html" in handler.hits
    assert "/secret/x.html" not in handler.hits, handler.hits
    with Archive.open(tmp_path / "a") as arch:
        urls = {c.url for c in arch.captures(newest_per_url=False)}
    assert {f"{base}/robots.txt", f"{base}/config/robots.txt"} <= urls
