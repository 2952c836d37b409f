"""The command line: no silent no-op, one exit code per error, page text never raw on a terminal,
deep nesting never truncates a cable silently, and --max-pages is a limit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import Archive
from cleaners import Warn, clean_page

from archive_support import html_headers
from integrity_support import (
    CABLEGATE,
    CHAINS,
    ChainWorld,
    build_archive,
    cli_on_terminal,
    start_mirror,
    tree_digest,
    zero_pages,
)
from mockserver import REPO, MockWeb, cablearchive, cli_env, settings_args

BERLIN = CABLEGATE / "06BERLIN2546.html"
BERLIN_URL = "https://cablegate.wikileaks.org/cable/2006/08/06BERLIN2546.html"


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-1500:]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_archive(tmp_path_factory.mktemp("cli") / "archive")


# ----------------------------------------------------------------------------- 6. silent no-ops, exit codes


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChainWorld, Path]]:
    world, _changed, seeds = start_mirror(tmp_path_factory.mktemp("mirror"))
    yield world, seeds
    world.stop()


def _scrapy(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("scrapy")
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_scrapy_crawl_from_the_project_folder_is_never_a_silent_no_op(
    mirror: tuple[ChainWorld, Path],
) -> None:
    world, seeds = mirror
    source_before = tree_digest(REPO / "archive")
    mark = len(world.hits)
    proc = _scrapy("crawl", "mirrors", "-a", f"seeds={seeds}")
    fetched = len(world.hits) - mark
    assert tree_digest(REPO / "archive") == source_before, "the crawl wrote into the source package"
    # Either it refuses (printed, non-zero) or it really crawled, into a folder outside the source tree.
    if proc.returncode == 0:
        assert fetched > 0, "exit 0, nothing fetched, nothing said:\n" + proc.stderr[-800:]
    else:
        assert "archive" in proc.stderr.lower(), proc.stderr[-800:]


def test_scrapy_crawl_with_a_missing_seeds_file_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-seeds.txt"
    proc = _scrapy(
        "crawl", "mirrors", "-a", f"seeds={missing}", "-s", f"CABLEARCHIVE_DIR={tmp_path / 'a'}", timeout=120
    )
    assert proc.returncode != 0, proc.stderr[-800:]
    assert str(missing) in proc.stderr


def test_a_bad_setting_value_is_a_usage_error(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n", encoding="utf-8")
    proc = cablearchive("crawl", str(seeds), "--archive", str(tmp_path / "a"), "-s", "DOWNLOAD_DELAY=abc")
    _no_traceback(proc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "DOWNLOAD_DELAY" in proc.stderr


@pytest.fixture(scope="module")
def web() -> Iterator[MockWeb]:
    server = MockWeb()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_crawl_is_recorded_as_interrupted(
    web: MockWeb, tmp_path: Path, signum: signal.Signals
) -> None:
    seeds = web.write_seeds(
        tmp_path / "seeds.txt", [web.url(s) for s in ("cablegate", "wordpress", "blogger")]
    )
    archive = tmp_path / "a"
    slow = ("CONCURRENT_REQUESTS_PER_DOMAIN=1", "DOWNLOAD_DELAY=0.15", "CABLEARCHIVE_COMMIT_PAGES=3")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            str(seeds),
            "--archive",
            str(archive),
            *settings_args(*slow),
        ],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = archive / "state" / "crawl" / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text(encoding="utf-8").count('"t":"c"') >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the crawl ended before it could be interrupted"
    proc.send_signal(signum)  # SIGINT is what Ctrl-C sends
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, out + err
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((archive / "runs").glob("*.json"))]
    assert runs and runs[-1]["status"] not in ("done", "done with errors"), runs[-1]["status"]
    assert runs[-1]["status"] == "interrupted"
    assert any(n["reason"] == f"interrupted by {signum.name}" for n in runs[-1]["notes"]), runs[-1]["notes"]
    assert " 0 queued" not in out, out


def test_a_query_that_cannot_run_is_refused_not_rewritten(archive: Path) -> None:
    proc = cablearchive("search", "NOT Wowereit", "--archive", str(archive))
    _no_traceback(proc)
    assert "06BERLIN2546" not in proc.stdout, "the NOT was dropped: the query ran as `Wowereit`"
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "NOT" in proc.stderr


def test_a_word_search_finds_its_cable(archive: Path) -> None:
    proc = cablearchive("search", "Wowereit", "--archive", str(archive))
    assert proc.returncode == 0 and "06BERLIN2546" in proc.stdout


READERS = [
    ["list"],
    ["show", "06BERLIN2546"],
    ["log", "06BERLIN2546"],
    ["diff", "06BERLIN2546"],
    ["search", "Wowereit"],
    ["verify"],
    ["reindex"],
    ["export"],
    ["reclean", "--dry-run"],
]


def test_a_missing_archive_gets_one_exit_code_in_every_command(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    codes = {}
    for args in READERS:
        proc = cablearchive(*args, "--archive", str(missing))
        _no_traceback(proc)
        assert str(missing) in proc.stderr, (args, proc.stderr)
        codes[args[0]] = proc.returncode
    assert len(set(codes.values())) == 1 and 0 not in codes.values(), codes


def test_a_bad_reference_gets_one_exit_code_in_every_command(archive: Path) -> None:
    codes = {}
    for cmd in ("show", "log", "diff", "export"):
        proc = cablearchive(cmd, "not-a-ref", "--archive", str(archive))
        _no_traceback(proc)
        assert "not-a-ref" in proc.stderr, (cmd, proc.stderr)
        codes[cmd] = proc.returncode
    assert set(codes.values()) == {2}, codes


def test_an_unknown_cable_gets_one_exit_code_in_every_command(archive: Path) -> None:
    codes = {}
    for cmd in ("show", "log", "diff", "export"):
        proc = cablearchive(cmd, "99NOWHERE1", "--archive", str(archive))
        _no_traceback(proc)
        assert "99NOWHERE1" in proc.stderr, (cmd, proc.stderr)
        codes[cmd] = proc.returncode
    assert len(set(codes.values())) == 1 and 0 not in codes.values(), codes


# ----------------------------------------------------------------------------- 10. deep nesting


def _nested(depth: int, where: str) -> bytes:
    body = BERLIN.read_bytes()
    i = body.index(b"<code><pre>C O N F")
    j = body.index(b"</pre></code>", i) + len(b"</pre></code>")
    if where == "around":
        return body[:i] + b"<span>" * depth + body[i:j] + b"</span>" * depth + body[j:]
    k, e = i + len(b"<code><pre>"), j - len(b"</pre></code>")
    return body[:k] + b"<span>" * depth + body[k:e] + b"</span>" * depth + body[e:]


@pytest.mark.parametrize(
    ("depth", "where"),
    [
        (200, "around"),
        (200, "inside"),
        (300, "around"),
        (300, "inside"),
        (1000, "inside"),
        (2000, "around"),
        (5000, "around"),
        (5000, "inside"),
    ],
)
def test_deep_nesting_gives_the_whole_text_or_a_warning_and_no_cable(depth: int, where: str) -> None:
    whole = clean_page(BERLIN.read_bytes(), url=BERLIN_URL).cables[0].text
    result = clean_page(_nested(depth, where), url=BERLIN_URL)
    if result.cables:
        assert [c.text for c in result.cables] == [whole], (
            f"{len(result.cables[0].text)} of {len(whole)} chars"
        )
    else:
        assert any(w.kind == Warn.BAD_INPUT for w in result.warnings), result.warnings


@pytest.mark.parametrize("depth", [300, 5000])
def test_clean_command_never_writes_a_truncated_cable(tmp_path: Path, depth: int) -> None:
    page = tmp_path / "deep.html"
    page.write_bytes(_nested(depth, "inside"))
    whole = clean_page(BERLIN.read_bytes(), url=BERLIN_URL).cables[0].text
    proc = cablearchive("clean", str(page), "--url", BERLIN_URL, "--out", str(tmp_path / "out"))
    _no_traceback(proc)
    written = sorted((tmp_path / "out").glob("*.txt")) if (tmp_path / "out").exists() else []
    for f in written:  # `clean --out` ends the text file with a newline
        assert f.read_text(encoding="utf-8") == whole + "\n", (
            f"{f.name}: {len(f.read_text())} of {len(whole)} chars"
        )
    if not written:
        assert proc.returncode == 1 and "deep" in proc.stderr.lower(), proc.stderr


@pytest.mark.parametrize("depth", [300, 5000])
def test_the_crawler_never_archives_a_truncated_cable(depth: int) -> None:
    # What the crawl's cleaning workers do with a page (crawler.analysis): whole cable or none.
    from crawler.analysis import PageJob, analyse

    whole = clean_page(BERLIN.read_bytes(), url=BERLIN_URL).cables[0].text
    sites = frozenset({"cablegate.wikileaks.org"})
    job = PageJob(BERLIN_URL, 200, html_headers(), _nested(depth, "inside"), "text/html", sites)
    got = analyse(job)
    assert got.result is not None and got.error is None
    if depth <= 2000:
        assert [c.text for c in got.result.cables] == [whole]
        assert len(got.links) > 50  # the links below the deep part are read too
    else:
        assert not got.result.cables
        assert any(w.kind == Warn.BAD_INPUT and "deep" in w for w in got.result.warnings)


# ----------------------------------------------------------------------------- 11. control sequences

# Set the window title, clear the screen, home the cursor: what a hostile page can do to a terminal.
HOSTILE = b"\x1b]0;PWNED BY A PAGE\x07\x1b[2J\x1b[H"
RAW = (b"\x1b]0;PWNED", b"\x1b[2J")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    body = BERLIN.read_bytes().replace(b"End Summary.", b"End Summary. Zebrafish" + HOSTILE, 1)
    assert HOSTILE.decode() in clean_page(body, url=BERLIN_URL).cables[0].text
    page = root / "hostile.html"
    page.write_bytes(body)
    arch = Archive.create(root / "archive")
    # v1 the page as published, v2 the hostile build (so that diff has the hostile text to show).
    for version in (BERLIN.read_bytes(), body):
        with arch.writer(kind="crawl") as w:
            w.record(
                w.add_capture(BERLIN_URL, 200, html_headers(), version), clean_page(version, url=BERLIN_URL)
            )
    arch.close()
    return {"page": page, "archive": root / "archive"}


@pytest.mark.parametrize(
    "command", ["clean", "clean-json", "show", "search", "diff", "diff-colour", "diff-words"]
)
def test_page_text_never_reaches_a_terminal_raw(hostile: dict[str, Path], command: str) -> None:
    at = ["--archive", str(hostile["archive"])]
    args = {
        "clean": ["clean", str(hostile["page"]), "--url", BERLIN_URL],
        "clean-json": ["clean", str(hostile["page"]), "--url", BERLIN_URL, "--json"],
        "show": ["show", "06BERLIN2546", *at],
        "search": ["search", "Zebrafish", *at],
        "diff": ["diff", "06BERLIN2546", "v1", "v2", "--color", "never", *at],
        "diff-colour": ["diff", "06BERLIN2546", "v1", "v2", *at],
        "diff-words": ["diff", "06BERLIN2546", "v1", "v2", "--format", "words", *at],
    }[command]
    code, shown = cli_on_terminal(*args)
    assert code == 0, shown[-500:]
    assert b"Zebrafish" in shown or b"zebrafish" in shown.lower(), shown[-500:]
    for seq in RAW:
        assert seq not in shown, f"{seq!r} reached the terminal"


def test_a_terminal_still_gets_the_colours_of_a_diff(tmp_path: Path) -> None:
    # The escaping is of page text: the colours a diff adds itself reach the terminal as codes.
    arch = Archive.create(tmp_path / "a")
    for body in (
        BERLIN.read_bytes(),
        BERLIN.read_bytes().replace(b"End Summary.", b"End Summary. Zebrafish", 1),
    ):
        with arch.writer(kind="crawl") as w:
            w.record(w.add_capture(BERLIN_URL, 200, html_headers(), body), clean_page(body, url=BERLIN_URL))
    arch.close()
    code, shown = cli_on_terminal("diff", "06BERLIN2546", "v1", "v2", "--archive", str(tmp_path / "a"))
    assert code == 0 and b"Zebrafish" in shown, shown[-500:]
    assert b"\x1b[" in shown and b"\\x1b" not in shown, shown[-500:]


def test_piped_output_keeps_the_text_exact(hostile: dict[str, Path]) -> None:
    # Escaping is for terminals: a pipe gets the archived text byte for byte.
    proc = cablearchive("show", "06BERLIN2546", "--archive", str(hostile["archive"]))
    assert HOSTILE.decode() in proc.stdout


# ----------------------------------------------------------------------------- 13. --max-pages


@pytest.mark.slow
@pytest.mark.parametrize("limit", [1, 3, 6])
def test_max_pages_is_a_limit_on_fetches(mirror: tuple[ChainWorld, Path], tmp_path: Path, limit: int) -> None:
    world, seeds = mirror
    mark = len(world.hits)
    proc = cablearchive(
        "crawl", str(seeds), "--archive", str(tmp_path / "a"), "--max-pages", str(limit), *settings_args()
    )
    _no_traceback(proc)
    # robots.txt and the /sitemap.xml probe are how a site is read, not pages of it.
    fetched = [h.path for h in world.hits[mark:] if h.path not in ("/robots.txt", "/sitemap.xml")]
    assert len(fetched) <= limit, fetched


# ----------------------------------------------------------------------------- runs and reports


@pytest.mark.slow
def test_a_crawl_report_says_where_it_was_saved(mirror: tuple[ChainWorld, Path], tmp_path: Path) -> None:
    _world, seeds = mirror
    archive = tmp_path / "a"
    proc = cablearchive("crawl", str(seeds), "--archive", str(archive), *settings_args())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    named = [w.strip(".,;:()'\"") for w in (proc.stdout + proc.stderr).split() if str(archive) in w]
    assert any(Path(p).is_file() and p.endswith(".json") for p in named), proc.stdout


@pytest.mark.slow
def test_a_crawl_on_a_malformed_index_is_refused_or_repaired(
    mirror: tuple[ChainWorld, Path], tmp_path: Path
) -> None:
    _world, seeds = mirror
    archive = build_archive(tmp_path / "a")
    zero_pages(archive / "index.sqlite")
    proc = cablearchive("crawl", str(seeds), "--archive", str(archive), *settings_args())
    _no_traceback(proc)
    if proc.returncode == 0:
        # It rebuilt the index first: the archive is whole and holds the crawl.
        verify = cablearchive("verify", "--archive", str(archive))
        _no_traceback(verify)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        with Archive.open(archive) as arch:
            refs = {c.ref for c in arch.list_cables()}
        assert refs >= {Path(p).stem for p, _src in CHAINS.values()} | {"00HARARE6677", "09BRASILIA177"}
    else:
        assert "index.sqlite" in proc.stderr + proc.stdout and "reindex" in proc.stderr + proc.stdout
