"""Re-clean stored captures under changed rules: dry-run predictions, versions written, no-op reruns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archive import Archive
from archive.reclean import LOST, NEW_CABLE, NEW_SOURCE, TEXT, reclean
from cleaners import clean_page, load_rules

ROOT = Path(__file__).resolve().parent.parent
HISTORY = Path(__file__).parent / "fixtures" / "history"

# Real pages and where the test archive says it fetched them. 06MADRID76 is a partial
# extract seen on two mirrors; 04AMMAN1288 is partial too; the last page has no cable.
PAGES = [
    ("http://mirror-a.example/cable/2010/02/10HARARE93.html", "10HARARE93/1_e3c2ca35.html"),
    ("http://mirror-a.example/cable/2006/01/06MADRID76.html", "06MADRID76/1_fbad4962.html"),
    ("http://mirror-b.example/cables/06MADRID76.html", "06MADRID76/1_fbad4962.html"),
    ("http://mirror-a.example/cable/2009/09/09LONDON2198.html", "09LONDON2198/1_9b83283d.html"),
    ("http://mirror-b.example/cables/04AMMAN1288.html", "pages/04AMMAN1288.html"),
    ("http://blog.example/2010/12/no-cable.html", "pages/no-cable.html"),
]
HEADERS = [("Content-Type", "text/html; charset=utf-8")]

# A user's rule: the viewer's "partial extract" note worded differently, so the shipped
# note no longer matches: on partial cables the note stays in the text and `partial`
# goes false; other pages are untouched.
USER_RULE = """\
[viewer]
partial_note = "This record is a partial extract."
"""


def build_archive(path: Path) -> Archive:
    """An archive holding the fixture pages as crawled and cleaned under the shipped rules."""
    arch = Archive.create(path)
    with arch.writer(kind="crawl", args={"test": True}) as w:
        for url, rel in PAGES:
            body = HISTORY.joinpath(rel).read_bytes()
            cap = w.add_capture(url, 200, HEADERS, body)
            w.record(cap, clean_page(body, url=url, headers=HEADERS))
    return arch


@pytest.fixture
def arch(tmp_path: Path) -> Archive:
    a = build_archive(tmp_path / "archive")
    yield a
    a.close()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    d = tmp_path / "myrules"
    d.mkdir()
    (d / "common.toml").write_text(USER_RULE, encoding="utf-8")
    return d


def changed_by_rule(rules_dir: Path) -> set[str]:
    """The cables whose text or metadata the user rule changes, found by cleaning each page both ways."""
    user = load_rules(rules_dir)
    out = set()
    for url, rel in PAGES:
        body = HISTORY.joinpath(rel).read_bytes()
        before = {c.reference_id: c for c in clean_page(body, url=url, headers=HEADERS).cables}
        after = {c.reference_id: c for c in clean_page(body, url=url, headers=HEADERS, rules=user).cables}
        assert set(before) == set(after)
        for ref, c in after.items():
            if c.text != before[ref].text or c.metadata() != before[ref].metadata():
                out.add(ref)
    return out


def heads(arch: Archive) -> dict[str, int]:
    return {c.ref: c.head for c in arch.list_cables()}


def test_same_rules_is_a_no_op(arch: Archive) -> None:
    before = heads(arch)
    report = reclean(arch, jobs=1)
    assert report.captures == len(PAGES) and report.skipped == len(PAGES)
    assert report.cleaned == 0 and report.outcomes == [] and report.versions == {}
    assert report.run_id is None  # nothing to do: no run, no lock taken
    assert heads(arch) == before


def test_dry_run_predicts_exactly_the_versions_written(arch: Archive, rules_dir: Path) -> None:
    expected = changed_by_rule(rules_dir)
    # The rule changes some pages and not others, or the test proves nothing.
    assert expected and expected != set(heads(arch))
    assert "06MADRID76" in expected and "09LONDON2198" not in expected
    before = heads(arch)
    files_before = sorted(str(p.relative_to(arch.path)) for p in Path(arch.path).rglob("*"))

    dry = reclean(arch, rules=rules_dir, dry_run=True, jobs=1)
    assert dry.dry_run and dry.run_id is None
    assert sorted(str(p.relative_to(arch.path)) for p in Path(arch.path).rglob("*")) == files_before
    assert heads(arch) == before
    assert set(dry.predicted) == expected
    assert dry.cleaned == len(PAGES) and dry.pages_without_cable == 1
    # Both mirrors of 06MADRID76 change; each outcome carries the size and kind of change.
    madrid = [o for o in dry.outcomes if o.ref == "06MADRID76"]
    assert len(madrid) == 2 and {o.change for o in madrid} == {TEXT}
    assert all(o.lines_added > 0 and o.detail for o in madrid)

    real = reclean(arch, rules=rules_dir, jobs=2)
    assert real.run_id and not real.dry_run
    assert set(real.versions) == expected
    assert {r: real.versions[r] for r in expected} == {r: before[r] + 1 for r in expected}
    after = heads(arch)
    assert {r for r in after if after[r] != before[r]} == expected
    assert [(o.ref, o.change) for o in real.outcomes] == [(o.ref, o.change) for o in dry.outcomes]

    # The version says why it exists, and the provenance names the rules.
    info = load_rules(rules_dir).info
    record = arch.cable("06MADRID76")
    message = record.versions[-1].message
    assert message.startswith(f"reclean {real.run_id}: ruleset ") and info.digest in message
    for key in record.source_keys():
        _text, prov = record.source(key)
        assert prov["cleaning"]["ruleset"]["digest"] == info.digest
    run = json.loads(Path(arch.runs_dir, f"{real.run_id}.json").read_text())
    assert run["kind"] == "reclean" and run["status"] == "done"
    assert run["args"]["ruleset"]["digest"] == info.digest
    assert run["counts"]["text_changed"] == len([o for o in real.outcomes if o.change == TEXT])

    # Incremental: a second run under the same rules cleans nothing and writes nothing.
    again = reclean(arch, rules=rules_dir, jobs=2)
    assert again.cleaned == 0 and again.skipped == len(PAGES) and again.versions == {}
    assert heads(arch) == after


def test_refs_limit_the_captures(arch: Archive, rules_dir: Path) -> None:
    report = reclean(arch, rules=rules_dir, dry_run=True, jobs=1, refs=["06MADRID76", "09LONDON2198"])
    assert report.captures == 3  # two mirrors of 06MADRID76, one of 09LONDON2198
    assert report.predicted == ["06MADRID76"]
    bad = reclean(arch, rules=rules_dir, dry_run=True, jobs=1, refs=["10HARARE93", "99NOWHERE1", "../etc"])
    assert bad.captures == 1
    assert [i for i, _ in bad.failed] == ["99NOWHERE1", "../etc"]


def test_lost_cable_is_reported_and_kept(tmp_path: Path) -> None:
    # A page that gave a cable now gives none (say the mirror was edited): the stored
    # capture is replaced by a newer one without the cable; cleaning never removes a source.
    arch = build_archive(tmp_path / "archive")
    url = PAGES[0][0]
    empty = HISTORY.joinpath("pages/no-cable.html").read_bytes()
    with arch.writer(kind="import") as w:
        w.add_capture(url, 200, HEADERS, empty)  # stored, not cleaned yet
    report = reclean(arch, jobs=1)
    assert report.cleaned == 1
    assert [(o.ref, o.change) for o in report.outcomes] == [("10HARARE93", LOST)]
    assert report.versions == {}
    assert arch.cable("10HARARE93").head == 1
    arch.close()


def test_pages_stored_but_never_cleaned_give_new_cables_and_sources(tmp_path: Path) -> None:
    arch = build_archive(tmp_path / "archive")
    harare = HISTORY.joinpath("10HARARE93/2_7002a1b0.html").read_bytes()
    riyadh = HISTORY.joinpath("08RIYADH7/1_9b83283d.html").read_bytes()
    with arch.writer(kind="import") as w:
        # Stored without cleaning (as an import does): the same cable on a new mirror,
        # and a cable the archive does not hold yet.
        w.add_capture("http://mirror-c.example/10HARARE93.html", 200, HEADERS, harare)
        w.add_capture("http://mirror-c.example/08RIYADH7.html", 200, HEADERS, riyadh)
    dry = reclean(arch, jobs=1, dry_run=True)
    assert dry.captures == len(PAGES) + 2 and dry.skipped == len(PAGES) and dry.cleaned == 2
    assert sorted((o.ref, o.change) for o in dry.outcomes) == [
        ("08RIYADH7", NEW_CABLE),
        ("10HARARE93", NEW_SOURCE),
    ]
    new_source = next(o for o in dry.outcomes if o.ref == "10HARARE93")
    assert new_source.lines_added == len(clean_page(harare).cables[0].text.split("\n"))
    real = reclean(arch, jobs=1)
    assert real.versions == {"08RIYADH7": 1, "10HARARE93": 2}
    assert len(arch.cable("10HARARE93").source_keys()) == 2
    assert {o.change for o in real.outcomes} == {NEW_CABLE, NEW_SOURCE}
    arch.close()


def test_unreadable_capture_is_reported_and_the_rest_goes_on(arch: Archive, rules_dir: Path) -> None:
    caps = {c.url: c for c in arch.captures()}
    victim = caps[PAGES[4][0]]
    warc = Path(arch.captures_dir) / os.path.basename(victim.warc_file)
    with open(warc, "r+b") as fh:  # scribble over the gzip member of one record
        fh.seek(victim.offset + 10)
        fh.write(b"\0" * 64)
    result = run_cli("reclean", "--archive", str(arch.path), "--rules", str(rules_dir), "--jobs", "1")
    assert result.returncode == 1, result.stderr
    assert PAGES[4][0] in result.stderr and "cannot read the capture" in result.stderr
    assert "1 failed" in result.stdout
    # The other pages were re-cleaned and written; the failed one stays as it was, and is
    # tried again next time (it was not marked cleaned).
    reopened = Archive.open(arch.path)
    assert reopened.cable("06MADRID76").head == 2 and reopened.cable("04AMMAN1288").head == 1
    again = reclean(reopened, rules=rules_dir, jobs=1, dry_run=True)
    assert again.cleaned == 0 and [i for i, _ in again.failed] == [PAGES[4][0]]
    reopened.close()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_dry_run_then_run(arch: Archive, rules_dir: Path) -> None:
    path = str(arch.path)
    arch.close()
    dry = run_cli("reclean", "--archive", path, "--rules", str(rules_dir), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["dry_run"] and data["new_versions"] == sorted(changed_by_rule(rules_dir))
    assert all("lines_added" in c for c in data["cables"])
    text = run_cli("reclean", "--archive", path, "--rules", str(rules_dir), "--dry-run")
    assert "dry run, nothing written" in text.stdout and "06MADRID76" in text.stdout
    done = run_cli("reclean", "--archive", path, "--rules", str(rules_dir))
    assert done.returncode == 0, done.stderr
    assert f"new versions written: {len(data['new_versions'])}" in done.stdout
    assert "run record:" in done.stdout
    noop = run_cli("reclean", "--archive", path, "--rules", str(rules_dir))
    assert "new versions written" not in noop.stdout or "new versions written: 0" in noop.stdout
    assert f"{len(PAGES)} already cleaned" in noop.stdout


def test_cli_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "common.toml").write_text("[viewer\n", encoding="utf-8")
    build_archive(tmp_path / "a").close()
    r = run_cli("reclean", "--archive", str(tmp_path / "a"), "--rules", str(bad))
    assert r.returncode == 2 and "common.toml" in r.stderr
    r = run_cli("reclean", "--archive", str(tmp_path / "a"), "--jobs", "0")
    assert r.returncode == 2
    r = run_cli("reclean", "--archive", str(tmp_path / "missing"))
    assert r.returncode == 1 and "missing" in r.stderr


def test_pages_of_one_cable_are_committed_together(
    arch: Archive, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archive.reclean as rc

    # Commit after every page: the two mirrors of 06MADRID76 must still land in one commit,
    # so the cable gets one new version, as the dry run said.
    monkeypatch.setattr(rc, "COMMIT_PAGES", 1)
    before = heads(arch)
    report = reclean(arch, rules=rules_dir, jobs=1)
    assert report.versions["06MADRID76"] == before["06MADRID76"] + 1
    assert heads(arch)["06MADRID76"] == before["06MADRID76"] + 1
    run = json.loads(Path(arch.runs_dir, f"{report.run_id}.json").read_text())
    assert run["counts"]["commits"] >= 3  # it did commit page by page elsewhere


def test_pages_linked_through_shared_cables_form_one_group() -> None:
    from archive.reclean import _Groups

    # k1 gave B, k2 gave A and B: both go with A; k6 links D to C's group through k4.
    g = _Groups({"k1": {"B"}, "k2": {"A", "B"}, "k3": {"C"}, "k4": {"C", "D"}, "k5": {"E"}, "k6": {"D", "F"}})
    assert [g.of(k) for k in ("k1", "k2", "k3", "k4", "k5", "k6", "new")] == [
        "A",
        "A",
        "C",
        "C",
        "E",
        "C",
        "",
    ]
