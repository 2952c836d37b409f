"""Running a crawl from Python: settings from crawler.settings plus overrides, one Scrapy process."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import BaseSettings, Settings

from archive import Archive, ArchiveError
from archive.layout import Layout
from crawler.report import CrawlReport
from crawler.settings import source_tree_refusal
from crawler.spiders.mirrors import MirrorsSpider
from crawler.state import DEFAULT_DEPTH, CrawlState


class SettingError(ValueError):
    """A -s NAME=VALUE that is not of that form."""


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """`NAME=VALUE` strings (as given to -s) as a dict; SettingError on a malformed one."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name or not name.replace("_", "").isalnum() or not name[0].isalpha():
            raise SettingError(f"-s {pair!r}: expected NAME=VALUE (a Scrapy or CABLEARCHIVE_* setting)")
        out[name] = value
    return out


def _default(name: str) -> object:
    """The default of a setting: the crawler's, else Scrapy's, else None (a setting unknown to both)."""
    from scrapy.settings import default_settings

    import crawler.settings as ours

    return getattr(ours, name, getattr(default_settings, name, None))


def check_settings(settings: BaseSettings, names: Iterable[str]) -> None:
    """SettingError naming the first of `names` whose value is not of its setting's type.

    Scrapy reads a setting when a component first needs it, deep in a running crawl; a bad
    value given with -s is found here, before anything starts.
    """
    for name in names:
        default = _default(name)
        value = settings.get(name)
        try:
            if isinstance(default, bool):
                kind = "true or false"
                settings.getbool(name)
            elif isinstance(default, (int, float)):
                kind = "a number"
                settings.getfloat(name)
            elif isinstance(default, dict):
                kind = "a JSON object"
                settings.getdict(name)
            else:
                continue
        except (ValueError, TypeError):
            raise SettingError(f"-s {name}={value!r}: {name} must be {kind}") from None


def build_settings(overrides: dict[str, str] | None = None, archive: str | None = None) -> Settings:
    """crawler.settings with the command line's overrides on top (as `scrapy crawl -s` would)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    if archive:
        settings.set("CABLEARCHIVE_ARCHIVE", archive, priority="cmdline")
    for name, value in (overrides or {}).items():
        try:
            settings.set(name, value, priority="cmdline")
        except ValueError as exc:  # a dict setting given text that is not JSON
            raise SettingError(f"-s {name}={value!r}: {exc}") from None
    check_settings(settings, overrides or {})
    return settings


def run_crawl(
    seeds: str,
    archive: str,
    *,
    depth: int = DEFAULT_DEPTH,
    max_pages: int | None = None,
    resume: bool = False,
    overrides: dict[str, str] | None = None,
    progress: bool = True,
) -> CrawlReport:
    """Crawl from a seeds file into an archive and return the report (runs the Twisted reactor once)."""
    report = CrawlReport()
    refusal = source_tree_refusal(archive)
    if refusal:
        report.fatal = refusal
        return report
    try:
        arch = Archive.open_or_create(archive)
        arch.close()
    except (ArchiveError, OSError) as exc:
        report.fatal = f"archive {archive}: {exc}"
        return report
    settings = build_settings(overrides, archive)
    if not progress and "CABLEARCHIVE_PROGRESS_INTERVAL" not in (overrides or {}):
        settings.set("CABLEARCHIVE_PROGRESS_INTERVAL", 0, priority="cmdline")
    settings.set("CABLEARCHIVE_PROGRESS", progress, priority="cmdline")
    # Scrapy's own log goes to a file in the archive's state folder, unless asked otherwise:
    # the terminal gets the progress line and the report.
    if settings.getpriority("LOG_FILE") in (None, 0, 10, 20) and "LOG_FILE" not in (overrides or {}):
        log_dir = Path(Layout.at(archive).crawl_state_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        settings.set("LOG_FILE", str(log_dir / "scrapy.log"), priority="cmdline")
        settings.set("LOG_FILE_APPEND", True, priority="cmdline")
        # That file sits on the archive's disk: when it fills, logging must not print a traceback
        # for every line (the crawl names the full disk in its own message).
        logging.raiseExceptions = False
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(MirrorsSpider)
    process.crawl(
        crawler, seeds=os.path.abspath(seeds), depth=depth, max_pages=max_pages or "", resume=resume
    )
    process.start()
    try:
        state = crawler.get_extension(CrawlState)
    except RuntimeError:  # the crawl stopped before its extensions were built
        state = None
    if state is None:
        report.fatal = f"the crawl did not start (see the log in {settings.get('LOG_FILE') or 'stderr'})"
        return report
    state.report.full_path = str(state.report_path) if state.report_path else None
    return state.report
