"""Crawl the fixture world (a cablegate mirror, a WordPress and a Blogger blog) through the real command.

One mock server and one archive for the module: the first crawl, a re-crawl of the unchanged
world, and a re-crawl after the mirror published a new build of one cable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import Archive
from archive.ids import source_key
from cleaners import clean_page

from mockserver import MockWeb, cablearchive, settings_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web() -> Iterator[MockWeb]:
    server = MockWeb()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world_seeds(web: MockWeb, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeds") / "seeds.txt"
    return web.write_seeds(path, [web.url(site) for site in ("cablegate", "wordpress", "blogger")])


def _crawl(web: MockWeb, seeds: Path, archive: Path, *extra: str, reset: bool = True) -> dict[str, Any]:
    if reset:
        web.reset()
    proc = cablearchive("crawl", str(seeds), "--archive", str(archive), *settings_args(), *extra)
    return {"proc": proc, "hits": web.hits()}


@pytest.fixture(scope="module")
def first(web: MockWeb, world_seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    archive = tmp_path_factory.mktemp("world") / "archive"
    out = _crawl(web, world_seeds, archive)
    out["archive"] = archive
    with Archive.open(archive) as arch:
        out["heads"] = {c.ref: c.head for c in arch.list_cables()}
    return out


@pytest.fixture(scope="module")
def second(web: MockWeb, world_seeds: Path, first: dict[str, Any]) -> dict[str, Any]:
    out = _crawl(web, world_seeds, first["archive"])
    out["archive"] = first["archive"]
    with Archive.open(out["archive"]) as arch:
        out["heads"] = {c.ref: c.head for c in arch.list_cables()}
    return out


@pytest.fixture(scope="module")
def third(web: MockWeb, world_seeds: Path, second: dict[str, Any]) -> dict[str, Any]:
    """The cablegate mirror publishes build 2 of the history cable, then a re-crawl."""
    variant = web.meta["variants"]["build2"][0]
    body = (web.world / "variants" / "build2" / variant["site"] / variant["path"].lstrip("/")).read_bytes()
    web.reset()
    web.set_page(variant["site"], variant["path"], body)
    out = _crawl(web, world_seeds, second["archive"], reset=False)
    out["archive"] = second["archive"]
    out["variant"] = variant
    with Archive.open(out["archive"]) as arch:
        out["heads"] = {c.ref: c.head for c in arch.list_cables()}
    return out


def test_first_crawl_succeeds_with_a_report(first: dict[str, Any]) -> None:
    proc = first["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "crawl finished" in proc.stdout
    assert "Traceback" not in proc.stderr
    log = (first["archive"] / "state" / "crawl" / "scrapy.log").read_text(encoding="utf-8")
    assert "Traceback" not in log and "] ERROR:" not in log


def test_every_cable_of_the_world_is_archived_with_the_cleaners_text(
    web: MockWeb, first: dict[str, Any]
) -> None:
    checked = 0
    expected_refs: set[str] = set()
    with Archive.open(first["archive"]) as arch:
        archived = {c.ref for c in arch.list_cables()}
        for page in web.meta["pages"]:
            expected_refs.update(page["cables"])
            url = web.url(page["site"], page["path"])
            body, headers = web.fetch(page["site"], page["path"])
            result = clean_page(body, url=url, headers=headers)
            for cable in result.cables:
                if cable.reference_id is None:
                    continue
                text, prov = arch.cable(cable.reference_id).source(source_key(url))
                assert text == cable.text, f"{cable.reference_id} from {url}"
                assert prov["url"] == url and prov["status"] == 200
                checked += 1
    assert checked >= len(web.meta["pages"]) - 2  # the two "about" pages hold no cable
    assert expected_refs <= archived, f"missing: {sorted(expected_refs - archived)}"


def test_pages_without_cables_are_captures_only(web: MockWeb, first: dict[str, Any]) -> None:
    negatives = [web.url(p["site"], p["path"]) for p in web.meta["pages"] if not p["cables"]]
    assert negatives
    with Archive.open(first["archive"]) as arch:
        captured = {c.url for c in arch.captures(newest_per_url=False)}
        source_urls = set()
        for summary in arch.list_cables():
            for key in arch.cable(summary.ref).source_keys():
                source_urls.add(arch.cable(summary.ref).source(key)[1]["url"])
    assert set(negatives) <= captured
    assert not set(negatives) & source_urls


def test_every_response_is_a_capture(web: MockWeb, first: dict[str, Any]) -> None:
    served = {web.url(h["site"], h["path"]) for h in first["hits"] if h["status"] in (200, 404)}
    with Archive.open(first["archive"]) as arch:
        captured = {c.url for c in arch.captures(newest_per_url=False)}
    assert served and served <= captured, sorted(served - captured)[:5]
    # Feeds, sitemaps and robots.txt are among them.
    assert any(u.endswith("/feed/") for u in captured) and any(u.endswith("/robots.txt") for u in captured)


def test_robots_disallowed_pages_are_not_fetched(web: MockWeb, first: dict[str, Any]) -> None:
    disallowed = tuple(web.meta["disallowed"]["cablegate"])
    cablegate = [h["path"] for h in first["hits"] if h["site"] == "cablegate"]
    assert cablegate and not [p for p in cablegate if p.startswith(disallowed)]
    assert "disallowed by robots.txt" in first["proc"].stdout
    # The honest User-Agent reached the server.
    assert {h["user_agent"] for h in first["hits"]} == {"cablearchive/0.1.0"}


def test_pagination_feeds_and_sitemaps_were_used(first: dict[str, Any]) -> None:
    paths = {(h["site"], h["path"]) for h in first["hits"]}
    assert ("wordpress", "/page/2/") in paths
    assert any(site == "blogger" and p.startswith("/search?updated-max=") for site, p in paths)
    assert ("blogger", "/feeds/posts/default") in paths and ("wordpress", "/feed/") in paths
    assert ("wordpress", "/wp-sitemap-posts-post-1.xml") in paths  # through robots.txt's Sitemap: line
    # Each URL is fetched once.
    counts = Counter((h["site"], h["path"]) for h in first["hits"])
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]


def test_archive_verifies(first: dict[str, Any]) -> None:
    with Archive.open(first["archive"]) as arch:
        report = arch.verify()
    assert report.ok, report.problems


def test_recrawl_of_an_unchanged_world_asks_for_changes_only(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    proc = second["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hits = second["hits"]
    full = [h for h in hits if h["status"] == 200]
    assert len(full) <= 0.05 * len(hits), full
    assert sum(1 for h in hits if h["status"] == 304) >= 0.9 * len(hits)
    assert second["heads"] == first["heads"]  # no new version
    assert "0 new / 0 changed" in proc.stdout


def test_a_changed_page_gives_exactly_one_new_version(
    web: MockWeb, second: dict[str, Any], third: dict[str, Any]
) -> None:
    proc = third["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    changed = {ref for ref, head in third["heads"].items() if head != second["heads"].get(ref)}
    ref = Path(third["variant"]["path"]).stem
    assert changed == {ref}
    assert third["heads"][ref] == second["heads"][ref] + 1
    url = web.url(third["variant"]["site"], third["variant"]["path"])
    body, headers = web.fetch(third["variant"]["site"], third["variant"]["path"])
    expected = {c.reference_id: c.text for c in clean_page(body, url=url, headers=headers).cables}
    with Archive.open(third["archive"]) as arch:
        assert arch.cable(ref).source(source_key(url))[0] == expected[ref]
        assert arch.cable(ref).text(1) != arch.cable(ref).text()
        assert arch.verify().ok


def test_feeds_alone_lead_to_every_post(web: MockWeb, tmp_path: Path) -> None:
    seeds = web.write_seeds(
        tmp_path / "seeds.txt", [web.url("wordpress", "/feed/"), web.url("blogger", "/feeds/posts/default")]
    )
    web.reset()
    proc = cablearchive(
        "crawl", str(seeds), "--archive", str(tmp_path / "a"), "--depth", "1", *settings_args()
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    posts = {(p["site"], p["path"]) for p in web.meta["pages"] if p["site"] != "cablegate" and p["cables"]}
    fetched = {(h["site"], h["path"]) for h in web.hits()}
    assert posts <= fetched


def test_max_pages_stops_the_crawl(web: MockWeb, world_seeds: Path, tmp_path: Path) -> None:
    web.reset()
    proc = cablearchive(
        "crawl", str(world_seeds), "--archive", str(tmp_path / "a"), "--max-pages", "5", *settings_args()
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = [h for h in web.hits() if not h["path"].endswith(("/robots.txt", "/sitemap.xml"))]
    assert len(pages) <= 5
    assert "--max-pages: limit of 5 pages reached" in proc.stdout
