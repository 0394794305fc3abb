"""A partitioned CopyActivity (source.partitionOption) in the controller: its cap, and its step Jobs.

An attempt of a partitioned copy (its plan has `partitioning`, api/resolve.partitioning_plan) is three
Jobs (core/steps.py judges them as one attempt): the plan step gets the run's CopyPlan with the default
single partition; the copy step (an Indexed Job) and the commit step get the plan the plan step's pod
ran, with the partitions its summary listed. The planning always runs in a pod: the operator holds no
Secret value and does not know the partition column's type.
"""

from __future__ import annotations

from typing import Any

from impala_copy.api.activities import CopyActivity
from impala_copy.api.partitions import DEFAULT_PARALLEL_COPIES, partitioned
from impala_copy.api.plan import TASK_COMMIT, TASK_COPY, TASK_PARTITION_PLAN, CopyPlan
from impala_copy.controller.core.constants import STEP_COMMIT, STEP_COPY, STEP_PLAN, Reason
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.readiness import CopyReadiness, Readiness
from impala_copy.controller.core.runs import Attempt, NewAttempt, NextStep
from impala_copy.controller.core.settings import JobDefaults

STEP_TASKS = {STEP_PLAN: TASK_PARTITION_PLAN, STEP_COPY: TASK_COPY, STEP_COMMIT: TASK_COMMIT}


def parallel_copies(activity: CopyActivity) -> int:
    return activity.spec.parallel_copies or DEFAULT_PARALLEL_COPIES


def within_cap(checked: CopyReadiness, cap: int) -> CopyReadiness:
    """Not Ready (InvalidSpec, naming the cap) when a partitioned copy asks for more pods than the admin
    allows (the operator's job.maxParallelCopies)."""
    activity = checked.activity
    if activity is None or not checked.readiness.ready or not partitioned(activity.spec.source):
        return checked
    wanted = parallel_copies(activity)
    if wanted <= cap:
        return checked
    message = (
        f"spec.parallelCopies {wanted} is above the operator's cap job.maxParallelCopies = {cap}: "
        f"ask for {cap} or fewer"
    )
    return CopyReadiness(Readiness(False, Reason.INVALID_SPEC, message), activity)


def step_job(
    plan: CopyPlan, owner: JobOwner, defaults: JobDefaults, start: NewAttempt, step: str, retries: int
) -> dict[str, Any]:
    """The Job of one step of an attempt; the copy step retries each index `retries` times."""
    return build_job(
        plan,
        owner,
        defaults,
        start,
        task=STEP_TASKS[step],
        step=step,
        retries_per_index=retries if step == STEP_COPY else 0,
    )


def next_step_job(
    attempt: Attempt, next_step: NextStep, owner: JobOwner, defaults: JobDefaults, retries: int
) -> dict[str, Any]:
    """The next step Job of a running attempt: the plan the previous step ran, in the same attempt."""
    return step_job(next_step.plan, owner, defaults, attempt.again(), next_step.step, retries)


__all__ = [
    "next_step_job",
    "parallel_copies",
    "step_job",
    "within_cap",
]
