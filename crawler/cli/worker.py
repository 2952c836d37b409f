"""`cablearchive worker --redis URL`: fetch for the distributed crawl a coordinator keeps in Redis."""

from __future__ import annotations

import argparse
import sys

from crawler.cli.common import Subcommands, setting_overrides
from crawler.cli.exits import NO_CLUSTER, CommandError, Exit, summary


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def register(subparsers: Subcommands) -> None:
    """Add the `worker` subcommand."""
    p = subparsers.add_parser(
        "worker",
        help="fetch pages for a distributed crawl coordinated through Redis",
        description="Take URLs from the crawl that `cablearchive crawl SEEDS --redis URL` put into "
        "Redis, fetch them politely (robots.txt, per-site delay and concurrency hold for all "
        "workers together), and write the captures as closed WARC files to the spool folder the "
        "coordinator archives from. Start any number, on any machine that reaches Redis and the "
        "spool folder; a worker that dies loses nothing (its URLs go back to the queue). "
        "It stops when the crawl is finished.",
        epilog=f"{summary()} Settings: -s CONCURRENT_REQUESTS=16, -s CABLEARCHIVE_CLEAN_WORKERS=0, "
        "-s CABLEARCHIVE_SPOOL_SECONDS=2 (see crawler/settings.py).",
    )
    p.add_argument("--redis", metavar="URL", required=True, help="the crawl's Redis: redis://HOST:PORT/DB")
    p.add_argument(
        "--spool",
        metavar="DIR",
        default=None,
        help="write the WARC files here (a folder the coordinator reads; default: the one it named)",
    )
    p.add_argument(
        "--id", dest="worker_id", metavar="NAME", default=None, help="worker id (default host-pid)"
    )
    p.add_argument(
        "--wait",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="give up when no crawl is running in Redis within this time (default: wait)",
    )
    p.add_argument(
        "-s",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a Scrapy or CABLEARCHIVE_* setting (repeatable)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Work for the crawl until it is finished."""
    from crawler.distributed.cluster import ClusterError
    from crawler.distributed.worker import run_worker

    overrides = setting_overrides(args.settings)
    try:
        report = run_worker(
            args.redis, spool=args.spool, worker_id=args.worker_id, overrides=overrides, wait=args.wait
        )
    except ClusterError as exc:
        raise CommandError(NO_CLUSTER, str(exc)) from None
    if report is None:
        raise CommandError(NO_CLUSTER, f"no crawl running in Redis at {args.redis} within {args.wait} s")
    print(f"worker done: {report.summary_line()}", file=sys.stderr)
    return Exit.OK
