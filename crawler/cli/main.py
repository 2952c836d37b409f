"""The `cablearchive` command: the parser of every subcommand, and the entry point."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import NoReturn

from archive.errors import ArchiveError
from archive.index import archive_error
from archive.layout import Layout, tool_version
from crawler.cli import (
    clean,
    crawl,
    demo,
    diff,
    maintain,
    read,
    reclean,
    refs,
    serve,
    terminal,
    transfer,
    worker,
)
from crawler.cli.common import default_archive_dir, say
from crawler.cli.exits import ARCHIVE_ERROR, INTERRUPTED, MEANING, CommandError, Exit, summary

# Each module registers its subcommands; this is the order `cablearchive --help` lists them in.
COMMANDS = (crawl, worker, demo, clean, reclean, diff, read, refs, maintain, transfer, serve)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors exit with the usage code (2), as documented."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(Exit.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = _Parser(
        prog="cablearchive",
        description="Crawl mirrors of the US diplomatic cables, clean each cable's text and "
        "metadata, and keep them in a versioned archive (WARC captures, OCFL objects).",
        epilog=summary(),
    )
    parser.add_argument("--version", action="version", version=f"cablearchive {tool_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cablearchive` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return Exit.USAGE
    if getattr(args, "archive", "unset") is None:
        args.archive = default_archive_dir()
    with terminal.guard():  # page text never reaches a terminal raw, whatever a command prints
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the command; its problems become their messages and exit codes."""
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        say(args, exc.message)
        return int(exc.problem.code_in(args.command))
    except ArchiveError as exc:
        # Damage a command met where it expected none (a damaged index, a lost file): the
        # message names the file and the command that repairs it.
        say(args, str(exc))
        return int(ARCHIVE_ERROR.code_in(args.command))
    except sqlite3.Error as exc:
        # The archive's one database is its index: name it and the remedy, never a traceback.
        where = Layout.at(args.archive or ".").index_path
        say(args, str(archive_error(where, exc)))
        return int(ARCHIVE_ERROR.code_in(args.command))
    except KeyboardInterrupt:
        say(None, MEANING[Exit.INTERRUPTED])
        return int(INTERRUPTED.code)
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return Exit.OK
