"""Per-page work off the reactor: clean the body into cables and find the links to follow.

`analyse` is a pure function of its job, so it gives the same answer in a worker process
as inline; `Analyser` runs it in a process pool (or inline when asked for no workers).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field

import lxml.etree

from cleaners import PageResult, clean_page
from crawler.discovery import DEPTH_COST, REDIRECT, Link, follow_links, leads_on, links_in_tree, sniff_kind


@dataclass
class PageJob:
    """What a worker needs to know about one response."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    content_type: str | None
    sites: frozenset[str]
    clean: bool = True
    links: bool = True
    depth: int = 0  # depth of this page; its links are one level down (or none, see DEPTH_COST)
    max_depth: int = 1 << 30
    seed: bool = False  # a seed's redirect may lead to another site (the seed moved there)


@dataclass
class PageAnalysis:
    """What a worker found: the cleaner's result (None when not cleaned) and the links worth following."""

    result: PageResult | None
    links: list[Link] = field(default_factory=list)
    error: str | None = None


def analyse(job: PageJob) -> PageAnalysis:
    """Clean a response and pick its links; never raises (a failure is reported in `.error`)."""
    result = None
    links: list[Link] = []
    errors = []
    found: list[list[Link]] = []  # the links read from the cleaner's tree, when it parsed one

    def links_from_tree(doc: lxml.etree._Element, text: str) -> None:
        try:
            found.append(links_in_tree(doc, text, job.url))
        except Exception as exc:  # hostile markup must not stop the crawl, nor the cleaning
            errors.append(f"link extraction failed: {type(exc).__name__}: {exc}")
            found.append([])

    # An HTML page is parsed once: its links are read from the tree the cleaner parsed.
    share = job.clean and job.links and sniff_kind(job.body, job.content_type, job.url) == "html"
    if job.clean:
        try:
            result = clean_page(
                job.body, url=job.url, headers=job.headers, on_tree=links_from_tree if share else None
            )
        except Exception as exc:  # the cleaner promises not to raise; a bug must not stop the crawl
            errors.append(f"cleaner failed: {type(exc).__name__}: {exc}")
    if job.links:
        try:
            raw = leads_on(
                job.status,
                job.headers,
                job.body,
                job.url,
                job.content_type,
                page_links=found[0] if found else None,
            )
            links = _unreported(follow_links(raw, job.sites, redirects_anywhere=job.seed), job)
        except Exception as exc:  # hostile markup must not stop the crawl either
            errors.append(f"link extraction failed: {type(exc).__name__}: {exc}")
    return PageAnalysis(result, links, "; ".join(errors) or None)


# Links this process already handed to the crawl, with the least depth they were offered at.
# The crawl's frontier remembers every URL it saw, so offering one again at the same depth or
# deeper changes nothing; dropping it saves pickling hundreds of sidebar links per page.
_REPORTED: dict[str, int] = {}
_REPORTED_MAX = 2_000_000


def _unreported(links: list[Link], job: PageJob) -> list[Link]:
    """The links not yet offered at this depth or less (and not beyond the depth limit)."""
    if len(_REPORTED) > _REPORTED_MAX:
        _REPORTED.clear()
    out = []
    for link in links:
        depth = job.depth + DEPTH_COST[link.kind]
        if depth > job.max_depth:
            continue
        key = link.key or link.url
        # A redirect is always handed on: the crawl checks it against the chain that led here (loops).
        if link.kind != REDIRECT and _REPORTED.get(key, depth + 1) <= depth:
            continue
        _REPORTED[key] = depth
        out.append(link)
    return out


def _watch_parent(parent_pid: int) -> None:
    """Exit the worker when the crawl process is gone (a kill -9 leaves no one to shut the pool down)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _worker_init(parent_pid: int) -> None:
    """Worker start: watch the parent, warm the cleaner's rules so the first page is not slow."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    try:
        clean_page(b"<html><body><p>warm-up</p></body></html>", url="http://warm-up.invalid/")
    except Exception:  # warm-up only; a real page will report any problem
        pass


def default_workers() -> int:
    """Worker processes by default: one per core, less the one the reactor runs on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cores - 1))


class Analyser:
    """Runs `analyse` in a pool of worker processes; `workers=0` runs it inline."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.restarts = 0
        if workers > 0:
            self._start()

    def _start(self) -> None:
        # spawn, not fork: the crawl process runs threads (reactor, archive writer) that fork would copy mid-state.
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )

    def submit(self, job: PageJob) -> concurrent.futures.Future[PageAnalysis]:
        """Start analysing a page; the future never fails (errors come back in `.error`)."""
        pool = self._pool
        if pool is None:
            fut: concurrent.futures.Future[PageAnalysis] = concurrent.futures.Future()
            fut.set_result(analyse(job))
            return fut
        try:
            inner = pool.submit(analyse, job)
        except concurrent.futures.BrokenExecutor:
            self._restart(pool)
            return self.submit(job)
        except RuntimeError:  # shut down: the crawl is closing
            fut = concurrent.futures.Future()
            fut.set_result(PageAnalysis(None, [], "not cleaned: the crawl was stopping"))
            return fut
        outer: concurrent.futures.Future[PageAnalysis] = concurrent.futures.Future()

        def done(f: concurrent.futures.Future[PageAnalysis]) -> None:
            try:
                outer.set_result(f.result())
            except concurrent.futures.BrokenExecutor:
                # A worker died (out of memory, a crash in a C library) on this or another page.
                self._restart(pool)
                outer.set_result(
                    PageAnalysis(None, [], "cleaning worker died while on this page; not cleaned")
                )
            except concurrent.futures.CancelledError:
                outer.set_result(PageAnalysis(None, [], "not cleaned: the crawl was stopping"))
            except Exception as exc:
                outer.set_result(PageAnalysis(None, [], f"cleaning failed: {type(exc).__name__}: {exc}"))

        inner.add_done_callback(done)
        return outer

    def _restart(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """Replace a broken pool (once, however many pages saw it break)."""
        with self._lock:
            if self._pool is not broken:
                return
            broken.shutdown(wait=False, cancel_futures=True)
            self.restarts += 1
            self._start()

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
