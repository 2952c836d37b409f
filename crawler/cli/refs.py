"""`refs`: a cable's place in the citation graph: what it cites, and which archived cables cite it."""

from __future__ import annotations

import argparse
import json
import sys

from archive import BadReference, query
from archive.query import CableRefs
from crawler.cli.common import Subcommands, add_archive_option, open_archive, plural
from crawler.cli.exits import BAD_REFERENCE, NOT_IN_ARCHIVE, CommandError, Exit
from crawler.cli.terminal import visible


def register(subparsers: Subcommands) -> None:
    """Add refs."""
    p = subparsers.add_parser(
        "refs",
        help="what a cable cites and what cites it",
        description="Print the references of a cable (each with the cited cable's ID and whether the archive "
        "holds it) and the archived cables whose references name it. REF may be a cable the archive does "
        "not hold: then only what cites it.",
    )
    add_archive_option(p)
    p.add_argument(
        "ref", metavar="REF", help="reference ID, e.g. 07STATE71143 (as the page names it, or canonical)"
    )
    p.add_argument("--json", action="store_true", help="both directions as one JSON object")
    p.set_defaults(func=run_refs)


def run_refs(args: argparse.Namespace) -> int:
    """Print both directions of the citation graph around one cable."""
    arch = open_archive(args)
    try:
        graph = query.refs(arch, args.ref)
    except BadReference as exc:
        raise CommandError(BAD_REFERENCE, str(exc)) from None
    if not graph.archived and not graph.cited_by:
        raise CommandError(NOT_IN_ARCHIVE, f"{args.ref}: not in {arch.path}, and no archived cable cites it")
    if args.json:
        print(json.dumps(graph.to_json(), ensure_ascii=False, indent=1, sort_keys=True))
    else:
        sys.stdout.write(visible(render(graph)))
    return Exit.OK


def render(graph: CableRefs) -> str:
    """The citation graph around a cable as `refs` prints it (plain text; the caller escapes it)."""
    lines = []
    name = graph.ref if graph.canonical_id == graph.ref else f"{graph.ref} ({graph.canonical_id})"
    if graph.archived:
        lines.append(f"{name} cites {plural(len(graph.cites), 'reference')}:")
        for c in graph.cites:
            label = f"{c.label}." if c.label else "-"
            text = " ".join((c.text or "").split())
            if c.cited_id is None:
                where = "not a cable" if c.kind == "other" else "no cable ID read"
            elif c.archived_ref is None:
                where = f"{c.cited_id}, not in the archive"
            elif c.archived_ref == c.cited_id:
                where = f"{c.cited_id}, in the archive"
            else:
                where = f"{c.cited_id}, in the archive as {c.archived_ref}"
            lines.append(f"  {label:<4}{text:<36}  {where}")
    else:
        lines.append(f"{name} is not in the archive.")
    lines.append(f"{name} is cited by {plural(len(graph.cited_by), 'archived cable')}:")
    for by in graph.cited_by:
        item = by.cable
        subject = " ".join((item.subject or "").split())[:60]
        ref_text = " ".join((by.text or "").split())
        lines.append(
            f"  {item.ref:<20} {(item.date or '')[:10]:<10}  {subject}  [{(by.label + '. ') if by.label else ''}{ref_text}]"
        )
    return "\n".join(lines) + "\n"
