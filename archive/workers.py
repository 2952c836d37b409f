"""A pool of worker processes that works through items in order, a bounded number at a time.

Items go to the workers in small batches; results come back in the order the items were
given. A worker that dies (a crash in a C library, out of memory) loses the batches in
flight: their items are retried one at a time, each alone in flight, so that an item that
kills a worker on its own twice is known, and gets the answer `died(item)` instead of
stopping the run, while the items around it are cleaned as usual.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

# Items per task sent to a worker, and tasks in flight per worker.
TASK_SIZE = 8
IN_FLIGHT = 4

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    """Worker processes by default: one per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class WorkersDidNotStart(RuntimeError):
    """The workers cannot work: `reason` is what one answered; None when the processes died starting."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "the worker processes could not start")
        self.reason = reason


class OrderedPool(Generic[T, R]):
    """`jobs` spawned worker processes running `work(batch) -> results`, one result per item, in order.

    Every function given is called in the workers, so it must be importable (defined at a
    module's top level). `initializer(*initargs)` runs once in each worker; `ready()` is a
    no-op task answering None, or the reason the worker cannot work, which is raised here
    as WorkersDidNotStart before any item is sent.
    """

    def __init__(
        self,
        jobs: int,
        *,
        work: Callable[[list[T]], list[R]],
        died: Callable[[T], R],
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        ready: Callable[[], str | None],
    ) -> None:
        self.jobs = jobs
        self.work, self.died = work, died
        self.initializer, self.initargs, self.ready = initializer, initargs, ready
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._start()
        self._wait_ready()

    def _start(self) -> None:
        # spawn, not fork: the parent holds an open index connection, a lock and maybe a
        # progress thread, none of which a child should inherit.
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=self.initializer,
            initargs=self.initargs,
        )

    def _wait_ready(self) -> None:
        """Start every worker now and fail clearly if they cannot start."""
        assert self.pool is not None
        try:
            problems = [fut.result() for fut in [self.pool.submit(self.ready) for _ in range(self.jobs)]]
        except concurrent.futures.process.BrokenProcessPool:
            self.close()
            raise WorkersDidNotStart(None) from None
        problem = next((p for p in problems if p), None)
        if problem:
            self.close()
            raise WorkersDidNotStart(problem)

    def close(self) -> None:
        """Stop the workers."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def run(self, items: Iterable[T]) -> Iterator[R]:
        """Work through the items, yielding their results in the order given (taken lazily from `items`)."""
        todo = iter(items)
        # Tasks in flight, oldest first: (future, batch, sent alone to find which item kills a worker).
        flight: deque[tuple[concurrent.futures.Future[list[R]], list[T], bool]] = deque()
        # Items lost when a worker died, in order, with how often each killed a worker while
        # alone in flight: they go one at a time, alone, so that a crash names its item.
        suspects: deque[tuple[T, int]] = deque()

        def submit_next() -> bool:
            assert self.pool is not None
            if suspects:
                if flight:
                    return False
                item = suspects[0][0]
                flight.append((self.pool.submit(self.work, [item]), [item], True))
                return True
            batch = []
            for item in todo:
                batch.append(item)
                if len(batch) >= TASK_SIZE:
                    break
            if not batch:
                return False
            flight.append((self.pool.submit(self.work, batch), batch, False))
            return True

        def fill() -> None:
            while len(flight) < self.jobs * IN_FLIGHT and submit_next():
                pass

        fill()
        while flight:
            fut, batch, alone = flight.popleft()
            try:
                done = fut.result()
            except concurrent.futures.process.BrokenProcessPool:
                # Every task in flight is lost; the pool starts again.
                self.close()
                self._start()
                if alone:
                    item, crashes = suspects.popleft()
                    if crashes >= 1:
                        yield self.died(item)
                    else:
                        suspects.appendleft((item, crashes + 1))
                else:
                    lost = [batch] + [b for _f, b, _alone in flight]
                    flight.clear()
                    suspects.extend((item, 0) for b in lost for item in b)
                fill()
                continue
            if alone:
                suspects.popleft()
            fill()
            yield from done
