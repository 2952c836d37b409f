"""`cablearchive refs`, `list` with filters and `search` with field terms, on an archive built from
fixtures: both directions of the citation graph, each filter, snippets, refused queries, escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import Archive
from crawler.cli.main import main
from crawler.cli.terminal import visible

from archive_support import html_headers, result
from integrity_support import cli_on_terminal
from query_support import HOSTILE, build_query_archive, made_cable


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_query_archive(tmp_path_factory.mktemp("refs") / "archive"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


# ----------------------------------------------------------------------------- refs


def test_refs_prints_what_a_cable_cites_and_whether_each_is_archived(archive: str, capsys) -> None:
    code, out, _err = run(capsys, "refs", "10STATE1001", "--archive", archive)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "10STATE1001 cites 3 references:"
    assert "BERLIN 2546" in lines[1] and "06BERLIN2546, in the archive" in lines[1]
    assert "KABUL 99" in lines[2] and "09KABUL99, not in the archive" in lines[2]
    assert "INCSR 2008" in lines[3] and "not a cable" in lines[3]
    assert lines[4] == "10STATE1001 is cited by 0 archived cables:"


def test_refs_prints_what_cites_a_cable(archive: str, capsys) -> None:
    code, out, _err = run(capsys, "refs", "06BERLIN2546", "--archive", archive)
    assert code == 0
    assert "06BERLIN2546 cites 0 references:" in out
    assert "is cited by 1 archived cable:" in out and "10STATE1001" in out and "[A. BERLIN 2546]" in out


def test_refs_of_a_cable_the_archive_does_not_hold(archive: str, capsys) -> None:
    code, out, _err = run(capsys, "refs", "09KABUL99", "--archive", archive)
    assert code == 0
    assert out.startswith("09KABUL99 is not in the archive.")
    assert "cited by 2 archived cables" in out and "09KABUL123" in out and "10STATE1001" in out
    code, out, err = run(capsys, "refs", "99NOWHERE1", "--archive", archive)
    assert code == 1 and out == "" and "99NOWHERE1" in err and "no archived cable cites it" in err
    code, _out, err = run(capsys, "refs", "../etc/passwd", "--archive", archive)
    assert code == 2 and "not a cable reference ID" in err


def test_refs_finds_a_cable_by_its_canonical_id_and_the_viewers(archive: str, capsys) -> None:
    for name in ("75LIBREVILLE1895", "7575LIBREVILLE1895"):
        code, out, _err = run(capsys, "refs", name, "--archive", archive)
        assert code == 0 and out.startswith("7575LIBREVILLE1895 (75LIBREVILLE1895) cites 0")
        assert "09KABUL123" in out
    code, out, _err = run(capsys, "refs", "09KABUL123", "--archive", archive)
    assert "75LIBREVILLE1895, in the archive as 7575LIBREVILLE1895" in out


def test_refs_json(archive: str, capsys) -> None:
    code, out, _err = run(capsys, "refs", "10STATE1001", "--json", "--archive", archive)
    data = json.loads(out)
    assert code == 0 and data["reference_id"] == "10STATE1001" and data["in_archive"] is True
    assert [(c["cited_id"], c["in_archive"]) for c in data["cites"]] == [
        ("06BERLIN2546", True),
        ("09KABUL99", False),
        (None, False),
    ]
    assert data["cites"][0] == {
        "label": "A",
        "text": "BERLIN 2546",
        "kind": "cable",
        "cited_id": "06BERLIN2546",
        "archived_ref": "06BERLIN2546",
        "in_archive": True,
    }
    _code, out, _err = run(capsys, "refs", "09KABUL99", "--json", "--archive", archive)
    data = json.loads(out)
    assert data["in_archive"] is False and [c["ref"] for c in data["cited_by"]] == [
        "09KABUL123",
        "10STATE1001",
    ]
    assert data["cited_by"][1]["label"] == "B"


# ----------------------------------------------------------------------------- list


def listed(capsys, archive: str, *args: str) -> list[str]:
    code, out, err = run(capsys, "list", "--archive", archive, *args)
    assert code == 0, err
    return [line.split()[0] for line in out.splitlines()]


def test_list_shows_the_cables_own_date(archive: str, capsys) -> None:
    code, out, err = run(capsys, "list", "--archive", archive)
    assert code == 0 and "8 cables" in err
    line = next(ln for ln in out.splitlines() if ln.startswith("00HARARE6677"))
    assert line.split()[1] == "2000-11-29" and "Embassy Harare" in line and "ZIMBABWE OPPOSITION" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--origin", "KABUL"], ["09KABUL123"]),
        (["--origin", "Embassy Kabul"], ["09KABUL123"]),
        (["--origin", "kabul", "--origin", "Embassy Berlin"], ["06BERLIN2546", "09KABUL123"]),
        (["--classification", "SECRET"], ["10STATE1001"]),
        (["--classification", "UNCLASSIFIED"], ["7575LIBREVILLE1895", "07PARIS306"]),
        (["--tag", "AF"], ["09KABUL123", "10STATE1001"]),
        (["--tag", "prel", "--tag", "KDEM"], ["10STATE1001"]),
        (["--from", "2009"], ["09BRASILIA177", "09KABUL123", "10STATE1001"]),
        (["--to", "2006-08-30"], ["7575LIBREVILLE1895", "00HARARE6677", "06MADRID76", "06BERLIN2546"]),
        (["--from", "2006-02", "--to", "2007"], ["06BERLIN2546", "07PARIS306"]),
        (["--subject", "election"], ["06BERLIN2546", "09KABUL123", "10STATE1001"]),
        (
            ["--tag", "PREL", "--from", "2009", "--classification", "CONFIDENTIAL"],
            ["09BRASILIA177", "09KABUL123"],
        ),
        (["--sort", "id", "--limit", "3"], ["00HARARE6677", "06BERLIN2546", "06MADRID76"]),
        (["--reverse", "--limit", "2"], ["10STATE1001", "09KABUL123"]),
        (["--offset", "6"], ["09KABUL123", "10STATE1001"]),
        (["--tag", "NOSUCHTAG"], []),
    ],
)
def test_each_list_filter(archive: str, capsys, args: list[str], expected: list[str]) -> None:
    assert listed(capsys, archive, *args) == expected


def test_list_json_has_the_header_fields(archive: str, capsys) -> None:
    code, out, _err = run(capsys, "list", "--json", "--tag", "AF", "--archive", archive)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["ref"] for r in rows] == ["09KABUL123", "10STATE1001"]
    assert rows[0]["date"] == "2009-06-15 08:00" and rows[0]["tags"] == ["PGOV", "AF", "prel"]
    assert rows[1]["classification"] == "SECRET//NOFORN" and rows[1]["origin"] == "Secretary of State"


@pytest.mark.parametrize("args", [["--from", "2009-13"], ["--to", "yesterday"], ["--from", "2009-02-30"]])
def test_list_refuses_a_date_that_is_no_date(archive: str, capsys, args: list[str]) -> None:
    code, out, err = run(capsys, "list", "--archive", archive, *args)
    assert code == 2 and out == "" and "is not a date" in err


@pytest.mark.parametrize("args", [["--limit", "0"], ["--sort", "size"], ["--offset", "-1"]])
def test_list_refuses_a_bad_option(archive: str, capsys, args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["list", "--archive", archive, *args])
    assert exc.value.code == 2 and args[0] in capsys.readouterr().err


# ----------------------------------------------------------------------------- search


def searched(capsys, archive: str, *args: str) -> list[str]:
    code, out, err = run(capsys, "search", "--archive", archive, *args)
    assert code == 0, err
    return [line.split()[0] for line in out.splitlines() if not line.startswith("    ")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["Karzai tag:KDEM"], ["10STATE1001"]),
        (['Karzai origin:"Embassy Kabul"'], ["09KABUL123"]),
        (["Karzai origin:KABUL"], ["09KABUL123"]),
        (["Karzai classification:SECRET"], ["10STATE1001"]),
        (["ref:06BERLIN2546"], ["10STATE1001"]),
        (["ref:09KABUL99", "--sort", "date"], ["09KABUL123", "10STATE1001"]),
        (["Karzai", "--tag", "PGOV"], ["09KABUL123"]),
        (["Karzai", "--origin", "STATE"], ["10STATE1001"]),
        (["Karzai", "--classification", "CONFIDENTIAL"], ["09KABUL123"]),
        (["Karzai", "--ref", "06BERLIN2546"], ["10STATE1001"]),
        (["--tag", "AF", "--from", "2010"], ["10STATE1001"]),
        (["Karzai", "--to", "2009"], ["09KABUL123"]),
    ],
)
def test_field_search(archive: str, capsys, args: list[str], expected: list[str]) -> None:
    assert searched(capsys, archive, *args) == expected


def test_search_snippets_are_marked_when_piped(archive: str, capsys) -> None:
    code, out, _err = run(capsys, "search", "recount", "--archive", archive)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("10STATE1001") and "2010-01-05" in lines[0]
    assert lines[1].startswith("    ") and "**recount**" in lines[1] and "Karzai" in lines[1]


def test_search_json_gives_spans(archive: str, capsys) -> None:
    code, out, _err = run(capsys, "search", "recount", "--json", "--archive", archive)
    hit = json.loads(out)[0]
    assert code == 0 and hit["ref"] == "10STATE1001" and hit["tags"] == ["PREL", "AF", "KDEM"]
    assert {"text": "recount", "hit": True} in hit["spans"]
    assert "**recount**" in hit["snippet"] and hit["score"] > 0


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("NOT Karzai", "NOT needs words before it"),
        ('"Karzai', "double quote is not closed"),
        ("Karzai AND", "ends where a word is expected"),
        ("(Karzai", "( is not closed"),
        ("colour:red", "unknown field"),
        ("tag:PREL OR Karzai", "cannot be joined with OR"),
        ("al-Qaida", "double quotes"),
        ("", "empty query"),
    ],
)
def test_an_invalid_query_is_refused_with_exit_2(archive: str, capsys, query: str, says: str) -> None:
    code, out, err = run(capsys, "search", query, "--archive", archive)
    assert code == 2 and out == ""
    assert says in err and "Traceback" not in err


def test_search_on_a_terminal_highlights_and_escapes_page_text(archive: str) -> None:
    code, shown = cli_on_terminal("search", "hostile", "--archive", archive)
    assert code == 0, shown[-500:]
    for raw in (b"\x1b]0;owned", b"\x1b[2J"):
        assert raw not in shown, f"{raw!r} reached the terminal"
    # The page's rich markup is shown as text, not read as markup; the escapes are visible.
    assert b"[bold red]FAKE[/bold red]" in shown and b"\\x1b]0;owned\\x07" in shown
    # The word found is highlighted: a style sequence just before it.
    assert b"\x1b[1;33mhostile" in shown or b"\x1b[1m\x1b[33mhostile" in shown, shown[-800:]


def test_search_piped_escapes_control_characters(archive: str, capsys) -> None:
    _code, out, _err = run(capsys, "search", "hostile", "--archive", archive)
    assert "\x1b" not in out and visible(HOSTILE) in out


def test_refs_and_list_escape_page_text(tmp_path: Path, capsys) -> None:
    arch = Archive.create(tmp_path / "a")
    with arch.writer(kind="crawl") as w:
        c = made_cable(
            "09KABUL7",
            "SUBJECT: X\n1. Text.\n",
            subject=f"TITLE {HOSTILE}",
            created="2009-01-01 00:00",
            references=[{"label": "A", "text": f"KABUL 1 {HOSTILE}", "kind": "cable", "id": "09KABUL1"}],
        )
        w.record(
            w.add_capture("https://m.example.org/a.html", 200, html_headers(), b"<pre>x</pre>"), result(c)
        )
    arch.close()
    for args in (["list"], ["refs", "09KABUL7"], ["refs", "09KABUL1"]):
        code, out, _err = run(capsys, *args, "--archive", str(tmp_path / "a"))
        assert code == 0 and "\x1b" not in out and "\\x1b]0;owned" in out, (args, out)
