"""The worker pools that keep lookups and connection tests off the event loop (controller/workers.py).

In:  blocking functions (sleeps, an Event wait) run through WorkerPool; coroutines through InFlight.
Out: results, DeadlineExceeded for a call past its deadline (its thread counted busy until it ends),
     the event loop staying free meanwhile, and at most one task per key.
Faked: nothing (real threads and a real event loop).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from impala_copy.controller.workers import DeadlineExceeded, InFlight, WorkerPool


async def test_a_blocking_call_runs_in_the_pool_and_the_loop_stays_free() -> None:
    pool = WorkerPool("test", 1)
    release = threading.Event()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while not release.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    call = asyncio.create_task(pool.run(lambda: release.wait(5) and "done", deadline_seconds=10))
    await asyncio.sleep(0.2)
    assert pool.saturated
    assert ticks > 5  # the loop kept running while the thread blocked
    release.set()
    assert await call == "done"
    await ticker
    assert pool.busy == 0
    pool.shutdown()


async def test_a_call_past_its_deadline_is_abandoned_and_counted_busy_until_it_ends() -> None:
    pool = WorkerPool("test", 2)
    release = threading.Event()
    with pytest.raises(DeadlineExceeded, match="no result within 0s"):
        await pool.run(lambda: release.wait(5), deadline_seconds=0.1)
    assert pool.busy == 1
    release.set()
    deadline = time.monotonic() + 5
    while pool.busy and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert pool.busy == 0
    pool.shutdown()


async def test_one_task_per_key() -> None:
    tasks = InFlight("test")
    gate = asyncio.Event()
    runs: list[str] = []

    async def work(name: str) -> None:
        runs.append(name)
        await gate.wait()

    assert tasks.start(("ns", "a"), work("first"))
    assert not tasks.start(("ns", "a"), work("second"))  # discarded: one is running
    assert tasks.start(("ns", "b"), work("other"))
    await asyncio.sleep(0)
    assert ("ns", "a") in tasks
    assert len(tasks) == 2
    gate.set()
    await asyncio.sleep(0.05)
    assert ("ns", "a") not in tasks
    assert sorted(runs) == ["first", "other"]
    assert tasks.start(("ns", "a"), work("again"))
    tasks.cancel(("ns", "a"))
    await tasks.close()
    assert len(tasks) == 0
