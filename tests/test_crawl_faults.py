"""Misbehaving servers, hostile links, bad seeds and bad command lines: clear lines, no crash, a clean archive."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import Archive

from mockserver import MockWeb, cablearchive, settings_args

pytestmark = pytest.mark.slow

ROUTES = (
    "/flaky.html",
    "/ratelimited.html",
    "/reset.html",
    "/truncated.html",
    "/slow.html",
    "/loop/a",
    "/to-private",
    "/to-localhost",
    "/to-ftp",
    "/bomb.html",
    "/huge.html",
    "/huge-stream.html",
    "/wrongtype.html",
    "/binary.html",
    "/hostile.html",
    "/missing.html",
)


@pytest.fixture(scope="module")
def web() -> Iterator[MockWeb]:
    server = MockWeb()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def crawl(web: MockWeb, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One crawl of every misbehaving route plus a site whose robots.txt fails, and some bad seed lines."""
    folder = tmp_path_factory.mktemp("faults")
    seeds = folder / "seeds.txt"
    lines = [web.url("trouble", r) for r in ROUTES] + [web.url("badrobots", "/")]
    lines += ["not a url", "ftp://files.example/cables.zip", "http://[::1/", "javascript:alert(1)"]
    seeds.write_text("# every way a crawl goes wrong\n" + "\n".join(lines) + "\n", encoding="utf-8")
    web.reset()
    archive = folder / "archive"
    proc = cablearchive(
        "crawl",
        str(seeds),
        "--archive",
        str(archive),
        "--depth",
        "1",
        *settings_args("DOWNLOAD_TIMEOUT=2", "CABLEARCHIVE_RETRY_AFTER_MAX=5"),
    )
    return {"proc": proc, "hits": web.hits(), "archive": archive, "seeds": seeds, "out": proc.stdout}


def _line(out: str, url: str) -> str:
    """The report line about `url` (failures and notes start with the URL)."""
    found = [ln.strip() for ln in out.splitlines() if ln.strip().startswith(url + ":")]
    assert found, f"no report line for {url}:\n{out}"
    return found[0]


def test_the_crawl_finishes_and_says_some_input_failed(crawl: dict[str, Any]) -> None:
    proc = crawl["proc"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "crawl finished" in proc.stdout
    assert "Traceback" not in proc.stderr
    log = (crawl["archive"] / "state" / "crawl" / "scrapy.log").read_text(encoding="utf-8")
    assert "Traceback" not in log


@pytest.mark.parametrize(
    ("route", "words"),
    [
        ("/reset.html", r"connection reset.*after 2 attempts"),
        ("/truncated.html", r"truncated response"),
        ("/slow.html", r"timed out.*2(\.0)? s"),
        ("/loop/a", r"redirect loop: .*loop/a -> .*loop/b -> .*loop/a"),
        ("/to-private", r"refused: 10\.255\.255\.1 is a private"),
        ("/to-localhost", r"refused: localhost is a private, loopback"),
        ("/to-ftp", r"redirect to ftp://ftp\.example\.org/pub/cables\.zip refused"),
        ("/bomb.html", r"too large after decompression \(possible decompression bomb\)"),
        ("/huge.html", r"too large: announced size 50\.0 MB is over the DOWNLOAD_MAXSIZE limit of 20\.0 MB"),
        ("/huge-stream.html", r"too large"),
        ("/missing.html", r"HTTP 404 Not Found"),
    ],
)
def test_each_failure_has_a_clear_line(web: MockWeb, crawl: dict[str, Any], route: str, words: str) -> None:
    out = crawl["out"]
    failed = out.split("failed (", 1)[1].split("\nnotes (", 1)[0]
    assert re.search(words, _line(failed, web.url("trouble", route)))


@pytest.mark.parametrize(
    ("route", "words"),
    [
        ("/flaky.html", r"fetched on attempt 2; earlier attempts: HTTP 500"),
        ("/ratelimited.html", r"fetched on attempt 2; earlier attempts: HTTP 429"),
        ("/wrongtype.html", r"Content-Type application/octet-stream for a body that is HTML"),
        ("/binary.html", r"binary body"),
    ],
)
def test_odd_but_usable_answers_are_noted(
    web: MockWeb, crawl: dict[str, Any], route: str, words: str
) -> None:
    notes = crawl["out"].split("\nnotes (", 1)[1]
    assert re.search(words, _line(notes, web.url("trouble", route)))


def test_retries_wait_as_asked(crawl: dict[str, Any]) -> None:
    times = [h["time"] for h in crawl["hits"] if h["path"] == "/ratelimited.html"]
    assert len(times) == 2 and times[1] - times[0] >= 0.9  # Retry-After: 1
    assert len([h for h in crawl["hits"] if h["path"] == "/flaky.html"]) == 2


def test_recovered_pages_are_archived(web: MockWeb, crawl: dict[str, Any]) -> None:
    with Archive.open(crawl["archive"]) as arch:
        cable = arch.cable("09TELAVIV1060")
        urls = {cable.source(k)[1]["url"] for k in cable.source_keys()}
    assert {web.url("trouble", "/flaky.html"), web.url("trouble", "/wrongtype.html")} <= urls


def test_nothing_reaches_private_addresses_or_other_sites(crawl: dict[str, Any]) -> None:
    assert not [h for h in crawl["hits"] if h["site"] == "canary"]
    trouble = {h["path"] for h in crawl["hits"] if h["site"] == "trouble"}
    assert "/private/secret.html" not in trouble  # robots.txt of the trouble site disallows it


def test_hostile_links_do_not_crash(web: MockWeb, crawl: dict[str, Any]) -> None:
    paths = [h["path"] for h in crawl["hits"] if h["site"] == "trouble"]
    assert "/hostile.html" in paths
    assert not [p for p in paths if len(p) > 2100]
    assert not [p for p in paths if "etc/passwd" in p and ".." in p]


def test_a_failing_robots_txt_is_reported_and_allows_the_crawl(web: MockWeb, crawl: dict[str, Any]) -> None:
    notes = crawl["out"].split("\nnotes (", 1)[1]
    assert "robots.txt answered HTTP 500; treated as allowing everything" in _line(
        notes, web.url("badrobots", "/robots.txt")
    )
    assert {"/", "/page.html"} <= {h["path"] for h in crawl["hits"] if h["site"] == "badrobots"}
    # The note is kept in the run record too.
    with Archive.open(crawl["archive"]) as arch:
        (run,) = [r for r in arch.runs() if r["kind"] == "crawl"]
    assert any("robots.txt answered HTTP 500" in n["reason"] for n in run["notes"]), run.get("notes")


def test_bad_seed_lines_are_named(crawl: dict[str, Any]) -> None:
    out = crawl["out"]
    seeds = str(crawl["seeds"])
    n = len(ROUTES) + 2  # the comment line, then the routes, then badrobots
    assert f"{seeds}:{n + 1}: seed skipped: more than one word" in out
    assert f"{seeds}:{n + 2}: seed skipped: scheme 'ftp' refused" in out
    assert f"{seeds}:{n + 3}: seed skipped: malformed URL" in out
    assert f"{seeds}:{n + 4}: seed skipped: not an absolute URL" in out


def test_failures_are_in_the_run_record_and_the_archive_verifies(crawl: dict[str, Any]) -> None:
    with Archive.open(crawl["archive"]) as arch:
        runs = arch.runs()
        assert arch.verify().ok
    errors = {e["input"] for e in runs[-1]["errors"]}
    assert any(e.endswith("/reset.html") for e in errors) and any(e.endswith("/slow.html") for e in errors)


# ----------------------------------------------------------------------------- the command line


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = cablearchive("crawl", str(tmp_path / "nope.txt"), "--archive", str(tmp_path / "a"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n", encoding="utf-8")
    bad_setting = cablearchive("crawl", str(seeds), "--archive", str(tmp_path / "a"), "-s", "NOEQUALS")
    assert bad_setting.returncode == 2 and "NAME=VALUE" in bad_setting.stderr
    bad_depth = cablearchive("crawl", str(seeds), "--depth", "-1")
    assert bad_depth.returncode == 2
    assert not (tmp_path / "a").exists()


def test_a_folder_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n", encoding="utf-8")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n", encoding="utf-8")
    proc = cablearchive("crawl", str(seeds), "--archive", str(folder))
    assert proc.returncode == 1
    assert "not empty and is not an archive" in proc.stdout + proc.stderr
    assert sorted(os.listdir(folder)) == ["notes.txt"]


def test_a_locked_archive_is_refused_clearly(web: MockWeb, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    arch = Archive.open_or_create(archive)
    seeds = web.write_seeds(tmp_path / "seeds.txt", [web.url("badrobots", "/")])
    with arch.writer(kind="crawl", args={}, wait=0):
        proc = cablearchive("crawl", str(seeds), "--archive", str(archive), *settings_args())
    arch.close()
    assert proc.returncode == 1
    assert "locked by" in proc.stdout + proc.stderr


def test_no_usable_seed_is_an_error(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# nothing here\nnot-a-url\n", encoding="utf-8")
    proc = cablearchive("crawl", str(seeds), "--archive", str(tmp_path / "a"))
    assert proc.returncode == 1
    assert "no usable URL" in proc.stdout + proc.stderr and "line 2" not in proc.stderr
    assert f"{seeds}:2: seed skipped" in proc.stdout


def test_a_seed_that_moved_brings_its_new_site_into_scope(web: MockWeb, tmp_path: Path) -> None:
    seeds = web.write_seeds(tmp_path / "seeds.txt", [web.url("trouble", "/moved")])
    web.reset()
    proc = cablearchive(
        "crawl",
        str(seeds),
        "--archive",
        str(tmp_path / "a"),
        "--depth",
        "1",
        *settings_args("CABLEARCHIVE_CONTACT=mailto:archivist@example.org"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hits = web.hits()
    assert {h["user_agent"] for h in hits} == {"cablearchive/0.1.0 (+mailto:archivist@example.org)"}
    cablegate = {h["path"] for h in hits if h["site"] == "cablegate"}
    assert {"/", "/robots.txt", "/sitemap.xml"} <= cablegate
    assert any(p.startswith("/cable/") for p in cablegate)
    # Each answer is archived as it came: the seed's redirect, then the page it led to.
    with Archive.open(tmp_path / "a") as arch:
        caps = {c.url: c for c in arch.captures(newest_per_url=False)}
        moved = caps[web.url("trouble", "/moved")]
        status, headers, _body = arch.read_capture(moved)
    assert 300 <= status < 400 and ("Location", web.url("cablegate", "/")) in headers
    assert web.url("cablegate", "/") in caps
