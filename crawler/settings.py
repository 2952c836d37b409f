"""Scrapy settings of the cablearchive crawler: polite by default, every response kept.

Any of these can be overridden with `-s NAME=VALUE` on `cablearchive crawl` or `scrapy crawl`.
The CABLEARCHIVE_* settings are the crawler's own.
"""

import os
from pathlib import Path


def archive_dir(setting: str | None = None) -> str:
    """The archive folder CABLEARCHIVE_ARCHIVE names: the setting, else $CABLEARCHIVE_DIR, else ./archive."""
    return setting or os.environ.get("CABLEARCHIVE_DIR") or "archive"


def _source_folders() -> tuple[Path, list[Path]]:
    """The folder holding this program's packages, and the folders of its source that are no archive."""
    root = Path(__file__).resolve().parent.parent
    folders = [root / name for name in ("archive", "cleaners", "crawler")]
    if (root / "pyproject.toml").is_file():  # a source checkout: its own folders too
        folders += [root / name for name in ("tests", "docs", "examples", "benchmarks", "scripts")]
    return root, folders


def source_tree_refusal(path: str) -> str | None:
    """Why `path` cannot be an archive folder (it is part of this program's source), or None.

    Run from a checkout, the default ./archive is the `archive` package itself: an archive
    there would write into the source, and the package folder reads as "not an archive".
    """
    where = Path(path).expanduser().resolve()
    root, folders = _source_folders()
    hit = next((f for f in folders if where == f or f in where.parents), None)
    if hit is None and where == root and (root / "pyproject.toml").is_file():
        hit = root
    if hit is None:
        return None
    return (
        f"archive folder {path} is {hit}, a folder of cablearchive's own source, not an archive: "
        "name one with --archive DIR, $CABLEARCHIVE_DIR or -s CABLEARCHIVE_ARCHIVE=DIR"
    )


BOT_NAME = "cablearchive"
SPIDER_MODULES = ["crawler.spiders"]
# `scrapy crawl mirrors` refuses a missing seeds file, a bad setting and the source tree as archive.
COMMANDS_MODULE = "crawler.commands"
NEWSPIDER_MODULE = "crawler.spiders"

# --- the crawler's own settings -------------------------------------------------------------
# Archive folder; empty means $CABLEARCHIVE_DIR, else ./archive.
CABLEARCHIVE_ARCHIVE = ""
# How site owners can reach whoever runs the crawl (URL or mailto:); goes into the User-Agent.
# Empty means $CABLEARCHIVE_CONTACT, else no contact.
CABLEARCHIVE_CONTACT = ""
# Links and redirects that leave a seed's host for a private, loopback or link-local address
# are refused unless this is True (seeds themselves are trusted wherever they point).
CABLEARCHIVE_ALLOW_PRIVATE = False
# Commit to the archive every this many pages or seconds, whichever comes first; a kill
# loses at most that much work, which --resume fetches again.
CABLEARCHIVE_COMMIT_PAGES = 200
CABLEARCHIVE_COMMIT_SECONDS = 30.0
# Distributed crawl (cablearchive crawl --redis / cablearchive worker): seconds a worker holds a
# URL before it goes back to the queue (renewed while the worker lives); a worker closes its
# spool WARC file every this many pages or seconds; each claim of a site keeps it for its
# delay plus this margin (besides the delay kept after each answer).
CABLEARCHIVE_LEASE_SECONDS = 60.0
CABLEARCHIVE_SPOOL_PAGES = 100
CABLEARCHIVE_SPOOL_SECONDS = 2.0
CABLEARCHIVE_CLAIM_MARGIN = 0.0
# Keep the workers' spool files once the coordinator archived them (default: removed).
CABLEARCHIVE_SPOOL_KEEP = False
# Worker processes that clean pages and find their links; -1 picks one per spare core, 0 cleans inline.
CABLEARCHIVE_CLEAN_WORKERS = -1
# Seconds to wait for another writer to release the archive; 0 refuses at once.
CABLEARCHIVE_LOCK_WAIT = 0.0
# Retries wait BACKOFF * 2**(attempt-1) seconds (or what Retry-After asks, up to RETRY_AFTER_MAX).
CABLEARCHIVE_RETRY_BACKOFF = 1.0
CABLEARCHIVE_RETRY_MAX_DELAY = 60.0
CABLEARCHIVE_RETRY_AFTER_MAX = 300.0
# Live progress on stderr (the cablearchive command turns it on; `scrapy crawl` logs instead).
CABLEARCHIVE_PROGRESS = False
# Seconds between plain progress lines when stderr is not a terminal; 0 turns them off.
CABLEARCHIVE_PROGRESS_INTERVAL = 10.0

# --- politeness -----------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
# Per site (see MirrorsSpider: the download slot is the site, host and port), not per IP.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# USER_AGENT is set from CABLEARCHIVE_CONTACT by the spider unless given explicitly.
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

# --- limits and retries ---------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30
# Cable pages are tens of KB; also enforced after decompression (gzip bombs).
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
URLLENGTH_LIMIT = 2083
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Redirect and refresh hops followed from one URL (the spider counts them).
REDIRECT_MAX_TIMES = 10

# --- every response reaches the spider and is archived ---------------------------------------
HTTPERROR_ALLOW_ALL = True
# Scrapy starts this many tasks per response to handle what the callback yields (a page gives
# one item and a few requests); its default of 100 costs more CPU than the page itself.
CONCURRENT_ITEMS = 8

# The crawler keeps its own list of seen URLs (it survives a kill, see crawler.frontier), so
# Scrapy's duplicate filter is off.
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.SafetyMiddleware": 40,
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.ReportingRobotsTxtMiddleware": 100,
    "crawler.middlewares.ConditionalRequestMiddleware": 450,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # Every answer, a redirect included, is archived as it came; the spider follows redirects
    # and refreshes (so a 304 re-crawl follows them from the stored copy too).
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.FetchTimeMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    # Depth is counted by the crawler itself: pagination, feeds and sitemaps do not cost a level.
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}
# The crawl's shared state (crawler.state.CrawlState); the middlewares and the pipeline find it
# with crawler.get_extension(CrawlState).
EXTENSIONS = {
    "crawler.state.CrawlState": 0,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ArchivePipeline": 300,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"
