"""Which run should exist now: one pure function of the object's wishes, the runs seen, and the clock.

One function for every kind that runs something (CopyActivity, LookupActivity, the connection test of an
ImpalaLinkedService). A run starts when the object is first applied (trigger `create`), when its spec
changes (a new `metadata.generation`, trigger `specChange`), when the annotation `impalacopy.io/run-now`
takes a value no run has had yet (trigger `runNow`) and, for kinds that repeat, when `every_seconds`
have passed since the last run finished (trigger `interval`: a lookup's refreshInterval, a connection
test's probeIntervalSeconds). A failed attempt is tried again (trigger `retry`) after
`policy.retryIntervalInSeconds`, up to `policy.retry` times, unless the engine said retrying cannot help
(configuration errors). A new run waits for a run in progress to end (except one whose pod waits for a
missing Secret or ConfigMap: the new run replaces it, its Job is deleted), and for the references to
resolve.

A cron schedule (`Wanted.cron`, core/schedule.py) is one more input: at each due time one run starts
(trigger `schedule`); a scheduled activity does not run on create nor on a spec change (the next due
time runs the new spec), run-now still starts a run. A due run waits for a run in progress
(concurrencyPolicy Forbid, retries included) or replaces it (Replace: its Job is deleted).

The runs seen come from the Jobs found (labels and annotations record run, attempt, generation, trigger
and run-now value) and from `status.lastRun` once its Job is gone, never from memory: an operator
restart decides the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from impala_copy.api.plan import CopyPlan
from impala_copy.api.pod_contract import EXIT_CONFIGURATION
from impala_copy.api.schedule import RunContext
from impala_copy.controller.core.constants import Reason, Trigger
from impala_copy.controller.core.outcome import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    AttemptOutcome,
    waiting_for_reference,
)
from impala_copy.controller.core.records import WindowRef, as_dict, as_int, as_str
from impala_copy.controller.core.schedule import CronTurn, CronWish, cron_turn
from impala_copy.controller.core.timeutil import format_time, parse_time


@dataclass(frozen=True)
class RunPolicy:
    retry: int = 0
    retry_interval_seconds: int = 30


@dataclass(frozen=True)
class Wanted:
    """What the object asks for now."""

    generation: int
    run_now: str | None
    policy: RunPolicy
    ready: bool
    deleting: bool = False
    every_seconds: int | None = None  # repeat a finished run after this long (None: never)
    plan_digest: str | None = None  # what a run would do now (core/job.plan_digest)
    cron: CronWish | None = None  # spec.schedule.cron with its handled mark


@dataclass(frozen=True)
class NextStep:
    """The step Job a partitioned copy's attempt needs next (core/steps.py), and the plan its pods run."""

    step: str
    plan: CopyPlan


@dataclass(frozen=True)
class Attempt:
    """One attempt the operator knows of: from its Job, or from status.lastRun once the Job is gone."""

    run_number: int
    attempt: int
    generation: int
    run_now: str | None
    trigger: str
    job_name: str
    outcome: AttemptOutcome
    recorded: Mapping[str, Any] | None = None  # status.lastRun, when this attempt is known from there only
    plan_digest: str | None = None  # what the attempt's Job does (core/job.plan_digest)
    scheduled_time: datetime | None = None  # the due time of a scheduled run
    window: WindowRef | None = None  # the tumbling window it copies (core/windows.py)
    jobs: tuple[str, ...] = ()  # every Job of the attempt when it has several (a partitioned copy's steps)
    next_step: NextStep | None = None  # the step Job to create now (a partitioned copy)

    @property
    def key(self) -> tuple[int, int]:
        return self.run_number, self.attempt

    @property
    def job_names(self) -> tuple[str, ...]:
        """The attempt's Jobs: all its steps, or its one Job."""
        return self.jobs or ((self.job_name,) if self.job_name else ())

    def again(self) -> NewAttempt:
        """This attempt as one to launch (the next step of a partitioned copy runs in it)."""
        return NewAttempt(
            self.run_number, self.attempt, self.generation, self.run_now, self.trigger, self.scheduled_time,
            window=self.window,
        )  # fmt: skip


@dataclass(frozen=True)
class NewAttempt:
    """An attempt to launch now."""

    run_number: int
    attempt: int
    generation: int
    run_now: str | None
    trigger: str
    scheduled_time: datetime | None = None  # the due time a scheduled run (and its retries) is for
    # Keyword only where built (core/windows.py), so fields added before it keep their places.
    window: WindowRef | None = None  # the tumbling window to copy (core/windows.py)

    @property
    def run_id(self) -> str:
        return str(self.run_number)


@dataclass(frozen=True)
class RunDecision:
    start: NewAttempt | None = None
    latest: Attempt | None = None
    # A run is wanted but cannot start yet: "active" (another run in progress) or "references".
    blocked_by: str | None = None
    retry_at: datetime | None = None
    next_at: datetime | None = None  # when a repeating kind runs again, or the next due time
    attempts_total: int = 1
    cron: CronTurn | None = None  # where the cron schedule stands (None without one)
    replaces: str | None = None  # the Job of a running run the due run replaces (deleted)

    @property
    def wake_at(self) -> datetime | None:
        times = [t for t in (self.retry_at, self.next_at) if t is not None]
        return min(times) if times else None


def run_context(start: NewAttempt, now: datetime) -> RunContext:
    """When the run runs: its due time when scheduled (also for its retries), else now."""
    scheduled = format_time(start.scheduled_time) if start.scheduled_time is not None else None
    return RunContext(trigger_time=scheduled or format_time(now), scheduled_time=scheduled)


def latest_attempt(attempts: Sequence[Attempt]) -> Attempt | None:
    return max(attempts, key=lambda a: a.key) if attempts else None


def _new_run_trigger(wanted: Wanted, latest: Attempt | None) -> str | None:
    """Why a new run is wanted (create, specChange, runNow), or None. A scheduled activity runs at its
    due times instead of on create and on a spec change."""
    scheduled = wanted.cron is not None
    if latest is None:
        if scheduled:
            return Trigger.RUN_NOW if wanted.run_now is not None else None
        return Trigger.CREATE
    if latest.generation < wanted.generation and not scheduled:
        return Trigger.SPEC_CHANGE
    if wanted.run_now is not None and wanted.run_now != latest.run_now:
        return Trigger.RUN_NOW
    if (
        waiting_for_reference(latest.outcome)
        and wanted.plan_digest
        and latest.plan_digest
        and wanted.plan_digest != latest.plan_digest
    ):
        return Trigger.REFERENCE_CHANGE
    return None


def which_run(wanted: Wanted, attempts: Sequence[Attempt], now: datetime) -> RunDecision:
    """The attempt to start now (if any), and what else is pending, from the observed attempts."""
    latest = latest_attempt(attempts)
    total = 1 + wanted.policy.retry
    if wanted.deleting:
        return RunDecision(latest=latest, attempts_total=total)
    if wanted.cron is None:
        return _decide(wanted, latest, None, now, total)
    # A run in progress that is not the run of a due time after the mark (that one was just started).
    busy = (
        latest is not None
        and not latest.outcome.finished
        and (latest.scheduled_time is None or latest.scheduled_time <= wanted.cron.floor)
    )
    turn = cron_turn(wanted.cron, [a.scheduled_time for a in attempts if a.scheduled_time], now, busy)
    decision = _decide(wanted, latest, turn, now, total)
    waiting = turn.deadline_at if turn.due is not None and decision.start is None else None
    wakes = [t for t in (decision.next_at, turn.next_at, waiting) if t is not None]
    return replace(decision, cron=turn, next_at=min(wakes) if wakes else None)


def _decide(
    wanted: Wanted, latest: Attempt | None, turn: CronTurn | None, now: datetime, total: int
) -> RunDecision:
    trigger = _new_run_trigger(wanted, latest)
    if trigger is not None:
        if latest is not None and not latest.outcome.finished and not waiting_for_reference(latest.outcome):
            return RunDecision(latest=latest, blocked_by="active", attempts_total=total)
        if not wanted.ready:
            return RunDecision(latest=latest, blocked_by="references", attempts_total=total)
        number = latest.run_number + 1 if latest is not None else 1
        start = NewAttempt(number, 1, wanted.generation, wanted.run_now, trigger)
        return RunDecision(start=start, latest=latest, attempts_total=total)
    due = turn.due if turn is not None else None
    replacing = due is not None and wanted.cron is not None and wanted.cron.replace
    if latest is not None and _retry_left(latest, total) and not replacing:
        return _retry(wanted, latest, now, total)
    if due is not None:
        return _scheduled(wanted, latest, due, total)
    if latest is None:
        return RunDecision(attempts_total=total)
    return _repeat(wanted, latest, now, total)


def _retry_left(latest: Attempt, total: int) -> bool:
    outcome = latest.outcome
    return outcome.state == FAILED and outcome.retryable and latest.attempt < total


def _retry(wanted: Wanted, latest: Attempt, now: datetime, total: int) -> RunDecision:
    """The next attempt of a failed run, once policy.retryIntervalInSeconds has passed."""
    finished = parse_time(latest.outcome.completion_time) or now
    retry_at = finished + timedelta(seconds=wanted.policy.retry_interval_seconds)
    if now < retry_at:
        return RunDecision(latest=latest, retry_at=retry_at, attempts_total=total)
    if not wanted.ready:
        return RunDecision(latest=latest, blocked_by="references", attempts_total=total)
    start = NewAttempt(
        latest.run_number, latest.attempt + 1, latest.generation, latest.run_now, Trigger.RETRY,
        latest.scheduled_time,
    )  # fmt: skip
    return RunDecision(start=start, latest=latest, attempts_total=total)


def _scheduled(wanted: Wanted, latest: Attempt | None, due: datetime, total: int) -> RunDecision:
    """The run of a due time: it waits for a run in progress (Forbid) or replaces it (Replace)."""
    replaces = None
    if latest is not None and not latest.outcome.finished and not waiting_for_reference(latest.outcome):
        if wanted.cron is None or not wanted.cron.replace:
            return RunDecision(latest=latest, blocked_by="active", attempts_total=total)
        replaces = latest.job_name or None
    if not wanted.ready:
        return RunDecision(latest=latest, blocked_by="references", attempts_total=total)
    number = latest.run_number + 1 if latest is not None else 1
    run_now = latest.run_now if latest is not None else wanted.run_now
    start = NewAttempt(number, 1, wanted.generation, run_now, Trigger.SCHEDULE, due)
    return RunDecision(start=start, latest=latest, attempts_total=total, replaces=replaces)


def _repeat(wanted: Wanted, latest: Attempt, now: datetime, total: int) -> RunDecision:
    """A finished run of a repeating kind: the next one is due `every_seconds` after it ended."""
    outcome = latest.outcome
    if not wanted.every_seconds or not outcome.finished:
        return RunDecision(latest=latest, attempts_total=total)
    finished = parse_time(outcome.completion_time) or now
    due = finished + timedelta(seconds=wanted.every_seconds)
    if now < due:
        return RunDecision(latest=latest, next_at=due, attempts_total=total)
    if not wanted.ready:
        return RunDecision(latest=latest, blocked_by="references", attempts_total=total)
    start = NewAttempt(latest.run_number + 1, 1, wanted.generation, latest.run_now, Trigger.INTERVAL)
    return RunDecision(start=start, latest=latest, attempts_total=total)


def attempt_from_status(status: Mapping[str, Any], now: datetime, key: str = "lastRun") -> Attempt | None:
    """The newest attempt as recorded in status (`lastRun`, or `key`), used once its Job is gone.

    An attempt recorded as pending or running whose Job is gone was deleted by someone: it counts
    as failed now (reason JobDeleted), and may be retried.
    """
    last = as_dict(status.get(key))
    number = as_int(last.get("runId"))
    if not last or number is None:
        return None
    state = as_str(last.get("status")) or ""
    completion = as_str(last.get("completionTime"))
    exit_code = as_int(last.get("exitCode"))
    if state in (SUCCEEDED, FAILED):
        outcome = AttemptOutcome(
            state=state,
            reason=as_str(last.get("reason"))
            or (Reason.RUN_SUCCEEDED if state == SUCCEEDED else Reason.JOB_FAILED),
            message="",
            exit_code=exit_code,
            start_time=as_str(last.get("startTime")),
            completion_time=completion,
            retryable=exit_code != EXIT_CONFIGURATION,
        )
    else:
        outcome = AttemptOutcome(
            state=FAILED,
            reason=Reason.JOB_DELETED,
            message=f"Job {as_str(last.get('jobName')) or ''} was deleted before it finished",
            start_time=as_str(last.get("startTime")),
            completion_time=format_time(now),
            retryable=True,
        )
    return Attempt(
        run_number=number,
        attempt=as_int(last.get("attempt")) or 1,
        generation=as_int(last.get("generation")) or 0,
        run_now=as_str(status.get("handledRunNow")),
        trigger=as_str(last.get("trigger")) or "",
        job_name=as_str(last.get("jobName")) or "",
        outcome=outcome,
        recorded=last,
        scheduled_time=parse_time(last.get("scheduledTime")),
    )


ACTIVE_STATES = (PENDING, RUNNING)
