"""A partitioned copy's attempt: three step Jobs judged as one attempt. Pure and level-based.

An attempt of a partitioned CopyActivity (api/partitions.py) runs, in order:
1. `plan`: a one-pod Job (`engine --task partition-plan`) whose termination message is a
   PartitionPlanSummary listing the partitions;
2. `copy`: one Indexed Job, an index per partition, each pod staging its partition;
3. `commit`: a one-pod Job (`engine --task commit`) publishing the whole run; its RunSummary is the run's.

The step Jobs share the attempt's run and attempt labels and carry `impalacopy.io/step`. Which step
comes next is read from the Jobs seen, never remembered: the next step is wanted once the previous one
succeeded and none of a later step exists. Any step failed is the attempt failed, with that step's
reason; the commit step succeeded is the attempt succeeded, with the commit summary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from pydantic import ValidationError

from impala_copy.api.partitions import MAX_PARALLEL_COPIES
from impala_copy.api.plan import CopyPlan, Partition
from impala_copy.api.summary import PartitionPlanSummary, RunSummary
from impala_copy.controller.core.constants import (
    STEP_COMMIT,
    STEP_COPY,
    STEP_PLAN,
    STEP_STATES,
    STEPS,
    Reason,
)
from impala_copy.controller.core.outcome import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    AttemptOutcome,
    attempt_outcome,
)
from impala_copy.controller.core.records import JobRecord, PodRecord
from impala_copy.controller.core.runs import Attempt, NextStep
from impala_copy.controller.core.timeutil import parse_time
from impala_copy.controller.core.view import ClusterView

Steps = Mapping[str, JobRecord]  # step -> its Job


class PlanLost(Exception):
    """The plan step ended without a usable list of partitions (the message says what is wrong)."""


def group_steps(jobs: Iterable[JobRecord]) -> tuple[list[JobRecord], list[dict[str, JobRecord]]]:
    """The Jobs of single-Job attempts, and the step Jobs grouped by attempt."""
    single: list[JobRecord] = []
    grouped: dict[tuple[int, int], dict[str, JobRecord]] = {}
    for job in jobs:
        if job.step is None:
            single.append(job)
        else:
            grouped.setdefault((job.run_number, job.attempt), {}).setdefault(job.step, job)
    return single, list(grouped.values())


def steps_attempt(steps: Steps, view: ClusterView) -> Attempt:
    """The attempt the step Jobs of one run and attempt make."""
    ordered = [steps[s] for s in STEPS if s in steps]
    first, newest = ordered[0], ordered[-1]
    outcome, next_step = steps_outcome(steps, view)
    return Attempt(
        run_number=first.run_number,
        attempt=first.attempt,
        generation=first.generation,
        run_now=first.run_now,
        trigger=first.trigger,
        job_name=newest.name,
        outcome=outcome,
        plan_digest=first.plan_digest,
        scheduled_time=parse_time(first.scheduled_time),
        window=first.window,
        jobs=tuple(job.name for job in ordered),
        next_step=next_step,
    )


def steps_outcome(steps: Steps, view: ClusterView) -> tuple[AttemptOutcome, NextStep | None]:
    """How the attempt is doing, and the step Job it needs next (None: none now)."""
    first = next(steps[s] for s in STEPS if s in steps)
    started = first.start_time or first.created
    if STEP_COMMIT in steps:
        outcome, next_step = _commit_step(steps[STEP_COMMIT], view), None
    elif STEP_COPY in steps:
        outcome, next_step = _copy_step(steps[STEP_COPY], view)
    else:
        outcome, next_step = _plan_step(steps[STEP_PLAN], view)
    if first.step != STEP_PLAN or len(steps) > 1:
        outcome = _started(outcome)
    copied = steps.get(STEP_COPY)
    progress = f"{len(copied.completed_indexes)}/{copied.completions} partitions" if copied else None
    return replace(outcome, start_time=started, progress=progress), next_step


def _started(outcome: AttemptOutcome) -> AttemptOutcome:
    """A later step whose pods are merely not up yet: the attempt has started, it is running."""
    if outcome.state == PENDING and outcome.reason == Reason.JOB_PENDING:
        return replace(outcome, state=RUNNING)
    return outcome


def _pods(job: JobRecord, view: ClusterView) -> list[PodRecord]:
    return view.pods_of(job.namespace, job.name)


def _commit_step(job: JobRecord, view: ClusterView) -> AttemptOutcome:
    return replace(attempt_outcome(job, _pods(job, view)), step=STEP_STATES[STEP_COMMIT])


def _copy_step(job: JobRecord, view: ClusterView) -> tuple[AttemptOutcome, NextStep | None]:
    """The Indexed Job: running, failed (the failed index's reason first), or done (commit next)."""
    pods = _pods(job, view)
    outcome = attempt_outcome(job, pods)
    step = STEP_STATES[STEP_COPY]
    failed_pods = [p for p in pods if p.container.state == "terminated" and p.container.exit_code != 0]
    # The reason of the index that failed for good, not of any pod (nor of an index retried since).
    failed_pods = [p for p in failed_pods if p.index in job.failed_indexes] or failed_pods
    if outcome.state == FAILED and failed_pods:
        outcome = attempt_outcome(job, failed_pods)
    if outcome.state == RUNNING and outcome.reason == Reason.JOB_RUNNING:
        copied = f"{len(job.completed_indexes)} of {job.completions} partitions copied"
        outcome = replace(outcome, message=f"Job {job.name} is running: {copied}")
    if outcome.state == FAILED:
        index = _failed_index(job, failed_pods)
        message = f"partition {index}: {outcome.message}" if index is not None else outcome.message
        return replace(outcome, step=step, message=message, summary=_errors_of(outcome.summary)), None
    if outcome.state != SUCCEEDED:
        return replace(outcome, step=step), None
    try:
        plan = read_plan(job)
    except PlanLost as lost:
        return _lost(job, outcome, str(lost)), None
    done = AttemptOutcome(
        state=RUNNING,
        reason=Reason.JOB_RUNNING,
        message=f"all {job.completions} partitions copied; committing",
        step=STEP_STATES[STEP_COMMIT],
    )
    return done, NextStep(STEP_COMMIT, plan)


def _errors_of(summary: RunSummary | None) -> RunSummary | None:
    """The errors of a failed index's summary, without its counts (they are not the run's)."""
    return RunSummary(status="Failed", errors=summary.errors) if summary is not None else None


def _failed_index(job: JobRecord, failed_pods: Sequence[PodRecord]) -> int | None:
    newest = sorted(failed_pods, key=lambda p: (p.created or "", p.name))
    if newest and newest[-1].index is not None:
        return newest[-1].index
    return min(job.failed_indexes) if job.failed_indexes else None


def _plan_step(job: JobRecord, view: ClusterView) -> tuple[AttemptOutcome, NextStep | None]:
    """The planning pod: running, failed (its PartitionPlanSummary's error), or done (copy next)."""
    outcome = replace(attempt_outcome(job, _pods(job, view)), step=STEP_STATES[STEP_PLAN], summary=None)
    planned = parse_plan_summary(outcome.termination_message)
    if outcome.state == FAILED:
        error = planned.error if planned is not None else None
        if error is not None:
            failed = RunSummary(status="Failed", errors=[error])
            return replace(outcome, reason=error.code, message=error.message, summary=failed), None
        return outcome, None
    if outcome.state != SUCCEEDED:
        return outcome, None
    try:
        plan = read_plan(job)
        partitions = read_partitions(planned, plan)
    except PlanLost as lost:
        return _lost(job, outcome, str(lost)), None
    planned_plan = plan.model_copy(update={"partitions": partitions})
    running = AttemptOutcome(
        state=RUNNING,
        reason=Reason.JOB_RUNNING,
        message=f"planned {len(partitions)} partitions; copying",
        step=STEP_STATES[STEP_COPY],
    )
    return running, NextStep(STEP_COPY, planned_plan)


def _lost(job: JobRecord, outcome: AttemptOutcome, why: str) -> AttemptOutcome:
    """The step succeeded, but what the next step needs is missing: the attempt fails (and may be retried);
    while the step's pod has not been seen, it waits for it (run_plan.hold_for_summary)."""
    return replace(
        outcome,
        state=FAILED,
        reason=Reason.PARTITION_PLAN_LOST,
        message=f"Job {job.name}: {why}",
        summary=None,
        retryable=True,
        summary_missing=outcome.pod_name is None,
    )


def parse_plan_summary(text: str) -> PartitionPlanSummary | None:
    """The plan step's summary from a termination message, or None when it is not one."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        return PartitionPlanSummary.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError):
        return None


def read_plan(job: JobRecord) -> CopyPlan:
    """The CopyPlan a step Job's pod runs (the next step runs the same plan)."""
    if not job.plan_text:
        raise PlanLost("its pod has no plan")
    try:
        return CopyPlan.model_validate_json(job.plan_text)
    except ValidationError:
        raise PlanLost("its pod's plan cannot be read") from None


def read_partitions(planned: PartitionPlanSummary | None, plan: CopyPlan) -> list[Partition]:
    """The partitions the plan step reported: indexes 0..n-1 in order, at most the planned count."""
    if planned is None or planned.status != "Succeeded":
        raise PlanLost("the plan step's summary (the list of partitions) was not found")
    most = plan.partitioning.count if plan.partitioning is not None else MAX_PARALLEL_COPIES
    if not 1 <= len(planned.partitions) <= most:
        raise PlanLost(f"the plan step listed {len(planned.partitions)} partitions (expected 1 to {most})")
    try:
        partitions = [Partition.model_validate(p) for p in planned.partitions]
    except ValidationError:
        raise PlanLost("the plan step's list of partitions cannot be read") from None
    if [p.index for p in partitions] != list(range(len(partitions))):
        raise PlanLost("the plan step's partitions are not numbered 0 to n-1 in order")
    return partitions


__all__ = [
    "PlanLost",
    "group_steps",
    "parse_plan_summary",
    "read_partitions",
    "read_plan",
    "steps_attempt",
    "steps_outcome",
]
