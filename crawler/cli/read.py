"""Read the archive: list (with filters), show, log, search (with field terms and snippets)."""

from __future__ import annotations

import argparse
import json
import re
import sys

from rich.text import Text

from archive import ArchiveError, BadReference, CableRecord, query
from archive.query import SORTS, CableItem, Filters, Hit, QueryError
from crawler.cli.common import Subcommands, add_archive_option, open_archive, plural, say
from crawler.cli.exits import (
    BAD_ARGUMENT,
    BAD_REFERENCE,
    NO_SUCH_VERSION,
    NOT_IN_ARCHIVE,
    CommandError,
    Exit,
)
from crawler.cli.terminal import console, is_terminal, styled, visible


def _dump(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True))


def _write_text(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def register(subparsers: Subcommands) -> None:
    """Add list, show, log and search."""
    p = subparsers.add_parser(
        "list",
        help="list archived cables",
        description="List archived cables with their own date, origin and subject; filters keep the cables "
        "that meet all of them.",
    )
    add_archive_option(p)
    _add_filters(p)
    p.add_argument(
        "--subject",
        metavar="TEXT",
        help="the subject holds these words in this order (any case; the last may be the start of a word)",
    )
    p.add_argument(
        "--sort", choices=SORTS, default="date", help="order by the cable's date (default), id or origin"
    )
    p.add_argument("--reverse", action="store_true", help="the other way round (newest first for dates)")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N cables")
    p.add_argument("--offset", type=_not_negative, default=0, metavar="N", help="skip the first N cables")
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
        help="full-text search with field terms",
        description='Search the preferred texts and subjects (SQLite FTS5 syntax: words, "exact phrase", '
        "prefix*, AND, OR, NOT, NEAR(a b), parentheses) with field terms that every hit meets: tag:PREL, "
        'origin:KABUL or origin:"Embassy Kabul", classification:SECRET, ref:07STATE71143, year:2009, '
        "from:2009-06, to:2009-12. A query that cannot run as written is refused (exit 2), never rewritten.",
    )
    add_archive_option(p)
    p.add_argument(
        "query",
        metavar="QUERY",
        nargs="?",
        default="",
        help="words to find and field terms, e.g. 'Karzai \"election calendar\" tag:PGOV origin:KABUL'",
    )
    _add_filters(p)
    p.add_argument(
        "--ref", action="append", default=[], metavar="ID", help="cables that cite this cable (repeatable)"
    )
    p.add_argument(
        "--sort",
        choices=("rank", *SORTS),
        default="rank",
        help="best match first (default), or by date, id, origin",
    )
    p.add_argument("--reverse", action="store_true", help="the other way round")
    p.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N hits (default 20)")
    p.add_argument("--offset", type=_not_negative, default=0, metavar="N", help="skip the first N hits")
    p.add_argument(
        "--json",
        action="store_true",
        help="the hits as a JSON list (snippets as spans and as **marked** text)",
    )
    p.set_defaults(func=run_search)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of 1 or more")
    return int(value)


def _not_negative(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of 0 or more")
    return int(value)


def _add_filters(p: argparse.ArgumentParser) -> None:
    """The header filters `list` and `search` share."""
    p.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="NAME",
        help="sent from this post: 'Embassy Kabul' or KABUL, any case (repeatable: any of them)",
    )
    p.add_argument(
        "--classification",
        action="append",
        default=[],
        metavar="LEVEL",
        help="SECRET (also keeps SECRET//NOFORN), or a whole marking with // (repeatable: any of them)",
    )
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="has this TAG, any case (repeatable: all of them)",
    )
    p.add_argument("--from", dest="date_from", metavar="DATE", help="sent on or after DATE (YYYY[-MM[-DD]])")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="sent on or before DATE (YYYY[-MM[-DD]])")


def _filters(args: argparse.Namespace) -> Filters:
    """The Filters the options give."""
    return Filters(
        origins=tuple(args.origin),
        classifications=tuple(args.classification),
        tags=tuple(args.tag),
        date_from=args.date_from,
        date_to=args.date_to,
        subject=getattr(args, "subject", None),
        cites=tuple(getattr(args, "ref", ())),
    )


def run_list(args: argparse.Namespace) -> int:
    """List archived cables: filtered, sorted, one line (or JSON object) each."""
    arch = open_archive(args)
    filters = _filters(args)
    out = sys.stdout
    n = 0
    try:
        total = query.count_cables(arch, filters)
        for c in query.iter_cables(arch, filters, args.sort, args.reverse, args.offset, args.limit):
            n += 1
            if args.json:
                out.write(json.dumps(c.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
            else:
                out.write(visible(_list_line(c), newlines=False) + "\n")
    except QueryError as exc:
        raise CommandError(BAD_ARGUMENT, str(exc)) from None
    shown = f"{plural(n, 'cable')}" + (f" of {total}" if n != total else "")
    say(args, f"{shown} in {arch.path}")
    return Exit.OK


def _list_line(c: CableItem) -> str:
    """One line of `list`: ID, the cable's own date, classification level, origin, head version, subject."""
    subject = " ".join((c.subject or "").split())[:80]
    level = (c.classification or "").split("//")[0]
    return f"{c.ref:<20} {(c.date or '')[:10]:<10}  {level[:12]:<12}  {(c.origin or '')[:26]:<26}  v{c.head:<3} {subject}"


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
    """Full-text search over the preferred texts, with field terms and highlighted snippets."""
    arch = open_archive(args)
    sort = None if args.sort == "rank" else args.sort
    try:
        page = query.search(arch, args.query, _filters(args), args.offset, args.limit, sort, args.reverse)
    except QueryError as exc:
        raise CommandError(BAD_ARGUMENT, str(exc)) from None
    if args.json:
        _dump([h.to_json() for h in page.items])
    elif is_terminal():
        con = console()
        for h in page.items:
            con.print(_hit_head(h))
            if h.snippet:
                con.print(
                    styled([("    ", None), *((s.text, "bold yellow" if s.hit else None) for s in h.snippet)])
                )
    else:
        for h in page.items:
            print(visible(_hit_head(h).plain, newlines=False))
            if h.snippet:
                print("    " + visible(query.plain(h.snippet), newlines=False))
    more = (
        f" ({page.total} in all; --offset {page.offset + len(page.items)} for more)" if page.has_next else ""
    )
    if args.sort == "rank" and page.order != "rank":
        more += (
            f"; too many to rank (over {query.RANK_LIMIT}): newest first, add words or filters to rank them"
        )
    say(args, f"{plural(len(page.items), 'hit')} for {args.query!r}{more}")
    return Exit.OK


def _hit_head(h: Hit) -> Text:
    """The first line of a hit: ID, date, origin and the subject with the query's words marked."""
    c = h.cable
    pieces: list[tuple[str, str | None]] = [
        (f"{c.ref:<20} {(c.date or '')[:10]:<10}  {(c.origin or '')[:26]:<26}  ", None)
    ]
    pieces += [(re.sub(r"\s+", " ", s.text), "bold yellow" if s.hit else None) for s in h.subject]
    return styled(pieces)
