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
