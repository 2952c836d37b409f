"""Faults: a writer killed anywhere in a commit, two writers, a full disk, damaged files."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive import Archive, DiskFull
from cleaners import clean_page

from archive_support import (
    CHILD,
    ROOT,
    RULES_B,
    cable,
    cablegate_pages,
    check_marks,
    html_headers,
    ocfl_validate,
    result,
    run_child,
    text_for,
    warc_files,
    warcio_check,
)

REFS = ["08ASTANA611", "09STATE11937"]


def heads(path):
    a = Archive.open(path)
    try:
        return {c.ref: (c.head, a.cable(c.ref).text()) for c in a.list_cables()}
    finally:
        a.close()


def assert_sound(path, external=True):
    a = Archive.open(path)
    try:
        report = a.verify()
        assert report.ok, [str(p) for p in report.problems]
        # The index agrees with the objects (recovery resynced it).
        for c in a.list_cables():
            assert a.cable(c.ref).head == c.head
    finally:
        a.close()
    if not external:
        return
    proc = ocfl_validate(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = warc_files(path)
    if files:
        proc = warcio_check(files)
        assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
def test_killed_at_every_step_of_a_commit(tmp_path):
    base = tmp_path / "base"
    assert run_child(str(base), 1, -1, REFS).returncode == 0
    before = heads(base)
    assert {r: h for r, (h, _) in before.items()} == {"08ASTANA611": 1, "09STATE11937": 1, "10NEWCABLE1": 1}
    # Count the steps of the very run that is killed below: the second generation on a copy
    # of the base (a first run, on an empty archive, takes other steps).
    subprocess.run(["cp", "-a", str(base), str(tmp_path / "count")], check=True)
    counted = run_child(str(tmp_path / "count"), 2, 0, REFS)
    assert counted.returncode == 0, counted.stderr
    steps = int(counted.stdout.split("STEPS")[1].split()[0])
    assert steps > 20
    outcomes = set()
    # Each wrapped call counts a step before and after it: the odd steps are the points
    # between calls, the last one the end of the run.
    points = [*list(range(1, steps + 1, 2)), steps]
    for i, n in enumerate(points):
        work = tmp_path / f"k{n}"
        subprocess.run(["cp", "-a", str(base), str(work)], check=True)
        proc = run_child(str(work), 2, n, REFS)
        assert proc.returncode == -signal.SIGKILL, (n, proc.returncode, proc.stderr)
        # The next open settles the interrupted commit; every cable is old or new, never half.
        after = heads(work)
        for ref in REFS:
            head, text = after[ref]
            assert (head, text) in {
                (1, f"{ref}\nTEXT OF GENERATION 1\n"),
                (2, f"{ref}\nTEXT OF GENERATION 2\n"),
            }, n
        new_two = after.get("10NEWCABLE2")
        assert new_two in (None, (1, "10NEWCABLE2\nTEXT OF GENERATION 2\n")), n
        outcomes.add((*tuple(after[r][0] for r in REFS), new_two is not None))
        assert not os.path.exists(work / "state" / "journal.json")
        # A commit is all or nothing: a capture kept is marked cleaned and its cables are there.
        assert check_marks(work) in (3, 4), n
        assert_sound(work, external=i % 4 == 0 or i == len(points) - 1)
        # A rerun completes the batch, without a duplicate version.
        assert run_child(str(work), 2, -1, REFS).returncode == 0
        final = heads(work)
        assert {r: h for r, (h, _) in final.items()} == {
            "08ASTANA611": 2,
            "09STATE11937": 2,
            "10NEWCABLE1": 1,
            "10NEWCABLE2": 1,
        }, n
        assert_sound(work, external=False)
        subprocess.run(["rm", "-rf", str(work)], check=True)
    # The kill points covered both sides of the commit.
    assert (1, 1, False) in outcomes and (2, 2, True) in outcomes


@pytest.mark.slow
def test_killed_at_every_step_of_a_reclean_commit(tmp_path):
    # Two crawls under RULES_A, then a reclean under RULES_B killed at each step of its commit.
    base = tmp_path / "base"
    for gen in (1, 2):
        assert run_child(str(base), gen, -1, REFS).returncode == 0
    counted = tmp_path / "count"
    subprocess.run(["cp", "-a", str(base), str(counted)], check=True)
    proc = run_child(str(counted), 3, 0, REFS, mode="reclean")
    assert proc.returncode == 0, proc.stderr
    steps = int(proc.stdout.split("STEPS")[1].split()[0])
    assert steps > 20
    kept_b = set()
    for n in [*range(1, steps + 1, 2), steps]:
        work = tmp_path / f"k{n}"
        subprocess.run(["cp", "-a", str(base), str(work)], check=True)
        proc = run_child(str(work), 3, n, REFS, mode="reclean")
        assert proc.returncode == -signal.SIGKILL, (n, proc.returncode, proc.stderr)
        # After recovery every capture's mark matches its cable's text: under RULES_B only
        # where the reclean's versions were kept.
        assert check_marks(work) == 4, n
        with Archive.open(work) as a:
            kept_b.add(all(c.cleaned == RULES_B.digest for c in a.captures()))
        # A plain reclean (skipping captures cleaned under RULES_B) leaves no cable behind.
        assert run_child(str(work), 3, -1, REFS, mode="reclean").returncode == 0
        assert check_marks(work) == 4, n
        with Archive.open(work) as a:
            assert all(c.cleaned == RULES_B.digest for c in a.captures()), n
            for ref, gen in (*((r, 2) for r in REFS), ("10NEWCABLE1", 1), ("10NEWCABLE2", 2)):
                assert a.cable(ref).text() == text_for(ref, gen, RULES_B), (n, ref)
        if n % 8 == 1:
            assert_sound(work, external=False)
        subprocess.run(["rm", "-rf", str(work)], check=True)
    # The kill points covered both sides of the commit.
    assert kept_b == {False, True}


@pytest.mark.slow
def test_killed_from_outside_while_crawling(tmp_path):
    path = tmp_path / "a"
    Archive.create(path).close()
    code = CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"))
    # A long-running writer committing in a loop, killed by another process at random moments.
    for delay in (0.15, 0.4, 0.7, 1.1):
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(path), "1", "-1", ",".join(REFS), "loop"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        a = Archive.open(path)
        versions = [v.number for v in a.cable(REFS[0]).versions] if a.has_cable(REFS[0]) else []
        assert versions == list(range(1, len(versions) + 1))
        a.close()
        assert_sound(path)


def test_two_writers_in_two_processes(tmp_path):
    path = tmp_path / "a"
    Archive.create(path).close()
    script = (
        "import sys; sys.path[:0] = [{root!r}, {tests!r}]\n"
        "from archive import Archive\n"
        "from archive_support import cable, result, html_headers\n"
        "arch = Archive.open(sys.argv[1]); who = sys.argv[2]\n"
        "for i in range(15):\n"
        "    with arch.writer(kind='crawl', args={{'who': who}}) as w:\n"
        "        cap = w.add_capture(f'https://{{who}}.example.org/{{i}}', 200, html_headers(), f'{{who}} {{i}}'.encode())\n"
        "        w.record(cap, result(cable('08ASTANA611', f'TEXT FROM {{who}} {{i}}\\n')))\n"
    ).format(root=str(ROOT), tests=str(ROOT / "tests"))
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path), who], stderr=subprocess.PIPE, text=True)
        for who in ("alpha", "beta")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    a = Archive.open(path)
    rec = a.cable("08ASTANA611")
    # 30 commits, each adding one source: 30 versions in order, none lost, none interleaved.
    assert [v.number for v in rec.versions] == list(range(1, 31))
    assert len(rec.source_keys()) == 30
    for n in range(2, 31):
        assert len(rec.source_keys(n)) == len(rec.source_keys(n - 1)) + 1
    assert len(a.runs()) == 30 and all(r["status"] == "done" for r in a.runs())
    a.close()
    assert_sound(path)


def test_disk_full_during_a_commit(tmp_path, monkeypatch):
    from archive import ocfl

    arch = Archive.create(tmp_path / "a")
    pages = cablegate_pages()
    with arch.writer(kind="crawl") as w:
        url, body, _ = pages[0]
        w.record(w.add_capture(url, 200, html_headers(), body), clean_page(body, url=url))
    before = heads(arch.path)
    real = ocfl.write_bytes
    calls = [0]

    def full_after_some(path, data, **kw):
        calls[0] += 1
        if calls[0] > 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data, **kw)

    with arch.writer(kind="crawl") as w:
        for url, body, _ in pages[1:]:
            w.record(w.add_capture(url, 200, html_headers(), body), clean_page(body, url=url))
        cap = w.add_capture(pages[0][0], 200, html_headers(), b"changed page")
        w.record(cap, result(cable(next(iter(before)), "A CHANGED TEXT\n")))
        monkeypatch.setattr(ocfl, "write_bytes", full_after_some)
        with pytest.raises(DiskFull, match=r"disk full while writing .*cables"):
            w.commit()
        assert heads(arch.path) == before  # nothing half-written is visible
        assert_sound(arch.path)
        # Space is back: the same batch commits.
        monkeypatch.setattr(ocfl, "write_bytes", real)
        report = w.commit()
        assert len(report.new) == 4 and report.changed == [next(iter(before))]
    assert_sound(arch.path)


def test_disk_full_while_writing_a_capture(tmp_path, monkeypatch):
    from archive import captures

    arch = Archive.create(tmp_path / "a")
    pages = cablegate_pages()
    with arch.writer(kind="crawl") as w:
        url, body, _ = pages[0]
        w.record(w.add_capture(url, 200, html_headers(), body), clean_page(body, url=url))
        real = captures._GzipMember.write

        def no_space(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(captures._GzipMember, "write", no_space)
        with pytest.raises(DiskFull, match=r"disk full while writing .*\.warc\.gz"):
            w.add_capture(pages[1][0], 200, html_headers(), pages[1][1])
        monkeypatch.setattr(captures._GzipMember, "write", real)
        w.record(w.add_capture(pages[1][0], 200, html_headers(), pages[1][1]), clean_page(pages[1][1]))
    assert len(list(arch.list_cables())) == 2
    assert_sound(arch.path)


@pytest.fixture
def built(tmp_path):
    arch = Archive.create(tmp_path / "a")
    with arch.writer(kind="crawl") as w:
        for url, body, _ in cablegate_pages()[:3]:
            w.record(w.add_capture(url, 200, html_headers(), body), clean_page(body, url=url))
    assert arch.verify().ok
    return arch


def bad_paths(arch):
    report = arch.verify()
    assert not report.ok
    return {p.path for p in report.problems}, report


def test_verify_names_a_flipped_byte_in_a_content_file(built):
    obj = os.path.join(built.cables_dir, "00HARARE6677")
    target = os.path.join(obj, "v1", "content", "cable.txt")
    if not os.path.exists(target):
        inv = json.loads(Path(os.path.join(obj, "inventory.json")).read_text())
        target = os.path.join(
            obj, next(p for ps in inv["manifest"].values() for p in ps if p.endswith(".txt"))
        )
    data = bytearray(Path(target).read_bytes())
    data[100] ^= 0x01
    Path(target).write_bytes(bytes(data))
    paths, _ = bad_paths(built)
    assert target in paths
    assert ocfl_validate(built.path).returncode != 0


def test_verify_names_a_truncated_warc(built):
    (warc,) = warc_files(built.path)
    os.truncate(warc, os.path.getsize(warc) - 700)
    paths, report = bad_paths(built)
    assert warc in paths
    assert any("truncated" in p.message or "unreadable" in p.message for p in report.problems)


def test_verify_names_a_deleted_sidecar(built):
    side = os.path.join(built.cables_dir, "06BERLIN2546", "inventory.json.sha512")
    if not os.path.exists(side):
        side = os.path.join(
            built.cables_dir, sorted(os.listdir(built.cables_dir))[-1], "inventory.json.sha512"
        )
    os.unlink(side)
    paths, _ = bad_paths(built)
    assert side in paths


def test_verify_names_a_damaged_cdxj_and_a_stray_file(built):
    with open(built.cdxj_path, "a") as fh:
        fh.write("com,example)/ 20200101000000 {broken json\n")
    stray = os.path.join(built.cables_dir, "00HARARE6677", "v1", "content", "stray.txt")
    Path(stray).write_text("x")
    paths, _report = bad_paths(built)
    assert built.cdxj_path in paths and stray in paths


def test_stale_lock_of_a_killed_writer_is_recovered(tmp_path):
    path = tmp_path / "a"
    assert run_child(str(path), 1, -1, REFS).returncode == 0
    # Killed with captures written but not committed.
    assert run_child(str(path), 2, 1, REFS).returncode == -signal.SIGKILL
    assert (path / "state" / "journal.json").exists()
    arch = Archive(str(path), {})  # no open(): open() would settle it first
    messages: list[str] = []
    arch.notify = messages.append
    with arch.writer(kind="crawl", wait=0) as w:
        assert w.run_id
    assert any("died holding the archive" in m for m in messages), messages
    assert any("cut back to their last commit" in m for m in messages), messages
    runs = {r["run"]: r for r in Archive.open(path).runs()}
    assert sorted(r["status"] for r in runs.values()) == ["done", "done", "interrupted"]
    assert {c: h for c, (h, _) in heads(path).items()} == {
        "08ASTANA611": 1,
        "09STATE11937": 1,
        "10NEWCABLE1": 1,
    }
    assert_sound(path)
