"""One-thread workers whose results come back to the Twisted reactor as Deferreds.

The crawl keeps blocking work off the reactor thread: the archive pipeline makes every call on
the archive writer in one writer thread, the crawl state answers archive look-ups in one reader
thread. Each is a `Worker`: calls run one at a time, in the order they were made.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

T = TypeVar("T")
P = ParamSpec("P")


def future_to_deferred(fut: concurrent.futures.Future[T]) -> Deferred[T]:
    """A Deferred that fires on the reactor thread when a concurrent future completes."""
    d: Deferred[T] = Deferred()

    def fire(f: concurrent.futures.Future[T]) -> None:
        if d.called:
            return
        exc = f.exception()
        if exc is not None:
            d.errback(exc)
        else:
            d.callback(f.result())

    from twisted.internet import reactor  # not at import time: Scrapy installs the reactor it wants first

    fut.add_done_callback(lambda f: reactor.callFromThread(fire, f))  # type: ignore[attr-defined]
    return d


async def wait_for(fut: concurrent.futures.Future[T]) -> T:
    """Await a concurrent future from a coroutine running on the reactor."""
    return await maybe_deferred_to_future(future_to_deferred(fut))


class Worker:
    """A single thread that runs calls in order."""

    def __init__(self, name: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[T]:
        """Queue a call; its future (no need to wait for it)."""
        return self._pool.submit(fn, *args, **kwargs)

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        """Queue a call; a Deferred that fires with its result on the reactor thread."""
        return future_to_deferred(self._pool.submit(fn, *args, **kwargs))

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a call in the thread and wait for its result."""
        return await maybe_deferred_to_future(self.call(fn, *args, **kwargs))

    def shutdown(self) -> None:
        """Stop taking calls; the ones queued still run."""
        self._pool.shutdown(wait=False)
