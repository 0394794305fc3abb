"""A CopyActivity with `spec.schedule.window`: one run per tumbling window (core/windows.py).

The activity runs no run on apply, spec change or run-now: its windows are its runs. A run-now value
is acknowledged in status.handledRunNow with an Event (RunNowIgnored) that points to the
`impalacopy.io/rerun-window` annotation. Phase and conditions are told from the windows
(core/window_record.phase_decision); `status.lastRun` is the attempt they are told from, and
`status.windows` records which windows ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from impala_copy.api.activities import CopyActivity
from impala_copy.api.schedule import RunContext, TumblingWindow, parse_rfc3339
from impala_copy.controller.copy.status import copy_activity_status
from impala_copy.controller.core.constants import ANNOTATION_RERUN_WINDOW, ANNOTATION_RUN_NOW, EventReason
from impala_copy.controller.core.controller import Actions, Observed, PlanContext, run_actions, run_inputs
from impala_copy.controller.core.readiness import CopyReadiness
from impala_copy.controller.core.run_plan import JobFactory, RunState
from impala_copy.controller.core.runs import NewAttempt, Wanted, attempt_from_status
from impala_copy.controller.core.status import EventSpec, RunView, status_events
from impala_copy.controller.core.timeutil import format_time
from impala_copy.controller.core.window_grid import Grid
from impala_copy.controller.core.window_plan import WindowSettings, plan_window_runs
from impala_copy.controller.core.window_record import (
    phase_decision,
    window_events,
    window_run_changes,
    windows_status,
)

KIND = "CopyActivity"
RUN_NOW_IGNORED = (
    "run-now does not apply to a CopyActivity with schedule.window (its windows are its runs): to run a "
    "window again, annotate it with impalacopy.io/rerun-window=<the window's start, RFC 3339>"
)


def tumbling_window(activity: CopyActivity | None) -> TumblingWindow | None:
    schedule = activity.spec.schedule if activity is not None else None
    return schedule.window if schedule is not None else None


def window_run_context(start: NewAttempt, window: TumblingWindow | None) -> RunContext | None:
    """The window a run copies, for the query and the sink paths; triggered (and scheduled) when the
    window was due."""
    if start.window is None or window is None:
        return None
    due = parse_rfc3339(start.window.end) + timedelta(seconds=Grid.of(window).delay.total_seconds())
    return RunContext(
        trigger_time=format_time(due),
        scheduled_time=format_time(due),
        window_start=start.window.start,
        window_end=start.window.end,
    )


def _without_last_run(status: Mapping[str, Any]) -> dict[str, Any]:
    """Status for the generic Events (Ready, pods stuck): window Events replace the run Events."""
    return {k: v for k, v in status.items() if k != "lastRun"}


def _run_now_events(old: Mapping[str, Any], status: Mapping[str, Any]) -> list[EventSpec]:
    value = status.get("handledRunNow")
    if value is None or value == old.get("handledRunNow"):
        return []
    return [EventSpec("Normal", EventReason.RUN_NOW_IGNORED, RUN_NOW_IGNORED)]


def plan_windowed(
    seen: Observed[CopyReadiness],
    ctx: PlanContext,
    window: TumblingWindow,
    want: Wanted,
    make_job: JobFactory,
    history: tuple[int, int],
) -> Actions:
    """Actions of a windowed CopyActivity: the next window's Job, status with status.windows, Events."""
    activity, meta = seen.checked.activity, seen.meta
    assert activity is not None
    assert activity.spec.schedule is not None
    grid = Grid.of(window)
    settings = WindowSettings(
        grid,
        window.max_concurrency,
        activity.spec.schedule.suspend,
        meta.annotations.get(ANNOTATION_RERUN_WINDOW),
    )
    state = plan_window_runs(run_inputs(KIND, seen, ctx, want, make_job, history), settings, ctx.view)
    decision = phase_decision(state.decision, 1 + want.policy.retry, attempt_from_status(seen.old, ctx.now))
    hide = activity.spec.policy.secure_output
    view = RunView(seen.old, meta.generation, seen.checked.readiness, decision, state.attempts, hide, ctx.now)
    status = copy_activity_status(view)
    status["windows"] = windows_status(grid, state.record, state.decision)
    status["handledRunNow"] = meta.annotations.get(ANNOTATION_RUN_NOW)
    # The fields a cron schedule sets too (printer columns, Argo CD's Suspended health).
    status["suspended"] = activity.spec.schedule.suspend
    status["nextScheduleTime"] = status["windows"].get("nextWindowTime")
    events = [
        *status_events(_without_last_run(seen.old), _without_last_run(status)),
        *window_events(grid, state.record, status["windows"], state.decision, hide),
        *_run_now_events(seen.old, status),
    ]
    run_state = RunState(state.attempts, decision, state.create, state.delete, state.recheck_after)
    runs = window_run_changes(state.record, state.decision)
    return run_actions(seen, status, run_state, events, runs=runs)


__all__ = ["plan_windowed", "tumbling_window", "window_run_context"]
