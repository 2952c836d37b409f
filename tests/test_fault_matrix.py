"""The fault matrix: faults injected into one archive, and what must hold after each.

The archive is built from the fixture pages (imported from a WARC) and the mock world (crawled).
Faults: kill -9 at random points of a crawl, a re-clean and an import, then resume or rerun; a disk
that fills mid-commit; two writers at once; truncated, reordered and garbage WARCs; a read-only
mount. After each: `cablearchive verify`, the OCFL validator, `warcio check`, and a comparison with
the same work done without the fault: nothing lost, nothing duplicated, nothing wrong current.

The counts (faults tried, survived) are printed after the module and written to
`fault-matrix.json` in the pytest temporary folder. A case that fails because of a known defect is
marked xfail(strict=True): it must be unmarked when the defect is fixed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import Archive

from archive_support import ocfl_validate, warc_files, warcio_check
from integrity_support import gzip_members, member_bytes, read_only_copy, snapshot, tmpfs, tree_digest
from mockserver import REPO, MockWeb, cablearchive, cli_env, settings_args

pytestmark = pytest.mark.slow

EXPORT = Path(__file__).parent / "fixtures" / "integrity" / "export.warc.gz"
# A crawl slow enough to be killed in the middle: one request at a time per site, commits every 3 pages.
SLOW = ("CONCURRENT_REQUESTS_PER_DOMAIN=1", "DOWNLOAD_DELAY=0.05", "CABLEARCHIVE_COMMIT_PAGES=3")
USER_RULE = '[viewer]\npartial_note = "This record is a partial extract."\n'
SEEDS = (1, 2, 3)

# One entry per fault tried: {"fault", "survived", "problems"}.
RESULTS: list[dict[str, Any]] = []


# ----------------------------------------------------------------------------- the counts


@pytest.fixture(scope="module", autouse=True)
def fault_counts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the module: print how many faults were tried and survived, and write every outcome to JSON."""
    yield
    if not RESULTS:
        return
    tried, survived = len(RESULTS), sum(1 for r in RESULTS if r["survived"])
    path = tmp_path_factory.getbasetemp() / "fault-matrix.json"
    path.write_text(
        json.dumps({"tried": tried, "survived": survived, "faults": RESULTS}, indent=1), encoding="utf-8"
    )
    lines = [f"fault matrix: {tried} faults tried, {survived} survived (every fault: {path})"]
    lines += [f"  {'survived' if r['survived'] else 'failed  '}  {r['fault']}" for r in RESULTS]
    # Past pytest's output capture, so that the counts show in every run, -q included.
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + "\n".join(lines), flush=True)


# ----------------------------------------------------------------------------- the archive and its references


@pytest.fixture(scope="module")
def web() -> Iterator[MockWeb]:
    server = MockWeb()
    yield server
    server.stop()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="module")
def world(web: MockWeb, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The starting archive, the operations faults are injected into, and each operation's result without a fault."""
    root = tmp_path_factory.mktemp("matrix")
    seeds = web.write_seeds(root / "seeds.txt", [web.url(s) for s in ("cablegate", "wordpress", "blogger")])
    rules = root / "myrules"
    rules.mkdir()
    (rules / "common.toml").write_text(USER_RULE, encoding="utf-8")
    # The one archive: the fixture pages, imported.
    start = root / "start"
    _ok(cablearchive("import-warc", "--archive", str(start), str(EXPORT)))
    # WARC files of another crawl of the world, for imports.
    other = root / "other-crawl"
    _ok(cablearchive("crawl", str(seeds), "--archive", str(other), *settings_args()))
    warcs = [Path(shutil.copy(f, root)) for f in warc_files(other)]
    ops = {
        "crawl": ["crawl", str(seeds), *settings_args(*SLOW)],
        "import": ["import-warc", *map(str, warcs)],
        "reclean": ["reclean", "--rules", str(rules)],
    }
    out: dict[str, Any] = {
        "root": root,
        "start": start,
        "seeds": seeds,
        "warcs": warcs,
        "ops": ops,
        "rules": rules,
    }
    # Each operation done without a fault: what every faulted run must end equal to.
    for name in ("crawl", "import"):
        path = _copy(start, root / f"ref-{name}")
        t0 = time.monotonic()
        _ok(cablearchive(*ops[name], "--archive", str(path)))
        out[f"{name}_seconds"] = time.monotonic() - t0
        out[f"ref_{name}"] = path
        out[f"snap_{name}"] = snapshot(path)
    # The re-clean runs on the crawled archive.
    path = _copy(out["ref_crawl"], root / "ref-reclean")
    t0 = time.monotonic()
    _ok(cablearchive(*ops["reclean"], "--archive", str(path)))
    out["reclean_seconds"] = time.monotonic() - t0
    out["ref_reclean"], out["snap_reclean"] = path, snapshot(path)
    return out


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    return proc


# ----------------------------------------------------------------------------- the checks after every fault


def _compare(archive: Path, expected: dict[str, Any]) -> list[str]:
    """Differences from the run without the fault: cables lost or extra, texts wrong."""
    got = snapshot(archive)
    problems = [f"lost {ref}" for ref in sorted(set(expected) - set(got))]
    problems += [f"extra {ref}" for ref in sorted(set(got) - set(expected))]
    for ref in sorted(set(got) & set(expected)):
        if got[ref]["text"] != expected[ref]["text"]:
            problems.append(f"{ref}: wrong preferred text")
        lost = set(expected[ref]["sources"]) - set(got[ref]["sources"])
        extra = set(got[ref]["sources"]) - set(expected[ref]["sources"])
        if lost or extra:
            problems.append(f"{ref}: sources lost {sorted(lost)} extra {sorted(extra)}")
        for key in set(got[ref]["sources"]) & set(expected[ref]["sources"]):
            if got[ref]["sources"][key] != expected[ref]["sources"][key]:
                problems.append(f"{ref} {key}: wrong source text")
    return problems


def _duplicates(archive: Path) -> list[str]:
    """Captures stored twice, and versions that change nothing."""
    problems = []
    with Archive.open(archive) as arch:
        caps = Counter((c.url, c.fetched_at, c.payload_digest) for c in arch.captures(newest_per_url=False))
        problems += [f"capture stored twice: {k[0]} {k[1]}" for k, n in caps.items() if n > 1]
        for summary in arch.list_cables():
            rec = arch.cable(summary.ref)
            states = [rec.files(v.number) for v in rec.versions]
            problems += [
                f"{summary.ref} v{i + 1}: a version that changes nothing"
                for i in range(1, len(states))
                if states[i] == states[i - 1]
            ]
    return problems


def _sound(archive: Path) -> list[str]:
    """verify, the OCFL validator and warcio check."""
    problems = []
    proc = cablearchive("verify", "--archive", str(archive))
    if proc.returncode != 0:
        problems.append("verify: " + " | ".join((proc.stdout + proc.stderr).strip().splitlines()[:3]))
    proc = ocfl_validate(archive)
    if proc.returncode != 0:
        problems.append("ocfl-validate: " + " | ".join((proc.stdout + proc.stderr).strip().splitlines()[:3]))
    files = warc_files(archive)
    if files:
        proc = warcio_check(files)
        if proc.returncode != 0:
            problems.append("warcio check: " + " | ".join(proc.stdout.strip().splitlines()[:3]))
    return problems


def _after(fault: str, archive: Path, expected: dict[str, Any], extra: list[str] | None = None) -> None:
    """Every check; the outcome is counted, then asserted."""
    problems = list(extra or [])
    try:
        problems += _sound(archive)
        problems += _compare(archive, expected)
        problems += _duplicates(archive)
    except Exception as exc:  # a check that cannot even read the archive is a fault not survived
        problems.append(f"archive unreadable: {type(exc).__name__}: {exc}")
    RESULTS.append({"fault": fault, "survived": not problems, "problems": problems})
    assert not problems, f"{fault}:\n" + "\n".join(problems[:20])


# ----------------------------------------------------------------------------- kill -9, then resume or rerun


def _run_and_kill(args: list[str], archive: Path, when: float, journal: Path | None, commits: int) -> bool:
    """Start a command in its own process group and SIGKILL the group at a moment; True when it was killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args, "--archive", str(archive)],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    if journal is not None:
        # A crawl: wait for its n-th commit, then the random extra moment.
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if journal.read_text(encoding="utf-8").count('"t":"c"') >= commits:
                    break
            except OSError:
                pass
            time.sleep(0.01)
    end = time.monotonic() + when
    while time.monotonic() < end and proc.poll() is None:
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers die with it, as in a crash
    proc.wait(timeout=60)
    return killed


KILL_CASES = [(op, seed) for op in ("crawl", "reclean", "import") for seed in SEEDS]


@pytest.mark.parametrize(("op", "seed"), KILL_CASES, ids=[f"kill-{op}-{seed}" for op, seed in KILL_CASES])
def test_killed_then_resumed(world: dict[str, Any], tmp_path: Path, op: str, seed: int) -> None:
    rng = random.Random(f"{op}-{seed}")
    base = world["ref_crawl"] if op == "reclean" else world["start"]
    args = world["ops"][op]
    killed = False
    for attempt in range(4):
        archive = tmp_path / f"a{attempt}"
        shutil.rmtree(archive, ignore_errors=True)
        _copy(base, archive)
        if op == "crawl":
            journal = archive / "state" / "crawl" / "journal.jsonl"
            killed = _run_and_kill(args, archive, rng.uniform(0, 0.3), journal, rng.randrange(0, 5))
        else:
            seconds = world[f"{op}_seconds"]
            killed = _run_and_kill(args, archive, rng.uniform(0.4, 1.0) * seconds / (attempt + 1), None, 0)
        if killed:
            break
    assert killed, f"{op} always ended before the kill"
    again = args + (["--resume"] if op == "crawl" else [])
    proc = cablearchive(*again, "--archive", str(archive))
    extra = [] if proc.returncode == 0 else [f"resume/rerun exit {proc.returncode}: {proc.stderr[-300:]}"]
    if op == "crawl":
        with Archive.open(archive) as arch:
            urls = Counter(c.url for c in arch.captures(newest_per_url=False) if "127.0.0.1" in c.url)
        extra += [f"fetched twice: {u}" for u, n in urls.items() if n > 1 and not u.endswith("/robots.txt")]
    if op == "reclean":
        rules_digest = _rules_digest(world["ref_reclean"])
        with Archive.open(archive) as arch:
            unmarked = [c.url for c in arch.captures() if c.cleaned != rules_digest]
        extra += [f"not re-cleaned: {u}" for u in unmarked[:5]]
    _after(f"kill -9 during {op} (seed {seed})", archive, world[f"snap_{op}"], extra)


def _rules_digest(archive: Path) -> str:
    with Archive.open(archive) as arch:
        digests = Counter(c.cleaned for c in arch.captures())
    return digests.most_common(1)[0][0]


# ----------------------------------------------------------------------------- a disk that fills mid-commit

# Free space left when an import of another crawl's WARC files starts on a small filesystem: the
# disk fills in the WARC, the objects, the journal or the index, depending on the level.
DISK_LEVELS = {
    "disk-full-early": [8, 40, 72],
    "disk-full-middle": [200, 300, 400],
    "disk-full-late": [500, 600, 700],
}


@pytest.mark.parametrize("group", list(DISK_LEVELS))
def test_disk_fills_mid_commit(world: dict[str, Any], tmp_path: Path, group: str) -> None:
    failures = []
    with tmpfs(tmp_path / "small", "4m") as mnt:
        for free in DISK_LEVELS[group]:
            archive, ballast = mnt / "archive", mnt / "ballast"
            shutil.rmtree(archive, ignore_errors=True)
            ballast.unlink(missing_ok=True)
            _copy(world["start"], archive)
            st = os.statvfs(mnt)
            ballast.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - free * 1024))
            first = cablearchive(*world["ops"]["import"], "--archive", str(archive))
            ballast.unlink()
            second = cablearchive(*world["ops"]["import"], "--archive", str(archive))
            extra = []
            if "Traceback" in first.stdout + first.stderr:
                extra.append("traceback on a full disk: " + first.stderr.strip().splitlines()[-1][:200])
            if second.returncode != 0:
                extra.append(f"rerun with space exit {second.returncode}: {second.stderr[-300:]}")
            try:
                _after(
                    f"disk full with {free} KiB free during an import", archive, world["snap_import"], extra
                )
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0] + " " + " | ".join(str(exc).splitlines()[1:4]))
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------------------- two writers


def test_two_writers_at_once(world: dict[str, Any], tmp_path: Path) -> None:
    archive = _copy(world["start"], tmp_path / "a")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *world["ops"][op], "--archive", str(archive)],
            cwd=REPO,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for op in ("crawl", "import")
    ]
    extra = []
    for p in procs:
        _out, err = p.communicate(timeout=300)
        if p.returncode != 0:
            extra.append(f"a writer exited {p.returncode}: {err[-300:]}")
    # The same two runs one after the other.
    sequential = _copy(world["start"], tmp_path / "seq")
    _ok(cablearchive(*world["ops"]["crawl"], "--archive", str(sequential)))
    _ok(cablearchive(*world["ops"]["import"], "--archive", str(sequential)))
    _after("two writers at once (a crawl and an import)", archive, snapshot(sequential), extra)


# ----------------------------------------------------------------------------- damaged WARC files


def _biggest_warc(world: dict[str, Any]) -> Path:
    return max(world["warcs"], key=lambda p: p.stat().st_size)


def _import_then_intact(
    world: dict[str, Any], archive: Path, damaged: list[Path], must_fail: bool
) -> list[str]:
    """Import the damaged files (nothing cut may become current), then the intact ones."""
    extra = []
    proc = cablearchive("import-warc", *map(str, damaged), "--archive", str(archive))
    if "Traceback" in proc.stderr:
        extra.append("traceback: " + proc.stderr.strip().splitlines()[-1][:200])
    if must_fail and proc.returncode != 1:
        extra.append(f"damaged import exit {proc.returncode}, expected 1 with the bad records named")
    expected = world["snap_import"]
    try:
        for ref, cable in snapshot(archive).items():
            for key, text in cable["sources"].items():
                if text != expected.get(ref, {}).get("sources", {}).get(key):
                    extra.append(f"after the damaged import {ref} {key} holds a wrong text")
    except Exception as exc:
        extra.append(f"after the damaged import the archive is unreadable: {type(exc).__name__}: {exc}")
    proc = cablearchive(*world["ops"]["import"], "--archive", str(archive))
    if proc.returncode != 0:
        extra.append(f"import of the intact files exit {proc.returncode}: {proc.stderr[-300:]}")
    return extra


@pytest.mark.parametrize("seed", SEEDS, ids=[f"truncated-{s}" for s in SEEDS])
def test_truncated_warc(world: dict[str, Any], tmp_path: Path, seed: int) -> None:
    src = _biggest_warc(world)
    # Cut inside a page that holds a cable (a cable page or a blog post), so a cut text could become current.
    members = [
        m for m in gzip_members(src) if m.rec_type == "response" and ("/cable/" in m.url or "/20" in m.url)
    ]
    rng = random.Random(seed)
    cut_in = members[rng.randrange(len(members))]
    cut = tmp_path / src.name
    cut.write_bytes(src.read_bytes()[: rng.randrange(cut_in.start + 200, cut_in.end - 20)])
    archive = _copy(world["start"], tmp_path / "a")
    extra = _import_then_intact(world, archive, [cut], must_fail=True)
    _after(f"truncated WARC (seed {seed})", archive, world["snap_import"], extra)


def test_reordered_warc(world: dict[str, Any], tmp_path: Path) -> None:
    src = _biggest_warc(world)
    members = gzip_members(src)
    order = list(range(len(members)))
    random.Random(7).shuffle(order)
    out = tmp_path / src.name
    out.write_bytes(b"".join(member_bytes(src, members[i]) for i in order))
    archive = _copy(world["start"], tmp_path / "a")
    proc = cablearchive(
        "import-warc", str(out), *[str(w) for w in world["warcs"] if w != src], "--archive", str(archive)
    )
    extra = [] if proc.returncode == 0 else [f"reordered import exit {proc.returncode}: {proc.stderr[-300:]}"]
    _after("reordered WARC records", archive, world["snap_import"], extra)


@pytest.mark.parametrize("where", ["between-records", "whole-file"])
def test_garbage_warc(world: dict[str, Any], tmp_path: Path, where: str) -> None:
    src = _biggest_warc(world)
    rng = random.Random(where)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    bad = tmp_path / ("garbage-" + src.name)
    if where == "between-records":
        members = gzip_members(src)
        cut = members[len(members) // 2].start
        data = src.read_bytes()
        bad.write_bytes(data[:cut] + garbage + data[cut:])
    else:
        bad.write_bytes(garbage)
    archive = _copy(world["start"], tmp_path / "a")
    extra = _import_then_intact(world, archive, [bad], must_fail=True)
    _after(f"garbage in a WARC ({where})", archive, world["snap_import"], extra)


# ----------------------------------------------------------------------------- a read-only mount


def test_read_only_mount(world: dict[str, Any], tmp_path: Path) -> None:
    with read_only_copy(world["ref_crawl"], tmp_path / "ro") as archive:
        before = tree_digest(archive)
        extra = []
        for args in (["verify"], ["list"], ["show", next(iter(world["snap_crawl"]))], ["search", "embassy"]):
            proc = cablearchive(*args, "--archive", str(archive))
            if proc.returncode != 0 or "Traceback" in proc.stderr:
                extra.append(
                    f"{args[0]} on a read-only mount: exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
                )
        if tree_digest(archive) != before:
            extra.append("a reader changed the read-only archive")
        problems = list(extra)
        problems += _compare(archive, world["snap_crawl"])
        RESULTS.append({"fault": "read-only mount", "survived": not problems, "problems": problems})
        assert not problems, problems
