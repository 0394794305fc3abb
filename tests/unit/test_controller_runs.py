"""which_run: the one function that says which run should exist now.

In:  what the object asks for (generation, run-now value, retry policy, readiness), the attempts seen
     (from Jobs or from status.lastRun), and the clock.
Out: the attempt to start (run number, attempt, trigger), or why none starts (a run in progress,
     references not ready, a retry scheduled at a time).
Faked: nothing; pure function.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from impala_copy.controller.core.outcome import FAILED, PENDING, RUNNING, SUCCEEDED, AttemptOutcome
from impala_copy.controller.core.runs import (
    Attempt,
    NewAttempt,
    RunPolicy,
    Wanted,
    attempt_from_status,
    which_run,
)
from impala_copy.controller.core.timeutil import format_time

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def attempt(
    run: int = 1,
    number: int = 1,
    state: str = SUCCEEDED,
    generation: int = 1,
    run_now: str | None = None,
    finished: datetime | None = NOW - timedelta(minutes=5),
    retryable: bool = True,
) -> Attempt:
    outcome = AttemptOutcome(
        state=state,
        reason="X",
        message="",
        completion_time=format_time(finished) if finished and state in (SUCCEEDED, FAILED) else None,
        retryable=retryable,
    )
    return Attempt(run, number, generation, run_now, "create", f"job-{run}-{number}", outcome)


def wanted(generation: int = 1, run_now: str | None = None, retry: int = 0, ready: bool = True) -> Wanted:
    return Wanted(generation=generation, run_now=run_now, policy=RunPolicy(retry, 60), ready=ready)


def test_first_apply_starts_run_one() -> None:
    decision = which_run(wanted(), [], NOW)
    assert decision.start == NewAttempt(1, 1, 1, None, "create")
    assert decision.latest is None


def test_nothing_to_do_once_the_run_of_this_generation_exists() -> None:
    for state in (PENDING, RUNNING, SUCCEEDED, FAILED):
        decision = which_run(wanted(), [attempt(state=state)], NOW)
        assert decision.start is None, state
        assert decision.retry_at is None


def test_a_new_generation_starts_the_next_run() -> None:
    decision = which_run(wanted(generation=3), [attempt(run=1), attempt(run=2, generation=2)], NOW)
    assert decision.start == NewAttempt(3, 1, 3, None, "specChange")


def test_run_now_with_a_new_value_starts_a_run_once() -> None:
    decision = which_run(wanted(run_now="2026-03-01T11:59"), [attempt()], NOW)
    assert decision.start == NewAttempt(2, 1, 1, "2026-03-01T11:59", "runNow")
    # The run that took this value exists: no second run for it.
    later = which_run(
        wanted(run_now="2026-03-01T11:59"), [attempt(), attempt(run=2, run_now="2026-03-01T11:59")], NOW
    )
    assert later.start is None


def test_removing_the_run_now_annotation_starts_nothing() -> None:
    assert which_run(wanted(run_now=None), [attempt(run_now="x")], NOW).start is None


def test_a_spec_change_with_run_now_starts_one_run() -> None:
    decision = which_run(wanted(generation=2, run_now="b"), [attempt(run_now="a")], NOW)
    assert decision.start == NewAttempt(2, 1, 2, "b", "specChange")


def test_a_new_run_waits_for_the_run_in_progress() -> None:
    decision = which_run(wanted(generation=2), [attempt(state=RUNNING)], NOW)
    assert decision.start is None
    assert decision.blocked_by == "active"


def test_nothing_starts_while_references_are_not_ready() -> None:
    decision = which_run(wanted(ready=False), [], NOW)
    assert decision.start is None
    assert decision.blocked_by == "references"


def test_retry_after_the_interval() -> None:
    failed_at = NOW - timedelta(seconds=20)
    attempts = [attempt(state=FAILED, finished=failed_at)]
    waiting = which_run(wanted(retry=2), attempts, NOW)
    assert waiting.start is None
    assert waiting.retry_at == failed_at + timedelta(seconds=60)
    assert waiting.attempts_total == 3
    due = which_run(wanted(retry=2), attempts, NOW + timedelta(seconds=41))
    assert due.start == NewAttempt(1, 2, 1, None, "retry")


def test_no_retry_beyond_policy_retry() -> None:
    attempts = [attempt(state=FAILED), attempt(number=2, state=FAILED), attempt(number=3, state=FAILED)]
    decision = which_run(wanted(retry=2), attempts, NOW + timedelta(hours=1))
    assert decision.start is None
    assert decision.retry_at is None
    assert decision.latest is not None
    assert decision.latest.attempt == 3


def test_no_retry_of_a_configuration_error() -> None:
    decision = which_run(wanted(retry=5), [attempt(state=FAILED, retryable=False)], NOW + timedelta(hours=1))
    assert decision.start is None
    assert decision.retry_at is None


def test_a_new_generation_does_not_wait_for_retries_of_the_old_one() -> None:
    decision = which_run(wanted(generation=2, retry=3), [attempt(state=FAILED, finished=NOW)], NOW)
    assert decision.start == NewAttempt(2, 1, 2, None, "specChange")


def test_the_newest_attempt_decides() -> None:
    attempts = [
        attempt(run=2, number=1, state=FAILED),
        attempt(run=2, number=2, state=SUCCEEDED),
        attempt(run=1),
    ]
    decision = which_run(wanted(retry=3), attempts, NOW)
    assert decision.latest is not None
    assert decision.latest.key == (2, 2)
    assert decision.start is None


def test_attempt_recorded_in_status_counts_once_its_job_is_gone() -> None:
    status = {
        "handledRunNow": "x",
        "lastRun": {
            "runId": "7",
            "attempt": 2,
            "generation": 4,
            "trigger": "retry",
            "jobName": "copy-7-2",
            "status": "Failed",
            "reason": "Unreachable",
            "completionTime": format_time(NOW - timedelta(minutes=1)),
            "exitCode": 1,
        },
    }
    recorded = attempt_from_status(status, NOW)
    assert recorded is not None
    assert (recorded.run_number, recorded.attempt, recorded.generation, recorded.run_now) == (7, 2, 4, "x")
    assert recorded.outcome.state == FAILED
    assert recorded.outcome.retryable
    # The run it records is not started again after a restart.
    assert which_run(wanted(generation=4, run_now="x"), [recorded], NOW).start is None


def test_attempt_recorded_as_running_without_its_job_was_deleted() -> None:
    status = {
        "lastRun": {"runId": "1", "attempt": 1, "generation": 1, "jobName": "copy-1-1", "status": "Running"}
    }
    recorded = attempt_from_status(status, NOW)
    assert recorded is not None
    assert recorded.outcome.state == FAILED
    assert recorded.outcome.reason == "JobDeleted"
    assert recorded.outcome.completion_time == format_time(NOW)


def test_no_attempt_in_an_empty_or_garbled_status() -> None:
    assert attempt_from_status({}, NOW) is None
    assert attempt_from_status({"lastRun": "oops"}, NOW) is None
    assert attempt_from_status({"lastRun": {"runId": "not-a-number"}}, NOW) is None


def test_an_interval_repeats_a_finished_run_after_it_ended() -> None:
    every = Wanted(generation=1, run_now=None, policy=RunPolicy(0, 60), ready=True, every_seconds=600)
    done = attempt(finished=NOW - timedelta(minutes=5))
    decision = which_run(every, [done], NOW)
    assert decision.start is None
    assert decision.next_at == NOW + timedelta(minutes=5)
    assert decision.wake_at == NOW + timedelta(minutes=5)
    decision = which_run(every, [done], NOW + timedelta(minutes=5))
    assert decision.start == NewAttempt(2, 1, 1, None, "interval")
    # A failure is repeated by the interval too once no retry is left; a run in progress never.
    failed = attempt(state=FAILED, finished=NOW - timedelta(minutes=20))
    assert which_run(every, [failed], NOW).start == NewAttempt(2, 1, 1, None, "interval")
    assert which_run(every, [attempt(state=RUNNING, finished=None)], NOW).start is None
    # Not ready: the repeat waits for the references.
    blocked = Wanted(generation=1, run_now=None, policy=RunPolicy(0, 60), ready=False, every_seconds=600)
    assert which_run(blocked, [failed], NOW).blocked_by == "references"


def test_a_retry_comes_before_the_interval() -> None:
    every = Wanted(generation=1, run_now=None, policy=RunPolicy(1, 60), ready=True, every_seconds=3600)
    failed = attempt(state=FAILED, finished=NOW - timedelta(seconds=30))
    decision = which_run(every, [failed], NOW)
    assert decision.start is None
    assert decision.retry_at == NOW + timedelta(seconds=30)
    assert which_run(every, [failed], NOW + timedelta(seconds=30)).start == NewAttempt(1, 2, 1, None, "retry")


def test_a_run_waiting_for_a_missing_secret_is_replaced_when_its_plan_changes_or_on_demand() -> None:
    waiting = Attempt(
        1, 1, 1, None, "create", "job-1-1",
        AttemptOutcome(state=PENDING, reason="SecretNotFound", message="Secret 'x' was not found"),
        plan_digest="old",
    )  # fmt: skip
    fixed = Wanted(generation=1, run_now=None, policy=RunPolicy(0, 60), ready=True, plan_digest="new")
    assert which_run(fixed, [waiting], NOW).start == NewAttempt(2, 1, 1, None, "referenceChange")
    same = Wanted(generation=1, run_now=None, policy=RunPolicy(0, 60), ready=True, plan_digest="old")
    assert which_run(same, [waiting], NOW).start is None
    asked = Wanted(generation=1, run_now="now", policy=RunPolicy(0, 60), ready=True, plan_digest="old")
    assert which_run(asked, [waiting], NOW).start == NewAttempt(2, 1, 1, "now", "runNow")
    # A run that is merely pending (no missing reference) is never replaced.
    pending = Attempt(
        1, 1, 1, None, "create", "job-1-1", AttemptOutcome(state=PENDING, reason="JobPending", message="")
    )
    assert which_run(asked, [pending], NOW).blocked_by == "active"
