"""Blocking work off the event loop: bounded thread pools and one task in flight per object.

Connection tests and lookups talk to Impala through impyla, which blocks. They run in their own
thread pools (never kopf's, never the event loop), each pool bounded, so a slow Impala delays only
the lookups queued behind it; reconciliation of every other object goes on. Each call is bounded
twice: by the driver's socket and query timeouts inside the thread, and by an asyncio deadline
outside it (a thread stuck past its deadline is abandoned and ends when its socket times out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
Key = tuple[str, str]

logger = logging.getLogger(__name__)


class DeadlineExceeded(Exception):
    """The blocking call did not finish in time; its thread is left to end on its own timeouts."""


class WorkerPool:
    """A named, bounded thread pool for blocking calls, with a count of calls running and queued."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"impala-copy-{name}")
        self.busy = 0

    @property
    def saturated(self) -> bool:
        """True when a new call would wait for a free thread."""
        return self.busy >= self.size

    async def run(self, fn: Callable[[], T], *, deadline_seconds: float) -> T:
        """Run `fn` in the pool; DeadlineExceeded when it has not returned within the deadline."""
        loop = asyncio.get_running_loop()
        self.busy += 1
        future = loop.run_in_executor(self._executor, fn)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=deadline_seconds)
        except TimeoutError:
            raise DeadlineExceeded(f"no result within {deadline_seconds:.0f}s") from None
        finally:
            # The thread may still be running after a deadline: count it as busy until it ends.
            if future.done():
                self.busy -= 1
            else:
                future.add_done_callback(self._release)

    def _release(self, _: Any) -> None:
        self.busy -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class InFlight:
    """At most one background task per object; tasks end on their own or are cancelled on shutdown."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: dict[Key, asyncio.Task[None]] = {}

    def __contains__(self, key: object) -> bool:
        task = self._tasks.get(key)  # type: ignore[call-overload]
        return task is not None and not task.done()

    def __len__(self) -> int:
        return sum(1 for task in self._tasks.values() if not task.done())

    def start(self, key: Key, coro: Coroutine[Any, Any, None]) -> bool:
        """Start `coro` for `key` unless a task for it is still running (then `coro` is discarded)."""
        if key in self:
            coro.close()
            return False
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{key[0]}/{key[1]}")
        self._tasks[key] = task
        task.add_done_callback(lambda t, k=key: self._done(k, t))  # type: ignore[misc]
        return True

    def _done(self, key: Key, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            logger.error(
                "%s task for %s/%s failed: %s: %s", self.name, key[0], key[1], type(exc).__name__, exc
            )

    def cancel(self, key: Key) -> None:
        task = self._tasks.get(key)
        if task is not None and not task.done():
            task.cancel()

    async def close(self) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()


__all__ = ["DeadlineExceeded", "InFlight", "WorkerPool"]
