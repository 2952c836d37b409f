"""Read the archive: list, show, log, search, export."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from archive import Archive, ArchiveError, BadReference
from crawler.cli import add_archive_option

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def say(msg: str) -> None:
    """A message for the user on stderr."""
    print(f"cablearchive: {msg}", file=sys.stderr)


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int | None], None] | None]:
    """A rich progress callback on stderr; None (no output) when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def open_archive(args: argparse.Namespace) -> Archive | None:
    """Open --archive, or say why not (the caller exits with EXIT_USAGE)."""
    try:
        return Archive.open(args.archive)
    except ArchiveError as exc:
        say(str(exc))
        return None


def _dump(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True))


# ----------------------------------------------------------------------------- list


def run_list(args: argparse.Namespace) -> int:
    """List archived cables."""
    arch = open_archive(args)
    if arch is None:
        return EXIT_USAGE
    n = 0
    out = sys.stdout
    for c in arch.list_cables():
        n += 1
        if args.json:
            out.write(json.dumps(c.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
        else:
            subject = " ".join((c.subject or "").split())[:70]
            updated = (c.updated or "")[:10]
            out.write(f"{c.ref:<24} v{c.head:<3} {c.n_sources:>2} src  {updated}  {subject}\n")
    say(f"{n} cable{'s' if n != 1 else ''} in {arch.path}")
    return EXIT_OK


# ----------------------------------------------------------------------------- show


def run_show(args: argparse.Namespace) -> int:
    """Print a cable's text (or one source's) at a version."""
    arch = open_archive(args)
    if arch is None:
        return EXIT_USAGE
    try:
        rec = arch.cable(args.ref)
        version = args.version
        if isinstance(version, str):
            version = int(version.lstrip("v")) if version.lstrip("v").isdigit() else -1
        if args.source:
            keys = rec.source_keys(version)
            if args.source not in keys:
                say(
                    f"{args.ref} v{version or rec.head} has no source {args.source!r}; sources: {', '.join(keys)}"
                )
                return EXIT_USAGE
            text, prov = rec.source(args.source, version)
            if args.json:
                _dump(
                    {
                        "reference_id": rec.ref,
                        "version": version or rec.head,
                        "source": args.source,
                        "text": text,
                        "provenance": prov,
                    }
                )
            else:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
            return EXIT_OK
        text = rec.text(version)
        if args.json:
            _dump(
                {
                    "reference_id": rec.ref,
                    "version": version or rec.head,
                    "metadata": rec.metadata(version),
                    "text": text,
                }
            )
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
    except BadReference as exc:
        say(str(exc))
        return EXIT_USAGE
    except ArchiveError as exc:
        say(str(exc))
        return EXIT_PARTIAL if "no such cable" in str(exc) else EXIT_USAGE
    return EXIT_OK


# ----------------------------------------------------------------------------- log


def version_log(arch: Archive, ref: str) -> list[dict[str, Any]]:
    """Each version of a cable with why it exists: message, and the sources it added or changed."""
    return [entry.to_json() for entry in arch.cable(ref).log()]


def run_log(args: argparse.Namespace) -> int:
    """Show a cable's versions and why each exists."""
    arch = open_archive(args)
    if arch is None:
        return EXIT_USAGE
    try:
        entries = version_log(arch, args.ref)
    except BadReference as exc:
        say(str(exc))
        return EXIT_USAGE
    except ArchiveError as exc:
        say(str(exc))
        return EXIT_PARTIAL
    if args.json:
        _dump({"reference_id": args.ref, "versions": entries})
        return EXIT_OK
    for e in entries:
        print(f"v{e['version']}  {e['created']}  {e['message']}")
        print(f"    by {e['user']}; preferred text {'changed' if e['text_changed'] else 'unchanged'}")
        for s in e["sources"]:
            cap, rules = s["capture"], s["rules"]
            print(f"    {s['change']}: {s['source']}  {s['url']}")
            print(f"      fetched {s['fetched_at']}, capture {cap['warc_file']}@{cap['offset']}")
            print(
                f"      cleaned by {rules['cleaner_version']} with rules {rules['version']} {rules['digest']}"
            )
    return EXIT_OK


# ----------------------------------------------------------------------------- search


def run_search(args: argparse.Namespace) -> int:
    """Full-text search over the preferred texts."""
    arch = open_archive(args)
    if arch is None:
        return EXIT_USAGE
    hits = arch.search(args.query, limit=args.limit)
    if args.json:
        _dump([h.to_json() for h in hits])
    else:
        for h in hits:
            print(f"{h.ref:<24} {' '.join((h.subject or '').split())[:80]}")
            if h.snippet:
                print(f"    {h.snippet}")
    say(f"{len(hits)} hit{'s' if len(hits) != 1 else ''} for {args.query!r}")
    return EXIT_OK


# ----------------------------------------------------------------------------- export


def run_export(args: argparse.Namespace) -> int:
    """Export cables as JSON lines or as a WARC file."""
    from archive.transfer import export_jsonl, export_warc

    arch = open_archive(args)
    if arch is None:
        return EXIT_USAGE
    errors: list[str] = []
    if args.format == "warc" and not args.out and sys.stdout.isatty():
        say("export --format warc writes binary data: give --out FILE or redirect the output")
        return EXIT_USAGE
    try:
        with progress_bar() as progress:
            if args.format == "jsonl":
                if args.out:
                    with open(args.out, "w", encoding="utf-8") as fh:
                        n = export_jsonl(arch, fh, args.refs, progress, errors.append)
                else:
                    n = export_jsonl(arch, sys.stdout, args.refs, progress, errors.append)
            elif args.out:
                with open(args.out, "wb") as fh:
                    n = export_warc(arch, fh, args.refs, progress, errors.append)
            else:
                n = export_warc(arch, sys.stdout.buffer, args.refs, progress, errors.append)
    except BadReference as exc:
        say(str(exc))
        return EXIT_USAGE
    except OSError as exc:
        say(f"{args.out}: cannot write: {exc.strerror or exc}")
        return EXIT_PARTIAL
    for e in errors:
        say(e)
    say(
        f"exported {n} cable{'s' if n != 1 else ''} as {args.format}"
        + (f" to {args.out}" if args.out else "")
        + (f"; {len(errors)} failed" if errors else "")
    )
    return EXIT_PARTIAL if errors else EXIT_OK


# ----------------------------------------------------------------------------- register


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add list, show, log, search and export."""
    p = subparsers.add_parser("list", help="list archived cables", description="List archived cables.")
    add_archive_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run_list)

    p = subparsers.add_parser(
        "show",
        help="print a cable's text",
        description="Print a cable's preferred text (or one source's text) at a version.",
    )
    add_archive_option(p)
    p.add_argument("ref", metavar="REF", help="reference ID, e.g. 08ASTANA611")
    p.add_argument("--version", metavar="V", help="version number (default: the newest)")
    p.add_argument("--source", metavar="KEY", help="show this source's text instead (see `show --json`)")
    p.add_argument("--json", action="store_true", help="text, metadata and provenance as JSON")
    p.set_defaults(func=run_show)

    p = subparsers.add_parser(
        "log",
        help="a cable's versions and why each exists",
        description="List a cable's versions: when, why, from which capture and rules.",
    )
    add_archive_option(p)
    p.add_argument("ref", metavar="REF", help="reference ID, e.g. 08ASTANA611")
    p.add_argument("--json", action="store_true", help="the versions as JSON, one object a line")
    p.set_defaults(func=run_log)

    p = subparsers.add_parser(
        "search",
        help="full-text search",
        description='Search the preferred texts (SQLite FTS5 syntax: words, "phrases", AND/OR/NOT, prefix*).',
    )
    add_archive_option(p)
    p.add_argument(
        "query", metavar="QUERY", help='words to find (SQLite FTS5 syntax: "exact phrase", OR, NOT, prefix*)'
    )
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N hits (default 20)")
    p.add_argument("--json", action="store_true", help="the hits as JSON, one object a line")
    p.set_defaults(func=run_search)

    p = subparsers.add_parser(
        "export",
        help="export cables as JSON lines or WARC",
        description="Export cables (all, or the REFs given).",
    )
    add_archive_option(p)
    p.add_argument("refs", metavar="REF", nargs="*", help="only these cables (default: all)")
    p.add_argument(
        "--format",
        choices=("jsonl", "warc"),
        default="jsonl",
        help="jsonl: one cable a line (text, metadata, sources); warc: the cables' captures",
    )
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=run_export)
