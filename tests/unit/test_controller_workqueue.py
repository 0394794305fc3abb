"""The work queue: each key once in the queue, never handled twice at once, re-added after a change
during handling, delayed re-checks, failures retried with backoff.

In:  keys added from tasks; handlers that record calls, block, fail or ask for a re-check.
Out: the order and count of handler calls.
Faked: nothing (asyncio only; delays are fractions of a second).
"""

from __future__ import annotations

import asyncio

from impala_copy.controller.core import workqueue
from impala_copy.controller.core.workqueue import WorkQueue


async def test_keys_added_many_times_are_handled_once() -> None:
    calls: list[str] = []

    async def handle(key: str) -> None:
        calls.append(key)

    queue: WorkQueue[str] = WorkQueue(handle, workers=2)
    for key in ["a", "b", "a", "a", "b"]:
        queue.add(key)
    queue.start()
    await asyncio.wait_for(queue.wait_idle(), 5)
    await queue.stop()
    assert sorted(calls) == ["a", "b"]
    assert queue.handled == 2


async def test_a_key_is_never_handled_twice_at_once_and_a_change_during_handling_is_not_lost() -> None:
    running: set[str] = set()
    overlaps: list[str] = []
    calls: list[str] = []
    gate = asyncio.Event()

    async def handle(key: str) -> None:
        if key in running:
            overlaps.append(key)
        running.add(key)
        calls.append(key)
        if len(calls) == 1:
            await gate.wait()
        running.discard(key)

    queue: WorkQueue[str] = WorkQueue(handle, workers=4)
    queue.start()
    queue.add("a")
    while not calls:
        await asyncio.sleep(0.01)
    queue.add("a")  # while "a" is being handled
    queue.add("a")
    await asyncio.sleep(0.05)
    assert calls == ["a"]
    gate.set()
    await asyncio.wait_for(queue.wait_idle(), 5)
    await queue.stop()
    assert calls == ["a", "a"]
    assert overlaps == []


async def test_recheck_and_backoff() -> None:
    calls: list[str] = []

    async def handle(key: str) -> float | None:
        calls.append(key)
        if key == "later" and calls.count("later") == 1:
            return 0.05
        if key == "boom" and calls.count("boom") < 3:
            raise RuntimeError("API down")
        return None

    original = workqueue.BACKOFF_BASE
    workqueue.BACKOFF_BASE = 0.01
    try:
        queue: WorkQueue[str] = WorkQueue(handle, workers=2)
        queue.start()
        queue.add("later")
        queue.add("boom")
        for _ in range(200):
            if calls.count("later") == 2 and calls.count("boom") == 3:
                break
            await asyncio.sleep(0.01)
        await queue.stop()
    finally:
        workqueue.BACKOFF_BASE = original
    assert calls.count("later") == 2
    assert calls.count("boom") == 3


async def test_earliest_delay_wins_and_forget_cancels() -> None:
    calls: list[str] = []

    async def handle(key: str) -> None:
        calls.append(key)

    queue: WorkQueue[str] = WorkQueue(handle, workers=1)
    queue.start()
    queue.add_after("k", 10)
    queue.add_after("k", 0.02)
    queue.add_after("gone", 0.02)
    queue.forget("gone")
    assert queue.scheduled == 1
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    await queue.stop()
    assert calls == ["k"]


async def test_paused_workers_keep_the_keys_added_and_the_interrupted_one_for_the_next_start() -> None:
    calls: list[str] = []
    started = asyncio.Event()
    block = asyncio.Event()

    async def handle(key: str) -> None:
        calls.append(key)
        if key == "slow" and calls.count("slow") == 1:
            started.set()
            await block.wait()  # interrupted by the pause

    queue: WorkQueue[str] = WorkQueue(handle, workers=1)
    queue.start()
    queue.add("slow")
    await asyncio.wait_for(started.wait(), 5)
    await queue.pause()
    assert not queue.running
    queue.add("a")
    queue.add("a")
    await asyncio.sleep(0.05)
    assert calls == ["slow"]  # nothing handled while paused
    queue.start()
    await asyncio.wait_for(queue.wait_idle(), 5)
    await queue.stop()
    assert sorted(calls) == ["a", "slow", "slow"]


class Throttled(Exception):
    retry_after = 0.3


async def test_a_failed_key_is_held_until_its_retry_even_when_added_again() -> None:
    loop = asyncio.get_running_loop()
    calls: list[float] = []

    async def handle(key: str) -> None:
        calls.append(loop.time())
        if len(calls) == 1:
            raise Throttled("429 TooManyRequests")  # asks for 0.3 s, more than the 0.01 s backoff

    original = workqueue.BACKOFF_BASE
    workqueue.BACKOFF_BASE = 0.01
    try:
        queue: WorkQueue[str] = WorkQueue(handle, workers=2)
        queue.start()
        queue.add("a")
        while not calls:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)
        queue.add("a")  # a change seen while the key waits for its retry
        queue.add("a")
        while len(calls) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        await queue.stop()
    finally:
        workqueue.BACKOFF_BASE = original
    assert len(calls) == 2  # the changes were handled by the retry, not before it
    assert calls[1] - calls[0] >= Throttled.retry_after
