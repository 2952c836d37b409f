"""`cablearchive diff`: compare archived versions of a cable, or its mirrors, hunk by hunk."""

from __future__ import annotations

import argparse
import os
import sys

from archive import ArchiveError, BadReference
from archive.diff import NothingToCompare, diff_sources, diff_versions
from archive.render import render, render_many
from crawler.cli.common import Subcommands, add_archive_option, open_archive, say, text_output
from crawler.cli.exits import (
    BAD_ARGUMENT,
    BAD_REFERENCE,
    NO_SUCH_VERSION,
    NOT_IN_ARCHIVE,
    CommandError,
    Exit,
)
from crawler.cli.terminal import is_terminal, raw, visible

FORMATS = ("unified", "words", "html", "json")


def register(subparsers: Subcommands) -> None:
    """Add the `diff` subcommand."""
    p = subparsers.add_parser(
        "diff",
        help="compare archived versions of a cable (or its mirrors), each change classified",
        description="Compare two versions of a cable's text: by default the newest against the one "
        "before; with V1 alone, V1 against the newest; with --source KEY, one mirror's text between the "
        "versions; with --sources, each mirror's text against the "
        "preferred one at a version (V1, default the newest). Each hunk is classified: whitespace-only, "
        "redaction, unredaction, header reformat, typography or wording.",
    )
    p.add_argument("ref", metavar="REF", help="reference ID of the cable, e.g. 10HARARE93")
    p.add_argument("v1", metavar="V1", nargs="?", help="a version: v2 or 2")
    p.add_argument("v2", metavar="V2", nargs="?", help="a second version (default: the newest)")
    p.add_argument("--sources", action="store_true", help="compare the cable's mirrors with each other")
    p.add_argument(
        "--source",
        metavar="KEY",
        help="compare one mirror's text between versions (its key, as `log` and `show --json` list it)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="unified",
        help="unified (default), words (inline word diff), html (a side-by-side page), json",
    )
    p.add_argument(
        "--ignore-wrapping",
        action="store_true",
        help="compare by words, so re-wrapped lines and changed spacing are not changes",
    )
    p.add_argument("--context", type=int, default=3, metavar="N", help="lines of context (default 3)")
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour unified and words output (default: when writing to a terminal)",
    )
    p.add_argument("-o", "--out", metavar="FILE", help="write to FILE instead of standard output")
    add_archive_option(p)
    p.set_defaults(func=run)


def _use_colour(args: argparse.Namespace) -> bool:
    """Whether to colour the output."""
    if args.format not in ("unified", "words") or args.out:
        return False
    if args.color != "auto":
        return args.color == "always"
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def run(args: argparse.Namespace) -> int:
    """Print the diff; 0 done, 1 the cable or version is not in the archive, 2 usage error."""
    if args.context < 0:
        raise CommandError(BAD_ARGUMENT, "--context must be 0 or more")
    if args.sources and args.v2:
        raise CommandError(BAD_ARGUMENT, "--sources takes one version at most")
    if args.sources and args.source:
        raise CommandError(BAD_ARGUMENT, "use --sources or --source KEY, not both")
    for v in (args.v1, args.v2):
        if v is not None and not v.lower().lstrip("v").isdigit():
            raise CommandError(BAD_ARGUMENT, f"{v!r} is not a version (write v2 or 2)")
    arch = open_archive(args)
    try:
        if args.sources:
            diffs = diff_sources(
                arch, args.ref, args.v1, ignore_wrapping=args.ignore_wrapping, context=args.context
            )
            if not diffs:
                say(args, f"{args.ref} has a single source; nothing to compare")
                return Exit.OK
        else:
            diffs = [
                diff_versions(
                    arch,
                    args.ref,
                    args.v1,
                    args.v2,
                    ignore_wrapping=args.ignore_wrapping,
                    context=args.context,
                    source=args.source,
                )
            ]
    except NothingToCompare as exc:
        say(args, str(exc))
        return Exit.OK
    except BadReference as exc:
        raise CommandError(BAD_REFERENCE, str(exc)) from None
    except ArchiveError as exc:
        raise CommandError(NOT_IN_ARCHIVE, str(exc)) from None
    except ValueError as exc:  # a version or source the cable does not have
        raise CommandError(NO_SUCH_VERSION, str(exc)) from None
    colour = _use_colour(args)

    def rendered(color: bool) -> str:
        if args.sources:
            # Several diffs: one JSON list, one html page, or the texts one after the other.
            return render_many(diffs, args.format, color=color, title=f"{args.ref}: mirrors compared")
        return render(diffs[0], args.format, color=color)

    output = rendered(colour)
    if colour and not args.out and is_terminal():
        # Colour codes go to the terminal as they are (under its escaping wrapper), so the
        # page text between them must hold no control character of its own; if it does, the
        # diff is shown plain, every control character escaped.
        plain = rendered(False)
        if visible(plain) != plain:
            say(args, "colour off: the text holds control characters, shown escaped")
            sys.stdout.write(plain)
            return Exit.OK
        raw().write(output)
        return Exit.OK
    if args.out:
        with text_output(args.out) as fh:
            fh.write(output)
        for d in diffs:
            print(d.summary(), file=sys.stderr)
    else:
        sys.stdout.write(output)
    return Exit.OK
