"""`cablearchive reclean`: run the current cleaning rules over every stored capture, offline."""

from __future__ import annotations

import argparse
import json
import sys

from archive import ArchiveError
from archive.layout import Layout
from archive.reclean import RecleanReport, reclean
from cleaners import RulesError
from crawler.cli.common import Subcommands, add_archive_option, open_archive, progress_bar, say
from crawler.cli.exits import ARCHIVE_ERROR, BAD_ARGUMENT, BAD_RULES, INPUT_FAILED, CommandError, Exit


def register(subparsers: Subcommands) -> None:
    """Add the `reclean` subcommand."""
    p = subparsers.add_parser(
        "reclean",
        help="re-run the cleaning rules over the stored captures (no network)",
        description="Clean the newest capture of every URL again under the current rules (the shipped "
        "rules with --rules DIR layered on top) and write a new version of each cable whose text or "
        "metadata changes. Captures already cleaned under the same rules are skipped, so a second "
        "run writes nothing. Never touches the network.",
    )
    p.add_argument("refs", metavar="REF", nargs="*", help="only the captures that gave these cables")
    add_archive_option(p)
    p.add_argument("--rules", metavar="DIR", help="a folder of *.toml rules layered over the shipped rules")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing; report which cables would gain, lose or change text, and by how much",
    )
    p.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: one per core)")
    p.add_argument(
        "--force", action="store_true", help="also re-clean captures already cleaned under these rules"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--show",
        type=int,
        default=100,
        metavar="N",
        help="list at most N changed cables (default 100; 0: all)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Re-clean; 0 done, 1 some capture or REF failed, 2 usage error (bad option or rules)."""
    if args.jobs is not None and args.jobs < 1:
        raise CommandError(BAD_ARGUMENT, "--jobs must be 1 or more")
    if args.show < 0:
        raise CommandError(BAD_ARGUMENT, "--show must be 0 or more")
    arch = open_archive(args)
    try:
        with progress_bar("reclean") as progress:
            report = reclean(
                arch,
                rules=args.rules,
                dry_run=args.dry_run,
                jobs=args.jobs,
                refs=args.refs or None,
                progress=progress,
                force=args.force,
            )
    except RulesError as exc:
        raise CommandError(BAD_RULES, f"bad rules: {exc}") from None
    except (ArchiveError, RuntimeError, OSError) as exc:
        raise CommandError(ARCHIVE_ERROR, str(exc)) from None
    finally:
        arch.close()
    for inp, reason in report.failed:
        say(args, f"{inp}: {reason}")
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n")
    else:
        print(report.summary())
        _list_outcomes(report, args.show)
        if report.run_id:
            print(f"  run record: {Layout(arch.path).run_path(report.run_id)}")
    return INPUT_FAILED.code if report.failed else Exit.OK


def _list_outcomes(report: RecleanReport, show: int) -> None:
    """Print the cables that change, largest changes first, at most `show` of them."""
    outcomes = sorted(
        report.outcomes, key=lambda o: (-((o.lines_added or 0) + (o.lines_removed or 0)), o.ref, o.url)
    )
    if not outcomes:
        return
    shown = outcomes if show == 0 else outcomes[:show]
    for o in shown:
        print("  " + o.describe())
    if len(shown) < len(outcomes):
        print(f"  ... and {len(outcomes) - len(shown)} more (--show 0 lists all, --json gives every one)")
