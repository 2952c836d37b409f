"""The archive on disk: no links in the OCFL root, read-only archives read and verify, a full disk
during the index update is settled by the next writer, and every damage is named, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archive import Archive, ArchiveError

from archive_support import cablegate_pages, html_headers, ocfl_validate
from integrity_support import (
    all_files,
    build_archive,
    read_only_copy,
    snapshot,
    tmpfs,
    tree_digest,
    zero_pages,
)
from mockserver import REPO, cablearchive, cli_env

REF = "06BERLIN2546"  # a cable of the fixture pages


def _two_versions(path: Path) -> Path:
    """The fixture archive, then a second commit that changes one cable (so objects have v2)."""
    build_archive(path)
    from cleaners import clean_page

    url, body, _ = next(p for p in cablegate_pages() if REF in p[0])
    arch = Archive.open(path)
    with arch.writer(kind="crawl") as w:
        changed = body.replace(b"Berlin", b"BERLIN", 3)
        mirror = url.replace("cablegate.wikileaks.org", "mirror.example.org")
        w.record(w.add_capture(mirror, 200, html_headers(), changed), clean_page(changed, url=mirror))
    arch.close()
    assert Archive.open(path).cable(REF).head == 2
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of the fixture pages with two versions of one cable; tests copy it before damaging it."""
    return _two_versions(tmp_path_factory.mktemp("built") / "archive")


@pytest.fixture
def work(built: Path, tmp_path: Path) -> Path:
    """A copy of the built archive this test may damage."""
    dst = tmp_path / "archive"
    shutil.copytree(built, dst, symlinks=True)
    return dst


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, (proc.stderr + proc.stdout)[-1500:]


# ----------------------------------------------------------------------------- 4. links in the storage root


def _links(root: Path) -> list[str]:
    out = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(folder) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out.append(f"{p}: symbolic link")
            elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                out.append(f"{p}: {st.st_nlink} hard links")
    return out


def test_no_file_in_the_storage_root_is_a_link(built: Path) -> None:
    links = _links(built / "cables")
    assert not links, links[:6]


@pytest.mark.parametrize("kind", ["hard", "symbolic"])
def test_verify_names_a_link_in_the_storage_root(work: Path, kind: str) -> None:
    obj = work / "cables" / REF
    root_inv, head_inv = obj / "inventory.json", obj / "v2" / "inventory.json"
    for name in ("inventory.json", "inventory.json.sha512"):
        # Start from plain copies, then link exactly one file.
        data = (obj / name).read_bytes()
        (obj / name).unlink()
        (obj / name).write_bytes(data)
    root_inv.unlink()
    if kind == "hard":
        os.link(head_inv, root_inv)
    else:
        os.symlink("v2/inventory.json", root_inv)
    proc = cablearchive("verify", "--archive", str(work))
    _no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert str(root_inv) in proc.stdout + proc.stderr and "link" in proc.stdout + proc.stderr


# ----------------------------------------------------------------------------- 5. read-only archives

READERS = {
    "verify": (["verify"], "verifies"),
    "reindex --check": (["reindex", "--check"], "current"),
    "list": (["list"], REF),
    "show": (["show", REF], "BERLIN"),
    "log": (["log", REF], "v2"),
    "search": (["search", "Berlin"], REF),
    "diff": (["diff", REF, "1", "2"], "BERLIN"),
}


@pytest.fixture(scope="module")
def read_only(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with read_only_copy(built, tmp_path_factory.mktemp("ro") / "mnt") as path:
        yield path


@pytest.mark.parametrize("command", list(READERS))
def test_a_read_only_archive_reads_and_verifies(read_only: Path, command: str) -> None:
    before = tree_digest(read_only)
    args, expected = READERS[command]
    proc = cablearchive(*args, "--archive", str(read_only))
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert expected in proc.stdout + proc.stderr
    assert tree_digest(read_only) == before


@pytest.fixture(scope="module")
def unwritable(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A copy of the archive whose files and folders lose their write permission (chmod a-w)."""
    dst = tmp_path_factory.mktemp("perm") / "archive"
    shutil.copytree(built, dst, symlinks=True)
    paths = [dst, *dst.rglob("*")]
    for p in paths:
        os.chmod(p, stat.S_IMODE(p.stat().st_mode) & ~0o222)
    yield dst
    for p in paths:
        os.chmod(p, stat.S_IMODE(p.stat().st_mode) | 0o200)


def _without_write_rights(*args: str) -> subprocess.CompletedProcess[str]:
    """`cablearchive ARGS` as a process that file permissions bind: as root, without the
    capabilities that override them (root ignores chmod otherwise)."""
    if os.geteuid() != 0:
        return cablearchive(*args)
    if not shutil.which("setpriv"):
        pytest.skip("root ignores file permissions and setpriv (util-linux) is missing to drop that right")
    drop = "-dac_override,-dac_read_search,-fowner,-linux_immutable"
    return subprocess.run(
        ["setpriv", f"--bounding-set={drop}", "--", sys.executable, "-m", "crawler.cli", *args],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("command", list(READERS))
def test_an_archive_without_write_permission_reads_and_verifies(unwritable: Path, command: str) -> None:
    probe = _without_write_rights("reindex", "--check", "--archive", str(unwritable / "no-such"))
    assert probe.returncode != 0  # the process runs at all
    before = tree_digest(unwritable)
    args, expected = READERS[command]
    proc = _without_write_rights(*args, "--archive", str(unwritable))
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert expected in proc.stdout + proc.stderr
    assert tree_digest(unwritable) == before


def test_a_read_only_archive_with_an_unsettled_journal_is_read_and_named(work: Path, tmp_path: Path) -> None:
    # A writer died between commits: its journal is left, and the archive is then mounted read-only.
    run = "20250101T000000Z-crawl-abcdef"
    cdxj, cleaned = (work / "captures" / n for n in ("index.cdxj", "cleaned.jsonl"))
    entry = {"run": run, "pid": 1, "phase": None, "warc": {}, "cdxj": cdxj.stat().st_size,
             "cleaned": cleaned.stat().st_size, "cdxj_start": cdxj.stat().st_size,
             "cleaned_start": cleaned.stat().st_size, "objects": []}  # fmt: skip
    (work / "state" / "journal.json").write_text(json.dumps(entry), encoding="utf-8")
    with read_only_copy(work, tmp_path / "ro") as ro:
        before = tree_digest(ro)
        verify = cablearchive("verify", "--archive", str(ro))
        _no_traceback(verify)
        assert verify.returncode == 1, verify.stdout + verify.stderr
        assert "journal.json" in verify.stdout and "cablearchive repair" in verify.stdout
        listed = cablearchive("list", "--archive", str(ro))
        assert listed.returncode == 0 and REF in listed.stdout, listed.stderr
        assert tree_digest(ro) == before


def test_reindex_check_tells_a_stale_index_and_writes_nothing(work: Path) -> None:
    (work / "index.sqlite").unlink()
    before = tree_digest(work)
    proc = cablearchive("reindex", "--check", "--archive", str(work))
    _no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert tree_digest(work) == before


# ----------------------------------------------------------------------------- 8. disk full during the index update

# Free space left on an 8 MiB archive filesystem when a crawl starts (an uninterrupted crawl of the
# mock world takes about 1 MiB in 20 commits): the disk fills in a different commit, and a different
# stage of it (WARC, objects, journal, index), at each level.
FREE_KB = list(range(250, 1000, 100))


@pytest.fixture(scope="module")
def web() -> Any:
    from mockserver import MockWeb

    server = MockWeb()
    yield server
    server.stop()


def _search_hits(archive: Path, queries: list[str]) -> dict[str, set[str]]:
    with Archive.open(archive) as arch:
        return {q: {h.ref for h in arch.search(q, limit=100)} for q in queries}


@pytest.mark.slow
def test_a_crawl_on_a_full_disk_is_settled_by_resume(web: Any, tmp_path: Path) -> None:
    from mockserver import settings_args

    seeds = web.write_seeds(
        tmp_path / "seeds.txt", [web.url(s) for s in ("cablegate", "wordpress", "blogger")]
    )
    crawl = ("crawl", str(seeds), *settings_args("CABLEARCHIVE_COMMIT_PAGES=3"))
    whole = tmp_path / "whole"
    assert cablearchive(*crawl, "--archive", str(whole)).returncode == 0
    truth = {ref: c["text"] for ref, c in snapshot(whole).items()}
    # One word of each cable, and the cables a search for it finds in the uninterrupted crawl.
    queries = [max(re.findall(r"[A-Za-z]{6,}", text), key=len) for text in truth.values()]
    expected_hits = _search_hits(whole, queries)
    failures: list[str] = []
    with tmpfs(tmp_path / "small", "8m") as mnt:
        for free in FREE_KB:
            archive, ballast = mnt / "archive", mnt / "ballast"
            shutil.rmtree(archive, ignore_errors=True)
            ballast.unlink(missing_ok=True)
            kept_first = -1
            st = os.statvfs(mnt)
            ballast.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - free * 1024))
            first = cablearchive(*crawl, "--archive", str(archive))
            with contextlib.suppress(Exception), Archive.open(archive) as arch:
                kept_first = sum(1 for _ in arch.list_cables())
            ballast.unlink()
            # Space is back: the resumed crawl (the next writer) settles what the full disk left.
            resumed = cablearchive(*crawl, "--archive", str(archive), "--resume")
            listed = cablearchive("list", "--archive", str(archive))
            verify = cablearchive("verify", "--archive", str(archive))
            problems = []
            if "Traceback" in first.stdout + first.stderr:
                problems.append("traceback on a full disk")
            if first.returncode == 0 and kept_first < len(truth):
                problems.append(f"exit 0 with {kept_first} of {len(truth)} cables listed")
            if resumed.returncode != 0:
                problems.append(f"resume exit {resumed.returncode}")
            n = sum(1 for line in listed.stdout.splitlines() if line.strip())
            if n != len(truth):
                problems.append(f"list shows {n} of {len(truth)}")
            if verify.returncode != 0:
                problems.append("verify fails: " + " | ".join(verify.stdout.splitlines()[:2]))
            elif {r: c["text"] for r, c in snapshot(archive).items()} != truth:
                problems.append("texts differ from a crawl with space")
            elif _search_hits(archive, queries) != expected_hits:
                problems.append("search misses cables")
            if problems:
                failures.append(f"{free} KiB free: " + "; ".join(problems))
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------------------- 12. damaged archives


@pytest.mark.parametrize("command", [["list"], ["search", "Berlin"], ["reclean", "--dry-run"]])
def test_a_malformed_index_gives_a_message(work: Path, command: list[str]) -> None:
    zero_pages(work / "index.sqlite")
    proc = cablearchive(*command, "--archive", str(work))
    _no_traceback(proc)
    assert "index.sqlite" in proc.stderr and "reindex" in proc.stderr, proc.stderr


def test_verify_names_a_malformed_index(work: Path) -> None:
    zero_pages(work / "index.sqlite")
    proc = cablearchive("verify", "--archive", str(work))
    _no_traceback(proc)
    assert proc.returncode == 1 and "index.sqlite" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "command", [["show", REF, "--version", "1"], ["log", REF], ["diff", REF, "1", "2"], ["show", REF]]
)
def test_a_deleted_version_folder_gives_a_message(work: Path, command: list[str]) -> None:
    shutil.rmtree(work / "cables" / REF / "v1")
    proc = cablearchive(*command, "--archive", str(work))
    _no_traceback(proc)
    assert REF in proc.stderr and "v1" in proc.stderr, proc.stderr
    verify = cablearchive("verify", "--archive", str(work))
    assert verify.returncode == 1 and "v1" in verify.stdout


def test_a_missing_root_inventory_is_named_and_repaired(work: Path) -> None:
    obj = work / "cables" / REF
    (obj / "inventory.json").unlink()
    reindex = cablearchive("reindex", "--archive", str(work))
    _no_traceback(reindex)
    listed = cablearchive("list", "--archive", str(work))
    assert REF in listed.stdout, "reindex dropped the object"
    verify = cablearchive("verify", "--archive", str(work))
    assert verify.returncode == 1 and str(obj / "inventory.json") in verify.stdout
    assert "cablearchive repair" in verify.stdout + verify.stderr
    repair = cablearchive("repair", "--archive", str(work))
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert cablearchive("verify", "--archive", str(work)).returncode == 0
    assert ocfl_validate(work).returncode == 0


@pytest.mark.parametrize("command", [["verify"], ["list"], ["show", REF]])
def test_a_damaged_journal_is_named_with_its_remedy(work: Path, command: list[str]) -> None:
    (work / "state").mkdir(exist_ok=True)
    (work / "state" / "journal.json").write_text('{"run": "x", "objects": [', encoding="utf-8")
    proc = cablearchive(*command, "--archive", str(work))
    _no_traceback(proc)
    if command == ["verify"]:
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "journal.json" in proc.stdout and "cablearchive" in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "journal.json" in proc.stderr


def test_verify_checks_the_cleaned_marks(work: Path) -> None:
    marks = work / "captures" / "cleaned.jsonl"
    lines = marks.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace('"capture": "<urn:uuid:', '"capture": "<urn:uuid:0000')
    marks.write_text("\n".join([*lines, "{not json"]) + "\n", encoding="utf-8")
    proc = cablearchive("verify", "--archive", str(work))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cleaned.jsonl" in proc.stdout


def test_the_built_archive_is_sound(built: Path) -> None:
    # The starting point of every damage above.
    proc = cablearchive("verify", "--archive", str(built))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ocfl_validate(built).returncode == 0
    assert sqlite3.connect(built / "index.sqlite").execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert json.loads((built / "cablearchive.json").read_text())["format"] == "cablearchive"
    assert sum(1 for _ in all_files(built / "cables")) > 10


# ----------------------------------------------------------------------------- run records: finished or not


def _status(archive: Path, run_id: str) -> str:
    return json.loads((archive / "runs" / f"{run_id}.json").read_text(encoding="utf-8"))["status"]


def test_run_records_tell_an_interrupted_run_from_a_finished_one(work: Path) -> None:
    arch = Archive.open(work)
    url, body, _ = next(iter(cablegate_pages()))
    from cleaners import clean_page

    w = arch.writer(kind="crawl")
    w.record(w.add_capture(url, 200, html_headers(), body), clean_page(body, url=url))
    w.close(interrupted="interrupted by SIGINT")
    assert _status(work, w.run_id) == "interrupted"
    with pytest.raises(KeyboardInterrupt), arch.writer(kind="import") as w2:
        raise KeyboardInterrupt
    assert _status(work, w2.run_id) == "interrupted"
    with pytest.raises(RuntimeError), arch.writer(kind="import") as w3:
        raise RuntimeError("boom")
    assert _status(work, w3.run_id) == "failed"
    with arch.writer(kind="import") as w4:
        pass
    assert _status(work, w4.run_id) == "done"
    # A run that ended without a word (its process gone, its journal settled) is found by the next writer.
    w5 = arch.writer(kind="crawl")
    w5._lock.release()
    (work / "state" / "journal.json").unlink()
    assert _status(work, w5.run_id) == "running"
    with arch.writer(kind="import"):
        pass
    assert _status(work, w5.run_id) == "interrupted"
    arch.close()


# ----------------------------------------------------------------------------- repair


def _hard_link_roots(archive: Path) -> None:
    """Make every root inventory and sidecar a hard link to its head version's, as older releases wrote them."""
    for obj in (archive / "cables").iterdir():
        if not obj.is_dir():
            continue
        head = json.loads((obj / "inventory.json").read_text(encoding="utf-8"))["head"]
        for name in ("inventory.json", "inventory.json.sha512"):
            (obj / name).unlink()
            os.link(obj / head / name, obj / name)


def test_repair_replaces_the_links_of_an_older_archive(work: Path) -> None:
    _hard_link_roots(work)
    assert _links(work / "cables")
    verify = cablearchive("verify", "--archive", str(work))
    assert verify.returncode == 1 and "E090" in verify.stdout and "cablearchive repair" in verify.stdout
    before = tree_digest(work)
    dry = cablearchive("repair", "--dry-run", "--archive", str(work))
    assert dry.returncode == 0 and "hard link" in dry.stdout, dry.stdout + dry.stderr
    assert tree_digest(work) == before and _links(work / "cables")
    repair = cablearchive("repair", "--archive", str(work))
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert not _links(work / "cables")
    assert cablearchive("verify", "--archive", str(work)).returncode == 0
    assert ocfl_validate(work).returncode == 0


def test_repair_sets_a_damaged_journal_aside_and_leaves_a_sound_archive(work: Path) -> None:
    (work / "state" / "journal.json").write_text('{"run": "x", "objects": [', encoding="utf-8")
    # A version prepared and never installed, as a commit cut short leaves it.
    obj = work / "cables" / REF
    shutil.copytree(obj / "v2", obj / "v3")
    repair = cablearchive("repair", "--archive", str(work))
    _no_traceback(repair)
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert not (work / "state" / "journal.json").exists()
    assert list((work / "state").glob("journal.json.damaged-*"))
    assert not (obj / "v3").exists() and (work / "state" / "lost+found" / "cables" / REF / "v3").is_dir()
    assert cablearchive("verify", "--archive", str(work)).returncode == 0
    assert Archive.open(work).cable(REF).head == 2


# ----------------------------------------------------------------------------- 8. the index update fails: the journal stays


def test_a_failed_index_update_keeps_its_journal_for_the_next_writer(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive import DiskFull, index
    from cleaners import clean_page

    pages = cablegate_pages()
    url, body, _ = pages[0]
    changed = body.replace(b"the", b"THE", 5)
    mirror = url.replace("cablegate.wikileaks.org", "full.example.org")
    arch = Archive.open(work)
    ref = clean_page(changed, url=mirror).cables[0].reference_id

    def full(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(index, "write_cable", full)
    monkeypatch.setattr(index, "index_object", full)
    w = arch.writer(kind="crawl")
    w.record(w.add_capture(mirror, 200, html_headers(), changed), clean_page(changed, url=mirror))
    with pytest.raises(DiskFull, match=r"index\.sqlite"):
        w.commit()
    journal = (work / "state" / "journal.json").read_text(encoding="utf-8")
    assert '"phase": "install"' in journal and ref in journal
    # The writer refuses to go on: a later commit would overwrite the journal naming that object.
    url2, body2, _ = pages[1]
    w.record(w.add_capture(url2 + "?again", 200, html_headers(), body2), clean_page(body2, url=url2))
    with pytest.raises(ArchiveError, match="could not be settled"):
        w.commit()
    assert (work / "state" / "journal.json").read_text(encoding="utf-8") == journal
    w.abort("disk full")
    assert (work / "state" / "journal.json").read_text(encoding="utf-8") == journal
    monkeypatch.undo()
    arch.close()
    # Space is back: the next writer settles the commit, the index holds the new version.
    with Archive.open(work).writer(kind="crawl"):
        pass
    assert not (work / "state" / "journal.json").exists()
    with Archive.open(work) as again:
        assert {c.ref: c.head for c in again.list_cables()}[ref] == again.cable(ref).head
    assert cablearchive("verify", "--archive", str(work)).returncode == 0
    assert cablearchive("reindex", "--check", "--archive", str(work)).returncode == 0
