"""Tumbling windows: which windows run now. One pure function of the window spec, the clock, the
attempts seen (from Jobs) and `status.windows` as last written.

Each window is a run of its own: one Job per attempt, labelled with a run number like every run and
annotated with the window's start and end (core/job.py, read back by core/records.py). A window is
due once its end plus `delay` has passed. Due windows start oldest first while fewer than
`maxConcurrency` windows are in progress (a Job pending or running, or a failed attempt waiting for
its retry), and at most `AHEAD_LIMIT` windows past the oldest window not finished yet. A failed
attempt is retried after `policy.retryIntervalInSeconds`, up to `policy.retry` times (not after a
configuration error); then the window has failed for good, and later windows go on. The annotation
`impalacopy.io/rerun-window: <window start>` runs one window again (a new run), once per value.

What a window's state is comes from its newest attempt: a Job seen, or the window's entry in
status.windows once its Job is gone; every window ending at or before `completedThrough` has
finished. A Job created whose status write was lost is seen on the next reconciliation, so a
restart neither repeats nor skips a window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from impala_copy.api.schedule import parse_rfc3339
from impala_copy.api.window_status import AHEAD_LIMIT
from impala_copy.controller.core.constants import Trigger
from impala_copy.controller.core.outcome import FAILED, SUCCEEDED
from impala_copy.controller.core.records import WindowRef, as_dict, as_int, as_list, as_str
from impala_copy.controller.core.runs import Attempt, NewAttempt, RunPolicy, attempt_from_status
from impala_copy.controller.core.timeutil import format_time, parse_time
from impala_copy.controller.core.window_grid import FAR, Grid

HANDLED_LIMIT = 100  # longer rerun-window values are recorded as a digest
ACTIVE = "active"  # a Job pending or running
RETRY = "retry"  # the newest attempt failed and another one follows
DONE = SUCCEEDED  # succeeded
GAVE_UP = FAILED  # failed for good


@dataclass(frozen=True)
class WindowInputs:
    """What the window decision reads."""

    grid: Grid
    policy: RunPolicy
    max_concurrency: int
    ready: bool
    suspended: bool
    generation: int
    record: Mapping[str, Any]  # status.windows as last written
    attempts: Sequence[Attempt]  # from the Jobs seen (finished ones held for their summary)
    rerun: str | None  # the rerun-window annotation
    now: datetime


@dataclass(frozen=True)
class WindowState:
    """A window and its newest attempt."""

    index: int
    start: datetime
    end: datetime
    attempt: Attempt
    state: str  # ACTIVE, RETRY, DONE or GAVE_UP
    retry_at: datetime | None = None

    @property
    def ref(self) -> WindowRef:
        return WindowRef(format_time(self.start), format_time(self.end))


@dataclass(frozen=True)
class Rerun:
    """What became of the rerun-window annotation: handled (with a message) or still waiting."""

    value: str | None  # the value now handled (the old one when nothing new was handled)
    message: str | None
    index: int | None = None  # the window started again now
    invalid: bool = False


@dataclass(frozen=True)
class WindowDecision:
    starts: tuple[NewAttempt, ...]  # attempts to start now, the first first
    windows: Mapping[int, WindowState]  # every window known, by index
    through: datetime  # every window ending at or before it has finished
    others: tuple[Attempt, ...]  # attempts in progress that copy no window of this grid
    rerun: Rerun
    next_window: datetime | None  # when the next window not started yet is due
    wake_at: datetime | None
    blocked: bool  # a window is due but the references are not ready
    last_run: int  # the newest run number known


# ------------------------------------------------------------------ what is known of each window
def entry_attempt(entry: Mapping[str, Any], now: datetime) -> Attempt | None:
    """A window's attempt as status.windows recorded it (a recorded Pending/Running one whose Job is
    gone counts as failed: JobDeleted)."""
    start, end = as_str(entry.get("start")), as_str(entry.get("end"))
    attempt = attempt_from_status({"entry": entry}, now, "entry")
    if attempt is None or not start or not end:
        return None
    return replace(attempt, run_now=None, window=WindowRef(start, end))


def recorded_attempts(record: Mapping[str, Any], through: datetime, now: datetime) -> list[Attempt]:
    """The attempts status.windows lists: every open window, and the failed ones past `through` (a
    failed window before it changes nothing until a Job runs it again)."""
    failed = [
        e for e in map(as_dict, as_list(record.get("failed")))
        if (parse_time(e.get("end")) or through) > through
    ]  # fmt: skip
    found = (entry_attempt(e, now) for e in [*map(as_dict, as_list(record.get("open"))), *failed])
    return [a for a in found if a is not None]


def window_index(grid: Grid, ref: WindowRef | None) -> int | None:
    """The index of the grid's window that `ref` names exactly, or None."""
    if ref is None:
        return None
    start, end = parse_time(ref.start), parse_time(ref.end)
    if start is None or end is None:
        return None
    return grid.index_of(start, end)


def newest_by_window(
    grid: Grid, attempts: Sequence[Attempt], recorded: Sequence[Attempt]
) -> tuple[dict[int, Attempt], list[Attempt]]:
    """The newest attempt of each window of the grid (a Job wins over the record at the same attempt),
    and the attempts of Jobs that copy no window of this grid."""
    newest: dict[int, Attempt] = {}
    others: list[Attempt] = []
    for attempt in attempts:
        index = window_index(grid, attempt.window)
        if index is None:
            others.append(attempt)
        elif index not in newest or attempt.key > newest[index].key:
            newest[index] = attempt
    for attempt in recorded:
        index = window_index(grid, attempt.window)
        if index is not None and (index not in newest or attempt.key > newest[index].key):
            newest[index] = attempt
    return newest, others


def classify(grid: Grid, index: int, attempt: Attempt, policy: RunPolicy, now: datetime) -> WindowState:
    outcome = attempt.outcome
    start, end = grid.start(index), grid.end(index)
    if not outcome.finished:
        return WindowState(index, start, end, attempt, ACTIVE)
    if outcome.state == SUCCEEDED:
        return WindowState(index, start, end, attempt, DONE)
    if outcome.retryable and attempt.attempt < 1 + policy.retry:
        finished = parse_time(outcome.completion_time) or now
        retry_at = finished + timedelta(seconds=policy.retry_interval_seconds)
        return WindowState(index, start, end, attempt, RETRY, retry_at)
    return WindowState(index, start, end, attempt, GAVE_UP)


def advance(grid: Grid, through: datetime, windows: Mapping[int, WindowState]) -> datetime:
    """`through` moved past every following window that has finished (succeeded or failed for good)."""
    index = grid.first_ending_after(through)
    while index in windows and windows[index].state in (DONE, GAVE_UP):
        through = windows[index].end
        index += 1
    return through


def record_through(grid: Grid, record: Mapping[str, Any]) -> datetime:
    recorded = parse_time(as_str(record.get("completedThrough")))
    return max(recorded, grid.origin) if recorded is not None else grid.origin


def last_run_number(record: Mapping[str, Any], attempts: Sequence[Attempt]) -> int:
    numbers = [as_int(record.get("lastRunId")) or 0, *(a.run_number for a in attempts)]
    return max(numbers)


# ------------------------------------------------------------------ the rerun-window annotation
def _rerun_target(inputs: WindowInputs) -> tuple[int | None, str | None]:
    """The window the annotation names, or why it names none."""
    value = inputs.rerun or ""
    shown = value if len(value) <= 64 else value[:64] + "…"
    try:
        moment = parse_rfc3339(value).astimezone(UTC)
    except ValueError:
        return None, (
            f"rerun-window {shown!r} is not an RFC 3339 time with a zone (e.g. 2026-12-01T00:00:00Z)"
        )
    grid = inputs.grid
    index = grid.index_of(moment)
    if index is None:
        return None, (
            f"rerun-window {shown!r} is not the start of a window (windows start at window.startTime "
            "and every interval x frequency after it, before endTime)"
        )
    if grid.due_at(index) > inputs.now:
        return None, (
            f"rerun-window {shown!r} names a window that is not due yet (it may run from "
            f"{format_time(grid.due_at(index))})"
        )
    return index, None


def handled_form(value: str) -> str:
    """How status records an annotation value: as written, or a digest of a long one (status stays
    small whatever is written)."""
    if len(value) <= HANDLED_LIMIT:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _rerun_started(inputs: WindowInputs) -> Attempt | None:
    """The run a Job started for the value after the status last written (that write may be lost)."""
    last_recorded = as_int(inputs.record.get("lastRunId")) or 0
    return next(
        (
            a
            for a in inputs.attempts
            if a.window is not None
            and a.window.rerun == handled_form(inputs.rerun or "")
            and a.run_number > last_recorded
        ),
        None,
    )


def rerun_request(inputs: WindowInputs, windows: Mapping[int, WindowState], free: int) -> Rerun:
    """Whether the annotation asks for a window to run again now (index), or what to say about it.

    Handled once per value; removing the annotation forgets the value, so the same one may come again.
    """
    old = Rerun(
        as_str(inputs.record.get("handledRerunWindow")), as_str(inputs.record.get("rerunWindowMessage"))
    )
    if inputs.rerun is None:
        return Rerun(None, None)
    value = handled_form(inputs.rerun)
    if value == old.value:
        return old
    started = _rerun_started(inputs)
    if started is not None and started.window is not None:
        return Rerun(value, f"window {started.window.start} runs again")
    index, problem = _rerun_target(inputs)
    if index is None:
        return Rerun(value, problem, invalid=True)
    busy = index in windows and windows[index].state in (ACTIVE, RETRY)
    if busy or free <= 0 or inputs.suspended or not inputs.ready:
        return old  # waits: for the window's attempt in progress, a free slot, resume or Ready
    start = format_time(inputs.grid.start(index))
    return Rerun(value, f"window {start} runs again", index=index)


# ------------------------------------------------------------------ the decision
def _new_windows(
    grid: Grid, through: datetime, windows: Mapping[int, WindowState], free: int, now: datetime
) -> tuple[list[int], datetime | None]:
    """Due windows never started, oldest first, at most `free`; and when the next one is due."""
    first = grid.first_ending_after(through)
    chosen: list[int] = []
    for index in range(first, first + AHEAD_LIMIT):
        if not grid.exists(index):
            return chosen, None
        if index in windows:
            continue
        due = grid.due_at(index)
        if due > now or len(chosen) >= free:
            return chosen, due if due < FAR else None
        chosen.append(index)
    return chosen, None


def _starts(
    inputs: WindowInputs, windows: Mapping[int, WindowState], rerun: Rerun, fresh: list[int], number: int
) -> tuple[NewAttempt, ...]:
    """Retries due first, then the rerun, then new windows; run numbers after `number`."""
    gen, grid = inputs.generation, inputs.grid
    starts = [
        NewAttempt(w.attempt.run_number, w.attempt.attempt + 1, gen, None, Trigger.RETRY, window=w.ref)
        for w in sorted(windows.values(), key=lambda w: w.index)
        if w.state == RETRY and w.retry_at is not None and w.retry_at <= inputs.now
    ]
    if rerun.index is not None:
        ref = WindowRef(format_time(grid.start(rerun.index)), format_time(grid.end(rerun.index)), rerun.value)
        number += 1
        starts.append(NewAttempt(number, 1, gen, None, Trigger.RERUN_WINDOW, window=ref))
    for index in fresh:
        number += 1
        ref = WindowRef(format_time(grid.start(index)), format_time(grid.end(index)))
        starts.append(NewAttempt(number, 1, gen, None, Trigger.WINDOW, window=ref))
    return tuple(starts)


def _wake_at(
    windows: Mapping[int, WindowState], next_window: datetime | None, now: datetime
) -> datetime | None:
    times = [w.retry_at for w in windows.values() if w.state == RETRY and w.retry_at is not None]
    if next_window is not None:
        times.append(next_window)
    future = [t for t in times if t > now]
    return min(future) if future else None


def decide_windows(inputs: WindowInputs) -> WindowDecision:
    """Which windows start now, and the state of every window known."""
    grid, now = inputs.grid, inputs.now
    through = record_through(grid, inputs.record)
    recorded = recorded_attempts(inputs.record, through, now)
    newest, others = newest_by_window(grid, inputs.attempts, recorded)
    windows = {i: classify(grid, i, a, inputs.policy, now) for i, a in newest.items()}
    active_others = tuple(a for a in others if not a.outcome.finished)
    through = advance(grid, through, windows)
    busy = sum(1 for w in windows.values() if w.state in (ACTIVE, RETRY)) + len(active_others)
    free = max(0, inputs.max_concurrency - busy)
    rerun = rerun_request(inputs, windows, free)
    fresh, next_window = _new_windows(grid, through, windows, free - (rerun.index is not None), now)
    starts: tuple[NewAttempt, ...] = ()
    number = last_run_number(inputs.record, inputs.attempts)
    wanted = _starts(inputs, windows, rerun, fresh, number)
    if inputs.ready and not inputs.suspended:
        starts = wanted
    return WindowDecision(
        starts=starts,
        windows=windows,
        through=through,
        others=active_others,
        rerun=rerun,
        next_window=next_window,
        wake_at=None if inputs.suspended else _wake_at(windows, next_window, now),
        blocked=bool(wanted) and not inputs.ready and not inputs.suspended,
        last_run=number,
    )


__all__ = [
    "ACTIVE",
    "DONE",
    "GAVE_UP",
    "RETRY",
    "Rerun",
    "WindowDecision",
    "WindowInputs",
    "WindowState",
    "decide_windows",
]
