"""Look after the archive: verify, reindex, import-warc."""

from __future__ import annotations

import argparse
import json
import os

from archive import Archive, ArchiveError
from crawler.cli import add_archive_option
from crawler.commands.browse import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, open_archive, progress_bar, say


def run_verify(args: argparse.Namespace) -> int:
    """Check every digest, sidecar, WARC record, index line and provenance pointer."""
    arch = open_archive(args)
    if arch is None:
        return EXIT_USAGE
    with progress_bar() as progress:
        report = arch.verify(progress)
    if args.json:
        print(json.dumps(report.to_json(), indent=1, sort_keys=True))
    else:
        for note in report.notes:
            say(note)
        for p in report.problems:
            print(f"BAD {p.path}: {p.message}")
    c = report.counts
    checked = (
        f"{c.get('objects', 0)} cables, {c.get('versions', 0)} versions, {c.get('content files', 0)} content "
        f"files, {c.get('warc files', 0)} WARC files, {c.get('warc records', 0)} records, "
        f"{c.get('cdxj lines', 0)} index lines, {c.get('provenance pointers', 0)} provenance pointers"
    )
    if report.ok:
        say(f"archive {arch.path} verifies: {checked}")
        return EXIT_OK
    say(f"archive {arch.path} has {len(report.problems)} problem(s); checked {checked}")
    return EXIT_PARTIAL


def run_reindex(args: argparse.Namespace) -> int:
    """Rebuild index.sqlite (and index.cdxj with --from-warc) from the archive's files."""
    arch = open_archive(args)
    if arch is None:
        return EXIT_USAGE
    with progress_bar() as progress:
        try:
            counts = arch.reindex(progress, from_warc=args.from_warc)
        except ArchiveError as exc:
            say(str(exc))
            return EXIT_PARTIAL
    say(
        f"reindexed {counts['cables']} cables and {counts['captures']} captures"
        + (f"; {counts['problems']} problem(s) reported above" if counts["problems"] else "")
    )
    return EXIT_PARTIAL if counts["problems"] else EXIT_OK


def run_import_warc(args: argparse.Namespace) -> int:
    """Import WARC files written by other crawlers."""
    from archive.transfer import import_warcs

    missing = [f for f in args.files if not os.path.isfile(f)]
    for f in missing:
        say(f"{f}: no such file")
    files = [f for f in args.files if f not in missing]
    if not files:
        return EXIT_USAGE
    try:
        arch = Archive.open_or_create(args.archive)
    except ArchiveError as exc:
        say(str(exc))
        return EXIT_USAGE
    rules = None
    if args.rules:
        from cleaners import RulesError, load_rules

        try:
            rules = load_rules(args.rules)
        except (RulesError, OSError) as exc:
            say(f"{args.rules}: {exc}")
            return EXIT_USAGE
    try:
        with progress_bar() as progress:
            report = import_warcs(arch, files, rules=rules, progress=progress)
    except ArchiveError as exc:
        say(str(exc))
        return EXIT_PARTIAL
    for b in report.bad:
        say(b)
    say(
        f"run {report.run_id}: {report.files} file(s), {report.records} records: {report.imported} captures "
        f"imported, {report.duplicates} already in the archive, {report.skipped} skipped (not pages); cables: "
        f"{report.new} new, {report.changed} changed, {report.unchanged} unchanged"
        + (f"; {len(report.bad)} bad record(s)" if report.bad else "")
    )
    return EXIT_PARTIAL if report.bad or missing else EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add verify, reindex and import-warc."""
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

    p = subparsers.add_parser(
        "import-warc",
        help="import WARC files from other crawlers",
        description="Store each HTML or text response as a capture, clean it and archive "
        "its cables. Bad records are reported; the rest are imported.",
    )
    add_archive_option(p)
    p.add_argument("files", metavar="FILE", nargs="+", help="WARC files (.warc or .warc.gz) to import")
    p.add_argument("--rules", metavar="DIR", help="a rules folder layered on the shipped rules")
    p.set_defaults(func=run_import_warc)
