"""What is left to crawl: the targets, the URLs already seen, the sites in scope, the limits.

`Frontier.restore` rebuilds it from the resume journal (crawler.journal) of an interrupted crawl.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from crawler.discovery import DEPTH_COST, PRIORITY, REDIRECT, Link, site_key, url_key
from crawler.journal import Captured, Done, Journal, Scheduled, SiteAdded


@dataclass(frozen=True)
class Target:
    """A URL to fetch: how it was found and at what depth."""

    url: str
    kind: str
    depth: int
    seed: bool = False
    probe: bool = False
    # The URLs whose redirects (3xx, refresh) led here, first one first: loops are caught on it
    # and a failure is named after the URL that was asked for. Not journalled: a resumed hop
    # starts a chain of its own.
    chain: tuple[str, ...] = ()

    @property
    def origin(self) -> str:
        """The URL this target stands in for: the first of its redirect chain, or its own."""
        return self.chain[0] if self.chain else self.url

    @property
    def priority(self) -> int:
        """Scheduler priority: likely cables first, shallower first among equals."""
        return PRIORITY[self.kind] * 100 - min(self.depth, 99)

    def record(self) -> Scheduled:
        """The journal record saying this target was scheduled."""
        return Scheduled(self.url, self.kind, self.depth, self.seed, self.probe)

    @classmethod
    def of(cls, rec: Scheduled) -> Target:
        """The target a journal record scheduled."""
        return cls(rec.url, rec.kind, rec.depth, rec.seed, rec.probe)


class Frontier:
    """Which URLs are known, which sites are in scope, and the depth and page limits."""

    def __init__(self, max_depth: int, max_pages: int | None) -> None:
        self.max_depth = max_depth
        self.max_pages = max_pages
        self.sites: set[str] = set()
        self.seen: set[str] = set()
        self.done: set[str] = set()
        # Requests scheduled so far, counted against --max-pages: seeds, links, redirect hops,
        # feeds, sitemaps and the /sitemap.xml probes (robots.txt is not a target: see docs).
        self.pages = 0
        self.dropped_for_limit = 0
        self.disallowed = 0  # links not scheduled because robots.txt disallows them

    def add_site(self, url: str) -> str | None:
        """Bring the site of `url` into scope; returns its key."""
        key = site_key(url)
        if key:
            self.sites.add(key)
        return key

    def full(self) -> bool:
        """True when --max-pages pages have been scheduled."""
        return self.max_pages is not None and self.pages >= self.max_pages

    def admit(self, target: Target, key: str | None = None) -> bool:
        """Record `target` as scheduled if it is new, within depth and within the page limit."""
        key = key or url_key(target.url)
        if key in self.seen:
            return False
        if target.depth > self.max_depth and not target.seed:
            return False
        if self.full():
            self.dropped_for_limit += 1
            return False
        self.pages += 1
        self.seen.add(key)
        return True

    def mark_seen(self, url: str) -> None:
        """A URL reached by a redirect: do not schedule it again."""
        self.seen.add(url_key(url))

    def take(self) -> bool:
        """Count one more fetch that is not a new target (a refetch); False when the limit is reached."""
        if self.full():
            self.dropped_for_limit += 1
            return False
        self.pages += 1
        return True

    def children(
        self,
        links: Iterable[Link],
        parent_depth: int,
        allowed: Callable[[str], bool] | None = None,
        parent: Target | None = None,
    ) -> Iterator[Target]:
        """The new targets among a page's links, depth by what following each costs.

        `allowed` (robots.txt) is asked about new URLs only; a refused one is remembered as seen.
        A redirect from `parent` continues its chain (and is a seed's or a probe's if the parent was).
        """
        for link in links:
            key = link.key or url_key(link.url)
            depth = parent_depth + DEPTH_COST[link.kind]
            if key in self.seen or depth > self.max_depth:
                continue
            if allowed is not None and not allowed(link.url):
                self.seen.add(key)
                self.disallowed += 1
                continue
            if link.kind == REDIRECT and parent is not None:
                target = Target(
                    link.url, link.kind, depth, parent.seed, parent.probe, (*parent.chain, parent.url)
                )
            else:
                target = Target(link.url, link.kind, depth)
            if self.admit(target, key):
                yield target

    def restore(self, journal: Journal, captured: Captured | None = None) -> list[Target]:
        """Load an interrupted crawl's state; returns the targets still to fetch, in journal order.

        `captured(run, urls)` says which pages of a batch cut short by a kill have a capture in
        the archive from that run (see crawler.journal.replay).
        """
        scheduled: dict[str, Target] = {}
        done: list[str] = []
        for rec in journal.replay(captured):
            if isinstance(rec, Scheduled):
                scheduled.setdefault(url_key(rec.url), Target.of(rec))
            elif isinstance(rec, Done):
                done.append(rec.url)
                if rec.final_url is not None:
                    done.append(rec.final_url)  # the URL a redirect ended at
            elif isinstance(rec, SiteAdded):
                self.sites.add(rec.site)
        self.done.update(url_key(u) for u in done)
        self.seen.update(scheduled)
        self.seen.update(self.done)
        self.pages = len(scheduled)
        return [t for key, t in scheduled.items() if key not in self.done]
