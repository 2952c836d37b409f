"""The `cablearchive` command: parses arguments and hands over to library functions."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Each module in crawler/commands registers its subcommands; the order here is the
# order `cablearchive --help` lists them in.
COMMAND_MODULES = (
    "crawler.commands.crawl",
    "crawler.commands.demo",
    "crawler.commands.clean",
    "crawler.commands.reclean",
    "crawler.commands.diff",
    "crawler.commands.browse",
    "crawler.commands.maintain",
)

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors exit with code 2, as documented."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def default_archive_dir() -> str:
    """The archive folder used when --archive is not given: $CABLEARCHIVE_DIR, else ./archive."""
    return os.environ.get("CABLEARCHIVE_DIR") or "archive"


def add_archive_option(parser: argparse.ArgumentParser) -> None:
    """Add the common --archive DIR option."""
    parser.add_argument(
        "--archive",
        metavar="DIR",
        default=None,
        help="archive folder (default: $CABLEARCHIVE_DIR, else ./archive)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = _Parser(
        prog="cablearchive",
        description="Crawl mirrors of the US diplomatic cables, clean each cable's text and "
        "metadata, and keep them in a versioned archive (WARC captures, OCFL objects).",
        epilog="Exit codes: 0 done, 1 some input failed (reported, the rest done), 2 usage error.",
    )
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version("cablearchive")
    except PackageNotFoundError:
        tool_version = "unknown"
    parser.add_argument("--version", action="version", version=f"cablearchive {tool_version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cablearchive` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "archive", "unset") is None:
        args.archive = default_archive_dir()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("cablearchive: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
