"""Discovery, seeds, URL safety and resume state: the crawler's pure parts, on real fixture pages."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from crawler import discovery as d
from crawler.failures import describe_exception
from crawler.frontier import Frontier, Target
from crawler.journal import BatchCommitted, BatchStart, Done, Journal
from crawler.middlewares import retry_after_seconds
from crawler.safety import UrlPolicy, is_private_address, literal_address
from crawler.seeds import SeedsFileError, read_seeds

WORLD = Path(__file__).parent / "fixtures" / "world"
CABLE_PAGE = WORLD / "cablegate" / "cable" / "2009" / "05" / "09TELAVIV1060.html"
WP_POST = WORLD / "wordpress" / "2010" / "12" / "03" / "us-embassy-cable-05brasilia2767" / "index.html"
BLOGGER_FRONT = WORLD / "blogger" / "index.html"
BASE = "http://127.0.0.1:8000"


# ----------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://m.org/cable/2009/05/09TELAVIV1060.html", d.CABLE),
        ("http://m.org/reldate/2010-12-08_0.html", d.INDEX),
        ("http://m.org/reldate/2010-12-08_1.html", d.NEXT),
        ("http://m.org/tag/PREL_0.html", d.INDEX),
        ("http://m.org/origin/67_0.html", d.INDEX),
        ("http://m.org/classification/4_0.html", d.INDEX),
        ("http://m.org/date/2009-05_0.html", d.INDEX),
        ("http://b.org/2010/12/03/us-embassy-cable-05brasilia2767/", d.POST),
        ("http://b.org/index.php/2010/11/28/some-post/", d.POST),
        ("http://b.org/?p=123", d.POST),
        ("http://b.blogspot.com/2010/12/wikileaks-tunisia.html", d.POST),
        ("http://b.org/page/2/", d.NEXT),
        ("http://b.org/?paged=3", d.NEXT),
        ("http://b.blogspot.com/search?updated-max=2010-12-01T10:00:00-08:00&max-results=7", d.NEXT),
        (
            "http://b.blogspot.com/search?updated-min=2010-01-01T00:00:00-08:00&updated-max=2011-01-01T00:00:00-08:00",
            d.INDEX,
        ),
        ("http://b.blogspot.com/search/label/wikileaks", d.INDEX),
        ("http://b.org/2010/12/", d.INDEX),
        ("http://b.blogspot.com/2010_12_01_archive.html", d.INDEX),
        ("http://b.org/category/politics/", d.INDEX),
        ("http://b.org/feed/", d.FEED),
        ("http://b.org/?feed=rss2", d.FEED),
        ("http://b.blogspot.com/feeds/posts/default", d.FEED),
        ("http://b.org/sitemap.xml", d.SITEMAP),
        ("http://b.org/wp-sitemap-posts-post-1.xml", d.SITEMAP),
        ("http://b.org/sitemap_index.xml.gz", d.SITEMAP),
        ("http://b.org/about/", d.PAGE),
    ],
)
def test_classify(url: str, kind: str) -> None:
    assert d.classify(url) == kind


def test_cable_pages_and_posts_come_before_index_pages() -> None:
    cable = Target("http://m.org/cable/2009/05/09TELAVIV1060.html", d.CABLE, 3)
    post = Target("http://b.org/2010/12/03/x/", d.POST, 2)
    index = Target("http://m.org/reldate/2010-12-08_0.html", d.INDEX, 1)
    assert cable.priority > post.priority > index.priority


@pytest.mark.parametrize(
    "url",
    [
        "http://b.org/wp-login.php",
        "http://b.org/wp-admin/edit.php",
        "http://b.org/xmlrpc.php?rsd",
        "http://b.org/2010/12/03/post/?replytocom=12",
        "http://b.org/2010/12/03/post/?share=twitter",
        "http://b.org/2010/12/03/post/feed/",
        "http://b.org/2010/12/03/post/comment-page-2/",
        "http://b.org/wp-content/uploads/x.png",
        "http://m.org/static/css/cables.css",
        "http://b.blogspot.com/2010/12/post.html?m=1",
        "http://b.blogspot.com/search?q=cable",
        "http://b.blogspot.com/feeds/12345/comments/default",
    ],
)
def test_chrome_links_are_skipped(url: str) -> None:
    assert d.is_skipped(url)


def test_site_key_treats_www_as_the_same_site_and_ports_as_different() -> None:
    assert d.site_key("http://www.example.org/a") == d.site_key("https://example.org/b") == "example.org"
    assert d.site_key("http://127.0.0.1:8000/") != d.site_key("http://127.0.0.1:8001/")
    assert d.site_key("ftp://example.org/") is None
    assert d.site_key("http://[::1/") is None


# ----------------------------------------------------------------------------- links from real pages


def test_cable_page_links_lead_to_viewer_index_pages() -> None:
    url = BASE + "/cable/2009/05/09TELAVIV1060.html"
    links = d.follow_links(d.extract_links(CABLE_PAGE.read_bytes(), url, "text/html"), {d.site_key(url)})
    kinds = {link.kind for link in links}
    urls = {link.url for link in links}
    assert {d.CABLE, d.INDEX, d.PAGE} <= kinds
    assert url in urls  # the table links the page itself
    assert any("/reldate/" in u for u in urls) and any("/classification/" in u for u in urls)
    # Off-site links (twitter, digg, wikisource) and static files are not followed.
    assert all(u.startswith(BASE) for u in urls)
    assert not any(u.endswith((".css", ".png", ".ico")) for u in urls)
    # One Link per page even though the sidebars repeat links.
    assert len(urls) == len(links)


def test_blog_post_links_rewritten_by_the_world_stay_on_site() -> None:
    url = BASE + "/2010/12/03/us-embassy-cable-05brasilia2767/"
    body = WP_POST.read_bytes().replace(b"http://wordpress.world.invalid", BASE.encode())
    links = d.follow_links(d.extract_links(body, url, "text/html"), {d.site_key(url)})
    urls = {link.url for link in links}
    assert BASE + "/feed/" in urls  # the feed <link rel=alternate> and anchors
    assert BASE + "/" in urls
    assert not any("pixelmonkey" in u for u in urls)


def test_blogger_older_posts_link_is_pagination() -> None:
    url = BASE + "/"
    body = BLOGGER_FRONT.read_bytes().replace(b"http://blogger.world.invalid", BASE.encode())
    links = d.extract_links(body, url, "text/html")
    older = [link for link in links if "updated-max" in link.url]
    assert older and all(link.kind == d.NEXT for link in older)
    assert any(link.kind == d.FEED and link.url.endswith("/feeds/posts/default") for link in links)


def test_feeds_and_sitemaps_from_the_world() -> None:
    feed = (
        (WORLD / "wordpress" / "feed" / "index.xml")
        .read_bytes()
        .replace(b"http://wordpress.world.invalid", BASE.encode())
    )
    rss = d.extract_links(feed, BASE + "/feed/", "application/rss+xml")
    assert rss and all(link.kind == d.POST for link in rss)
    atom_bytes = (WORLD / "blogger" / "feeds" / "posts" / "default").read_bytes()
    atom = d.extract_links(
        atom_bytes.replace(b"http://blogger.world.invalid", BASE.encode()),
        BASE + "/feeds/posts/default",
        "application/atom+xml",
    )
    assert atom and all(link.url.startswith(BASE) and link.kind == d.POST for link in atom)
    index = (
        (WORLD / "wordpress" / "sitemap.xml")
        .read_bytes()
        .replace(b"http://wordpress.world.invalid", BASE.encode())
    )
    children = d.extract_links(index, BASE + "/sitemap.xml", "application/xml")
    assert [link.kind for link in children] == [d.SITEMAP, d.SITEMAP]
    robots = (
        (WORLD / "wordpress" / "robots.txt")
        .read_bytes()
        .replace(b"http://wordpress.world.invalid", BASE.encode())
    )
    assert d.extract_links(robots, BASE + "/robots.txt", "text/plain") == [
        d.Link(BASE + "/sitemap.xml", d.SITEMAP)
    ]


def test_gzipped_sitemap_and_rss1() -> None:
    import gzip

    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://b.org/2010/12/03/a-post/</loc></url></urlset>"
    )
    links = d.sitemap_links(gzip.compress(urlset), "http://b.org/sitemap.xml.gz")
    assert links == [d.Link("http://b.org/2010/12/03/a-post/", d.POST)]
    rdf = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/"><item rdf:about="http://b.org/?p=7"><link>http://b.org/?p=7</link>'
        b"</item></rdf:RDF>"
    )
    assert {link.url for link in d.feed_links(rdf, "http://b.org/feed/rdf")} == {"http://b.org/?p=7"}


def test_xml_with_entities_is_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
        b'<!ENTITY ext SYSTEM "file:///etc/passwd">]><urlset><url><loc>http://b.org/&lol2;&ext;</loc></url></urlset>'
    )
    links = d.sitemap_links(bomb, "http://b.org/sitemap.xml")
    assert all("root:" not in link.url and "lollol" not in link.url for link in links)


@pytest.mark.parametrize(
    "href",
    [
        "/" + "a" * 5000,
        "http://[::1",
        "http://%zz/",
        "javascript:alert(1)",
        "data:text/html,x",
        "mailto:a@b.org",
        "http://ex ample.com/",
        "\u202e/x",
        "http://user@:99999/",
    ],
)
def test_hostile_links_never_raise(href: str) -> None:
    page = f'<html><body><a href="{href}">x</a><a href="/ok">ok</a></body></html>'.encode(
        "utf-8", "surrogatepass"
    )
    links = d.extract_links(page, BASE + "/", "text/html")
    assert BASE + "/ok" in {link.url for link in links}
    assert all(len(link.url) <= d.MAX_URL_LENGTH and link.url.startswith("http") for link in links)


def test_garbage_bodies_give_no_links() -> None:
    for body in (b"", b"\x00\x01\x02" * 1000, b"<?xml version='1.0'?><urlset><url><loc>", b"<<<<>>>>"):
        assert isinstance(d.extract_links(body, BASE + "/x", None), list)


# ----------------------------------------------------------------------------- seeds


def test_seeds_file_bad_lines_are_reported_not_fatal(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(
        "# mirrors\n\nhttp://mirror.example/\n  https://blog.example/2010/12/post/  # a post\n"
        "not a url\nftp://files.example/\nhttp://[::1/\nhttp://mirror.example/\nhttp://a.example/#frag\n"
        "http://u:p@b.example/\nhttp://two.example/ http://three.example/\n",
        encoding="utf-8",
    )
    result = read_seeds(seeds)
    assert result.urls == [
        "http://mirror.example/",
        "https://blog.example/2010/12/post/",
        "http://a.example/#frag",
    ]
    by_line = {e.line: e.reason for e in result.errors}
    assert set(by_line) == {5, 6, 7, 10, 11}
    assert "scheme 'ftp'" in by_line[6]
    assert "malformed" in by_line[7]
    assert "password" in by_line[10]


def test_seeds_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(SeedsFileError, match="no such seeds file"):
        read_seeds(tmp_path / "missing.txt")
    with pytest.raises(SeedsFileError, match="folder"):
        read_seeds(tmp_path)
    (tmp_path / "latin1.txt").write_bytes(b"http://ok.example/\nhttp://caf\xe9.example/\n")
    result = read_seeds(tmp_path / "latin1.txt")
    assert result.urls == ["http://ok.example/"] and result.errors[0].line == 2


# ----------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
    ],
)
def test_private_addresses(address: str, private: bool) -> None:
    assert is_private_address(ipaddress.ip_address(address)) is private


def test_odd_spellings_of_loopback_are_recognised() -> None:
    for host in ("2130706433", "0x7f.1", "127.1", "0177.0.0.1", "[::1]"):
        ip = literal_address(host)
        assert ip is not None and is_private_address(ip), host


def test_policy_trusts_seed_hosts_only() -> None:
    policy = UrlPolicy()
    policy.trust("http://127.0.0.1:8000/")
    assert policy.refusal("http://127.0.0.1:9999/other-port") is None  # same host as a seed
    assert "private" in (policy.refusal("http://10.0.0.1/") or "")
    assert "private" in (policy.refusal("http://localhost:8000/") or "")
    assert "private" in (policy.refusal("http://[::1]/") or "")
    assert "scheme" in (policy.refusal("ftp://example.org/") or "")
    assert "scheme" in (policy.refusal("file:///etc/passwd") or "")
    assert UrlPolicy(allow_private=True).refusal("http://10.0.0.1/") is None


# ----------------------------------------------------------------------------- retries and reasons


def test_retry_after_header() -> None:
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None


def test_failure_reasons_are_plain_words() -> None:
    from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest

    assert "timed out" in describe_exception(
        DownloadTimeoutError("Getting http://x took longer than 2.0 seconds.")
    )
    big = DownloadCancelledError(
        "Expected to receive 52428800 bytes which is larger than download max size (20971520)"
    )
    assert describe_exception(big).startswith("too large: announced size 50.0 MB")
    bomb = IgnoreRequest(
        "Ignored response <200 http://x> because its body (101941 B compressed, 21037056 B "
        "decompressed so far) exceeded DOWNLOAD_MAXSIZE (20971520 B) during decompression."
    )
    assert "decompression bomb" in describe_exception(bomb)


# ----------------------------------------------------------------------------- frontier and journal


def test_frontier_depth_limits_and_free_pagination() -> None:
    f = Frontier(max_depth=1, max_pages=None)
    f.add_site("http://b.org/")
    links = [d.Link("http://b.org/2010/12/03/post/", d.POST), d.Link("http://b.org/page/2/", d.NEXT)]
    first = list(f.children(links, 0))
    assert [(t.url, t.depth) for t in first] == [
        ("http://b.org/2010/12/03/post/", 1),
        ("http://b.org/page/2/", 0),
    ]
    # From depth 1 a post is too deep, but the next page of a list is not.
    deeper = [d.Link("http://b.org/2010/12/04/other/", d.POST), d.Link("http://b.org/page/3/", d.NEXT)]
    assert [t.url for t in f.children(deeper, 1)] == ["http://b.org/page/3/"]
    # A URL is scheduled once, whatever its spelling of the query or fragment.
    assert list(f.children([d.Link("http://b.org/page/2/#top", d.NEXT)], 0)) == []


def test_frontier_max_pages_and_robots() -> None:
    f = Frontier(max_depth=5, max_pages=2)
    links = [d.Link(f"http://b.org/2010/12/0{i}/p/", d.POST) for i in range(1, 6)]
    got = list(f.children(links, 0, allowed=lambda u: "/03/" not in u))
    assert len(got) == 2 and f.disallowed == 1 and f.dropped_for_limit == 2


def test_journal_restore_keeps_committed_batches_only(tmp_path: Path) -> None:
    j = Journal(tmp_path / "crawl")
    j.start({"seeds": "s.txt"}, resume=False)
    seed = Target("http://b.org/", d.PAGE, 0, seed=True)
    j.append([seed.record()])
    a = Target("http://b.org/2010/12/03/a/", d.POST, 1)
    b = Target("http://b.org/2010/12/04/b/", d.POST, 1)
    c = Target("http://b.org/2010/12/05/c/", d.POST, 1)
    j.append(
        [
            BatchStart(1, "R1"),
            a.record(),
            b.record(),
            Done(seed.url),
            BatchCommitted(1),
        ]
    )
    # Killed before "c": page a (which scheduled c) and page b (which scheduled nothing).
    j.append([BatchStart(2, "R1"), c.record(), Done(a.url), Done(b.url)])
    with open(j.log_path, "a", encoding="utf-8") as fh:
        fh.write('{"t": "d", "u": "http://b.org/torn')  # a line cut by the kill
    assert j.resumable()

    not_committed = Frontier(3, None)
    left = not_committed.restore(Journal(tmp_path / "crawl"), captured=lambda run, urls: set())
    assert {t.url for t in left} == {a.url, b.url}

    # The cut batch's page `a` has a capture from run R1: it is done, its links (c) are kept,
    # and it is not fetched again (its cables were committed with its capture).
    committed = Frontier(3, None)
    left = committed.restore(
        Journal(tmp_path / "crawl"), captured=lambda run, urls: {a.url} if run == "R1" else set()
    )
    assert {t.url for t in left} == {b.url, c.url}
    assert committed.pages == 4 and seed.url not in {t.url for t in left}

    j.finish("finished")
    assert not Journal(tmp_path / "crawl").resumable()
    assert json.loads((tmp_path / "crawl" / "job.json").read_text())["status"] == "finished"
