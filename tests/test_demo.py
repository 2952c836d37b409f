"""`cablearchive demo`: the bundled world crawled twice, then list, log, reclean and diff, all on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import Archive

from mockserver import REPO, cablearchive

pytestmark = pytest.mark.slow

WORLD = REPO / "examples" / "world"


def test_the_bundled_world_is_small_and_closed() -> None:
    meta = json.loads((WORLD / "world.json").read_text(encoding="utf-8"))
    assert set(meta["sites"]) == {"cablegate", "wordpress", "blogger"}
    size = sum(p.stat().st_size for p in WORLD.rglob("*") if p.is_file())
    assert size < 5 * 1024 * 1024
    cable_pages = [p for p in meta["pages"] if p["site"] == "cablegate"]
    assert 10 <= len(cable_pages) <= 21
    assert meta["variants"]["build2"]  # the history cable's second build


def test_demo_runs_every_step(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    proc = cablearchive("demo", "--keep", str(keep), timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for step in range(1, 10):
        assert f"=== {step}." in out, f"step {step} missing:\n{out}"
    assert "Traceback" not in proc.stderr
    # The second crawl found the new build: one cable changed, a redaction shown by the diff.
    second = out.split("=== 3.", 1)[1].split("=== 4.", 1)[0]
    assert "0 new / 1 changed" in second and "not modified" in second
    assert "redaction" in out.split("=== 7.", 1)[1].split("=== 8.", 1)[0]
    # The user rule drops the Blogger blog's sign-off: the dry run predicts the versions the
    # re-clean writes, and the diff of that mirror shows the line going.
    reclean = out.split("=== 6.", 1)[1].split("=== 7.", 1)[0]
    predicted = reclean.split("new versions that would be written: ", 1)[1].split("\n", 1)[0]
    written = reclean.split("new versions written: ", 1)[1].split("\n", 1)[0]
    assert predicted == written and int(written) >= 1
    rule_diff = out.split("=== 8.", 1)[1].split("=== 9.", 1)[0]
    assert "-CABLEWATCH: EVERY CABLE, EVERY DAY" in rule_diff and "1 wording" in rule_diff
    assert f"demo finished: the archive was kept in {keep}" in out
    with Archive.open(keep) as arch:
        assert arch.verify().ok
        cables = {c.ref: c for c in arch.list_cables()}
        assert cables["09KABUL2246"].head == 2
        assert max(c.n_sources for c in cables.values()) >= 3
        kinds = [r["kind"] for r in arch.runs()]
    assert kinds.count("crawl") == 2
    assert kinds.count("reclean") == 1


def test_demo_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("x", encoding="utf-8")
    proc = cablearchive("demo", "--keep", str(tmp_path))
    assert proc.returncode == 2
    assert "must be a new or empty folder" in proc.stderr
