"""`cablearchive demo`: serve the bundled mirror world on 127.0.0.1, crawl it twice, then list, log, re-clean and diff."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import crawler
from crawler.cli.common import Subcommands
from crawler.cli.exits import BAD_ARGUMENT, INPUT_FAILED, CommandError, Exit
from crawler.world.demo import DemoError, keep_refusal, run_demo


def register(subparsers: Subcommands) -> None:
    """Add the `demo` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="crawl a bundled mirror world served on 127.0.0.1, then list, log, re-clean and diff",
        description="Serve a small world of mirror sites (a cablegate viewer mirror, a WordPress blog, a "
        "Blogger blog) on 127.0.0.1, crawl it into a fresh archive, let the viewer mirror publish a new "
        "build of one cable, crawl again (only changes are fetched), and show list, log, reclean and diff.",
    )
    p.add_argument(
        "--keep", metavar="DIR", help="build the archive in DIR (must be new or empty) and keep it"
    )
    p.set_defaults(func=run)


def _child(argv: list[str]) -> int:
    """Run `cablearchive ARGV` in a child process (Scrapy's reactor runs once per process)."""
    env = dict(os.environ)
    root = str(Path(crawler.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, "-m", __package__, *argv], env=env, check=False).returncode


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every step worked."""
    keep = Path(args.keep) if args.keep else None
    if keep is not None and (reason := keep_refusal(keep)):
        raise CommandError(BAD_ARGUMENT, reason)
    try:
        failed = run_demo(_child, keep)
    except DemoError as exc:
        raise CommandError(INPUT_FAILED, str(exc)) from None
    return INPUT_FAILED.code if failed else Exit.OK
