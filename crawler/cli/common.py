"""What every command shares: the --archive option, opening the archive, messages, progress, output files."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, TextIO, TypeAlias

from archive import Archive, ArchiveError
from crawler.cli.exits import BAD_ARGUMENT, CANNOT_WRITE, NO_ARCHIVE, CommandError
from crawler.cli.terminal import raw
from crawler.settings import archive_dir, source_tree_refusal

if TYPE_CHECKING:
    from rich.progress import TaskID

# progress(stage, done, total): how the library reports long work.
Progress = Callable[[str, int, int | None], None]
# What parser.add_subparsers() returns: each command module's register() adds its commands to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def default_archive_dir() -> str:
    """The archive folder used when --archive is not given: $CABLEARCHIVE_DIR, else ./archive."""
    return archive_dir()


def add_archive_option(parser: argparse.ArgumentParser) -> None:
    """Add the common --archive DIR option."""
    parser.add_argument(
        "--archive",
        metavar="DIR",
        default=None,
        help="archive folder (default: $CABLEARCHIVE_DIR, else ./archive)",
    )


def say(args: argparse.Namespace | str | None, message: str) -> None:
    """A message for the user on stderr, naming the command: `cablearchive COMMAND: message`."""
    command = args if isinstance(args, str) or args is None else getattr(args, "command", None)
    print(f"cablearchive {command}: {message}" if command else f"cablearchive: {message}", file=sys.stderr)


def plural(n: int, word: str) -> str:
    """`1 cable`, `2 cables`."""
    return f"{n} {word}{'s' if n != 1 else ''}"


def refuse_source_tree(path: str) -> None:
    """CommandError(NO_ARCHIVE) when `path` is a folder of the program's own source."""
    reason = source_tree_refusal(path)
    if reason:
        raise CommandError(NO_ARCHIVE, reason)


def open_archive(args: argparse.Namespace) -> Archive:
    """The archive --archive names; CommandError(NO_ARCHIVE) saying why it cannot be opened."""
    refuse_source_tree(args.archive)
    try:
        return Archive.open(args.archive)
    except (ArchiveError, OSError) as exc:
        raise CommandError(NO_ARCHIVE, str(exc)) from None


def open_or_create_archive(args: argparse.Namespace) -> Archive:
    """The archive --archive names, created when the folder is new or empty."""
    refuse_source_tree(args.archive)
    try:
        return Archive.open_or_create(args.archive)
    except (ArchiveError, OSError) as exc:
        raise CommandError(NO_ARCHIVE, str(exc)) from None


@contextlib.contextmanager
def _writing(path: str) -> Iterator[None]:
    """Turn a failure to write `path` into CommandError(CANNOT_WRITE) naming it."""
    try:
        yield
    except OSError as exc:
        raise CommandError(CANNOT_WRITE, f"cannot write {path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def text_output(path: str) -> Iterator[TextIO]:
    """A text file opened for writing (UTF-8)."""
    with _writing(path), open(path, "w", encoding="utf-8") as fh:
        yield fh


@contextlib.contextmanager
def binary_output(path: str) -> Iterator[BinaryIO]:
    """A binary file opened for writing."""
    with _writing(path), open(path, "wb") as fh:
        yield fh


@contextlib.contextmanager
def progress_bar(label: str = "") -> Iterator[Progress | None]:
    """A rich progress callback drawing on stderr; None (no output, no cost) when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # Under the escaping wrapper: the bar draws with control codes, and shows no page text.
    console = Console(file=raw(sys.stderr))
    if not console.is_terminal:
        yield None
        return
    title = f"[bold]{label}[/] " if label else ""
    columns = (
        TextColumn(title + "{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def setting_overrides(pairs: list[str]) -> dict[str, str]:
    """The `-s NAME=VALUE` settings, checked against their types: a bad one is a usage error."""
    from crawler.runner import SettingError, build_settings, parse_overrides

    try:
        overrides = parse_overrides(pairs)
        build_settings(overrides)  # a value of the wrong type is refused before the crawl starts
    except SettingError as exc:
        raise CommandError(BAD_ARGUMENT, str(exc)) from None
    return overrides
