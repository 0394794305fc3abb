"""The LookupActivity controller: each run is a Job whose pod runs the query; its output comes back.

A run starts like a copy's (create, spec change, run-now, retry) and again `refreshInterval` after the
last one ended. The pod runs `impala-copy engine --task lookup` in the activity's namespace with the
password from its Secret (the operator never holds it). Its summary (termination message) says how it
went; a small output travels in it, a larger one in the pod's log as checked frames
(api/lookup_frames.py), which the operator reads once, bounded, before the Job is gone. The output
then goes into status or into a ConfigMap the activity owns (lookup/output.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from impala_copy.api.activities import LookupActivity
from impala_copy.api.durations import duration_seconds
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.lookup_frames import LOG_READ_LIMIT_BYTES, FrameError, decode_frames
from impala_copy.api.plan import TASK_LOOKUP, LookupPlan
from impala_copy.api.resolve import INVALID_REFERENCE, INVALID_SPEC, ResolutionError, resolve_lookup
from impala_copy.controller.core.constants import ENGINE_CONTAINER, Reason
from impala_copy.controller.core.controller import (
    Actions,
    LogRequest,
    Observed,
    PlanContext,
    cron_wish,
    observe,
    run_actions,
    run_inputs,
    wanted,
)
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.readiness import READY, Readiness
from impala_copy.controller.core.records import Meta, as_dict, as_str
from impala_copy.controller.core.run_plan import RunInputs, RunState, plan_runs
from impala_copy.controller.core.runs import Attempt, NewAttempt, RunDecision, RunPolicy, run_context
from impala_copy.controller.core.status import RunView, schedule_events, status_events
from impala_copy.controller.core.view import ViewCatalog
from impala_copy.controller.lookup.output import (
    RESULT_TOO_LARGE,
    OutputTooLarge,
    StoredOutput,
    place_output,
    result_config_map,
)
from impala_copy.controller.lookup.status import (
    LOOKUP_EVENTS,
    StoredResult,
    describe,
    fail,
    hold,
    lookup_status,
    lookup_summary,
)

KIND = "LookupActivity"
HISTORY = (1, 1)
# Seconds the Job may run beyond policy.timeout (the engine stops itself at policy.timeout).
DEADLINE_GRACE_SECONDS = 60


@dataclass(frozen=True)
class Checked:
    readiness: Readiness
    activity: LookupActivity | None = None
    plan: LookupPlan | None = None


def check_lookup(body: Mapping[str, Any], catalog: ViewCatalog) -> Checked:
    """Parse the activity and resolve its references (the dataset, linked service, certificates)."""
    try:
        activity = parse_resource(dict(body))
    except SpecError as exc:
        return Checked(Readiness(False, INVALID_SPEC, str(exc)))
    assert isinstance(activity, LookupActivity)
    try:
        plan = resolve_lookup(catalog, activity, run_id="")
    except ResolutionError as exc:
        return Checked(Readiness(False, exc.reason, exc.message), activity)
    except SpecError as exc:
        message = f"{exc.kind} {exc.name!r} is invalid: {str(exc).split(': ', 1)[-1]}"
        return Checked(Readiness(False, INVALID_REFERENCE, message), activity)
    return Checked(READY, activity, plan)


@dataclass(frozen=True)
class Output:
    """The newest attempt as shown, the stored result, and the actions storing it needs."""

    attempt: Attempt | None
    result: StoredResult | None = None
    config_map: dict[str, Any] | None = None
    drop_config_map: str | None = None
    read_log: LogRequest | None = None


def _output_text(attempt: Attempt, ctx: PlanContext) -> tuple[str | None, LogRequest | None, str | None]:
    """(JSON text, log to read first, problem) of a succeeded attempt's output."""
    summary = lookup_summary(attempt.outcome.termination_message)
    if summary is None:
        return None, None, "the lookup pod left no summary"
    if summary.output is not None:
        return json.dumps(summary.output, separators=(",", ":"), ensure_ascii=False), None, None
    if summary.frames is None:
        return None, None, "the lookup pod reported neither an output nor where to find it"
    pod = attempt.outcome.pod_name
    if pod is None:
        return None, None, "the lookup pod is gone before its output was read"
    log = ctx.logs.get(pod)
    if log is None:
        return None, LogRequest(pod=pod, container=ENGINE_CONTAINER, limit_bytes=LOG_READ_LIMIT_BYTES), None
    try:
        return decode_frames(log, summary.frames), None, None
    except FrameError as exc:
        return None, None, f"the output in the pod's log is unreadable: {exc}"


def stored_output(
    attempt: Attempt, activity: LookupActivity, meta: Meta, old: Mapping[str, Any], ctx: PlanContext
) -> Output:
    """What becomes of the newest attempt's output (only a new success needs work)."""
    outcome = attempt.outcome
    old_run = as_dict(old.get("lastRun"))
    if outcome.state != "Succeeded" or attempt.recorded is not None:
        return Output(attempt)
    if old_run.get("jobName") == attempt.job_name and old_run.get("status") == "Succeeded":
        return Output(attempt, StoredResult(placement=None))  # stored by an earlier reconciliation
    problem = ctx.notes.get(attempt.job_name)
    if problem is not None:
        return Output(fail(attempt, Reason.RESULT_NOT_STORED, problem))
    text, read_log, problem = _output_text(attempt, ctx)
    if read_log is not None:
        return Output(hold(attempt, "the lookup finished; reading its output"), read_log=read_log)
    if text is None:
        return Output(fail(attempt, Reason.RESULT_NOT_STORED, problem or "no output"))
    try:
        placement = place_output(text, secure_output=activity.spec.policy.secure_output)
    except OutputTooLarge as exc:
        return Output(fail(attempt, RESULT_TOO_LARGE, str(exc)))
    summary = lookup_summary(outcome.termination_message)
    assert summary is not None
    result = StoredResult(placement, json.loads(text), summary.rows, summary.truncated, summary.size_bytes)
    previous = as_str(old.get("resultConfigMap"))
    if placement.in_status:
        return Output(attempt, result, drop_config_map=previous)
    body = result_config_map(
        StoredOutput(meta.name, meta.namespace, meta.uid, str(attempt.run_number), summary.rows,
                     summary.truncated, summary.size_bytes),
        placement,
    )  # fmt: skip
    return Output(attempt, result, config_map=body)


def _with_latest(state: RunState, attempt: Attempt) -> RunDecision:
    return replace(state.decision, latest=attempt)


class LookupController:
    kind = KIND

    def plan(self, body: Mapping[str, Any], ctx: PlanContext) -> Actions:
        seen = observe(body, ctx, check_lookup)
        if seen.meta.deleting:
            return Actions(refs=seen.refs)
        checked, meta = seen.checked, seen.meta
        activity = checked.activity
        state = plan_runs(self._inputs(seen, ctx), ctx.view)
        secure_input = bool(activity and activity.spec.policy.secure_input)
        attempts = [describe(a, secure_input=secure_input) for a in state.attempts]
        latest = max(attempts, key=lambda a: a.key) if attempts else None
        out = Output(None)
        if latest is not None and activity is not None:
            out = stored_output(latest, activity, meta, seen.old, ctx)
        decision = _with_latest(state, out.attempt) if out.attempt is not None else state.decision
        view = RunView(
            old=seen.old,
            generation=meta.generation,
            readiness=checked.readiness,
            decision=decision,
            attempts=attempts,
            hide_messages=bool(activity and activity.spec.policy.secure_output),
            now=ctx.now,
        )
        status = lookup_status(view, meta.name, out.result)
        events = [*status_events(seen.old, status, LOOKUP_EVENTS), *schedule_events(state.decision)]
        return run_actions(
            seen,
            status,
            state,
            events,
            config_map=out.config_map,
            drop_config_map=out.drop_config_map,
            read_log=out.read_log,
        )

    @staticmethod
    def _inputs(seen: Observed[Checked], ctx: PlanContext) -> RunInputs:
        meta, activity, plan = seen.meta, seen.checked.activity, seen.checked.plan
        policy = activity.spec.policy if activity is not None else None
        refresh = activity.spec.refresh_interval if activity is not None else None

        def make_job(start: NewAttempt) -> dict[str, Any] | None:
            if plan is None:
                return None
            owner = JobOwner(name=meta.name, namespace=meta.namespace, uid=meta.uid, kind=KIND)
            deadline = plan.timeout_seconds + DEADLINE_GRACE_SECONDS
            run = {"run_id": start.run_id, "run_context": run_context(start, ctx.now)}
            run_plan = plan.model_copy(update=run)
            return build_job(
                run_plan, owner, ctx.settings.job, start, task=TASK_LOOKUP, timeout_seconds=deadline
            )

        retries = RunPolicy(policy.retry, policy.retry_interval_in_seconds) if policy else RunPolicy()
        every = duration_seconds(refresh) if refresh else None
        schedule = cron_wish(activity.spec.schedule if activity else None, seen, ctx.now)
        want = wanted(meta, retries, ready=plan is not None, every_seconds=every, plan=plan, cron=schedule)
        return run_inputs(KIND, seen, ctx, want, make_job, HISTORY)


__all__ = ["LookupController", "check_lookup"]
