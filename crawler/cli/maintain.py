"""Look after the archive: verify, reindex."""

from __future__ import annotations

import argparse
import json

from archive import ArchiveError
from crawler.cli.common import Subcommands, add_archive_option, open_archive, progress_bar, say
from crawler.cli.exits import ARCHIVE_ERROR, INPUT_FAILED, CommandError, Exit


def register(subparsers: Subcommands) -> None:
    """Add verify and reindex."""
    p = subparsers.add_parser(
        "verify",
        help="check the archive's integrity",
        description="Check every OCFL digest and inventory sidecar, every WARC record "
        "digest, index.cdxj against the WARC files and every provenance pointer. "
        "Exit 1 naming each bad file.",
    )
    add_archive_option(p)
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=run_verify)

    p = subparsers.add_parser(
        "reindex",
        help="rebuild index.sqlite from the files",
        description="Rebuild the derived index (index.sqlite) from the archive's files.",
    )
    add_archive_option(p)
    p.add_argument(
        "--from-warc", action="store_true", help="also rebuild captures/index.cdxj from the WARC files"
    )
    p.set_defaults(func=run_reindex)


def run_verify(args: argparse.Namespace) -> int:
    """Check every digest, sidecar, WARC record, index line and provenance pointer."""
    arch = open_archive(args)
    with progress_bar() as progress:
        report = arch.verify(progress)
    if args.json:
        print(json.dumps(report.to_json(), indent=1, sort_keys=True))
    else:
        for note in report.notes:
            say(args, note)
        for p in report.problems:
            print(f"BAD {p.path}: {p.message}")
    c = report.counts
    checked = (
        f"{c.get('objects', 0)} cables, {c.get('versions', 0)} versions, {c.get('content files', 0)} content "
        f"files, {c.get('warc files', 0)} WARC files, {c.get('warc records', 0)} records, "
        f"{c.get('cdxj lines', 0)} index lines, {c.get('provenance pointers', 0)} provenance pointers"
    )
    if report.ok:
        say(args, f"archive {arch.path} verifies: {checked}")
        return Exit.OK
    say(args, f"archive {arch.path} has {len(report.problems)} problem(s); checked {checked}")
    return INPUT_FAILED.code


def run_reindex(args: argparse.Namespace) -> int:
    """Rebuild index.sqlite (and index.cdxj with --from-warc) from the archive's files."""
    arch = open_archive(args)
    with progress_bar() as progress:
        try:
            counts = arch.reindex(progress, from_warc=args.from_warc)
        except ArchiveError as exc:
            raise CommandError(ARCHIVE_ERROR, str(exc)) from None
    say(
        args,
        f"reindexed {counts['cables']} cables and {counts['captures']} captures"
        + (f"; {counts['problems']} problem(s) reported above" if counts["problems"] else ""),
    )
    return INPUT_FAILED.code if counts["problems"] else Exit.OK
