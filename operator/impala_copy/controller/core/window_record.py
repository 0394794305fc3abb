"""`status.windows` from a window decision, the Events of what changed since the status last written,
and the run decision that phase and conditions are told from. Pure.

Events follow the record (level-based, none again after a restart): a window that succeeded
(WindowSucceeded), an attempt that failed and is retried (WindowAttemptFailed, Warning), a window that
failed for good (WindowFailed, Warning), a rerun-window value acted upon (WindowRerun) or refused
(InvalidRerunWindow, Warning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from impala_copy.api.window_status import FAILED_LIMIT, WindowRun, WindowsStatus
from impala_copy.controller.core.constants import EventReason
from impala_copy.controller.core.outcome import RUNNING
from impala_copy.controller.core.records import as_dict, as_int, as_list, as_str
from impala_copy.controller.core.run_change import RunChange, record_change
from impala_copy.controller.core.runs import Attempt, RunDecision
from impala_copy.controller.core.status import EventSpec, attempt_fields, failure_message, later
from impala_copy.controller.core.timeutil import format_time, parse_time
from impala_copy.controller.core.window_grid import Grid
from impala_copy.controller.core.windows import ACTIVE, DONE, GAVE_UP, RETRY, WindowDecision, WindowState

SETTLED = (DONE, GAVE_UP)


def window_entry(window: WindowState) -> dict[str, Any]:
    """A window's entry in status.windows.open or .failed: the window and its newest attempt."""
    fields = attempt_fields(window.attempt)
    retry = format_time(window.retry_at) if window.state == RETRY and window.retry_at else None
    entry = {**fields, "start": format_time(window.start), "end": format_time(window.end)}
    return WindowRun.model_validate({**entry, "nextRetryTime": retry}).to_wire()


def _old_states(record: Mapping[str, Any]) -> tuple[dict[str, tuple[str, tuple[int, int]]], Any]:
    """start -> (state, attempt key) of every window status.windows lists, and its completedThrough."""
    states: dict[str, tuple[str, tuple[int, int]]] = {}
    for name in ("failed", "open"):
        for entry in map(as_dict, as_list(record.get(name))):
            start, status = as_str(entry.get("start")), as_str(entry.get("status")) or ""
            state = GAVE_UP if name == "failed" else {"Succeeded": DONE, "Failed": RETRY}.get(status, ACTIVE)
            if start is not None:
                states[start] = (state, (as_int(entry.get("runId")) or 0, as_int(entry.get("attempt")) or 1))
    return states, parse_time(record.get("completedThrough"))


@dataclass(frozen=True)
class Change:
    window: WindowState
    before: str | None  # the state status.windows showed (None: not started)
    before_key: tuple[int, int] | None = None  # the attempt status.windows showed


def window_changes(record: Mapping[str, Any], decision: WindowDecision) -> list[Change]:
    """The windows whose state or newest attempt differs from what status.windows showed."""
    old, through = _old_states(record)
    changes: list[Change] = []
    for index in sorted(decision.windows):
        window = decision.windows[index]
        before = old.get(format_time(window.start))
        if before is None and through is not None and window.end <= through:
            before = (DONE, window.attempt.key)
        if before is None or before[0] != window.state or before[1] != window.attempt.key:
            changes.append(Change(window, *(before if before else (None, None))))
    return changes


def _counts(record: Mapping[str, Any], changes: list[Change]) -> dict[str, int]:
    counts = {
        DONE: as_int(record.get("succeededCount")) or 0,
        GAVE_UP: as_int(record.get("failedCount")) or 0,
    }
    for change in changes:
        if change.before == change.window.state:
            continue
        if change.before in SETTLED:
            counts[str(change.before)] = max(0, counts[str(change.before)] - 1)
        if change.window.state in SETTLED:
            counts[change.window.state] += 1
    return counts


def windows_status(grid: Grid, record: Mapping[str, Any], decision: WindowDecision) -> dict[str, Any]:
    """status.windows: completedThrough, the exceptions, counts, the rerun-window value handled."""
    ordered = [decision.windows[i] for i in sorted(decision.windows)]
    through = decision.through
    listed = [w for w in ordered if w.state in (ACTIVE, RETRY) or (w.state == DONE and w.end > through)]
    counts = _counts(record, window_changes(record, decision))
    done = [format_time(w.end) for w in ordered if w.state == DONE]
    status = WindowsStatus(
        completed_through=format_time(through) if through > grid.origin else None,
        last_window_end=later(record.get("lastWindowEnd"), done),
        next_window_time=format_time(decision.next_window) if decision.next_window else None,
        succeeded_count=counts[DONE],
        failed_count=counts[GAVE_UP],
        running_count=sum(1 for w in ordered if w.state == ACTIVE) + len(decision.others),
        last_run_id=str(decision.last_run) if decision.last_run else None,
        handled_rerun_window=decision.rerun.value,
        rerun_window_message=decision.rerun.message,
    ).to_wire()
    status["open"] = [window_entry(w) for w in listed]
    status["failed"] = failed_entries(record, ordered)
    return status


def failed_entries(record: Mapping[str, Any], windows: list[WindowState]) -> list[dict[str, Any]]:
    """The windows failed for good, oldest first: every one whose newest attempt is known now (a Job
    seen, or an entry read back), then the ones listed before, the newest of them up to FAILED_LIMIT
    in all."""
    known = {format_time(w.start) for w in windows}
    current = [window_entry(w) for w in windows if w.state == GAVE_UP]
    kept = sorted(
        (
            e for e in map(as_dict, as_list(record.get("failed")))
            if isinstance(e.get("start"), str) and e["start"] not in known
        ),
        key=_entry_start,
    )  # fmt: skip
    room = max(0, FAILED_LIMIT - len(current))
    return sorted([*(kept[-room:] if room else []), *current], key=_entry_start)


def _entry_start(entry: Mapping[str, Any]) -> datetime:
    return parse_time(entry.get("start")) or datetime.min.replace(tzinfo=UTC)


_RECORDED = {ACTIVE: "Running", RETRY: "Failed", DONE: "Succeeded", GAVE_UP: "Failed"}


def window_run_changes(record: Mapping[str, Any], decision: WindowDecision) -> tuple[RunChange, ...]:
    """The window attempts a write of status.windows starts or ends, with their run summaries' counters
    (for the metrics: every window's run counts, not only the one status.lastRun shows)."""
    changes = []
    for change in window_changes(record, decision):
        attempt = change.window.attempt
        summary = attempt.outcome.summary
        now = {**(summary.to_wire() if summary is not None else {}), **attempt_fields(attempt)}
        before: dict[str, Any] = {}
        if change.before is not None and change.before_key == attempt.key:
            before = {"runId": now["runId"], "attempt": now["attempt"], "status": _RECORDED[change.before]}
        changes.append(record_change(before, now))
    return tuple(changes)


# ------------------------------------------------------------------ Events
def _span(window: WindowState) -> str:
    return f"window {format_time(window.start)} to {format_time(window.end)}"


def _change_event(change: Change, hide: bool) -> EventSpec | None:
    window, attempt = change.window, change.window.attempt
    label = f"{_span(window)} (run {attempt.run_number} attempt {attempt.attempt})"
    if window.state == DONE:
        return EventSpec(
            "Normal", EventReason.WINDOW_SUCCEEDED, f"{label} succeeded: {attempt.outcome.message}"
        )
    if window.state == GAVE_UP:
        text = f"{label} failed for good: {failure_message(attempt, hide)}"
        return EventSpec("Warning", EventReason.WINDOW_FAILED, text)
    if window.state == RETRY and window.retry_at is not None:
        text = (
            f"{label} failed: {failure_message(attempt, hide)}; the next attempt starts at "
            f"{format_time(window.retry_at)}"
        )
        return EventSpec("Warning", EventReason.WINDOW_ATTEMPT_FAILED, text)
    return None


def window_events(
    grid: Grid, record: Mapping[str, Any], new: Mapping[str, Any], decision: WindowDecision, hide: bool
) -> list[EventSpec]:
    """The Events of the windows that changed, and of a rerun-window value acted upon or refused."""
    events = [e for c in window_changes(record, decision) if (e := _change_event(c, hide)) is not None]
    value, message = as_str(new.get("handledRerunWindow")), as_str(new.get("rerunWindowMessage"))
    if value is not None and value != as_str(record.get("handledRerunWindow")) and message:
        invalid = decision.rerun.invalid
        reason = EventReason.INVALID_RERUN_WINDOW if invalid else EventReason.WINDOW_RERUN
        events.append(EventSpec("Warning" if invalid else "Normal", reason, message))
    return events


# ------------------------------------------------------------------ phase
def phase_decision(decision: WindowDecision, attempts_total: int, recorded: Attempt | None) -> RunDecision:
    """The run decision that phase and conditions are told from (core/status.run_status).

    Running while any window's pod runs (Pending while every Job is still starting); Pending while a
    failed attempt waits for its retry, while a due window waits for Ready, or before the first window;
    else the newest window that finished tells: Succeeded or Failed (failed for good). `recorded`
    (status.lastRun) stands in once its Job is gone.
    """
    windows = list(decision.windows.values())
    active = [w.attempt for w in windows if w.state == ACTIVE] + list(decision.others)
    blocked = "references" if decision.blocked else None
    if active:
        running = [a for a in active if a.outcome.state == RUNNING] or active
        return RunDecision(latest=max(running, key=lambda a: a.key), attempts_total=attempts_total)
    retrying = [w for w in windows if w.state == RETRY and w.retry_at is not None]
    if retrying:
        first = min(retrying, key=lambda w: (w.retry_at, w.index))
        return RunDecision(
            latest=first.attempt, retry_at=first.retry_at, blocked_by=blocked, attempts_total=attempts_total
        )
    settled = [w for w in windows if w.state in SETTLED]
    latest = max(settled, key=lambda w: w.index).attempt if settled else recorded
    return RunDecision(latest=latest, blocked_by=blocked, attempts_total=attempts_total)


__all__ = ["phase_decision", "window_entry", "window_events", "windows_status"]
