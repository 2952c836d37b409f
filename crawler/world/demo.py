"""The demo: serve the bundled mirror world on 127.0.0.1, crawl it twice, then list, log, re-clean and diff.

Each step runs a `cablearchive` command, shown as typed; `run_demo` is given the function that
runs one (the command line passes one that starts a child process: Scrapy's reactor runs once
per process).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from archive import Archive, ArchiveError
from crawler.world.server import World

# The mirrors' politeness toward our own server.
CRAWL_SETTINGS = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "CONCURRENT_REQUESTS_PER_DOMAIN=4")

# Runs `cablearchive ARGV`; returns its exit code.
RunCommand = Callable[[list[str]], int]


class DemoError(Exception):
    """The demo cannot run: the bundled world is missing."""


def world_dir() -> Path | None:
    """The bundled world: crawler/examples/world when installed, else examples/world in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "examples" / "world", here.parent / "examples" / "world"):
        if (cand / "world.json").is_file():
            return cand
    return None


def keep_refusal(folder: Path) -> str | None:
    """Why `folder` cannot hold the demo's archive (it must be new or empty), or None."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        return f"--keep {folder}: must be a new or empty folder"
    return None


def most_mirrored(archive: Path) -> str | None:
    """The cable found on the most mirrors (None when no cable has more than one)."""
    try:
        with Archive.open(archive) as arch:
            cables = list(arch.list_cables())
    except ArchiveError:
        return None
    best = max(cables, key=lambda c: (c.n_sources, c.ref), default=None)
    return best.ref if best is not None and best.n_sources > 1 else None


def recleaned_source(archive: Path) -> tuple[str, str] | None:
    """(cable, source key) of a source text the re-clean changed (None when there is none)."""
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


class _Steps:
    """Numbered step titles and the commands run under them, as typed, with what failed."""

    def __init__(self, run: RunCommand, out: TextIO) -> None:
        self._run = run
        self.out = out
        self.failed: list[str] = []

    def title(self, text: str) -> None:
        print(f"\n=== {text}", file=self.out, flush=True)

    def command(
        self, argv: list[str], shown: list[str] | None = None, name: str = "", ok: tuple[int, ...] = (0,)
    ) -> None:
        print("$ cablearchive " + " ".join(shown or argv), file=self.out, flush=True)
        if self._run(argv) not in ok:
            self.failed.append(name or argv[0])


def run_demo(run: RunCommand, keep: Path | None = None, out: TextIO | None = None) -> list[str]:
    """Run every step of the demo; the steps that failed (empty: all worked). DemoError without a world."""
    out = out or sys.stdout
    root = world_dir()
    if root is None:
        raise DemoError("the bundled examples/world folder is missing")
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="cablearchive-demo-")
    archive = keep or Path(tmp.name if tmp is not None else ".") / "archive"
    work = Path(tempfile.mkdtemp(prefix="cablearchive-demo-seeds-"))
    steps = _Steps(run, out)
    world = World(root).start()
    try:
        _crawl_and_show(steps, world, root, work, archive)
    finally:
        world.stop()
        shutil.rmtree(work, ignore_errors=True)
        if tmp is not None:
            tmp.cleanup()
    print(file=out)
    if steps.failed:
        print(f"demo finished with problems in: {', '.join(steps.failed)}", file=sys.stderr)
    else:
        where = (
            f"kept in {archive}" if keep else "in a temporary folder, now removed (use --keep DIR to keep it)"
        )
        print(f"demo finished: the archive was {where}", file=out)
    return steps.failed


def _crawl_and_show(steps: _Steps, world: World, root: Path, work: Path, archive: Path) -> None:
    """The steps, numbered as the demo's output names them."""
    at = ["--archive", str(archive)]
    steps.title("1. A small world of mirror sites, served on 127.0.0.1")
    seeds = work / "seeds.txt"
    lines = ["# the demo's mirror sites: one URL a line"]
    for site in world.sites:
        print(f"  {site:10s} {world.url(site, '/')}", file=steps.out)
        lines.append(world.url(site, "/"))
    seeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    crawl = ["crawl", str(seeds), *at]
    for setting in CRAWL_SETTINGS:
        crawl += ["-s", setting]
    shown = ["crawl", seeds.name, *at, *(f"-s {s}" for s in CRAWL_SETTINGS)]

    steps.title("2. Crawl them into a new archive (robots.txt obeyed, feeds and sitemaps followed)")
    steps.command(crawl, shown, name="first crawl")

    # The viewer mirror publishes a new build of one cable (its second build redacts two names).
    ref = None
    for page in (world.meta.get("variants") or {}).get("build2") or []:
        path = page["path"]
        ref = Path(path).stem
        world.set_page(
            page["site"], path, (root / "variants" / "build2" / page["site"] / path.lstrip("/")).read_bytes()
        )
    steps.title(
        f"3. The viewer mirror publishes a new build of {ref}; crawl again (unchanged pages answer 304)"
    )
    steps.command(crawl, shown, name="second crawl")

    steps.title("4. What the archive holds")
    steps.command(["list", *at])
    if ref:
        steps.title(f"5. The history of {ref}: one version per crawl that changed it")
        steps.command(["log", ref, *at])

    rules = str(root.parent / "rules")
    steps.title(
        "6. A user rule drops the Blogger blog's sign-off; re-clean the stored captures under it (no network)"
    )
    # Some input failing (exit 1) is reported by the re-clean itself and does not stop the demo.
    steps.command(["reclean", "--rules", rules, "--dry-run", *at], name="reclean --dry-run", ok=(0, 1))
    steps.command(["reclean", "--rules", rules, *at], ok=(0, 1))

    never = ["--color", "never"]
    if ref:
        steps.title(f"7. What changed in {ref} between the two builds of the viewer")
        steps.command(["diff", ref, *at, *never])
    recleaned = recleaned_source(archive)
    if recleaned:
        cable, key = recleaned
        steps.title(f"8. What the rule change did to the Blogger mirror of {cable}")
        steps.command(["diff", cable, "--source", key, *at, *never], name="diff --source")
    multi = most_mirrored(archive)
    if multi:
        steps.title(
            f"9. {multi} as each of its mirrors has it, against the preferred text (re-wrapping ignored)"
        )
        steps.command(["diff", multi, "--sources", "--ignore-wrapping", *at, *never], name="diff --sources")
