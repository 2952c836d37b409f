"""Move cables in and out of the archive: import-warc, export."""

from __future__ import annotations

import argparse
import os
import sys

from archive import ArchiveError, BadReference
from archive.transfer import export_jsonl, export_wacz, export_warc, import_warcs
from cleaners import RulesError, Ruleset, load_rules
from crawler.cli.common import (
    Subcommands,
    add_archive_option,
    binary_output,
    open_archive,
    open_or_create_archive,
    plural,
    progress_bar,
    say,
    text_output,
)
from crawler.cli.exits import (
    ARCHIVE_ERROR,
    BAD_ARGUMENT,
    BAD_REFERENCE,
    BAD_RULES,
    INPUT_FAILED,
    NO_INPUT,
    CommandError,
    Exit,
)


def register(subparsers: Subcommands) -> None:
    """Add import-warc and export."""
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

    p = subparsers.add_parser(
        "export",
        help="export cables as JSON lines, WARC or WACZ",
        description="Export cables (all, or the REFs given). A damaged capture is named and left out "
        "(exit 1).",
    )
    add_archive_option(p)
    p.add_argument("refs", metavar="REF", nargs="*", help="only these cables (default: all)")
    p.add_argument(
        "--format",
        choices=("jsonl", "warc", "wacz"),
        default="jsonl",
        help="jsonl: one cable a line (text, metadata, sources); warc: the cables' captures; "
        "wacz: those captures as a WACZ 1.1.1 package (index, pages; needs --out)",
    )
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=run_export)


def run_import_warc(args: argparse.Namespace) -> int:
    """Import WARC files written by other crawlers."""
    missing = [f for f in args.files if not os.path.isfile(f)]
    for f in missing:
        say(args, f"{f}: no such file")
    files = [f for f in args.files if f not in missing]
    if not files:
        raise CommandError(NO_INPUT, "no WARC file to import")
    arch = open_or_create_archive(args)
    rules: Ruleset | None = None
    if args.rules:
        try:
            rules = load_rules(args.rules)
        except (RulesError, OSError) as exc:
            raise CommandError(BAD_RULES, f"{args.rules}: {exc}") from None
    try:
        with progress_bar() as progress:
            report = import_warcs(arch, files, rules=rules, progress=progress)
    except ArchiveError as exc:
        raise CommandError(ARCHIVE_ERROR, str(exc)) from None
    for b in report.bad:
        say(args, b)
    say(
        args,
        f"run {report.run_id}: {report.files} file(s), {report.records} records: {report.imported} captures "
        f"imported, {report.duplicates} already in the archive, {report.skipped} skipped (not pages); cables: "
        f"{report.new} new, {report.changed} changed, {report.unchanged} unchanged"
        + (f"; {len(report.bad)} bad record(s)" if report.bad else ""),
    )
    return INPUT_FAILED.code if report.bad or missing else Exit.OK


def run_export(args: argparse.Namespace) -> int:
    """Export cables as JSON lines or as a WARC file."""
    arch = open_archive(args)
    if args.format == "warc" and not args.out and sys.stdout.isatty():
        raise CommandError(
            BAD_ARGUMENT, "export --format warc writes binary data: give --out FILE or redirect the output"
        )
    if args.format == "wacz" and not args.out:
        raise CommandError(BAD_ARGUMENT, "export --format wacz writes a ZIP package: give --out FILE.wacz")
    errors: list[str] = []
    try:
        with progress_bar() as progress:
            if args.format == "wacz":
                try:
                    n = export_wacz(arch, args.out, args.refs, progress, errors.append)
                except OSError as exc:
                    raise CommandError(
                        ARCHIVE_ERROR, f"{args.out}: cannot write: {exc.strerror or exc}"
                    ) from None
            elif args.format == "jsonl":
                if args.out:
                    with text_output(args.out) as fh:
                        n = export_jsonl(arch, fh, args.refs, progress, errors.append)
                else:
                    n = export_jsonl(arch, sys.stdout, args.refs, progress, errors.append)
            elif args.out:
                with binary_output(args.out) as bfh:
                    n = export_warc(arch, bfh, args.refs, progress, errors.append)
            else:
                n = export_warc(arch, sys.stdout.buffer, args.refs, progress, errors.append)
    except BadReference as exc:
        raise CommandError(BAD_REFERENCE, str(exc)) from None
    for e in errors:
        say(args, e)
    say(
        args,
        f"exported {plural(n, 'cable')} as {args.format}"
        + (f" to {args.out}" if args.out else "")
        + (f"; {len(errors)} failed" if errors else ""),
    )
    return INPUT_FAILED.code if errors else Exit.OK
