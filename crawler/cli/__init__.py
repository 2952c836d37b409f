"""The `cablearchive` command line: one module per command or family of commands, all thin.

`main` and `build_parser` are in `crawler.cli.main`; the exit codes in `crawler.cli.exits`; what
every command shares (the --archive option, messages, progress) in `crawler.cli.common`.
"""

from crawler.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
