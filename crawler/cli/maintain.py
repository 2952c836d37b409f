"""Look after the archive: verify, reindex, repair."""

from __future__ import annotations

import argparse
import json

from archive import ArchiveError
from archive.reindex import check_index
from archive.repair import repair_archive
from crawler.cli.common import Subcommands, add_archive_option, open_archive, progress_bar, say
from crawler.cli.exits import ARCHIVE_ERROR, INPUT_FAILED, CommandError, Exit


def register(subparsers: Subcommands) -> None:
    """Add verify, reindex and repair."""
    p = subparsers.add_parser(
        "verify",
        help="check the archive's integrity",
        description="Check every OCFL digest and inventory sidecar, that the storage root holds no "
        "link, every WARC record digest, index.cdxj against the WARC files, every provenance "
        "pointer, the cleaned marks and index.sqlite. Exit 1 naming each bad file and the command "
        "that repairs it. Writes nothing (on a read-only archive too).",
    )
    add_archive_option(p)
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=run_verify)

    p = subparsers.add_parser(
        "reindex",
        help="rebuild index.sqlite from the files",
        description="Rebuild the derived index (index.sqlite) from the archive's files. With --check, "
        "only say whether it is current (exit 0) or what differs (exit 1), writing nothing.",
    )
    add_archive_option(p)
    p.add_argument(
        "--from-warc", action="store_true", help="also rebuild captures/index.cdxj from the WARC files"
    )
    p.add_argument(
        "--check", action="store_true", help="check that index.sqlite matches the files; change nothing"
    )
    p.set_defaults(func=run_reindex)

    p = subparsers.add_parser(
        "repair",
        help="repair what the archive holds a second copy of",
        description="Repair what verify names with `cablearchive repair`: a root inventory or sidecar "
        "(restored from the head version's copy), links in the storage root (replaced by copies), "
        "an interrupted or damaged commit journal, cleaned marks naming no capture, a stale or damaged "
        "index. Nothing is deleted: files that do not belong in the storage root move to "
        "state/lost+found/. Then verifies: exit 1 when problems without a copy remain.",
    )
    add_archive_option(p)
    p.add_argument("--dry-run", action="store_true", help="say what would be repaired; change nothing")
    p.set_defaults(func=run_repair)


def run_verify(args: argparse.Namespace) -> int:
    """Check every digest, sidecar, WARC record, index line, provenance pointer and cleaned mark."""
    arch = open_archive(args)
    with progress_bar() as progress:
        report = arch.verify(progress)
    if args.json:
        print(json.dumps(report.to_json(), indent=1, sort_keys=True))
    else:
        for note in report.notes:
            say(args, note)
        for p in report.problems:
            print(f"BAD {p.path}: {p.message} ({p.remedy})")
    c = report.counts
    checked = (
        f"{c.get('objects', 0)} cables, {c.get('versions', 0)} versions, {c.get('content files', 0)} content "
        f"files, {c.get('warc files', 0)} WARC files, {c.get('warc records', 0)} records, "
        f"{c.get('cdxj lines', 0)} index lines, {c.get('provenance pointers', 0)} provenance pointers, "
        f"{c.get('cleaned marks', 0)} cleaned marks"
    )
    if report.ok:
        say(args, f"archive {arch.path} verifies: {checked}")
        return Exit.OK
    say(args, f"archive {arch.path} has {len(report.problems)} problem(s); checked {checked}")
    return INPUT_FAILED.code


def run_reindex(args: argparse.Namespace) -> int:
    """Rebuild index.sqlite (and index.cdxj with --from-warc) from the archive's files, or --check it."""
    arch = open_archive(args)
    if args.check:
        differences = check_index(arch.layout)
        for d in differences:
            print(f"STALE {d}")
        if differences:
            say(args, f"{arch.index_path} is not current: run `cablearchive reindex`")
            return INPUT_FAILED.code
        say(args, f"{arch.index_path} is current")
        return Exit.OK
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


def run_repair(args: argparse.Namespace) -> int:
    """Repair from the archive's own copies, then verify what is left."""
    arch = open_archive(args)
    with progress_bar() as progress:
        try:
            report = repair_archive(arch, dry_run=args.dry_run, progress=progress)
        except ArchiveError as exc:
            raise CommandError(ARCHIVE_ERROR, str(exc)) from None
    verb = "would repair" if args.dry_run else "repaired"
    for line in report.done:
        print(f"{'WOULD' if args.dry_run else 'FIXED'} {line}")
    if args.dry_run:
        say(args, f"{verb} {len(report.done)} thing(s); nothing changed (dry run)")
        return Exit.OK
    with progress_bar() as progress:
        left = arch.verify(progress)
    for p in left.problems:
        print(f"BAD {p.path}: {p.message} ({p.remedy})")
    if left.problems:
        say(args, f"{verb} {len(report.done)} thing(s); {len(left.problems)} problem(s) remain (see above)")
        return INPUT_FAILED.code
    say(args, f"{verb} {len(report.done)} thing(s); archive {arch.path} verifies")
    return Exit.OK
