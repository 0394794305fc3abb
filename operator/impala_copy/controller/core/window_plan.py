"""The reconciliation of a kind that runs tumbling windows: the window decision applied to the Jobs seen.

Like core/run_plan.plan_runs (the same attempts, summary grace, Job factory and history limits), with
core/windows.decide_windows as the decision. One Job is created per reconciliation; when more windows
are due, the object is reconciled again at once (the Job just created is known by then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from impala_copy.controller.core.records import as_dict, job_record
from impala_copy.controller.core.run_plan import (
    RunInputs,
    attempt_of,
    held_attempts,
    history_to_delete,
    owned_jobs,
)
from impala_copy.controller.core.runs import Attempt
from impala_copy.controller.core.view import ClusterView
from impala_copy.controller.core.window_grid import Grid
from impala_copy.controller.core.windows import WindowDecision, WindowInputs, decide_windows


@dataclass(frozen=True)
class WindowSettings:
    """What schedule.window and schedule.suspend say, and the rerun-window annotation."""

    grid: Grid
    max_concurrency: int
    suspended: bool
    rerun: str | None


@dataclass(frozen=True)
class WindowRunState:
    attempts: list[Attempt]
    decision: WindowDecision
    record: Mapping[str, Any]  # status.windows as last written
    create: dict[str, Any] | None
    delete: tuple[str, ...]
    recheck_after: float | None


def _decide(inputs: RunInputs, settings: WindowSettings, attempts: list[Attempt]) -> WindowDecision:
    wanted = inputs.wanted
    return decide_windows(
        WindowInputs(
            grid=settings.grid,
            policy=wanted.policy,
            max_concurrency=settings.max_concurrency,
            ready=wanted.ready,
            suspended=settings.suspended,
            generation=wanted.generation,
            record=as_dict(inputs.old_status.get("windows")),
            attempts=attempts,
            rerun=settings.rerun,
            now=inputs.now,
        )
    )


def plan_window_runs(inputs: RunInputs, settings: WindowSettings, view: ClusterView) -> WindowRunState:
    """The window decision, the Job to create (the first start), the Jobs beyond the history limits."""
    jobs = owned_jobs(inputs, view)
    attempts, recheck = held_attempts([attempt_of(job, view) for job in jobs.values()], inputs)
    decision = _decide(inputs, settings, attempts)
    create: dict[str, Any] | None = None
    if decision.starts:
        create = inputs.make_job(decision.starts[0])
        if create is not None:
            created = job_record(create)
            assert created is not None
            attempts.append(attempt_of(created, view))
            decision = _decide(inputs, settings, attempts)
            if decision.starts:
                recheck.append(0.0)  # more windows start now: one Job per reconciliation
    if decision.wake_at is not None:
        recheck.append(max(0.0, (decision.wake_at - inputs.now).total_seconds()))
    keep_ok, keep_bad = inputs.history
    return WindowRunState(
        attempts=attempts,
        decision=decision,
        record=as_dict(inputs.old_status.get("windows")),
        create=create,
        delete=history_to_delete(attempts, jobs, keep_ok, keep_bad),
        recheck_after=min(recheck) if recheck else None,
    )


__all__ = ["WindowRunState", "WindowSettings", "plan_window_runs"]
