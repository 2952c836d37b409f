"""`cablearchive crawl SEEDS`: fetch mirror sites into the archive, politely and resumably."""

from __future__ import annotations

import argparse
import json
import os
import sys

from crawler.cli.common import Subcommands, add_archive_option, refuse_source_tree, say, setting_overrides
from crawler.cli.exits import BAD_ARGUMENT, INPUT_FAILED, INTERRUPTED, NO_INPUT, CommandError, Exit, summary


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _at_least_one(text: str) -> int:
    value = _positive(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers: Subcommands) -> None:
    """Add the `crawl` subcommand."""
    p = subparsers.add_parser(
        "crawl",
        help="crawl mirror sites from a seeds file into the archive",
        description="Fetch the pages of mirror sites listed in SEEDS (one URL a line, # comments), "
        "following same-site links, feeds and sitemaps; every response is kept as a capture and "
        "every cable found is archived. Obeys robots.txt; re-crawls ask only for changes.",
        epilog=f"{summary()} Interrupted (Ctrl-C): 130; continue with --resume. "
        "Settings: -s DOWNLOAD_DELAY=2, -s CABLEARCHIVE_CONTACT=mailto:you@example.org, "
        "-s CONCURRENT_REQUESTS_PER_DOMAIN=1, ... (see crawler/settings.py).",
    )
    p.add_argument("seeds", metavar="SEEDS", help="seeds file: one http(s) URL a line")
    add_archive_option(p)
    p.add_argument(
        "--depth",
        type=_positive,
        default=3,
        metavar="N",
        help="follow links this many levels from each seed (default 3; pagination, feeds "
        "and sitemaps do not count as a level)",
    )
    p.add_argument(
        "--max-pages",
        type=_at_least_one,
        default=None,
        metavar="N",
        help="send at most N requests in this crawl: seeds, links, redirect hops, feeds, sitemaps "
        "(robots.txt and retries not counted; default: no limit)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted crawl kept in the archive's state/ folder",
    )
    p.add_argument(
        "-s",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a Scrapy or CABLEARCHIVE_* setting (repeatable)",
    )
    p.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="coordinate a distributed crawl through Redis (redis://HOST:PORT/DB): this command "
        "puts the seeds there and archives what `cablearchive worker` processes fetch",
    )
    p.add_argument(
        "--spool",
        metavar="DIR",
        default=None,
        help="with --redis: the folder the workers write their WARC files to (default: in the "
        "archive's state folder)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the crawl and print its report."""
    from crawler.runner import run_crawl

    overrides = setting_overrides(args.settings)
    refuse_source_tree(args.archive)
    if not os.path.isfile(args.seeds):
        what = "is a folder" if os.path.isdir(args.seeds) else "no such file"
        raise CommandError(NO_INPUT, f"seeds file {args.seeds}: {what}")
    if args.redis:
        return _run_distributed(args, overrides)
    if args.spool:
        raise CommandError(BAD_ARGUMENT, "--spool goes with --redis (a distributed crawl)")
    report = run_crawl(
        args.seeds,
        args.archive,
        depth=args.depth,
        max_pages=args.max_pages,
        resume=args.resume,
        overrides=overrides,
        progress=True,
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        report.render(sys.stdout, full=report.full_path)
    if report.finish_reason == "shutdown":
        print("crawl interrupted: run the same command with --resume to continue it", file=sys.stderr)
        return INTERRUPTED.code
    if report.fatal and report.finish_reason is None and not report.run_ids:
        say(args, report.fatal)
    return INPUT_FAILED.code if report.failed else Exit.OK


def _run_distributed(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    """The coordinator of a distributed crawl: seeds into Redis, the workers' captures into the archive."""
    from crawler.distributed.coordinator import run_coordinator

    out = run_coordinator(
        args.seeds,
        args.archive,
        args.redis,
        depth=args.depth,
        max_pages=args.max_pages,
        resume=args.resume,
        overrides=overrides,
        progress=True,
        spool=args.spool,
    )
    report = out.report
    if args.json:
        print(json.dumps(out.to_json(), indent=1))
    else:
        report.render(sys.stdout, full=report.full_path)
    if report.finish_reason == "shutdown":
        print("crawl interrupted: run the same command with --resume to continue it", file=sys.stderr)
        return INTERRUPTED.code
    if report.fatal and report.finish_reason is None:
        raise CommandError(INPUT_FAILED, report.fatal)
    return INPUT_FAILED.code if report.failed else Exit.OK
