"""The worker pool behind re-clean: results in order, a worker that dies costs only the item that killed it."""

from __future__ import annotations

import os

import pytest

from archive.workers import OrderedPool, WorkersDidNotStart

POISON = 13


# Run in the worker processes: module-level, so that they can import them.
def _double(batch: list[int]) -> list[int]:
    out = []
    for x in batch:
        if x == POISON:
            os._exit(1)  # as a crash in a C library would end the worker
        out.append(2 * x)
    return out


def _died(x: int) -> int:
    return -x


def _start() -> None:
    pass


def _ready() -> str | None:
    return None


def _not_ready() -> str | None:
    return "no rules here"


def test_results_come_in_order_and_a_killing_item_is_answered_by_died() -> None:
    pool = OrderedPool(2, work=_double, died=_died, initializer=_start, initargs=(), ready=_ready)
    try:
        results = list(pool.run(range(60)))
    finally:
        pool.close()
    # Only the item that kills a worker is lost, and it keeps its place.
    assert results == [-x if x == POISON else 2 * x for x in range(60)]


def test_a_worker_that_cannot_work_says_why_before_any_item() -> None:
    with pytest.raises(WorkersDidNotStart, match="no rules here") as info:
        OrderedPool(2, work=_double, died=_died, initializer=_start, initargs=(), ready=_not_ready)
    assert info.value.reason == "no rules here"
