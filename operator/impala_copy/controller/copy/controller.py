"""The CopyActivity controller: references checked, one Job per attempt (three step Jobs for a
partitioned copy, copy/partitioned.py), status from the Jobs seen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from impala_copy.api.activities import CopyActivity
from impala_copy.api.plan import TASK_COPY
from impala_copy.api.pod_policy import policy_violations
from impala_copy.controller.copy.partitioned import (
    next_step_job,
    step_job,
    within_cap,
)
from impala_copy.controller.copy.status import copy_activity_status
from impala_copy.controller.copy.watermark import WatermarkState, watermark_state
from impala_copy.controller.copy.windowed import plan_windowed, tumbling_window, window_run_context
from impala_copy.controller.core.constants import STEP_PLAN, Reason
from impala_copy.controller.core.controller import (
    Actions,
    PlanContext,
    cron_wish,
    observe,
    run_actions,
    run_inputs,
    wanted,
)
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.readiness import CopyReadiness, Readiness, copy_activity_readiness
from impala_copy.controller.core.run_plan import observed_attempts, plan_runs
from impala_copy.controller.core.runs import Attempt, NewAttempt, NextStep, RunPolicy, run_context
from impala_copy.controller.core.settings import JobDefaults, Settings
from impala_copy.controller.core.status import RunView, schedule_events, status_events
from impala_copy.controller.core.view import ViewCatalog

KIND = "CopyActivity"


def history_limits(activity: CopyActivity | None, settings: Settings) -> tuple[int, int]:
    """Finished Jobs kept (succeeded, failed): the activity's limits where written, else the operator's."""
    if activity is None:
        return settings.job.successful_jobs_history_limit, settings.job.failed_jobs_history_limit
    spec = activity.spec
    written = spec.model_fields_set
    ok = (
        spec.successful_jobs_history_limit
        if "successful_jobs_history_limit" in written
        else settings.job.successful_jobs_history_limit
    )
    bad = (
        spec.failed_jobs_history_limit
        if "failed_jobs_history_limit" in written
        else settings.job.failed_jobs_history_limit
    )
    return ok, bad


def within_policy(checked: CopyReadiness, settings: Settings) -> CopyReadiness:
    """Not Ready (PolicyViolation, naming each field) when spec.job asks for more than the admin allows."""
    activity = checked.activity
    if activity is None or not checked.readiness.ready:
        return checked
    violations = policy_violations(activity.spec.job, settings.pod_policy, settings.job.image)
    if not violations:
        return checked
    message = "; ".join(v.message for v in violations)
    return CopyReadiness(Readiness(False, Reason.POLICY_VIOLATION, message), activity)


def checked_activity(body: Mapping[str, Any], catalog: ViewCatalog, settings: Settings) -> CopyReadiness:
    """The activity checked: references, the admin's pod policy and the cap of parallel copies."""
    return within_cap(
        within_policy(copy_activity_readiness(body, catalog), settings), settings.job.max_parallel_copies
    )


@dataclass(frozen=True)
class JobFactories:
    """How a CopyActivity's Jobs are built: the first Job of an attempt, and a partitioned copy's next
    step Job."""

    checked: CopyReadiness
    owner: JobOwner
    defaults: JobDefaults
    marks: WatermarkState
    now: datetime

    @property
    def per_index(self) -> int:
        """Retries of each index of a partitioned copy (policy.retry)."""
        return self.checked.activity.spec.policy.retry if self.checked.activity is not None else 0

    def make_job(self, start: NewAttempt) -> dict[str, Any] | None:
        activity, plan = self.checked.activity, self.checked.plan
        if plan is None or activity is None:
            return None
        context = window_run_context(start, tumbling_window(activity)) or run_context(start, self.now)
        plan = self.marks.low(plan).model_copy(update={"run_id": start.run_id, "run_context": context})
        if plan.partitioning is not None:
            return step_job(plan, self.owner, self.defaults, start, STEP_PLAN, self.per_index)
        return build_job(plan, self.owner, self.defaults, start, task=TASK_COPY)

    def make_step(self, attempt: Attempt, next_step: NextStep) -> dict[str, Any] | None:
        return next_step_job(attempt, next_step, self.owner, self.defaults, self.per_index)


class CopyController:
    kind = KIND

    def plan(self, body: Mapping[str, Any], ctx: PlanContext) -> Actions:
        seen = observe(body, ctx, lambda b, catalog: checked_activity(b, catalog, ctx.settings))
        if seen.meta.deleting:
            return Actions(refs=seen.refs)
        checked, meta = seen.checked, seen.meta
        activity = checked.activity
        policy = activity.spec.policy if activity is not None else None

        retries = RunPolicy(policy.retry, policy.retry_interval_in_seconds) if policy else RunPolicy()
        schedule = cron_wish(activity.spec.schedule if activity else None, seen, ctx.now)
        want = wanted(meta, retries, ready=checked.readiness.ready, plan=checked.plan, cron=schedule)
        history = history_limits(activity, ctx.settings)
        # The watermark comes first: a run started now starts above it (core/job.plan_digest leaves it out).
        observed = observed_attempts(run_inputs(KIND, seen, ctx, want, lambda _: None, history), ctx.view)
        marks = watermark_state(activity, meta, seen.old, observed[0], ctx.now)
        owner = JobOwner(
            name=meta.name,
            namespace=meta.namespace,
            uid=meta.uid,
            settings=activity.spec.job if activity is not None else None,
        )
        jobs = JobFactories(checked, owner, ctx.settings.job, marks, ctx.now)

        window = tumbling_window(activity)
        if window is not None:
            return plan_windowed(seen, ctx, window, want, jobs.make_job, history)
        inputs = replace(run_inputs(KIND, seen, ctx, want, jobs.make_job, history), make_step=jobs.make_step)
        state = plan_runs(inputs, ctx.view, observed)
        view = RunView(
            old=seen.old,
            generation=meta.generation,
            readiness=checked.readiness,
            decision=state.decision,
            attempts=state.attempts,
            hide_messages=bool(policy and policy.secure_output),
            now=ctx.now,
        )
        status = copy_activity_status(view, marks.status_fields())
        events = [*status_events(seen.old, status), *schedule_events(state.decision), *marks.events]
        return run_actions(seen, status, state, events)


__all__ = ["CopyController", "JobFactories", "checked_activity", "history_limits"]
