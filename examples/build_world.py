"""Build a world of mirror sites from the corpus: the demo's (examples/world) or the crawl tests' one.

    python examples/build_world.py --profile demo --out examples/world
    python examples/build_world.py --profile test --out tests/fixtures/world

Sites: a cablegate viewer mirror (real cable pages, an index page, the viewer's list pages
that the cable pages link to), a self-hosted WordPress blog and a Blogger blog (real posts
with cables pasted in, front page, pagination, archives, feed, sitemap, an "about" page
without a cable). One cable of the cablegate-history set is served at its first build; its
second build is kept in `variants/build2/` for a re-crawl that finds a real change.

Pages name their own site as http://<site>.world.invalid; crawler.world.server serves them.
Links of a blog post that lead to pages outside the world are made absolute to the blog's
original host, so the world is closed: every same-site link has a page behind it.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.discovery import extract_links, follow_links, is_skipped, site_key
from crawler.world.server import PLACEHOLDER, query_filename

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

PROFILES: dict[str, dict[str, object]] = {
    "demo": {
        "cablegate": ["06MADRID934", "07PARIS170", "09BRUSSELS1399", "09TELAVIV1060", "10ISLAMABAD461",
                      "09ASMARA429", "10MOSCOW317", "09SEOUL1400", "07MOSCOW2429", "10KABUL503",
                      "09MOSCOW1488", "05BRASILIA2767"],
        "history": "09KABUL2246",
        "wordpress": ("05_wp_kubrick-alterorabolish_pixelmonkey", ["05", "00", "10", "08", "09", "06"]),
        "blogger": ("10_blogger_simple_lostinjit", ["07", "02", "08", "01", "10", "05"]),
        # The blog signs every post in capitals; the shipped rules keep a capitalised line after
        # the signer as the cable's own tail, so the demo's user rule (examples/rules) drops it.
        "signoff": "CABLEWATCH: EVERY CABLE, EVERY DAY",
        "per_page": 3,
    },
    "test": {
        "cablegate": ["06MADRID934", "07PARIS170", "09TELAVIV1060"],
        "history": "10HARARE93",
        "wordpress": ("05_wp_kubrick-alterorabolish_pixelmonkey", ["05", "00", "09"]),
        "blogger": ("10_blogger_simple_lostinjit", ["07", "02", "04"]),
        "per_page": 2,
    },
}

# The viewer's list pages the crawler may fetch; /tag/, /origin/ and /date/ are disallowed by
# the mirror's robots.txt (as many mirrors did, to spare their servers).
VIEWER_DISALLOWED = ("/tag/", "/origin/", "/date/")
VIEWER_ROBOTS = "User-agent: *\n" + "".join(f"Disallow: {p}\n" for p in VIEWER_DISALLOWED)


@dataclass
class Site:
    """Pages of one world site, by request path (a query is part of the path)."""

    name: str
    pages: dict[str, bytes] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return PLACEHOLDER.format(site=self.name)

    def add(self, path: str, body: bytes | str) -> None:
        self.pages[path] = body.encode("utf-8") if isinstance(body, str) else body


def _page(title: str, body: str, head: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


# ----------------------------------------------------------------------------- cablegate


def _viewer_row(page: bytes) -> dict[str, str]:
    """Reference ID, created, released, classification and their list-page links, from a cable page."""
    text = page.decode("utf-8", "replace")
    table = re.search(r"<table class='cable'>(.*?)</table>", text, re.S)
    cells = re.findall(r"<a href='([^']+)'[^>]*>([^<]*)</a>", table.group(1) if table else "")
    keys = ("cable", "created", "released", "classification", "origin")
    return {k: v for k, v in zip(keys, cells, strict=False)}  # type: ignore[misc]


def build_cablegate(profile: dict[str, object]) -> tuple[Site, dict[str, bytes], list[dict[str, object]]]:
    """The viewer mirror: cable pages, the index page, list pages; and the history cable's 2nd build."""
    site = Site("cablegate")
    refs = list(profile["cablegate"])  # type: ignore[arg-type]
    history = str(profile["history"])
    hist_dir = CORPUS / "cablegate-history" / history
    builds = sorted(p for p in hist_dir.glob("*.html"))
    rows = {}
    expected: list[dict[str, object]] = []
    for ref in refs:
        raw = (CORPUS / "cablegate" / "pages" / f"{ref}.html").read_bytes()
        row = _viewer_row(raw)
        site.add(row["cable"][0], raw)
        rows[ref] = row
        expected.append({"site": "cablegate", "path": row["cable"][0], "cables": [ref]})
    first = builds[0].read_bytes()
    hrow = _viewer_row(first)
    hpath = hrow["cable"][0]
    site.add(hpath, first)
    rows[history] = hrow
    expected.append({"site": "cablegate", "path": hpath, "cables": [history], "history": True})
    variants = {hpath: builds[1].read_bytes()}

    # List pages: every /reldate/ and /classification/ link of the sidebars lists the cables that match.
    lists: dict[str, tuple[str, list[str]]] = {}
    for page in list(site.pages.values()):
        text = page.decode("utf-8", "replace")
        for href, label in re.findall(r"<a[^>]*href='(/(?:reldate|classification)/[^']+)'[^>]*>([^<]*)</a>", text):
            lists.setdefault(href, (label.strip(), []))
    for ref, row in sorted(rows.items()):
        for key in ("released", "classification"):
            if key in row and row[key][0] in lists:
                lists[row[key][0]][1].append(ref)
    per_page = int(profile["per_page"])  # type: ignore[arg-type]
    for href, (label, members) in sorted(lists.items()):
        chunks = [members[i : i + per_page] for i in range(0, len(members), per_page)] or [[]]
        stem = href.rsplit("_", 1)[0]
        for n, chunk in enumerate(chunks):
            body = [f"<h2>{html.escape(label)}</h2>", "<table class='cable'>",
                    "<tr><th>Reference ID</th><th>Subject</th></tr>"]
            for ref in chunk:
                body.append(f"<tr><td><a href='{rows[ref]['cable'][0]}'>{ref}</a></td><td>{ref}</td></tr>")
            body.append("</table>")
            if len(chunks) > 1:
                body.append("<div class='paginator'>")
                for m in range(len(chunks)):
                    body.append(f"<a href='{stem}_{m}.html'>{m + 1}</a>" if m != n else f"<b>{m + 1}</b>")
                body.append("</div>")
            site.add(f"{stem}_{n}.html", _page(f"Cable Viewer: {label}", "\n".join(body)))

    # The front page: the latest releases and the newest few cables, as the viewer's index did.
    latest = sorted(lists)[:]
    items = "\n".join(f"<li><a href='{h}'>{html.escape(lists[h][0])}</a></li>" for h in latest if "/reldate/" in h)
    newest = "\n".join(f"<li><a href='{rows[r]['cable'][0]}'>{r}</a></li>" for r in refs[:2])
    site.add("/index.html", _page("Cable Viewer", f"<h1>Cable Viewer</h1>\n<h3>Browse latest releases</h3>\n"
                                  f"<ul>\n{items}\n</ul>\n<h3>Newest cables</h3>\n<ul>\n{newest}\n</ul>"))
    site.add("/", site.pages["/index.html"])
    site.add("/robots.txt", VIEWER_ROBOTS)
    return site, variants, expected


# ----------------------------------------------------------------------------- blogs


def _truth(template: str, n: str) -> dict[str, object]:
    path = next((CORPUS / "mirrors" / "truth").glob(f"{template}.{n}.*.json"))
    return json.loads(path.read_text(encoding="utf-8"))


_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(.*?)\2""", re.I | re.S)


def rewrite_links(page: bytes, page_url: str, hosts: set[str], world_paths: dict[str, str]) -> bytes:
    """Point links at world pages to the world; make every other same-host link absolute to the original host."""
    text = page.decode("utf-8", "surrogateescape")

    def fix(m: re.Match[str]) -> str:
        raw = html.unescape(m.group(3)).strip()
        if not raw or raw.startswith(("#", "javascript:", "mailto:")):
            return m.group(0)
        try:
            url = urljoin(page_url, raw)
            parts = urlsplit(url)
        except ValueError:
            return m.group(0)
        if (parts.hostname or "") not in hosts:
            return m.group(0)
        key = parts.path + (f"?{parts.query}" if parts.query else "")
        new = world_paths.get(key) or world_paths.get(key.rstrip("/") + "/")
        if new is None:
            new = url  # absolute, on the original host: off-site for the crawler
        return f"{m.group(1)}{m.group(2)}{html.escape(new, quote=True)}{m.group(2)}"

    return _HREF.sub(fix, text).encode("utf-8", "surrogateescape")


def _excerpt(title: str) -> str:
    return f"<p>{html.escape(title)} &hellip;</p>"


def _posts(template: str, numbers: list[str]) -> list[tuple[dict[str, object], bytes]]:
    """(truth, page) of a blog template's corpus posts, newest URL first."""
    posts = []
    for n in numbers:
        page = next((CORPUS / "mirrors" / "pages").glob(f"{template}.{n}.*.html")).read_bytes()
        posts.append((_truth(template, n), page))
    posts.sort(key=lambda tp: str(tp[0]["url"]), reverse=True)
    return posts


def build_wordpress(profile: dict[str, object]) -> tuple[Site, list[dict[str, object]]]:
    """A self-hosted WordPress blog: posts, front page with /page/N/, date archive, feed, sitemaps, about."""
    template, numbers = profile["wordpress"]  # type: ignore[misc]
    site = Site("wordpress")
    posts = _posts(template, numbers)
    hosts = {urlsplit(str(posts[0][0]["url"])).hostname or ""}
    hosts |= {"www." + h for h in hosts}
    world_paths = {urlsplit(str(t["url"])).path: site.base + urlsplit(str(t["url"])).path for t, _ in posts}
    world_paths["/"] = site.base + "/"
    world_paths["/feed"] = world_paths["/feed/"] = site.base + "/feed/"
    world_paths["/about/"] = site.base + "/about/"
    expected = []
    for truth, page in posts:
        path = urlsplit(str(truth["url"])).path
        site.add(path, rewrite_links(page, str(truth["url"]), hosts, world_paths))
        expected.append({"site": "wordpress", "path": path, "cables": [c["reference_id"] for c in truth["cables"]]})
    negative = CORPUS / "negatives" / "pages" / f"{template}.original.html"
    site.add("/about/", rewrite_links(negative.read_bytes(), "https://pixelmonkey.org/about/", hosts, world_paths))
    expected.append({"site": "wordpress", "path": "/about/", "cables": []})

    head = (
        '<meta name="generator" content="WordPress 3.0.1">\n'
        f'<link rel="alternate" type="application/rss+xml" title="Feed" href="{site.base}/feed/">\n'
    )
    per_page = int(profile["per_page"])  # type: ignore[arg-type]
    chunks = [posts[i : i + per_page] for i in range(0, len(posts), per_page)]
    for i, chunk in enumerate(chunks):
        body = ['<div id="header"><h1><a href="' + site.base + '/">pixelmonkey</a></h1></div>', '<div id="content">']
        for truth, _ in chunk:
            url = site.base + urlsplit(str(truth["url"])).path
            title = str(truth["url"]).rstrip("/").rsplit("/", 1)[-1].replace("-", " ")
            body.append(f'<div class="post"><h2><a href="{url}" rel="bookmark">{html.escape(title)}</a></h2>'
                        f"{_excerpt(title)}</div>")
        nav = []
        if i + 1 < len(chunks):
            nav.append(f'<div class="alignleft"><a href="{site.base}/page/{i + 2}/">&laquo; Older Entries</a></div>')
        if i > 0:
            newer = f"{site.base}/" if i == 1 else f"{site.base}/page/{i}/"
            nav.append(f'<div class="alignright"><a href="{newer}">Newer Entries &raquo;</a></div>')
        body.append('<div class="navigation">' + "".join(nav) + "</div></div>")
        body.append(f'<div id="sidebar"><h2>Archives</h2><ul><li><a href="{site.base}/2010/12/">December 2010</a></li>'
                    f'<li><a href="{site.base}/2010/11/">November 2010</a></li></ul>'
                    f'<h2>Pages</h2><ul><li><a href="{site.base}/about/">About</a></li></ul></div>')
        site.add("/" if i == 0 else f"/page/{i + 1}/", _page("pixelmonkey", "\n".join(body), head))
    for month in ("2010/12", "2010/11"):
        members = [t for t, _ in posts if f"/{month}/" in str(t["url"])]
        links = "".join(f'<li><a href="{site.base}{urlsplit(str(t["url"])).path}">'
                        f'{html.escape(urlsplit(str(t["url"])).path)}</a></li>' for t in members)
        site.add(f"/{month}/", _page(f"pixelmonkey: {month}", f"<h2>Archive for {month}</h2><ul>{links}</ul>", head))
    items = "".join(
        f"<item><title>{html.escape(urlsplit(str(t['url'])).path)}</title>"
        f"<link>{site.base}{urlsplit(str(t['url'])).path}</link>"
        f"<guid isPermaLink=\"true\">{site.base}{urlsplit(str(t['url'])).path}</guid></item>"
        for t, _ in posts
    )
    site.add("/feed/", '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>pixelmonkey</title>'
             f"<link>{site.base}/</link>{items}</channel></rss>\n")
    urls = "".join(f"<url><loc>{site.base}{urlsplit(str(t['url'])).path}</loc></url>" for t, _ in posts)
    sm = '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    site.add("/wp-sitemap-posts-post-1.xml", f"{sm}{urls}</urlset>\n")
    site.add("/wp-sitemap-posts-page-1.xml", f"{sm}<url><loc>{site.base}/about/</loc></url></urlset>\n")
    site.add("/sitemap.xml", '<?xml version="1.0" encoding="UTF-8"?>\n'
             '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             f"<sitemap><loc>{site.base}/wp-sitemap-posts-post-1.xml</loc></sitemap>"
             f"<sitemap><loc>{site.base}/wp-sitemap-posts-page-1.xml</loc></sitemap></sitemapindex>\n")
    site.add("/robots.txt", "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n\n"
             f"Sitemap: {site.base}/sitemap.xml\n")
    return site, expected


def _sign_post(page: bytes, signoff: str) -> bytes:
    """Add the blog's sign-off as the last paragraph of the post body."""
    text = page.decode("utf-8")
    start = text.find("post-body entry-content")
    footer = text.find('<div class="post-footer">', start)
    close = text.rfind("</div>", start, footer)
    if start < 0 or footer < 0 or close < 0:
        return page
    return (text[:close] + f"<p>{html.escape(signoff)}</p>\n" + text[close:]).encode("utf-8")


def build_blogger(profile: dict[str, object]) -> tuple[Site, list[dict[str, object]]]:
    """A Blogger blog: posts, front page with "Older Posts" (search?updated-max), a label, Atom feed, sitemap."""
    template, numbers = profile["blogger"]  # type: ignore[misc]
    site = Site("blogger")
    posts = _posts(template, numbers)
    orig = urlsplit(str(posts[0][0]["url"])).hostname or ""
    hosts = {orig, orig.replace(".com", ".fr"), "www." + orig}
    per_page = int(profile["per_page"])  # type: ignore[arg-type]
    chunks = [posts[i : i + per_page] for i in range(0, len(posts), per_page)]
    older = [f"/search?updated-max=2010-12-{20 - i:02d}T10:00:00-08:00&max-results={per_page}" for i in range(len(chunks))]
    world_paths = {urlsplit(str(t["url"])).path: site.base + urlsplit(str(t["url"])).path for t, _ in posts}
    world_paths["/"] = site.base + "/"
    world_paths["/p/about.html"] = site.base + "/p/about.html"
    expected = []
    signoff = profile.get("signoff")
    for truth, page in posts:
        path = urlsplit(str(truth["url"])).path
        if signoff:
            page = _sign_post(page, str(signoff))
        site.add(path, rewrite_links(page, str(truth["url"]), hosts, world_paths))
        expected.append({"site": "blogger", "path": path, "cables": [c["reference_id"] for c in truth["cables"]]})
    negative = CORPUS / "negatives" / "pages" / f"{template}.original.html"
    site.add("/p/about.html", rewrite_links(negative.read_bytes(), f"https://{orig}/p/about.html", hosts, world_paths))
    expected.append({"site": "blogger", "path": "/p/about.html", "cables": []})

    head = (
        "<meta content='blogger' name='generator'/>\n"
        f"<link rel='alternate' type='application/atom+xml' title='Atom' href='{site.base}/feeds/posts/default'/>\n"
    )
    for i, chunk in enumerate(chunks):
        body = [f"<div class='header'><h1><a href='{site.base}/'>Lost in a JIT</a></h1></div>", "<div class='blog-posts'>"]
        for truth, _ in chunk:
            path = urlsplit(str(truth["url"])).path
            title = path.rsplit("/", 1)[-1][:-5].replace("-", " ")
            body.append(f"<div class='post'><h3 class='post-title'><a href='{site.base}{path}'>{html.escape(title)}</a></h3>"
                        f"{_excerpt(title)}</div>")
        body.append("</div><div class='blog-pager' id='blog-pager'>")
        if i + 1 < len(chunks):
            body.append(f"<a class='blog-pager-older-link' href='{site.base}{html.escape(older[i])}' "
                        "id='Blog1_blog-pager-older-link' title='Older Posts'>Older Posts</a>")
        body.append(f"<a class='home-link' href='{site.base}/'>Home</a></div>")
        body.append(f"<div class='widget Label'><h2>Labels</h2><ul><li><a dir='ltr' href='{site.base}/search/label/wikileaks'>"
                    "wikileaks</a></li></ul></div>")
        body.append(f"<div class='widget PageList'><ul><li><a href='{site.base}/p/about.html'>About</a></li></ul></div>")
        path = "/" if i == 0 else older[i - 1]
        site.add(path, _page("Lost in a JIT", "\n".join(body), head))
    links = "".join(f"<li><a href='{site.base}{urlsplit(str(t['url'])).path}'>{urlsplit(str(t['url'])).path}</a></li>"
                    for t, _ in posts)
    site.add("/search/label/wikileaks", _page("Lost in a JIT: wikileaks", f"<h2>Posts with the label wikileaks</h2><ul>{links}</ul>",
                                              head))
    entries = "".join(
        f"<entry><id>{site.base}{urlsplit(str(t['url'])).path}</id><title>{urlsplit(str(t['url'])).path}</title>"
        f"<link rel='alternate' type='text/html' href='{site.base}{urlsplit(str(t['url'])).path}'/></entry>"
        for t, _ in posts
    )
    site.add("/feeds/posts/default", "<?xml version='1.0' encoding='UTF-8'?>\n"
             "<feed xmlns='http://www.w3.org/2005/Atom'><title>Lost in a JIT</title>"
             f"<link rel='alternate' type='text/html' href='{site.base}/'/>{entries}</feed>\n")
    urls = "".join(f"<url><loc>{site.base}{urlsplit(str(t['url'])).path}</loc></url>" for t, _ in posts)
    site.add("/sitemap.xml", '<?xml version="1.0" encoding="UTF-8"?>\n'
             f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n')
    site.add("/robots.txt", f"User-agent: *\nAllow: /\n\nSitemap: {site.base}/sitemap.xml\n")
    return site, expected


# ----------------------------------------------------------------------------- closing the world


def close_world(sites: dict[str, Site], variants: dict[str, dict[str, bytes]] | None = None) -> int:
    """Give every followable same-site link a page (a short article page), so no link is broken."""
    added = 0
    for site in sites.values():
        key = site_key(site.base)
        disallowed = VIEWER_DISALLOWED if site.name == "cablegate" else ()
        extra = [(p, b) for v in (variants or {}).values() for p, b in v.items()] if site.name == "cablegate" else []
        for path, body in [*site.pages.items(), *extra]:
            url = site.base + path
            for link in follow_links(extract_links(body, url), {key}):
                parts = urlsplit(link.url)
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                if target in site.pages or target.startswith(disallowed) or is_skipped(link.url):
                    continue
                if parts.path.endswith("/") and parts.path + "index.html" in site.pages:
                    continue
                title = parts.path.rsplit("/", 1)[-1] or site.name
                site.add(target, _page(title, f"<h1>{html.escape(title)}</h1><p>This page is not part of the mirror.</p>"))
                added += 1
    return added


def write_world(out: Path, sites: dict[str, Site], variants: dict[str, dict[str, bytes]],
                expected: list[dict[str, object]], profile: str) -> None:
    """Write the world folder (replacing it)."""
    if out.exists():
        shutil.rmtree(out)
    for site in sites.values():
        for path, body in site.pages.items():
            rel = path.split("?", 1)
            name = query_filename(rel[0], rel[1] if len(rel) > 1 else "")
            if name.endswith("/"):
                name += "index.xml" if body.lstrip().startswith(b"<?xml") else "index.html"
            target = out / site.name / name.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
    for variant, pages in variants.items():
        for path, body in pages.items():
            target = out / "variants" / variant / "cablegate" / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
    meta = {
        "profile": profile,
        "sites": {name: {"seed": "/"} for name in sites},
        "variants": {v: [{"site": "cablegate", "path": p} for p in pages] for v, pages in variants.items()},
        "pages": expected,
        "disallowed": {"cablegate": list(VIEWER_DISALLOWED)},
    }
    (out / "world.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Build a world folder."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="demo")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    profile = PROFILES[args.profile]
    cablegate, history_variant, expected = build_cablegate(profile)
    wordpress, wp_expected = build_wordpress(profile)
    blogger, bl_expected = build_blogger(profile)
    sites = {s.name: s for s in (cablegate, wordpress, blogger)}
    added = close_world(sites, {"build2": history_variant})
    write_world(Path(args.out), sites, {"build2": history_variant}, expected + wp_expected + bl_expected, args.profile)
    total = sum(len(s.pages) for s in sites.values())
    print(f"{args.out}: {total} pages ({added} filler pages closing the world)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
