"""The cleaning workers: same answers as inline cleaning, and a worker that dies costs one page, not the crawl."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from crawler.analysis import Analyser, PageJob, analyse
from crawler.discovery import site_key

WORLD = Path(__file__).parent / "fixtures" / "world"
BASE = "http://127.0.0.1:8000"


def _job(path: str) -> PageJob:
    body = (WORLD / "cablegate" / path.lstrip("/")).read_bytes()
    return PageJob(
        BASE + path,
        200,
        [("Content-Type", "text/html; charset=utf-8")],
        body,
        "text/html",
        frozenset({site_key(BASE)}),
    )


def test_workers_give_what_inline_cleaning_gives() -> None:
    job = _job("/cable/2009/05/09TELAVIV1060.html")
    inline = analyse(job)
    pool = Analyser(1)
    try:
        remote = pool.submit(job).result(timeout=60)
    finally:
        pool.close()
    assert remote.error is None and inline.error is None
    assert [c.to_json() for c in remote.result.cables] == [c.to_json() for c in inline.result.cables]
    assert remote.result.cables[0].reference_id == "09TELAVIV1060"


def test_a_dead_worker_costs_one_page() -> None:
    job = _job("/cable/2007/01/07PARIS170.html")
    pool = Analyser(1)
    try:
        assert pool.submit(job).result(timeout=60).result.cables
        victim = next(iter(pool._pool._processes))  # the worker process the pool started
        pending = pool.submit(job)
        os.kill(victim, signal.SIGKILL)
        lost = pending.result(timeout=60)
        after = pool.submit(job).result(timeout=60)
    finally:
        pool.close()
    # The page in flight is either done already or reported as not cleaned; the next one is fine.
    assert lost.result is not None or "worker died" in (lost.error or "")
    assert after.result is not None and after.result.cables[0].reference_id == "07PARIS170"


def test_an_html_page_is_parsed_once_for_cables_and_links(monkeypatch) -> None:
    """The worker reads links from the cleaner's tree; they equal a separate extraction."""
    import crawler.analysis as analysis
    import crawler.discovery as discovery
    from crawler.discovery import extract_links, follow_links

    job = _job("/cable/2009/05/09TELAVIV1060.html")
    expected = follow_links(extract_links(job.body, job.url, job.content_type), job.sites)

    def no_second_parse(*_args: object) -> None:
        raise AssertionError("the page was parsed a second time for its links")

    monkeypatch.setattr(discovery, "extract_links", no_second_parse)
    monkeypatch.setattr(analysis, "_REPORTED", {})
    got = analyse(job)
    assert got.error is None and got.result.cables[0].reference_id == "09TELAVIV1060"
    assert [(lk.url, lk.kind) for lk in got.links] == [(lk.url, lk.kind) for lk in expected]
    assert len(got.links) > 50  # the viewer's sidebars


def test_a_failing_link_reader_leaves_the_cables(monkeypatch) -> None:
    """Link extraction that fails on a page is reported; the page's cables are still cleaned."""
    import crawler.analysis as analysis

    def broken(*_args: object) -> list:
        raise ValueError("hostile markup")

    monkeypatch.setattr(analysis, "links_in_tree", broken)
    got = analyse(_job("/cable/2007/01/07PARIS170.html"))
    assert got.result.cables[0].reference_id == "07PARIS170"
    assert got.links == [] and "link extraction failed: ValueError: hostile markup" in got.error
