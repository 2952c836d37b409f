"""`cablearchive clean PAGE...`: clean saved pages and print or write their cables."""

from __future__ import annotations

import argparse

from cleaners import RulesError
from crawler.cleanfiles import clean_paths
from crawler.cli.common import Subcommands
from crawler.cli.exits import BAD_RULES, CANNOT_WRITE, INPUT_FAILED, CommandError, Exit


def register(sub: Subcommands) -> None:
    """Add the `clean` subcommand."""
    p = sub.add_parser(
        "clean",
        help="clean saved pages (files or folders) and print or write their cables",
        description="Clean saved pages and print each cable found, or write "
        "DIR/<page stem>.<REF>.txt and DIR/<page stem>.<REF>.json with --out. "
        "Pages with no cable, unreadable files and bad input are reported on stderr.",
    )
    p.add_argument("pages", nargs="+", metavar="PAGE", help="HTML or text files, or folders of them")
    p.add_argument("--url", help="the URL the page was fetched from (helps establish reference IDs)")
    p.add_argument("--out", metavar="DIR", help="write <page stem>.<REF>.txt and .json files here")
    p.add_argument("--json", action="store_true", help="print JSON records (one a line) instead of text")
    p.add_argument("--rules", metavar="DIR", help="a rules folder layered on the shipped rules")
    p.add_argument("--quiet", "-q", action="store_true", help="do not report pages without cables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Clean the pages named on the command line."""
    try:
        done = clean_paths(
            args.pages,
            url=args.url,
            out_dir=args.out,
            as_json=args.json,
            rules_dir=args.rules,
            quiet=args.quiet,
        )
    except RulesError as exc:
        raise CommandError(BAD_RULES, str(exc)) from None
    except OSError as exc:
        raise CommandError(CANNOT_WRITE, f"cannot create {args.out}: {exc.strerror or exc}") from None
    return INPUT_FAILED.code if done.failed else Exit.OK
