"""`cablearchive serve` over HTTP: every page and its /api/ twin, errors, escaping, headers, read-only use."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from warcio.archiveiterator import ArchiveIterator

from archive import Archive
from archive.diff import diff_texts
from archive.render import BADGE_COLOURS, MARK_COLOURS, TEXT_COLOURS, html
from crawler.web.app import CAPTURE_CSP

from serve_support import (
    CITING_REF,
    HARARE_URL,
    XSS_REF,
    XSS_SCRIPT,
    Served,
    build_archive,
    serve,
)


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_archive(tmp_path_factory.mktemp("serve") / "archive")


@pytest.fixture(scope="module")
def site(archive_path: str) -> Iterator[Served]:
    with serve(archive_path) as served:
        yield served


def page(site: Served, path: str, status: int = 200) -> Any:
    """The html page at path, parsed; asserts its status and its security headers."""
    code, headers, body = site.get(path)
    assert code == status, (path, code, body[:300])
    assert headers["content-type"].startswith("text/html")
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script may run
    assert headers["x-content-type-options"] == "nosniff"
    return lxml.html.fromstring(body)


def api(site: Served, path: str, status: int = 200) -> Any:
    """The JSON twin of a page."""
    code, headers, body = site.get("/api" + path)
    assert code == status, (path, code, body[:300])
    assert headers["content-type"].startswith("application/json")
    return json.loads(body)


def text_of(doc: Any, xpath: str) -> str:
    return " ".join(" ".join(e.text_content() for e in doc.xpath(xpath)).split())


def capture_token(archive_path: str, url: str) -> str:
    arch = Archive.open_read_only(archive_path)
    try:
        cap = arch.newest_capture(url)
        assert cap is not None
        return re.fullmatch(r"<urn:uuid:(.+)>", cap.record_id).group(1)  # type: ignore[union-attr]
    finally:
        arch.close()


def test_home_counts_newest_versions_and_runs(site: Served) -> None:
    doc = page(site, "/")
    data = api(site, "/")
    assert data["counts"]["cables"] == 5 and data["counts"]["captures"] == 7
    newest = {(e["ref"], e["version"]): e for e in data["newest"]}
    assert newest[("10HARARE93", 2)]["counts"] == {"redaction": 1}
    assert "5 cables" in text_of(doc, "//ul[@class='counts']")
    row = doc.xpath("//table[@id='newest']//tr[td//a[text()='10HARARE93']]")[0]
    assert "1 redaction" in row.text_content()
    assert len(data["runs"]) == 6 and {r["kind"] for r in data["runs"]} == {"crawl"}
    assert len(doc.xpath("//table[@id='runs']//tr")) == 7
    assert api(site, "")["counts"] == data["counts"]  # /api is /api/


def test_cables_list_facets_sort_and_pages(site: Served) -> None:
    data = api(site, "/cables")
    assert data["total"] == 5 and [c["ref"] for c in data["cables"]] == sorted(
        c["ref"] for c in data["cables"]
    )
    origins = {f["value"]: f["count"] for f in data["facets"]["origin"]}
    assert origins["Embassy Citing"] == 1
    only = api(site, "/cables?classification=SECRET")  # a level: SECRET//NOFORN too
    assert [c["ref"] for c in only["cables"]] == ["09LONDON2198", XSS_REF]
    tagged = api(site, "/cables?tag=ZI&sort=-date")
    assert [c["ref"] for c in tagged["cables"]] == [CITING_REF, "10HARARE93"]
    assert tagged["facets"]["year"] == [{"value": "2010", "count": 2}]  # counts under the other filters
    newest_first = api(site, "/cables?sort=-date")["cables"]
    dates = [c["date"] for c in newest_first if c["date"]]
    assert dates == sorted(dates, reverse=True)
    doc = page(site, "/cables?year=2010")
    refs = doc.xpath("//table[@id='cables']//a[@class='ref']/text()")
    assert "10HARARE93" in refs and "06MADRID76" not in refs
    assert api(site, "/cables?page=2")["cables"] == []
    assert doc.xpath("//section[@id='facet-origin']//a")


def test_search_highlights_the_words_found(site: Served) -> None:
    data = api(site, "/search?q=Harare")
    assert [h["ref"] for h in data["hits"]] == ["10HARARE93"]
    doc = page(site, "/search?q=Harare")
    marks = doc.xpath("//ol[@id='hits']//mark/text()")
    assert marks and all(m.lower().startswith("harare") for m in marks)
    assert api(site, "/search?q=")["hits"] == []
    # Field terms and filters of the header narrow the search.
    assert [h["ref"] for h in api(site, "/search?q=reftel+tag:ZI")["hits"]] == [CITING_REF]
    assert api(site, "/search?q=Harare&year=2009")["hits"] == []
    assert [h["ref"] for h in api(site, "/search?q=Harare&classification=CONFIDENTIAL")["hits"]] == [
        "10HARARE93"
    ]
    # A query that cannot run as written is refused, not rewritten.
    assert api(site, "/search?q=%22unclosed", 400)["error"]


def test_cable_page_text_references_versions_mirrors(site: Served) -> None:
    doc = page(site, "/cable/10HARARE93")
    data = api(site, "/cable/10HARARE93")
    assert data["head"] == 2 and [v["version"] for v in data["versions"]] == [1, 2]
    assert data["versions"][1]["counts"] == {"redaction": 1} and "crawl" in data["versions"][1]["message"]
    # The text with an anchor per paragraph, each with its pilcrow link.
    paras = doc.xpath("//div[@class='para']")
    assert len(paras) == len(data["paragraphs"]) > 3
    assert paras[1].get("id") == "p2" and paras[1].xpath("./a[@class='pilcrow']/@href") == ["#p2"]
    assert "\n".join(p["text"] for p in data["paragraphs"]) == data["text"]
    assert doc.xpath("//a[@class='difflink']/@href") == ["/cable/10HARARE93/diff?old=1&new=2"]
    # An older version of the text.
    v1 = api(site, "/cable/10HARARE93?v=1")
    assert "Mudarikwa" in v1["text"] and "Mudarikwa" not in data["text"]


def test_references_link_archived_cables(site: Served) -> None:
    doc = page(site, f"/cable/{CITING_REF}")
    data = api(site, f"/cable/{CITING_REF}")
    assert [(c["id"], c["archived"]) for c in data["cites"]] == [
        ("10HARARE93", "10HARARE93"),
        ("09NOWHERE1", None),
    ]
    cited = api(site, "/cable/10HARARE93")["cited_by"]
    assert [(c["ref"], c["label"]) for c in cited] == [(CITING_REF, "A")]
    assert page(site, "/cable/10HARARE93").xpath("//section[@id='references']//a[@class='ref']/text()") == [
        CITING_REF
    ]
    refs = doc.xpath("//section[@id='references']")[0]
    assert refs.xpath(".//a[@class='ref']/@href") == ["/cable/10HARARE93"]
    assert refs.xpath(".//span[@class='missing']/text()") == ["09NOWHERE1"]
    assert "PREL, ZI" in text_of(doc, "//section[@id='metadata']")


def test_mirrors_with_distance_to_consensus(site: Served) -> None:
    data = api(site, "/cable/06MADRID76")
    mirrors = data["mirrors"]
    assert len(mirrors) == 2 and sum(m["preferred"] for m in mirrors) == 1
    for m in mirrors:
        assert 0 < m["distance"] < 0.2 and m["capture"]
    other = next(m for m in mirrors if not m["preferred"])
    assert other["distance_to_preferred"] > 0
    doc = page(site, "/cable/06MADRID76")
    link = doc.xpath("//a[@class='mirrordiff']/@href")
    assert link and f"new_source={other['key']}" in link[0]


def test_version_diff_side_by_side_and_inline(site: Served) -> None:
    doc = page(site, "/cable/10HARARE93/diff?old=1&new=2")
    data = api(site, "/cable/10HARARE93/diff?old=1&new=2")
    assert data["diff"]["counts"] == {"redaction": 1}
    assert doc.xpath("//del[contains(@class,'k-redaction')]/text()") == ["Mudarikwa,"]
    assert doc.xpath("//tr[@class='hunk']//span[contains(@class,'badge')]/text()") == ["redaction"]
    inline = page(site, "/cable/10HARARE93/diff?old=1&new=2&view=inline")
    pre = inline.xpath("//div[@class='inline']//pre")[0]
    assert pre.xpath(".//del/text()") == ["Mudarikwa,"] and pre.xpath(".//ins/text()") == ["XXXXXXXXXXXX,"]
    # The default diff of a cable is its newest version against the one before.
    assert api(site, "/cable/10HARARE93/diff")["diff"] == data["diff"]


def test_mirror_diff_hides_wrapping_by_default(site: Served) -> None:
    cable = api(site, "/cable/06MADRID76")
    pref = next(m["key"] for m in cable["mirrors"] if m["preferred"])
    other = next(m["key"] for m in cable["mirrors"] if not m["preferred"])
    path = f"/cable/06MADRID76/diff?old=2&new=2&old_source={pref}&new_source={other}"
    hidden = api(site, path)
    assert hidden["wrapping"] == "hide" and hidden["diff"]["ignore_wrapping"] is True
    assert "whitespace" not in hidden["diff"]["counts"]
    shown = api(site, path + "&wrapping=show")
    assert shown["diff"]["ignore_wrapping"] is False and shown["diff"]["counts"].get("whitespace", 0) >= 1
    doc = page(site, path + "&wrapping=show")
    # Whitespace-only hunks are folded under their head, not spread over the page.
    ws_heads = [h for h in shown["diff"]["hunks"] if h["kind"] == "whitespace"]
    folds = doc.xpath("//details/summary[contains(text(), 'differ only in spacing')]")
    assert len(folds) == len(ws_heads)
    assert doc.xpath("//a[@id='hide-wrapping']")
    assert page(site, path).xpath("//a[@id='show-wrapping']")


def test_feeds_have_an_entry_per_version_with_the_diff(site: Served) -> None:
    code, headers, body = site.get("/feed.atom")
    assert code == 200 and headers["content-type"].startswith("application/atom+xml")
    root = lxml.etree.fromstring(body)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 7
    harare = next(e for e in entries if e.findtext("a:title", namespaces=ns).startswith("10HARARE93 v2"))
    assert "1 redaction" in harare.findtext("a:title", namespaces=ns)
    content = lxml.html.fromstring(harare.findtext("a:content", namespaces=ns))
    assert content.xpath("//del/text()") == ["Mudarikwa,"]
    code, _h, body = site.get("/cable/10HARARE93/feed.atom")
    one = lxml.etree.fromstring(body).findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns).split(":")[0] for e in one] == [
        "10HARARE93 v2",
        "10HARARE93 v1",
    ]
    assert api(site, "/cable/10HARARE93/feed")["entries"][0]["counts"] == {"redaction": 1}
    # Markup of the archive is escaped in the feed as everywhere.
    code, _h, body = site.get(f"/cable/{XSS_REF}/feed.atom")
    entry = lxml.etree.fromstring(body).find("a:entry", ns)
    assert XSS_SCRIPT in entry.findtext("a:summary", namespaces=ns)


def test_capture_provenance_sandboxed_page_and_warc(site: Served, archive_path: str) -> None:
    token = capture_token(archive_path, HARARE_URL)
    doc = page(site, f"/capture/{token}")
    data = api(site, f"/capture/{token}")
    assert data["url"] == HARARE_URL and data["status"] == 200
    assert data["cables"] == [{"ref": "10HARARE93", "source": data["cables"][0]["source"]}]
    frame = doc.xpath("//iframe[@id='captured']")[0]
    assert frame.get("sandbox") == "" and frame.get("src") == f"/capture/{token}/page"
    code, headers, body = site.get(f"/capture/{token}/page")
    assert code == 200 and headers["content-security-policy"] == CAPTURE_CSP
    assert "sandbox" in CAPTURE_CSP and "script-src" not in CAPTURE_CSP
    assert b"Mudarikwa" not in body and b"XXXXXXXXXXXX" in body  # the newest capture: build 2
    code, headers, record = site.get(f"/capture/{token}/warc")
    assert code == 200 and "attachment" in headers["content-disposition"]
    rec = next(iter(ArchiveIterator(io.BytesIO(record))))
    assert rec.rec_headers.get_header("WARC-Record-ID") == data["record_id"]
    assert rec.content_stream().read() == body
    assert gzip.decompress(record)  # one whole gzip member


def test_archive_markup_is_shown_as_text(site: Served, archive_path: str) -> None:
    for path in (f"/cable/{XSS_REF}", "/", "/cables", "/search?q=alert", f"/cable/{XSS_REF}/feed.atom"):
        code, _h, body = site.get(path)
        assert code == 200
        assert b"<script>" not in body and b"<b>bold</b>" not in body and b"<img src=x" not in body, path
    doc = page(site, f"/cable/{XSS_REF}")
    assert XSS_SCRIPT in doc.xpath("//p[@id='subject']")[0].text_content()
    assert not doc.xpath("//script | //b | //img | //i")
    assert "<i>Hostile</i>" in text_of(doc, "//section[@id='metadata']")
    token = capture_token(archive_path, "http://hostile.example/cable/10XSSPOST1.html")
    doc = page(site, f"/capture/{token}")
    assert "<script>alert('title')</script>" in doc.xpath("//p[@id='page-title']")[0].text_content()
    assert not doc.xpath("//script")
    # The page itself is served as it was, but under a policy that runs and loads nothing.
    code, headers, body = site.get(f"/capture/{token}/page")
    assert b"<script>" in body and headers["content-security-policy"] == CAPTURE_CSP


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/cable/10NOSUCH1", 404),
        ("/cable/not-an-id", 400),
        ("/cable/..%2F..%2Fetc%2Fpasswd", 404),  # slashes match no route,
        ("/cable/10HARARE93?v=3", 404),
        ("/cable/10HARARE93?v=x", 400),
        ("/cable/10HARARE93?v=0", 400),
        ("/cable/10HARARE93/diff?old=1&new=9", 404),
        ("/cable/10HARARE93/diff?old_source=../../x", 400),
        ("/cable/10HARARE93/diff?old=1&new=2&old_source=nohost-000000000000", 404),
        ("/cable/10HARARE93/diff?wrapping=maybe", 400),
        ("/cable/09LONDON2198/diff", 404),
        ("/capture/not-a-capture", 400),
        ("/capture/00000000-0000-0000-0000-000000000000", 404),
        ("/capture/..%2F..%2Findex.sqlite", 404),
        ("/cables?page=0", 400),
        ("/cables?sort=evil", 400),
        ("/cables?year=20x0", 400),
        ("/no/such/page", 404),
        ("/cable/..", 400),
        ("/capture/%2e%2e", 400),
        ("/static/../index.sqlite", 404),
    ],
)
def test_bad_paths_and_parameters_are_refused(site: Served, path: str, status: int) -> None:
    code, headers, body = site.get(path)
    assert code == status, (path, body[:200])
    assert "default-src 'none'" in headers["content-security-policy"]
    if path.startswith(("/cable", "/capture")):
        assert api(site, path, status)["status"] == status


def test_every_page_has_a_json_twin(site: Served, archive_path: str) -> None:
    token = capture_token(archive_path, HARARE_URL)
    for path in (
        "/",
        "/cables",
        "/search?q=madrid",
        "/cable/06MADRID76",
        "/cable/06MADRID76/diff",
        f"/capture/{token}",
    ):
        doc = page(site, path)
        twin = doc.xpath("//footer//a/@href")
        assert twin and twin[0].startswith("/api/"), path
        assert api(site, twin[0][len("/api") :])


def test_read_only_archive_beside_a_writer(archive_path: str, tmp_path: Path) -> None:
    """Serving reads an archive whose lock a writer holds, and changes no byte of it."""

    def snapshot() -> dict[str, str]:
        out = {}
        for dirpath, _dirs, files in os.walk(archive_path):
            for f in files:
                full = os.path.join(dirpath, f)
                out[os.path.relpath(full, archive_path)] = hashlib.sha256(Path(full).read_bytes()).hexdigest()
        return out

    arch = Archive.open(archive_path)
    writer = arch.writer(kind="crawl", wait=0)  # holds the lock while the site is served
    try:
        before = snapshot()
        with serve(archive_path) as site:
            assert api(site, "/")["counts"]["cables"] == 5
            assert page(site, "/cable/10HARARE93/diff").xpath("//del")
            assert api(site, "/cables")["total"] == 5
        after = snapshot()
    finally:
        writer.close()
        arch.close()
    assert after == before


def test_serve_refuses_a_folder_that_is_no_archive(tmp_path: Path) -> None:
    import subprocess
    import sys

    from serve_support import ROOT

    r = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "serve", "--archive", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=60,
    )
    assert r.returncode == 1 and "not an archive" in r.stderr


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours."""

    def lum(c: str) -> float:
        chans = [int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in chans]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_highlight_meets_wcag_aa() -> None:
    pairs = {**BADGE_COLOURS, **MARK_COLOURS, **TEXT_COLOURS}
    low = {name: round(contrast(fg, bg), 2) for name, (fg, bg) in pairs.items() if contrast(fg, bg) < 4.5}
    assert not low
    # The page the terminal writes uses those colours, and no kind's colour colours its own text.
    d = diff_texts("Mr. Mudarikwa, said", "Mr. XXXXXXXXXXXX said", title="t")
    page_html = html(d)
    for fg, bg in MARK_COLOURS.values():
        assert f"color:{fg};background:{bg}" in page_html
    assert not re.search(r"(^|[},])\s*\.k-redaction\s*\{", page_html)  # no bare kind class to clash on
