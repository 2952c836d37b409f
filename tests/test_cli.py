"""Every command has help, is documented in the README, and usage errors exit with 2."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import build_parser, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_all_designed_commands_exist():
    """The command line of the design: every command is there."""
    want = {
        "crawl",
        "demo",
        "clean",
        "reclean",
        "diff",
        "log",
        "show",
        "list",
        "search",
        "verify",
        "reindex",
        "import-warc",
        "export",
    }
    assert want <= set(_commands())


@pytest.mark.parametrize("name", sorted(_commands()))
def test_command_has_help(name, capsys):
    """`cablearchive NAME --help` prints a usage line and a description, exit 0."""
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: cablearchive {name}")
    assert len(out.splitlines()) > 3


@pytest.mark.parametrize("name", sorted(_commands()))
def test_command_is_documented(name):
    """Each command appears in the README's command line summary and has its own words there."""
    summary = README.split("## Commands", 1)[1].split("###", 1)[0]
    assert re.search(rf"\b{re.escape(name)}\b", summary), f"{name} missing from the README summary"
    assert re.search(rf"^### .*\b{re.escape(name)}\b", README, re.M), f"no README section for {name}"


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_option_has_help(name):
    """Every option and argument of a command says what it does."""
    parser = _commands()[name]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help is not argparse.SUPPRESS, f"{name} {action.dest} has no help"


def test_unknown_command_and_bad_option_exit_2(capsys):
    """Usage errors exit with code 2 and say what was wrong."""
    for argv in (["frobnicate"], ["clean", "--no-such-option", "x"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    """Without a command, help goes to stderr and the exit code is 2."""
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_console_script_runs():
    """The installed entry point is the same program (python -m crawler.cli)."""
    done = subprocess.run([sys.executable, "-m", "crawler.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.startswith("cablearchive ")


def _summary_commands() -> set[str]:
    """The commands the README's command line summary names."""
    summary = README.split("## Commands", 1)[1].split("```", 2)[1]
    names = set()
    for line in summary.splitlines():
        if not line.startswith("cablearchive "):
            continue
        for part in line[len("cablearchive ") :].split(" | "):
            word = part.split()[0]
            if not word.startswith(("-", "[")):
                names.add(word)
    return names


def test_the_readme_names_only_commands_that_exist():
    """Every command the README's summary lists is a command, and every command is in the summary."""
    assert _summary_commands() == set(_commands())


def test_every_command_module_is_registered():
    """A module of crawler/cli that defines commands is one the parser is built from."""
    import importlib
    import pkgutil

    import crawler.cli
    from crawler.cli.main import COMMANDS

    modules = []
    for info in pkgutil.iter_modules(crawler.cli.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"crawler.cli.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    assert modules and set(modules) == set(COMMANDS)


def test_one_table_of_exit_codes():
    """Every problem exits with a documented code, the same in every command."""
    from crawler.cli import exits
    from crawler.cli.exits import MEANING, PROBLEMS, Exit, summary

    assert {int(c) for c in Exit} >= {0, 1, 2} and set(MEANING) == set(Exit)
    assert all(p.code in Exit for p in PROBLEMS) and len({p.name for p in PROBLEMS}) == len(PROBLEMS)
    assert not hasattr(exits, "KEPT")  # no command keeps a code of its own
    assert all(p.code_in(c) == p.code for p in PROBLEMS for c in _commands())
    # The README and --help state the same codes.
    assert summary() in " ".join(build_parser().format_help().split())
    for code in (Exit.OK, Exit.FAILED, Exit.USAGE):
        assert f"{int(code)} {MEANING[code].split(' (')[0]}" in " ".join(README.split())


ARCHIVE_COMMANDS = [
    ["list"],
    ["show", "08ASTANA611"],
    ["log", "08ASTANA611"],
    ["search", "word"],
    ["verify"],
    ["reindex"],
    ["export"],
    ["reclean"],
    ["diff", "08ASTANA611"],
]


@pytest.mark.parametrize("argv", ARCHIVE_COMMANDS, ids=lambda a: a[0])
def test_an_archive_that_cannot_be_opened_gives_the_same_code_everywhere(argv, tmp_path, capsys):
    """One problem, one exit code (the table's), and a message naming the archive and the command."""
    from crawler.cli.exits import NO_ARCHIVE

    missing = tmp_path / "missing"
    assert main([*argv, "--archive", str(missing)]) == NO_ARCHIVE.code
    err = capsys.readouterr().err
    assert f"cablearchive {argv[0]}: " in err and str(missing) in err


@pytest.mark.parametrize("command", ["show", "log", "diff", "export"])
def test_a_bad_reference_or_a_missing_cable_gives_the_same_code_everywhere(command, tmp_path, capsys):
    """A REF that is not a reference ID, and one the archive does not hold: the table's codes."""
    from archive import Archive
    from crawler.cli.exits import BAD_REFERENCE, INPUT_FAILED, NOT_IN_ARCHIVE

    Archive.create(tmp_path / "a").close()
    at = ["--archive", str(tmp_path / "a")]
    assert main([command, "../../etc", *at]) == BAD_REFERENCE.code
    assert "not a cable reference" in capsys.readouterr().err
    # export goes on with the other cables: the missing one is an input that failed.
    missing = INPUT_FAILED if command == "export" else NOT_IN_ARCHIVE
    assert main([command, "99NOSUCHCABLE1", *at]) == missing.code
    assert "no such cable" in capsys.readouterr().err
