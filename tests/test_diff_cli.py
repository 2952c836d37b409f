"""`cablearchive diff` on an archive: versions over time, mirrors against each other, formats, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest

from archive import Archive
from archive.diff import NothingToCompare, diff_sources, diff_versions
from cleaners import clean_page

ROOT = Path(__file__).resolve().parent.parent
HISTORY = Path(__file__).parent / "fixtures" / "history"
HEADERS = [("Content-Type", "text/html; charset=utf-8")]
HARARE_URL = "http://mirror-a.example/cable/2010/02/10HARARE93.html"


def store(arch: Archive, url: str, rel: str) -> None:
    """One crawl run fetching one page."""
    body = HISTORY.joinpath(rel).read_bytes()
    with arch.writer(kind="crawl") as w:
        cap = w.add_capture(url, 200, HEADERS, body)
        w.record(cap, clean_page(body, url=url, headers=HEADERS))


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """10HARARE93 crawled at build 1 then build 2 of the viewer; 06MADRID76 on two mirrors."""
    path = tmp_path_factory.mktemp("diff") / "archive"
    arch = Archive.create(path)
    store(arch, HARARE_URL, "10HARARE93/1_e3c2ca35.html")
    store(arch, HARARE_URL, "10HARARE93/2_7002a1b0.html")
    store(arch, "http://mirror-a.example/cable/2006/01/06MADRID76.html", "06MADRID76/1_fbad4962.html")
    store(arch, "http://mirror-b.example/06MADRID76.html", "06MADRID76/2_e3c2ca35.html")
    store(arch, "http://mirror-a.example/cable/2009/09/09LONDON2198.html", "09LONDON2198/1_9b83283d.html")
    arch.close()
    return str(path)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_newest_against_previous_is_the_redaction(archive_path: str) -> None:
    r = cli("diff", "10HARARE93", "--archive", archive_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("--- 10HARARE93 v1\n+++ 10HARARE93 v2\n")
    assert "[redaction]" in r.stdout
    assert r.stdout.rstrip().endswith("10HARARE93 v1→v2: 1 redaction")
    assert "\x1b[" not in r.stdout  # not a terminal: no colour unless asked
    coloured = cli("diff", "10HARARE93", "--archive", archive_path, "--color", "always")
    assert "\x1b[31m-" in coloured.stdout


def test_explicit_versions_and_formats(archive_path: str) -> None:
    words = cli("diff", "10HARARE93", "v1", "v2", "--archive", archive_path, "--format", "words")
    assert "[-Mudarikwa,-] {+XXXXXXXXXXXX,+}" in words.stdout
    data = json.loads(cli("diff", "10HARARE93", "1", "--archive", archive_path, "--format", "json").stdout)
    assert data["title"] == "10HARARE93 v1→v2" and data["counts"] == {"redaction": 1}
    (hunk,) = data["hunks"]
    assert hunk["changes"][0]["old"] == "Mudarikwa," and hunk["changes"][0]["kind"] == "redaction"
    same = json.loads(
        cli("diff", "10HARARE93", "v2", "v2", "--archive", archive_path, "--format", "json").stdout
    )
    assert same["hunks"] == [] and same["summary"] == "10HARARE93 v2→v2: identical"


def test_html_to_file(archive_path: str, tmp_path: Path) -> None:
    out = tmp_path / "d.html"
    r = cli("diff", "10HARARE93", "--archive", archive_path, "--format", "html", "-o", str(out))
    assert r.returncode == 0 and r.stdout == ""
    assert "10HARARE93 v1→v2: 1 redaction" in r.stderr
    doc = lxml.html.fromstring(out.read_text(encoding="utf-8"))
    assert doc.xpath("//del[contains(@class,'k-redaction')]/text()") == ["Mudarikwa,"]


def test_ignore_wrapping(archive_path: str) -> None:
    r = cli("diff", "10HARARE93", "--archive", archive_path, "--ignore-wrapping")
    assert r.stdout.rstrip().endswith("10HARARE93 v1→v2: 1 redaction")


def test_sources_compares_mirrors(archive_path: str) -> None:
    r = cli("diff", "06MADRID76", "--sources", "--archive", archive_path)
    assert r.returncode == 0, r.stderr
    assert "06MADRID76 v2:" in r.stdout and "(preferred)" in r.stdout
    # Build 2 of the viewer restored a paragraph that build 1 had as XXXXXXXXXXXX: one way
    # or the other, the mirrors differ by an (un)redaction.
    assert "redaction" in r.stdout.splitlines()[-1]
    data = json.loads(
        cli("diff", "06MADRID76", "--sources", "--format", "json", "--archive", archive_path).stdout
    )
    assert isinstance(data, list) and len(data) == 1
    single = cli("diff", "09LONDON2198", "--sources", "--archive", archive_path)
    assert single.returncode == 0 and "single source" in single.stderr


def test_library_calls(archive_path: str) -> None:
    arch = Archive.open(archive_path)
    d = diff_versions(arch, "10HARARE93")
    assert d.summary() == "10HARARE93 v1→v2: 1 redaction"
    with pytest.raises(NothingToCompare):
        diff_versions(arch, "09LONDON2198")
    with pytest.raises(ValueError, match="no version v7"):
        diff_versions(arch, "10HARARE93", 1, 7)
    (ds,) = diff_sources(arch, "06MADRID76")
    assert ds.changed
    arch.close()


def test_errors(archive_path: str, tmp_path: Path) -> None:
    r = cli("diff", "99NOWHERE1", "--archive", archive_path)
    assert r.returncode == 1 and "99NOWHERE1" in r.stderr
    r = cli("diff", "../../etc/passwd", "--archive", archive_path)
    assert r.returncode == 2 and "not a cable reference" in r.stderr  # a usage error, as in show and log
    r = cli("diff", "10HARARE93", "v9", "--archive", archive_path)
    assert r.returncode == 1 and "no version v9" in r.stderr
    r = cli("diff", "10HARARE93", "latest", "--archive", archive_path)
    assert r.returncode == 2
    r = cli("diff", "10HARARE93", "--format", "pdf", "--archive", archive_path)
    assert r.returncode == 2
    r = cli("diff", "10HARARE93", "--archive", str(tmp_path / "nothing-here"))
    assert r.returncode == 1 and "nothing-here" in r.stderr
    r = cli("diff", "09LONDON2198", "--archive", archive_path)
    assert r.returncode == 0 and "single version" in r.stderr


def test_one_source_between_versions(archive_path: str) -> None:
    """--source KEY diffs one mirror's text between versions; an unknown key is reported, exit 1."""
    arch = Archive.open(archive_path)
    keys = arch.cable("06MADRID76").source_keys()
    arch.close()
    mirror_a = next(k for k in keys if k.startswith("mirror-a.example"))
    # 06MADRID76 v1 held only mirror A; v2 added mirror B: mirror A's text did not change.
    r = cli("diff", "06MADRID76", "v2", "v2", "--source", mirror_a, "--archive", archive_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(f"06MADRID76 {mirror_a} v2→v2: identical")
    missing = cli(
        "diff", "06MADRID76", "v1", "v2", "--source", "nowhere-000000000000", "--archive", archive_path
    )
    assert missing.returncode == 1 and "has no source 'nowhere-000000000000'" in missing.stderr
    both = cli("diff", "06MADRID76", "--sources", "--source", mirror_a, "--archive", archive_path)
    assert both.returncode == 2
