"""Read the archive: list, show, log, search."""

from __future__ import annotations

import argparse
import json
import sys

from archive import ArchiveError, BadReference, CableRecord
from crawler.cli.common import Subcommands, add_archive_option, open_archive, plural, say
from crawler.cli.exits import (
    BAD_ARGUMENT,
    BAD_REFERENCE,
    NO_SUCH_VERSION,
    NOT_IN_ARCHIVE,
    CommandError,
    Exit,
)


def _dump(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True))


def _write_text(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def register(subparsers: Subcommands) -> None:
    """Add list, show, log and search."""
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


def run_list(args: argparse.Namespace) -> int:
    """List archived cables."""
    arch = open_archive(args)
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
    say(args, f"{plural(n, 'cable')} in {arch.path}")
    return Exit.OK


def _cable(args: argparse.Namespace) -> CableRecord:
    """The cable REF names; CommandError when it is not a reference ID or not in the archive."""
    arch = open_archive(args)
    try:
        return arch.cable(args.ref)
    except BadReference as exc:
        raise CommandError(BAD_REFERENCE, str(exc)) from None
    except ArchiveError as exc:
        raise CommandError(NOT_IN_ARCHIVE, str(exc)) from None


def run_show(args: argparse.Namespace) -> int:
    """Print a cable's text (or one source's) at a version."""
    rec = _cable(args)
    version = None
    if args.version is not None:
        if not args.version.lower().lstrip("v").isdigit():
            raise CommandError(BAD_ARGUMENT, f"{args.version!r} is not a version (write v2 or 2)")
        version = int(args.version.lower().lstrip("v"))
    try:
        if args.source:
            keys = rec.source_keys(version)
            if args.source not in keys:
                raise CommandError(
                    NO_SUCH_VERSION,
                    f"{args.ref} v{version or rec.head} has no source {args.source!r}; sources: {', '.join(keys)}",
                )
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
                _write_text(text)
            return Exit.OK
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
            _write_text(text)
    except ArchiveError as exc:  # a version the cable does not have, or a file that cannot be read
        raise CommandError(NO_SUCH_VERSION, str(exc)) from None
    return Exit.OK


def run_log(args: argparse.Namespace) -> int:
    """Show a cable's versions and why each exists."""
    arch = open_archive(args)
    try:
        entries = [entry.to_json() for entry in arch.cable(args.ref).log()]
    except BadReference as exc:
        raise CommandError(BAD_REFERENCE, str(exc)) from None
    except ArchiveError as exc:
        raise CommandError(NOT_IN_ARCHIVE, str(exc)) from None
    if args.json:
        _dump({"reference_id": args.ref, "versions": entries})
        return Exit.OK
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
    return Exit.OK


def run_search(args: argparse.Namespace) -> int:
    """Full-text search over the preferred texts."""
    arch = open_archive(args)
    hits = arch.search(args.query, limit=args.limit)
    if args.json:
        _dump([h.to_json() for h in hits])
    else:
        for h in hits:
            print(f"{h.ref:<24} {' '.join((h.subject or '').split())[:80]}")
            if h.snippet:
                print(f"    {h.snippet}")
    say(args, f"{plural(len(hits), 'hit')} for {args.query!r}")
    return Exit.OK
