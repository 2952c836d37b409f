"""`cablearchive demo`: serve the bundled mirror world on 127.0.0.1, crawl it twice, then list, log, re-clean and diff."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from crawler.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE

# The cable whose page the demo's cablegate mirror republishes between the two crawls
# (its second build redacts two names), and the mirrors' politeness toward our own server.
CRAWL_SETTINGS = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "CONCURRENT_REQUESTS_PER_DOMAIN=4")


def world_dir() -> Path | None:
    """The bundled world: crawler/examples/world when installed, else examples/world in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "examples" / "world", here.parent / "examples" / "world"):
        if (cand / "world.json").is_file():
            return cand
    return None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="crawl a bundled mirror world served on 127.0.0.1, then list, log, re-clean and diff",
        description="Serve a small world of mirror sites (a cablegate viewer mirror, a WordPress blog, a "
        "Blogger blog) on 127.0.0.1, crawl it into a fresh archive, let the viewer mirror publish a new "
        "build of one cable, crawl again (only changes are fetched), and show list, log, reclean and diff.",
    )
    p.add_argument(
        "--keep", metavar="DIR", help="build the archive in DIR (must be new or empty) and keep it"
    )
    p.set_defaults(func=run)


def _step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _crawl(seeds: Path, archive: Path) -> int:
    """Run `cablearchive crawl` in a child process (Scrapy's reactor runs once per process)."""
    cmd = [sys.executable, "-m", "crawler.cli", "crawl", str(seeds), "--archive", str(archive)]
    for setting in CRAWL_SETTINGS:
        cmd += ["-s", setting]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    print(
        f"$ cablearchive crawl {seeds.name} --archive {archive} "
        + " ".join(f"-s {s}" for s in CRAWL_SETTINGS),
        flush=True,
    )
    return subprocess.run(cmd, env=env, check=False).returncode


def _command(argv: list[str]) -> int:
    """Run another cablearchive command in this process, showing it as typed."""
    from crawler.cli import main

    print("$ cablearchive " + " ".join(argv), flush=True)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse on a command that does not exist (yet)
        code = int(exc.code or 0)
    sys.stdout.flush()
    return code


def _most_mirrored(archive: Path) -> str | None:
    """The cable found on the most mirrors (None when the archive has no cable)."""
    from archive import Archive, ArchiveError

    try:
        with Archive.open(archive) as arch:
            cables = list(arch.list_cables())
    except ArchiveError:
        return None
    best = max(cables, key=lambda c: (c.n_sources, c.ref), default=None)
    return best.ref if best is not None and best.n_sources > 1 else None


def _recleaned(archive: Path) -> tuple[str, str] | None:
    """(cable, source key) of a source text the re-clean changed (None when there is none)."""
    from archive import Archive, ArchiveError

    try:
        with Archive.open(archive) as arch:
            for summary in arch.list_cables():
                rec = arch.cable(summary.ref)
                versions = rec.versions
                if len(versions) < 2 or not versions[-1].message.startswith("reclean"):
                    continue
                new, old = versions[-1].number, versions[-2].number
                for key in rec.source_keys(new):
                    if key in rec.source_keys(old) and rec.source(key, new)[0] != rec.source(key, old)[0]:
                        return summary.ref, key
    except ArchiveError:
        return None
    return None


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every step worked."""
    from crawler.worldserver import World

    root = world_dir()
    if root is None:
        print("cablearchive demo: the bundled examples/world folder is missing", file=sys.stderr)
        return EXIT_PARTIAL
    if args.keep:
        archive = Path(args.keep)
        if archive.exists() and (not archive.is_dir() or any(archive.iterdir())):
            print(f"cablearchive demo: --keep {archive}: must be a new or empty folder", file=sys.stderr)
            return EXIT_USAGE
        tmp = None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cablearchive-demo-")
        archive = Path(tmp.name) / "archive"
    work = Path(tempfile.mkdtemp(prefix="cablearchive-demo-seeds-"))
    failed: list[str] = []
    world = World(root).start()
    try:
        _step("1. A small world of mirror sites, served on 127.0.0.1")
        seeds = work / "seeds.txt"
        lines = ["# the demo's mirror sites: one URL a line"]
        for site in world.sites:
            print(f"  {site:10s} {world.url(site, '/')}")
            lines.append(world.url(site, "/"))
        seeds.write_text("\n".join(lines) + "\n", encoding="utf-8")

        _step("2. Crawl them into a new archive (robots.txt obeyed, feeds and sitemaps followed)")
        if _crawl(seeds, archive) != 0:
            failed.append("first crawl")

        variant = (world.meta.get("variants") or {}).get("build2") or []
        ref = None
        for page in variant:
            path = page["path"]
            ref = Path(path).stem
            body = (root / "variants" / "build2" / page["site"] / path.lstrip("/")).read_bytes()
            world.set_page(page["site"], path, body)
        _step(
            f"3. The viewer mirror publishes a new build of {ref}; crawl again (unchanged pages answer 304)"
        )
        if _crawl(seeds, archive) != 0:
            failed.append("second crawl")

        _step("4. What the archive holds")
        if _command(["list", "--archive", str(archive)]) != 0:
            failed.append("list")
        if ref:
            _step(f"5. The history of {ref}: one version per crawl that changed it")
            if _command(["log", ref, "--archive", str(archive)]) != 0:
                failed.append("log")

        rules = root.parent / "rules"
        _step(
            "6. A user rule drops the Blogger blog's sign-off; re-clean the stored captures under it (no network)"
        )
        # Call site of the re-clean step (archive.reclean), through its command.
        if _command(["reclean", "--rules", str(rules), "--dry-run", "--archive", str(archive)]) not in (0, 1):
            failed.append("reclean --dry-run")
        if _command(["reclean", "--rules", str(rules), "--archive", str(archive)]) not in (0, 1):
            failed.append("reclean")

        if ref:
            _step(f"7. What changed in {ref} between the two builds of the viewer")
            # Call site of the diff step (archive.diff), through its command.
            if _command(["diff", ref, "--archive", str(archive), "--color", "never"]) != 0:
                failed.append("diff")
        recleaned = _recleaned(archive)
        if recleaned:
            cable, key = recleaned
            _step(f"8. What the rule change did to the Blogger mirror of {cable}")
            if _command(["diff", cable, "--source", key, "--archive", str(archive), "--color", "never"]) != 0:
                failed.append("diff --source")
        multi = _most_mirrored(archive)
        if multi:
            _step(
                f"9. {multi} as each of its mirrors has it, against the preferred text (re-wrapping ignored)"
            )
            # Call site of the diff step (archive.diff, across sources), through its command.
            argv = [
                "diff",
                multi,
                "--sources",
                "--ignore-wrapping",
                "--archive",
                str(archive),
                "--color",
                "never",
            ]
            if _command(argv) != 0:
                failed.append("diff --sources")
    finally:
        world.stop()
        for f in work.iterdir():
            f.unlink()
        work.rmdir()
        if tmp is not None:
            tmp.cleanup()
    print()
    if failed:
        print(f"demo finished with problems in: {', '.join(failed)}", file=sys.stderr)
        return EXIT_PARTIAL
    where = (
        f"kept in {archive}"
        if args.keep
        else "in a temporary folder, now removed (use --keep DIR to keep it)"
    )
    print(f"demo finished: the archive was {where}")
    return EXIT_OK
