"""Subcommands of `cablearchive`; each module has `register(subparsers)` and stays thin."""
