"""A work queue of object keys, as Kubernetes controllers use: each key at most once in the queue and
never handled by two workers at once; a key added while it is being handled is handled again after;
delayed additions (retries, re-checks); failures retried with exponential backoff, or after the time
the API server asked for (an exception's `retry_after`, from a 429's Retry-After) when that is longer.
A failed key is held until its retry: changes seen meanwhile are handled by that retry, not sooner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

log = logging.getLogger("impala_copy.controller")

BACKOFF_BASE = 0.5
BACKOFF_MAX = 60.0


def _retry_after(exc: Exception) -> float:
    """The seconds a failure says to wait before trying again (0 when it says nothing)."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class WorkQueue(Generic[K]):
    def __init__(self, handler: Callable[[K], Awaitable[float | None]], *, workers: int = 4) -> None:
        self._handler = handler
        self._workers = workers
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._held: dict[K, float] = {}  # failed keys -> loop time of their retry
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self.handled = 0

    # ---------------------------------------------------------------- adding
    def add(self, key: K) -> None:
        """Handle `key` soon (once, however often it is added before a worker takes it); a failed key
        at its retry time."""
        held = self._held.get(key)
        if held is not None:
            remaining = held - asyncio.get_running_loop().time()
            if remaining > 0:
                self.add_after(key, remaining)
                return
            del self._held[key]
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._idle.clear()
        self._queue.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Handle `key` after `delay` seconds (an earlier pending time wins)."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max(0.0, delay)
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        self._timers[key] = (when, loop.call_at(when, self._fire, key))

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def forget(self, key: K) -> None:
        """Drop pending re-checks and failure counts of a key (its object is gone)."""
        pending = self._timers.pop(key, None)
        if pending is not None:
            pending[1].cancel()
        self._failures.pop(key, None)
        self._held.pop(key, None)

    # ---------------------------------------------------------------- state
    def __len__(self) -> int:
        return len(self._queued) + len(self._processing)

    @property
    def scheduled(self) -> int:
        return len(self._timers)

    async def wait_idle(self) -> None:
        """Until nothing is queued or being handled (delayed keys do not count)."""
        await self._idle.wait()

    # ---------------------------------------------------------------- running
    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        """Start the workers (again after `pause`: the keys added meanwhile are handled now)."""
        if self._tasks:
            return
        for index in range(self._workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"impala-copy worker {index}"))

    async def pause(self) -> None:
        """Stop the workers; keys keep being added (and timers keep firing) until `start`. A key whose
        handling was interrupted is queued again."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def stop(self) -> None:
        await self.pause()
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._processing.add(key)
            try:
                delay = await self._handler(key)
            except asyncio.CancelledError:
                self._dirty.add(key)  # interrupted: handled again after a restart of the workers
                raise
            except Exception as exc:  # noqa: BLE001 - one object's failure must not stop the worker
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                backoff = min(BACKOFF_MAX, max(BACKOFF_BASE * 2 ** (failures - 1), _retry_after(exc)))
                log.warning(
                    "%s: reconciliation failed (%s: %s); retrying in %.1fs",
                    key,
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                self._held[key] = asyncio.get_running_loop().time() + backoff
                self.add_after(key, backoff)
            else:
                self._failures.pop(key, None)
                if delay is not None:
                    self.add_after(key, delay)
            finally:
                self.handled += 1
                self._processing.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)
                if not self._queued and not self._processing:
                    self._idle.set()
