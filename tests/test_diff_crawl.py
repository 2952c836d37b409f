"""Crawl a page, crawl it again after the mirror changed it, and diff the two archived versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive import Archive
from archive.diff import diff_versions
from archive.reclean import reclean
from crawler.world.server import World

ROOT = Path(__file__).resolve().parent.parent
HISTORY = Path(__file__).parent / "fixtures" / "history" / "10HARARE93"
PATH = "/cable/2010/02/10HARARE93.html"

pytestmark = pytest.mark.slow


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def world(tmp_path: Path) -> World:
    """A one-site mirror on 127.0.0.1 serving build 1 of the viewer's 10HARARE93 page."""
    root = tmp_path / "world"
    page = root / "cablegate" / PATH.lstrip("/")
    page.parent.mkdir(parents=True)
    page.write_bytes(HISTORY.joinpath("1_e3c2ca35.html").read_bytes())
    (root / "world.json").write_text(json.dumps({"sites": {"cablegate": {"seed": "/"}}, "pages": []}))
    w = World(root).start()
    yield w
    w.stop()


def test_recrawl_of_a_redacted_page_gives_one_new_version_classified_as_redaction(
    world: World, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(world.url("cablegate", PATH) + "\n")
    archive = str(tmp_path / "archive")

    first = cli("crawl", str(seeds), "--archive", archive, "--depth", "0")
    assert first.returncode == 0, first.stderr
    arch = Archive.open(archive)
    assert arch.cable("10HARARE93").head == 1
    arch.close()

    # The mirror republishes the page as build 2 of the viewer made it: a name redacted.
    world.set_page("cablegate", PATH, HISTORY.joinpath("2_7002a1b0.html").read_bytes())
    second = cli("crawl", str(seeds), "--archive", archive, "--depth", "0")
    assert second.returncode == 0, second.stderr

    arch = Archive.open(archive)
    record = arch.cable("10HARARE93")
    assert record.head == 2
    assert record.versions[-1].message.startswith("crawl ")
    d = diff_versions(arch, "10HARARE93")
    assert d.summary() == "10HARARE93 v1→v2: 1 redaction"
    (change,) = [c for h in d.hunks for c in h.changes if c.kind != "whitespace"]
    assert (change.old, change.new) == ("Mudarikwa,", "XXXXXXXXXXXX,")

    # The crawl cleaned every page under the current rules: a re-clean has nothing to do,
    # and forcing one gives the same texts, so no version either.
    assert reclean(arch, jobs=1).cleaned == 0
    forced = reclean(arch, jobs=1, force=True)
    assert forced.cleaned >= 1 and forced.outcomes == [] and forced.versions == {}
    assert arch.cable("10HARARE93").head == 2
    arch.close()

    shown = cli("diff", "10HARARE93", "--archive", archive)
    assert shown.returncode == 0 and shown.stdout.rstrip().endswith("10HARARE93 v1→v2: 1 redaction")
