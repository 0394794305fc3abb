"""The part of a reconciliation every running kind shares: which attempts exist, which run starts now,
which finished Jobs go. Pure: decided from the cluster view, the old status and the clock.

A kind's controller gives what only it knows (what the object wants, how to build its Job) and gets
back the attempts, the run decision, the Job to create and the Jobs to delete. Attempts come from the
Jobs the owner controls (this incarnation: same uid), from Jobs created but not yet seen on the watch,
and from the recorded attempt in status once its Job is gone. The step Jobs of a partitioned copy make
one attempt together (core/steps.py); the step an attempt needs next is created here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from impala_copy.controller.core.constants import Reason
from impala_copy.controller.core.outcome import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    AttemptOutcome,
    attempt_outcome,
    waiting_for_reference,
)
from impala_copy.controller.core.records import JobRecord, Meta, job_record
from impala_copy.controller.core.runs import (
    Attempt,
    NewAttempt,
    NextStep,
    RunDecision,
    Wanted,
    attempt_from_status,
    latest_attempt,
    which_run,
)
from impala_copy.controller.core.steps import group_steps, steps_attempt
from impala_copy.controller.core.timeutil import parse_time
from impala_copy.controller.core.view import ClusterView

JobFactory = Callable[[NewAttempt], dict[str, Any] | None]
# The next step Job of a partitioned copy's attempt, or None when it cannot be built.
StepFactory = Callable[[Attempt, NextStep], dict[str, Any] | None]


@dataclass(frozen=True)
class RunInputs:
    """What a kind's controller hands to the shared run planning."""

    kind: str
    meta: Meta
    wanted: Wanted
    make_job: JobFactory  # the Job of an attempt, or None when it cannot be built (not ready)
    old_status: Mapping[str, Any]
    now: datetime
    history: tuple[int, int]  # finished Jobs kept: (succeeded, failed)
    summary_grace_seconds: float
    status_key: str = "lastRun"  # where status records the newest attempt
    extra_jobs: Sequence[JobRecord] = ()
    make_step: StepFactory | None = None  # partitioned copies: the next step Job of an attempt


@dataclass(frozen=True)
class RunState:
    attempts: list[Attempt]
    decision: RunDecision
    create: dict[str, Any] | None
    delete: tuple[str, ...]
    recheck_after: float | None


def attempt_of(job: JobRecord, view: ClusterView) -> Attempt:
    return Attempt(
        run_number=job.run_number,
        attempt=job.attempt,
        generation=job.generation,
        run_now=job.run_now,
        trigger=job.trigger,
        job_name=job.name,
        outcome=attempt_outcome(job, view.pods_of(job.namespace, job.name)),
        plan_digest=job.plan_digest,
        scheduled_time=parse_time(job.scheduled_time),
        window=job.window,
    )


def attempts_of(jobs: Iterable[JobRecord], view: ClusterView) -> list[Attempt]:
    """The attempts the Jobs make: one per Job, or one per group of a partitioned copy's step Jobs."""
    single, grouped = group_steps(jobs)
    return [*(attempt_of(job, view) for job in single), *(steps_attempt(steps, view) for steps in grouped)]


def hold_for_summary(attempt: Attempt, now: datetime, grace: float) -> tuple[Attempt, float | None]:
    """A finished attempt whose pod has not been seen yet stays Running for a short grace period."""
    outcome = attempt.outcome
    if not outcome.finished or not outcome.summary_missing:
        return attempt, None
    finished = parse_time(outcome.completion_time)
    waited = (now - finished).total_seconds() if finished else grace
    if waited >= grace:
        return attempt, None
    held = AttemptOutcome(
        state=RUNNING,
        reason=Reason.JOB_RUNNING,
        message="the Job finished; waiting for its pod's run summary",
        start_time=outcome.start_time,
        step=outcome.step,
        progress=outcome.progress,
    )
    return replace(attempt, outcome=held), grace - waited


def history_to_delete(
    attempts: Sequence[Attempt], jobs: Mapping[str, JobRecord], keep_succeeded: int, keep_failed: int
) -> tuple[str, ...]:
    """Finished Jobs beyond the history limits (newest kept), never one still being deleted; all the
    step Jobs of an attempt go together."""
    finished = sorted(
        (a for a in attempts if a.job_name in jobs and a.outcome.finished),
        key=lambda a: a.key,
        reverse=True,
    )
    succeeded = [a for a in finished if a.outcome.state == SUCCEEDED]
    failed = [a for a in finished if a.outcome.state == FAILED]
    going = succeeded[keep_succeeded:] + failed[keep_failed:]
    return tuple(n for a in going for n in a.job_names if n in jobs and not jobs[n].deleting)


def _superseded(decision: RunDecision) -> tuple[str, ...]:
    """The Jobs of a run whose pod waits for a missing Secret, when a new run replaces it (deleted), and
    the running Jobs a due run replaces (concurrencyPolicy Replace)."""
    latest = decision.latest
    if decision.start is not None and decision.replaces:
        if latest is not None and latest.job_name == decision.replaces:
            return latest.job_names
        return (decision.replaces,)
    if decision.start is None or latest is None or not waiting_for_reference(latest.outcome):
        return ()
    return latest.job_names if latest.recorded is None else ()


def _next_step(decision: RunDecision, inputs: RunInputs) -> dict[str, Any] | None:
    """The next step Job of the newest attempt (a partitioned copy), when it needs one now."""
    latest = decision.latest
    if inputs.make_step is None or inputs.wanted.deleting or latest is None or latest.next_step is None:
        return None
    return inputs.make_step(latest, latest.next_step)


def _with_step(
    attempts: list[Attempt], jobs: Mapping[str, JobRecord], create: dict[str, Any], view: ClusterView
) -> list[Attempt]:
    """The attempts with the one a step Job was just created for judged again, that Job included."""
    created = job_record(create)
    assert created is not None
    assert created.step is not None
    key = (created.run_number, created.attempt)
    steps = {j.step: j for j in jobs.values() if j.step is not None and (j.run_number, j.attempt) == key}
    steps[created.step] = created
    return [*(a for a in attempts if a.key != key), steps_attempt(steps, view)]


# Every attempt known and the Jobs they came from (observed_attempts).
Observed = tuple[list[Attempt], dict[str, JobRecord]]


def owned_jobs(inputs: RunInputs, view: ClusterView) -> dict[str, JobRecord]:
    """The Jobs of this incarnation of the owner (same uid), and the Jobs just created, by name."""
    meta = inputs.meta
    jobs: dict[str, JobRecord] = {}
    for job in [*view.jobs_of(meta.namespace, meta.name, inputs.kind), *inputs.extra_jobs]:
        if meta.uid is None or job.owner_uid in (None, meta.uid):
            jobs.setdefault(job.name, job)
    return jobs


def observed_attempts(inputs: RunInputs, view: ClusterView) -> Observed:
    """Every attempt known: the owner's Jobs, Jobs just created, and the one recorded in status."""
    jobs = owned_jobs(inputs, view)
    attempts = attempts_of(jobs.values(), view)
    recorded = attempt_from_status(inputs.old_status, inputs.now, inputs.status_key)
    newest = latest_attempt(attempts)
    if recorded is not None and (newest is None or recorded.key > newest.key):
        attempts.append(recorded)
    return attempts, jobs


def held_attempts(attempts: Sequence[Attempt], inputs: RunInputs) -> tuple[list[Attempt], list[float]]:
    """The attempts with each finished one still waiting for its summary held Running; when to look again."""
    recheck: list[float] = []
    held: list[Attempt] = []
    for attempt in attempts:
        attempt, wait = hold_for_summary(attempt, inputs.now, inputs.summary_grace_seconds)
        held.append(attempt)
        if wait is not None:
            recheck.append(wait)
    return held, recheck


def plan_runs(inputs: RunInputs, view: ClusterView, observed: Observed | None = None) -> RunState:
    """Attempts, the run decision, the Job to create and the Jobs to delete. `observed`: what
    `observed_attempts` returned for these inputs, when the kind already looked (read only)."""
    attempts, jobs = observed if observed is not None else observed_attempts(inputs, view)
    attempts, recheck = held_attempts(attempts, inputs)
    decision = which_run(inputs.wanted, attempts, inputs.now)
    superseded = _superseded(decision)
    create: dict[str, Any] | None = None
    if decision.start is not None:
        create = inputs.make_job(decision.start)
        if create is not None:
            created = job_record(create)
            assert created is not None
            attempts.extend(attempts_of([created], view))
            decision = which_run(inputs.wanted, attempts, inputs.now)
    else:
        create = _next_step(decision, inputs)
        if create is not None:
            attempts = _with_step(attempts, jobs, create, view)
            decision = which_run(inputs.wanted, attempts, inputs.now)
    if decision.wake_at is not None:
        recheck.append(max(0.0, (decision.wake_at - inputs.now).total_seconds()))
    keep_ok, keep_bad = inputs.history
    return RunState(
        attempts=attempts,
        decision=decision,
        create=create,
        delete=(*superseded, *history_to_delete(attempts, jobs, keep_ok, keep_bad)),
        recheck_after=min(recheck) if recheck else None,
    )


__all__ = [
    "RunInputs",
    "RunState",
    "attempt_of",
    "attempts_of",
    "held_attempts",
    "history_to_delete",
    "latest_attempt",
    "owned_jobs",
    "plan_runs",
]
