"""Finding pages on a mirror site: classify URLs, pick links to follow, read feeds, sitemaps, robots.txt.

Pure functions over bytes and strings: no Scrapy, no network. They run in the cleaning
worker processes next to `clean_page`, so a page is parsed off the reactor thread.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html
from w3lib.encoding import html_to_unicode
from w3lib.url import canonicalize_url, safe_url_string

# Browsers and servers commonly stop at about 2 KB; longer links are traps or garbage.
MAX_URL_LENGTH = 2083
# A sitemap or feed above this is not worth decompressing (the sitemap protocol caps at 50 MB).
MAX_XML_BYTES = 50 * 1024 * 1024

# What a link is, which decides its priority and whether following it costs a level of depth.
CABLE = "cable"  # a cablegate viewer cable page: /cable/YYYY/MM/REF.html
POST = "post"  # a blog post, or any URL naming a cable reference
PAGE = "page"  # some other page on the site
INDEX = "index"  # lists of posts or cables: archives, labels, tags, viewer index pages
NEXT = "next"  # the next page of the same list (pagination): free, does not add depth
FEED = "feed"  # RSS / Atom: free, its entries are one level down
SITEMAP = "sitemap"  # sitemap or sitemap index: free, its entries are one level down
ROBOTS = "robots"
# Where a response sends its client on: a 3xx Location, a Refresh header, a meta refresh. Free:
# the page it leads to stands in for the page that led there.
REDIRECT = "redirect"

# Scheduler priorities: likely cable pages and posts before the lists that lead to them.
PRIORITY = {
    REDIRECT: 350,
    CABLE: 300,
    POST: 200,
    FEED: 150,
    SITEMAP: 150,
    ROBOTS: 150,
    PAGE: 100,
    NEXT: 60,
    INDEX: 50,
}
# How many levels of depth following a link of that kind costs.
DEPTH_COST = {REDIRECT: 0, CABLE: 1, POST: 1, PAGE: 1, INDEX: 1, NEXT: 0, FEED: 0, SITEMAP: 0, ROBOTS: 0}

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Extensions of files that are never pages (Scrapy's list, plus feeds' odd cousins).
_SKIP_EXTENSIONS = frozenset(
    [
        "7z",
        "7zip",
        "apk",
        "bz2",
        "cdr",
        "dmg",
        "ico",
        "iso",
        "jar",
        "rar",
        "tar",
        "tgz",
        "gz",
        "zip",
        "xz",
        "zst",
        "bin",
        "exe",
        "msi",
        "deb",
        "rpm",
        "mng",
        "pct",
        "bmp",
        "gif",
        "jpg",
        "jpeg",
        "png",
        "pst",
        "psp",
        "tif",
        "tiff",
        "ai",
        "drw",
        "dxf",
        "eps",
        "ps",
        "svg",
        "cdr",
        "webp",
        "avif",
        "heic",
        "mp3",
        "wma",
        "ogg",
        "wav",
        "ra",
        "aac",
        "mid",
        "au",
        "aiff",
        "m4a",
        "flac",
        "opus",
        "3gp",
        "asf",
        "asx",
        "avi",
        "mov",
        "mp4",
        "mpg",
        "qt",
        "rm",
        "swf",
        "wmv",
        "m4v",
        "webm",
        "flv",
        "mkv",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "pps",
        "doc",
        "docx",
        "odt",
        "ods",
        "odg",
        "odp",
        "pdf",
        "epub",
        "css",
        "js",
        "mjs",
        "map",
        "woff",
        "woff2",
        "ttf",
        "otf",
        "eot",
        "exe",
    ]
)

# Paths and queries of WordPress / Blogger / generic chrome that never hold a post.
_SKIP_PATH = re.compile(
    r"""(?xi)
    /wp-(?:admin|login\.php|json|content|includes|cron\.php|signup\.php|trackback\.php)(?:/|$|\?)
    | /xmlrpc\.php | /trackback/?$ | /comment-page-\d+ | /comments/feed | /embed/?$
    | /feeds/\d+/comments/ | /(?:delete-comment|share-post|comment-iframe|post-edit|rearrange)\.g
    | /cdn-cgi/ | /(?:login|logout|signin|signup|register|cart|checkout)(?:/|\.php|$)
    | /amp/?$ | /attachment/ | /print/?$ | /\d{4}/\d{2}/\d{2}/[^/]+/feed(?:/\w+)?/?$
    """
)
_SKIP_QUERY_KEYS = frozenset(
    {
        "replytocom",
        "share",
        "showcomment",
        "action",
        "attachment_id",
        "print",
        "amp",
        "like_comment",
        "preview",
        "ver",
        "widgettype",
        "redirect_to",
        "_wpnonce",
        "reblog",
    }
)

_CABLE_PATH = re.compile(r"/cable/\d{4}/\d{2}/\d{2}[A-Z][A-Z0-9]*?\d+\.html?$", re.I)
# A cable reference in a slug: 09ROME97, 08STATE116943, 09UNVIEVIENNA540, 75TEHRAN2069.
_REF_IN_PATH = re.compile(r"(?<![a-z0-9])\d{2}[a-z]{3,}[a-z]*\d{1,6}(?![a-z0-9])", re.I)
_VIEWER_INDEX = re.compile(r"/(?:reldate|date|origin|tag|classification)/[^/]+\.html?$", re.I)
_VIEWER_PAGED = re.compile(r"_(\d+)\.html?$", re.I)
_WP_POST = re.compile(
    r"/\d{4}/\d{2}/\d{2}/[^/]+/?$|/\d{4}/\d{2}/[^/]*[a-z][^/]*\.html?$|/post/\d+(?:/|$)", re.I
)
_DATE_ARCHIVE = re.compile(r"/\d{4}(?:/\d{2}(?:/\d{2})?)?/?$|/\d{4}_\d{2}_\d{2}_archive\.html$", re.I)
_LIST_PATH = re.compile(r"/(?:category|tag|tags|label|author|archives?|topics?)/|/search/label/", re.I)
_PAGE_N = re.compile(r"/page/\d+/?$", re.I)
_FEED_PATH = re.compile(
    r"(?:/feed(?:/(?:rss2?|atom|rdf))?/?|/feeds/posts/(?:default|summary)(?:/-/[^/]+)?|"
    r"/(?:rss|atom|index|feed)\.(?:xml|rss|atom)|\.(?:rss|atom))$",
    re.I,
)
_SITEMAP_PATH = re.compile(r"/[^/]*sitemap[^/]*\.xml(?:\.gz)?$", re.I)


@dataclass(frozen=True)
class Link:
    """A link worth following: absolute URL, what it looks like, and (once known) its dedup key."""

    url: str
    kind: str
    key: str = field(default="", compare=False)

    @property
    def priority(self) -> int:
        """Scheduler priority of the link."""
        return PRIORITY[self.kind]

    @property
    def depth_cost(self) -> int:
        """Levels of depth that following this link costs."""
        return DEPTH_COST[self.kind]


def site_key(url: str) -> str | None:
    """The site a URL belongs to: host without `www.`, plus a non-default port; None if not http(s)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return None
    if host.startswith("www."):
        host = host[4:]
    if port and port != _DEFAULT_PORTS[parts.scheme]:
        return f"{host}:{port}"
    return host


def url_key(url: str) -> str:
    """The key that says two URLs are the same page: canonical form without the fragment."""
    try:
        return canonicalize_url(url, keep_fragments=False)
    except (ValueError, UnicodeError):
        return url


def normalize_link(href: str, base: str) -> str | None:
    """An absolute, safely encoded http(s) URL for `href` found on page `base`, or None."""
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    if href[:5].lower() == "feed:":  # feed:http://... is a feed reader hint around a URL
        href = href[5:]
    if len(href) > MAX_URL_LENGTH:
        return None
    try:
        url = safe_url_string(urljoin(base, href))
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except (ValueError, UnicodeError):
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or len(url) > MAX_URL_LENGTH:
        return None
    return urlunsplit(parts._replace(fragment=""))


def is_skipped(url: str) -> bool:
    """True for URLs that never hold a post: static files, admin, comment and share links."""
    parts = urlsplit(url)
    path = parts.path
    last = path.rsplit("/", 1)[-1]
    if "." in last and last.rsplit(".", 1)[-1].lower() in _SKIP_EXTENSIONS:
        return True
    if _SKIP_PATH.search(path):
        return True
    if parts.query:
        query = parse_qsl(parts.query, keep_blank_values=True)
        keys = {k.lower() for k, _ in query}
        if keys & _SKIP_QUERY_KEYS:
            return True
        # Blogger's ?m=1 is the mobile copy of the same page; /search?q= is a search, not a list.
        if ("m", "1") in query or ("m", "0") in query:
            return True
        if path.rstrip("/").endswith("/search") and "updated-max" not in keys and "updated-min" not in keys:
            return True
    return False


def classify(url: str) -> str:
    """What kind of page a same-site URL probably is (CABLE, POST, INDEX, NEXT, FEED, SITEMAP, PAGE)."""
    parts = urlsplit(url)
    path, query = parts.path, parts.query
    query_keys = {k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)}
    if path.endswith("/robots.txt"):
        return ROBOTS
    if _SITEMAP_PATH.search(path):
        return SITEMAP
    if _FEED_PATH.search(path) or "feed" in query_keys:
        return FEED
    if _CABLE_PATH.search(path):
        return CABLE
    if _VIEWER_INDEX.search(path):
        match = _VIEWER_PAGED.search(path)
        return NEXT if match and match.group(1) != "0" else INDEX
    if _PAGE_N.search(path) or "paged" in query_keys:
        return NEXT
    if "updated-max" in query_keys:  # Blogger: "older posts" continues a list; with updated-min it is a year
        return INDEX if "updated-min" in query_keys else NEXT
    if "p" in query_keys and not path.strip("/"):
        return POST  # WordPress ?p=123
    if _LIST_PATH.search(path) or _DATE_ARCHIVE.search(path) or "m" in query_keys or "cat" in query_keys:
        return INDEX
    if _WP_POST.search(path) or _REF_IN_PATH.search(path):
        return POST
    return PAGE


def _decode_html(body: bytes, content_type: str | None) -> str:
    """Text of an HTML body, by the declared charset, the meta tag or a sniff."""
    _, text = html_to_unicode(content_type, body)
    return text


def sniff_kind(body: bytes, content_type: str | None, url: str) -> str:
    """How to read a response body for links: 'html', 'feed', 'sitemap', 'robots' or 'other'."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    head = body[:2048].lstrip()
    if head[:2] == b"\x1f\x8b":
        return "sitemap" if _SITEMAP_PATH.search(urlsplit(url).path) else "other"
    if urlsplit(url).path == "/robots.txt" and ctype in ("", "text/plain"):
        return "robots"
    low = head.lower()
    # Look past the XML prolog and comments at the root element.
    root = re.search(rb"<(?![?!])([a-z0-9:_-]+)", low)
    root_tag = root.group(1).split(b":")[-1] if root else b""
    if root_tag in (b"urlset", b"sitemapindex"):
        return "sitemap"
    if root_tag in (b"rss", b"feed", b"rdf"):
        return "feed"
    if root_tag == b"html" or b"<!doctype html" in low or ctype in ("text/html", "application/xhtml+xml"):
        return "html"
    if "xml" in ctype:
        return "feed"
    return "other"


_HREFS = lxml.etree.XPath("//a/@href|//area/@href", smart_strings=False)
# Links whose rel/class say more than their URL: feeds, rel=next, "older posts" pagers. The
# pager query is slow on big pages, so it runs only when the page has one of its words.
_REL = lxml.etree.XPath("//link[@href][@rel]|//a[@href][@rel]")
_PAGER = lxml.etree.XPath(
    "//a[@href][contains(@class,'older') or contains(@id,'older') or contains(@class,'nextpostslink') "
    "or contains(@class,'page-numbers')]"
)
_PAGER_WORDS = ("older", "nextpostslink", "page-numbers")
_BASE = lxml.etree.XPath("//base/@href", smart_strings=False)
# <meta http-equiv="refresh" content="0; url=/index.html">: mirrors' root pages often lead on
# only this way. (Inside <noscript> too: a crawler runs no script either.)
_META_REFRESH = lxml.etree.XPath(
    "//meta[@content][translate(@http-equiv,'REFSH','refsh')='refresh']/@content", smart_strings=False
)
# The content of a refresh: "5", "0; url=/x", "0;URL='/x'", "0, /x" (as browsers read it).
_REFRESH_URL = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(?P<q>['"]?)(?P<url>[^'"]*)(?P=q)""", re.I)


@lru_cache(maxsize=200_000)
def _resolve(base: str, href: str) -> str | None:
    """normalize_link, memoised: sidebars repeat the same hundreds of links on every page."""
    return normalize_link(href, base)


def _resolve_href(href: str, base: str, origin: str) -> str | None:
    """Resolve `href` against `base`, keying the memo on as little of the base as the href needs."""
    href = href.strip()
    if href.startswith("//") or "://" in href[:12]:
        return _resolve("", href) if "://" in href[:12] else _resolve(origin.split("//", 1)[0], href)
    if href.startswith("/"):
        return _resolve(origin, href)
    return _resolve(base, href)


_MISS = Link("", PAGE)  # a cache miss (compared by identity)
_HREF_CACHE: dict[str, dict[str, Link | None]] = {}
_HREF_CACHE_MAX = 300_000
_HREF_CACHED = 0


@lru_cache(maxsize=200_000)
def link_info(url: str) -> tuple[str | None, bool, str, str]:
    """(site key, skipped?, kind, dedup key) of a URL, memoised."""
    return site_key(url), is_skipped(url), classify(url), url_key(url)


# huge_tree: links nested deeper than libxml2's default 256 levels are links all the same.
_HTML_PARSER = lxml.html.HTMLParser(huge_tree=True)


def html_links(body: bytes, url: str, content_type: str | None = None) -> list[Link]:
    """Links on an HTML page, classified; rel=next, "older posts" pagers and feed <link>s included."""
    try:
        text = _decode_html(body, content_type)
        # lxml refuses str with an encoding declaration; drop it, the text is decoded already.
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
        if not text.strip():
            return []
        doc = lxml.html.document_fromstring(text, parser=_HTML_PARSER)
    except (ValueError, lxml.etree.ParserError, lxml.etree.XMLSyntaxError):
        return []
    return links_in_tree(doc, text, url)


def links_in_tree(doc: lxml.etree._Element, text: str, url: str) -> list[Link]:
    """Links of an HTML page already parsed (`text` is its decoded source, for the pager words)."""
    base = url
    for href in _BASE(doc)[:1]:
        base = normalize_link(href, url) or url
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    links: list[Link] = []
    if "efresh" in text or "EFRESH" in text:  # the query is skipped on the pages without one
        for content in _META_REFRESH(doc):
            target = refresh_target(content, base)
            if target is not None:
                links.append(Link(target, REDIRECT))
    specials = _REL(doc)
    if any(word in text for word in _PAGER_WORDS):
        specials += _PAGER(doc)
    for el in specials:
        target = _resolve_href(el.get("href"), base, origin)
        if target is None:
            continue
        rel = (el.get("rel") or "").lower().split()
        kind = link_info(target)[2]
        if el.tag == "link":
            ltype = (el.get("type") or "").lower()
            if "alternate" in rel and ("rss" in ltype or "atom" in ltype):
                links.append(Link(target, FEED))
            elif "next" in rel and kind not in (POST, CABLE):
                links.append(Link(target, NEXT))
        elif kind not in (POST, CABLE, FEED) and ("next" in rel or _is_older_posts(el)):
            links.append(Link(target, NEXT))
    # Absolute and root-relative hrefs mean the same on every page of a site: their Links are
    # kept per origin, so a sidebar of 700 links costs 700 dictionary look-ups on later pages.
    global _HREF_CACHED
    cache = _HREF_CACHE.setdefault(origin, {})
    get = cache.get
    for href in _HREFS(doc):
        link = get(href, _MISS)
        if link is _MISS:
            target = _resolve_href(href, base, origin)
            link = Link(target, *link_info(target)[2:]) if target is not None else None
            if (href[:1] == "/" and href[:2] != "//") or "://" in href[:12]:
                if _HREF_CACHED >= _HREF_CACHE_MAX:
                    _HREF_CACHE.clear()
                    _HREF_CACHED = 0
                    cache = _HREF_CACHE.setdefault(origin, {})
                    get = cache.get
                cache[href] = link
                _HREF_CACHED += 1
        if link is not None:
            links.append(link)
    return links


def _is_older_posts(el: lxml.html.HtmlElement) -> bool:
    """True for Blogger's and WordPress's 'older posts' anchors, whatever their URL looks like."""
    cls = (el.get("class") or "") + " " + (el.get("id") or "")
    return "blog-pager-older-link" in cls or "next page-numbers" in cls or "nextpostslink" in cls


def _xml_root(body: bytes) -> lxml.etree._Element | None:
    """Parse XML without entities, network or huge-tree tricks; None when it is not XML at all."""
    parser = lxml.etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True
    )
    try:
        return lxml.etree.fromstring(body, parser=parser)
    except (lxml.etree.XMLSyntaxError, ValueError):
        return None


def _local(tag: object) -> str:
    """Tag name without its namespace."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def feed_links(body: bytes, url: str) -> list[Link]:
    """Entry links of an RSS 1.0/2.0 or Atom feed, plus the feed's own rel=next page."""
    root = _xml_root(body)
    if root is None:
        return []
    links: list[Link] = []
    atom = _local(root.tag) == "feed"
    for el in root.iter():
        name = _local(el.tag)
        if name != "link":
            if name == "item" and not atom:
                about = el.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
                if about and (target := normalize_link(about, url)):
                    links.append(Link(target, classify(target)))
            continue
        parent = _local(el.getparent().tag) if el.getparent() is not None else ""
        href = el.get("href")
        rel = (el.get("rel") or "alternate").lower()
        if href is not None:  # Atom style
            target = normalize_link(href, url)
            if target is None:
                continue
            if parent == "entry" and rel == "alternate":
                links.append(Link(target, classify(target)))
            elif parent == "feed" and rel == "next":
                links.append(Link(target, FEED))
        elif parent == "item" and el.text:  # RSS style
            target = normalize_link(el.text, url)
            if target is not None:
                links.append(Link(target, classify(target)))
    return links


def _maybe_gunzip(body: bytes) -> bytes | None:
    """The body, decompressed if it is gzip data; None if it is gzip past the size cap or broken."""
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_XML_BYTES + 1)
    except (zlib.error, gzip.BadGzipFile):
        return None
    return out if len(out) <= MAX_XML_BYTES else None


def sitemap_links(body: bytes, url: str) -> list[Link]:
    """Pages of a sitemap (one level down) or child sitemaps of a sitemap index (same level)."""
    data = _maybe_gunzip(body)
    if not data:
        return []
    root = _xml_root(data)
    if root is None:
        return []
    index = _local(root.tag) == "sitemapindex"
    links: list[Link] = []
    for el in root.iter():
        if _local(el.tag) != "loc" or not el.text:
            continue
        target = normalize_link(el.text, url)
        if target is None:
            continue
        links.append(Link(target, SITEMAP if index else classify(target)))
    return links


def robots_sitemaps(body: bytes, url: str) -> list[Link]:
    """The `Sitemap:` lines of a robots.txt."""
    links = []
    for raw in body[: 512 * 1024].decode("utf-8", "replace").splitlines():
        name, _, value = raw.partition(":")
        if name.strip().lower() == "sitemap" and value.strip():
            target = normalize_link(value.strip(), url)
            if target is not None:
                links.append(Link(target, SITEMAP))
    return links


def refresh_target(content: str, base: str) -> str | None:
    """The URL a refresh (meta tag content or Refresh header value) leads to, or None (a mere reload)."""
    match = _REFRESH_URL.match(content or "")
    href = match.group("url").strip() if match else ""
    return normalize_link(href, base) if href else None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def is_redirect(status: int) -> bool:
    """True for the statuses whose Location leads on (every 3xx but 304 Not Modified)."""
    return 300 <= status < 400 and status != 304


def header_links(status: int, headers: list[tuple[str, str]], url: str) -> list[Link]:
    """What a response's headers lead on to: a redirect's Location, a Refresh header."""
    links = []
    location = _header(headers, "Location") if is_redirect(status) else None
    if location:
        target = normalize_link(location, url)
        if target is not None:
            links.append(Link(target, REDIRECT))
    refresh = _header(headers, "Refresh")
    if refresh and status < 400:
        target = refresh_target(refresh, url)
        if target is not None:
            links.append(Link(target, REDIRECT))
    return links


def leads_on(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    page_links: list[Link] | None = None,
) -> list[Link]:
    """Everything a response leads on to, read the same way from a fresh response and a stored copy.

    A redirect's Location and a Refresh header; then, for a body that is not a redirect's, what
    `extract_links` finds (links, meta refresh, pagination, feed <link>s; feed entries; sitemap
    entries; robots.txt `Sitemap:` lines). `page_links` are the body's links when the caller
    already read them from a parsed tree (`links_in_tree`).
    """
    links = header_links(status, headers, url)
    if is_redirect(status) or status >= 400:
        return links
    if content_type is None:
        content_type = _header(headers, "Content-Type")
    return links + (page_links if page_links is not None else extract_links(body, url, content_type))


def extract_links(body: bytes, url: str, content_type: str | None = None) -> list[Link]:
    """Every link a response offers, by what the body is (HTML, feed, sitemap, robots.txt)."""
    if not body:
        return []
    kind = sniff_kind(body, content_type, url)
    if kind == "html":
        return html_links(body, url, content_type)
    if kind == "feed":
        return feed_links(body, url)
    if kind == "sitemap":
        return sitemap_links(body, url)
    if kind == "robots":
        return robots_sitemaps(body, url)
    return []


def follow_links(
    links: list[Link], sites: frozenset[str] | set[str], redirects_anywhere: bool = False
) -> list[Link]:
    """The links worth fetching: on one of `sites`, not chrome, one Link per page (first kind wins).

    With `redirects_anywhere` (a seed's answer), a redirect to another site is kept: the seed lives there now.
    """
    out: list[Link] = []
    seen: set[str] = set()
    for link in links:
        site, skipped, _, key = link_info(link.url)
        in_scope = site in sites or (redirects_anywhere and link.kind == REDIRECT and site is not None)
        if not in_scope or skipped or key in seen:
            continue
        seen.add(key)
        # Links from a page already carry their key: reuse them (hundreds per page).
        out.append(link if link.key == key else Link(link.url, link.kind, key))
    return out


def probe_urls(seed: str, robots: bool = True) -> list[Link]:
    """Where a site says where its pages are: /sitemap.xml, and robots.txt (for its Sitemap: lines)."""
    parts = urlsplit(seed)
    root = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    links = [Link(urljoin(root, "sitemap.xml"), SITEMAP)]
    if robots:
        links.insert(0, Link(urljoin(root, "robots.txt"), ROBOTS))
    return links
