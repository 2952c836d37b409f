"""`cablearchive serve`: the archive as a local, read-only web site."""

from __future__ import annotations

import argparse
import socket

from archive import ArchiveError
from crawler.cli.common import Subcommands, add_archive_option, say
from crawler.cli.exits import BAD_ARGUMENT, NO_ARCHIVE, CommandError, Exit


def register(subparsers: Subcommands) -> None:
    """Add the `serve` subcommand."""
    p = subparsers.add_parser(
        "serve",
        help="browse the archive in a web browser (read-only)",
        description="Serve the archive as a local web site: the cables with facets, full-text search, "
        "each cable with its versions, references and mirrors, diffs between versions or mirrors, "
        "captures as they were served (sandboxed), Atom feeds of new versions; every page also as "
        "JSON under /api/. The archive is only read (it may be on a read-only mount; no lock is taken).",
    )
    add_archive_option(p)
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    p.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default 8000; 0 picks a free one)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 0 when stopped, 1 when the archive cannot be read, 2 usage error."""
    import uvicorn

    from crawler.web import create_app

    if not 0 <= args.port <= 65535:
        raise CommandError(BAD_ARGUMENT, f"--port {args.port} is not a port (0 to 65535)")
    try:
        app = create_app(args.archive)
    except (ArchiveError, OSError) as exc:
        raise CommandError(NO_ARCHIVE, str(exc)) from None
    try:
        info = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
    except OSError as exc:
        raise CommandError(
            BAD_ARGUMENT, f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    # The line tools (and the tests) read the address from: printed once the socket is bound.
    say(args, f"serving {args.archive} at http://{shown}:{port}/ (Ctrl-C stops)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return Exit.OK
