"""`scrapy crawl mirrors -a seeds=FILE`: Scrapy's crawl command, with the checks `cablearchive crawl` makes.

Scrapy's own command would start the mirrors spider on a missing seeds file, on the source
tree's `archive/` package folder (the default ./archive, run from the project folder) or with
`-s DOWNLOAD_DELAY=abc`, and exit 0 having done nothing. This one refuses each of them with a
usage error (exit 2) naming the input, and exits 1 when the crawl could not run or some input
failed, 130 when it was interrupted, like `cablearchive crawl`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError
from scrapy.utils.conf import arglist_to_dict

from crawler.runner import SettingError, check_settings
from crawler.settings import archive_dir, source_tree_refusal
from crawler.spiders.mirrors import MirrorsSpider
from crawler.state import CrawlState

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCrawl):
    """Scrapy's `crawl`, refusing a mirrors crawl that cannot work instead of doing nothing."""

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """Check the mirrors spider's seeds, archive and settings; crawl; exit by what happened."""
        if len(args) != 1 or args[0] != MirrorsSpider.name:
            super().run(args, opts)
            return
        assert self.settings is not None and self.crawler_process is not None
        seeds = opts.spargs.get("seeds")
        if not seeds:
            raise UsageError("the mirrors spider needs a seeds file: -a seeds=FILE", print_help=False)
        if not os.path.isfile(seeds):
            what = "is a folder" if os.path.isdir(seeds) else "no such file"
            raise UsageError(f"seeds file {seeds}: {what}", print_help=False)
        refusal = source_tree_refusal(archive_dir(self.settings.get("CABLEARCHIVE_ARCHIVE")))
        if refusal:
            raise UsageError(refusal, print_help=False)
        try:
            check_settings(self.settings, arglist_to_dict(opts.set))
        except SettingError as exc:
            raise UsageError(str(exc), print_help=False) from None
        crawler = self._create_crawler(MirrorsSpider)
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        try:
            state = crawler.get_extension(CrawlState)
        except RuntimeError:  # the crawl stopped before its extensions were built
            state = None
        if state is None:
            self.exitcode = 1
            return
        report = state.report
        if report.fatal:
            print(f"scrapy crawl {MirrorsSpider.name}: {report.fatal}", file=sys.stderr)
        for line in report.saved_lines():
            print(line, file=sys.stderr)
        if report.finish_reason == "shutdown":
            self.exitcode = 130
        elif report.failed or self.crawler_process.bootstrap_failed:
            self.exitcode = 1
