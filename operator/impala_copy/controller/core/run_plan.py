"""The part of a reconciliation every running kind shares: which attempts exist, which run starts now,
which finished Jobs go. Pure: decided from the cluster view, the old status and the clock.

A kind's controller gives what only it knows (what the object wants, how to build its Job) and gets
back the attempts, the run decision, the Job to create and the Jobs to delete. Attempts come from the
Jobs the owner controls (this incarnation: same uid), from Jobs created but not yet seen on the watch,
and from the recorded attempt in status once its Job is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    RunDecision,
    Wanted,
    attempt_from_status,
    latest_attempt,
    which_run,
)
from impala_copy.controller.core.timeutil import parse_time
from impala_copy.controller.core.view import ClusterView

JobFactory = Callable[[NewAttempt], dict[str, Any] | None]


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
    )
    return replace(attempt, outcome=held), grace - waited


def history_to_delete(
    attempts: Sequence[Attempt], jobs: Mapping[str, JobRecord], keep_succeeded: int, keep_failed: int
) -> tuple[str, ...]:
    """Finished Jobs beyond the history limits (newest kept), never one still being deleted."""
    finished = sorted(
        (a for a in attempts if a.job_name in jobs and a.outcome.finished and not jobs[a.job_name].deleting),
        key=lambda a: a.key,
        reverse=True,
    )
    succeeded = [a.job_name for a in finished if a.outcome.state == SUCCEEDED]
    failed = [a.job_name for a in finished if a.outcome.state == FAILED]
    return tuple(succeeded[keep_succeeded:] + failed[keep_failed:])


def _superseded(decision: RunDecision) -> tuple[str, ...]:
    """The Job of a run whose pod waits for a missing Secret, when a new run replaces it (deleted), and
    the running Job a due run replaces (concurrencyPolicy Replace)."""
    if decision.start is not None and decision.replaces:
        return (decision.replaces,)
    latest = decision.latest
    if decision.start is None or latest is None or not waiting_for_reference(latest.outcome):
        return ()
    return (latest.job_name,) if latest.job_name and latest.recorded is None else ()


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
    attempts = [attempt_of(job, view) for job in jobs.values()]
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
            attempts.append(attempt_of(created, view))
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
    "held_attempts",
    "history_to_delete",
    "latest_attempt",
    "owned_jobs",
    "plan_runs",
]
