"""Cron schedules in the one run decision: due times, missed runs, suspend, concurrency, deadlines.

In:  a Schedule, the handled mark (as status would give it), the attempts seen (from Jobs or status)
     and an injected clock.
Out: the due times croniter gives in the schedule's zone (DST both ways), and which_run's decision:
     the run to start (trigger schedule, its scheduled time), the due times counted missed and why, the
     handled mark (status.lastScheduleTime), the next due time the reconciler wakes for, the Job a
     Replace deletes.
Faked: nothing; pure functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from impala_copy.api.schedule import Schedule
from impala_copy.controller.core.outcome import FAILED, RUNNING, SUCCEEDED, AttemptOutcome
from impala_copy.controller.core.runs import Attempt, NewAttempt, RunPolicy, Wanted, run_context, which_run
from impala_copy.controller.core.schedule import (
    COUNT_LIMIT,
    MISSED_BUSY,
    MISSED_DEADLINE,
    MISSED_OPERATOR_DOWN,
    MISSED_SUSPENDED,
    CronWish,
    due_times,
    floor,
)
from impala_copy.controller.core.timeutil import format_time

T0 = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)  # a due time of "0 * * * *"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def schedule(cron: str = "0 * * * *", **fields: Any) -> Schedule:
    return Schedule.model_validate({"cron": cron, **fields})


def wish(cron: str = "0 * * * *", mark: datetime = T0 - timedelta(hours=1), **fields: Any) -> Wanted:
    was_suspended = bool(fields.pop("was_suspended", False))
    retry = int(fields.pop("retry", 0))
    ready = bool(fields.pop("ready", True))
    return Wanted(
        generation=int(fields.pop("generation", 1)),
        run_now=fields.pop("run_now", None),
        policy=RunPolicy(retry, 60),
        ready=ready,
        cron=CronWish(schedule(cron, **fields), mark, was_suspended=was_suspended),
    )


def seen(
    run: int = 1,
    due: datetime | None = T0 - timedelta(hours=1),
    state: str = SUCCEEDED,
    attempt: int = 1,
    finished: datetime | None = None,
    trigger: str = "schedule",
) -> Attempt:
    done = state in (SUCCEEDED, FAILED)
    outcome = AttemptOutcome(
        state=state,
        reason="X",
        message="",
        completion_time=format_time(finished or (due or T0) + timedelta(minutes=5)) if done else None,
        retryable=True,
    )
    return Attempt(run, attempt, 1, None, trigger, f"job-{run}-{attempt}", outcome, scheduled_time=due)


def local(moments: list[datetime]) -> list[str]:
    return [format_time(m) for m in moments]


# ------------------------------------------------------------------ due times, time zones, DST
def test_due_times_are_wall_clock_times_in_the_time_zone() -> None:
    times = due_times(schedule("0 9 * * *", timeZone="America/New_York"), utc("2026-12-01T00:00:00Z"))
    assert local(list(islice(times, 2))) == ["2026-12-01T14:00:00Z", "2026-12-02T14:00:00Z"]
    summer = due_times(schedule("0 9 * * *", timeZone="America/New_York"), utc("2026-07-01T00:00:00Z"))
    assert local(list(islice(summer, 1))) == ["2026-07-01T13:00:00Z"]


def test_spring_forward_a_time_in_the_gap_runs_once_at_the_end_of_the_gap() -> None:
    """2027-03-28 in Europe/Berlin: 02:00 becomes 03:00, 02:30 does not exist: the run is at 03:00."""
    times = due_times(schedule("30 2 * * *", timeZone="Europe/Berlin"), utc("2027-03-26T12:00:00Z"))
    assert local(list(islice(times, 3))) == [
        "2027-03-27T01:30:00Z",  # 02:30 CET
        "2027-03-28T01:00:00Z",  # 03:00 CEST: the first instant after the gap
        "2027-03-29T00:30:00Z",  # 02:30 CEST
    ]


def test_fall_back_a_time_that_happens_twice_runs_once_at_its_first_occurrence() -> None:
    """2027-10-31 in Europe/Berlin: 03:00 becomes 02:00, 02:30 happens twice: the run is at the first."""
    times = due_times(schedule("30 2 * * *", timeZone="Europe/Berlin"), utc("2027-10-30T12:00:00Z"))
    assert local(list(islice(times, 2))) == [
        "2027-10-31T00:30:00Z",  # 02:30 CEST; not again at 02:30 CET (01:30Z)
        "2027-11-01T01:30:00Z",  # 02:30 CET
    ]


def test_fall_back_an_hourly_schedule_runs_in_both_hours() -> None:
    times = due_times(schedule("30 * * * *", timeZone="Europe/Berlin"), utc("2027-10-30T23:00:00Z"))
    assert local(list(islice(times, 4))) == [
        "2027-10-30T23:30:00Z",
        "2027-10-31T00:30:00Z",  # 02:30 CEST
        "2027-10-31T01:30:00Z",  # 02:30 CET: an hour later, so it runs
        "2027-10-31T02:30:00Z",
    ]


def test_dst_in_the_decision_the_fall_back_repeat_starts_nothing() -> None:
    berlin = {"cron": "30 2 * * *", "timeZone": "Europe/Berlin"}
    first = which_run(wish(mark=utc("2027-10-30T12:00:00Z"), **berlin), [], utc("2027-10-31T00:30:05Z"))
    assert first.start is not None
    assert first.start.scheduled_time == utc("2027-10-31T00:30:00Z")
    done = seen(due=utc("2027-10-31T00:30:00Z"))
    again = which_run(wish(mark=utc("2027-10-30T12:00:00Z"), **berlin), [done], utc("2027-10-31T01:30:05Z"))
    assert again.start is None
    assert again.next_at == utc("2027-11-01T01:30:00Z")


# ------------------------------------------------------------------ the decision
def test_a_scheduled_activity_does_not_run_on_create() -> None:
    decision = which_run(wish(mark=T0 + timedelta(minutes=5)), [], T0 + timedelta(minutes=6))
    assert decision.start is None
    assert decision.next_at == T0 + timedelta(hours=1)
    assert decision.cron is not None
    assert decision.cron.missed == 0


def test_at_the_due_time_one_run_starts_with_its_scheduled_time() -> None:
    decision = which_run(wish(), [seen()], T0 + timedelta(seconds=1))
    assert decision.start == NewAttempt(2, 1, 1, None, "schedule", T0)
    assert decision.cron is not None
    assert (decision.cron.missed, decision.cron.handled) == (0, None)  # None: the mark stays
    # Once its Job is seen, the same due time starts nothing more; the next one is awaited.
    after = which_run(wish(), [seen(), seen(2, T0, RUNNING)], T0 + timedelta(seconds=2))
    assert after.start is None
    assert after.cron is not None
    assert after.cron.handled == T0
    assert after.next_at == T0 + timedelta(hours=1)


def test_restart_at_the_due_time_with_the_job_but_not_the_status_starts_nothing() -> None:
    """The Job of the due run exists, status still has the old mark: the restart decides the same."""
    decision = which_run(wish(), [seen(), seen(2, T0, RUNNING)], T0)
    assert decision.start is None
    assert decision.cron is not None
    assert (decision.cron.missed, decision.cron.handled) == (0, T0)


def test_after_an_outage_only_the_newest_due_time_runs_the_others_are_missed() -> None:
    now = T0 + timedelta(hours=3, minutes=10)
    decision = which_run(wish(), [seen()], now)
    assert decision.start is not None
    assert decision.start.scheduled_time == T0 + timedelta(hours=3)
    turn = decision.cron
    assert turn is not None
    assert (turn.missed, turn.missed_reason) == (3, MISSED_OPERATOR_DOWN)
    assert turn.handled == T0 + timedelta(hours=2)
    # The count comes from the status mark: the same once the new Job is seen (no count lost).
    started = seen(2, T0 + timedelta(hours=3), RUNNING)
    again = which_run(wish(), [seen(), started], now)
    assert again.start is None
    assert again.cron is not None
    assert (again.cron.missed, again.cron.handled) == (3, started.scheduled_time)
    # ... and nothing once status has the new mark.
    later = which_run(wish(mark=T0 + timedelta(hours=3)), [seen(), started], now)
    assert later.cron is not None
    assert later.cron.missed == 0


def test_starting_deadline_skips_a_run_that_is_too_late() -> None:
    now = T0 + timedelta(hours=1, minutes=2)
    late = which_run(wish(startingDeadlineSeconds=60), [seen()], now)
    assert late.start is None
    assert late.cron is not None
    assert (late.cron.missed, late.cron.missed_reason, late.cron.handled) == (
        2, MISSED_DEADLINE, T0 + timedelta(hours=1),
    )  # fmt: skip
    assert late.next_at == T0 + timedelta(hours=2)
    in_time = which_run(wish(startingDeadlineSeconds=300), [seen()], now)
    assert in_time.start is not None
    assert in_time.start.scheduled_time == T0 + timedelta(hours=1)
    assert in_time.cron is not None
    assert in_time.cron.missed == 1


def test_suspend_starts_nothing_and_resume_counts_what_passed_as_missed() -> None:
    suspended = which_run(wish(suspend=True), [seen()], T0 + timedelta(hours=2, minutes=1))
    assert suspended.start is None
    assert suspended.next_at is None
    assert suspended.cron is not None
    assert suspended.cron.suspended
    assert (suspended.cron.missed, suspended.cron.missed_reason) == (3, MISSED_SUSPENDED)
    mark = suspended.cron.handled
    assert mark == T0 + timedelta(hours=2)
    resumed = which_run(wish(mark=mark, was_suspended=True), [seen()], T0 + timedelta(hours=3, seconds=5))
    assert resumed.start is None
    assert resumed.cron is not None
    assert (resumed.cron.missed, resumed.cron.missed_reason) == (1, MISSED_SUSPENDED)
    assert resumed.next_at == T0 + timedelta(hours=4)
    running_again = which_run(wish(mark=T0 + timedelta(hours=3)), [seen()], T0 + timedelta(hours=4))
    assert running_again.start is not None
    assert running_again.start.trigger == "schedule"


def test_forbid_waits_for_the_running_run_then_starts_within_the_deadline() -> None:
    running = seen(2, T0 - timedelta(minutes=30), RUNNING)
    waiting = which_run(wish(startingDeadlineSeconds=600), [seen(), running], T0 + timedelta(seconds=1))
    assert waiting.start is None
    assert waiting.blocked_by == "active"
    assert waiting.next_at == T0 + timedelta(seconds=600)  # wakes to skip it if it is still waiting
    finished = seen(2, T0 - timedelta(minutes=30), SUCCEEDED, finished=T0 + timedelta(minutes=5))
    starts = which_run(wish(startingDeadlineSeconds=600), [seen(), finished], T0 + timedelta(minutes=5))
    assert starts.start is not None
    assert starts.start.scheduled_time == T0
    too_late = which_run(wish(startingDeadlineSeconds=600), [seen(), finished], T0 + timedelta(minutes=11))
    assert too_late.start is None
    assert too_late.cron is not None
    assert too_late.cron.missed_reason == MISSED_DEADLINE


def test_replace_deletes_the_running_job_and_starts_the_due_run() -> None:
    running = seen(2, T0 - timedelta(minutes=30), RUNNING)
    decision = which_run(wish(concurrencyPolicy="Replace"), [seen(), running], T0 + timedelta(seconds=1))
    assert decision.start == NewAttempt(3, 1, 1, None, "schedule", T0)
    assert decision.replaces == "job-2-1"


def test_a_due_time_during_retries_waits_with_forbid_and_wins_with_replace() -> None:
    failed = seen(2, T0 - timedelta(minutes=30), FAILED, finished=T0 - timedelta(seconds=30))
    forbid = which_run(wish(retry=2), [seen(), failed], T0 + timedelta(seconds=1))
    assert forbid.start is None
    assert forbid.retry_at == T0 + timedelta(seconds=30)
    retry = which_run(wish(retry=2), [seen(), failed], T0 + timedelta(seconds=31))
    # The retry keeps the due time of its run (its RunContext is the run's).
    assert retry.start == NewAttempt(2, 2, 1, None, "retry", T0 - timedelta(minutes=30))
    replace = which_run(
        wish(retry=2, concurrencyPolicy="Replace"), [seen(), failed], T0 + timedelta(seconds=1)
    )
    assert replace.start == NewAttempt(3, 1, 1, None, "schedule", T0)


def test_run_now_still_runs_and_a_spec_change_waits_for_the_next_due_time() -> None:
    now = T0 + timedelta(minutes=20)
    run_now = which_run(wish(mark=T0, run_now="please"), [seen(due=T0)], now)
    assert run_now.start == NewAttempt(2, 1, 1, "please", "runNow")
    first = which_run(wish(mark=T0, run_now="please"), [], now)
    assert first.start == NewAttempt(1, 1, 1, "please", "runNow")
    spec_change = which_run(wish(mark=T0, generation=2), [seen(due=T0)], now)
    assert spec_change.start is None
    assert spec_change.next_at == T0 + timedelta(hours=1)
    due = which_run(wish(mark=T0, generation=2), [seen(due=T0)], T0 + timedelta(hours=1))
    assert due.start == NewAttempt(2, 1, 2, None, "schedule", T0 + timedelta(hours=1))


def test_a_due_run_waits_for_the_references() -> None:
    decision = which_run(wish(ready=False), [seen()], T0 + timedelta(seconds=1))
    assert decision.start is None
    assert decision.blocked_by == "references"


def test_a_long_outage_counts_up_to_the_limit_and_runs_the_newest() -> None:
    now = T0 + timedelta(days=30, seconds=20)
    decision = which_run(wish("* * * * *"), [seen()], now)
    assert decision.start is not None
    assert decision.start.scheduled_time == T0 + timedelta(days=30)
    assert decision.cron is not None
    assert decision.cron.missed == COUNT_LIMIT - 1


# ------------------------------------------------------------------ the mark and the run context
def test_the_handled_mark_comes_from_status_else_the_object() -> None:
    created, now = T0 - timedelta(minutes=90), T0 + timedelta(minutes=5)
    last, upcoming = T0 - timedelta(hours=2), T0 + timedelta(hours=1)
    assert floor(last, upcoming, created, has_status=True, now=now) == last
    assert floor(None, upcoming, created, has_status=True, now=now) == upcoming - timedelta(microseconds=1)
    # New object (the operator may have been down since): counted from its creation, never before.
    assert floor(None, None, created, has_status=False, now=now) == created
    # A schedule added to an object that already has status: counted from now, no backfill.
    assert floor(None, None, created, has_status=True, now=now) == now
    assert floor(None, None, None, has_status=False, now=now) == now


def test_every_run_gets_a_run_context() -> None:
    scheduled = run_context(NewAttempt(3, 1, 1, None, "schedule", T0), T0 + timedelta(seconds=2))
    assert scheduled.to_wire() == {
        "triggerTime": "2026-12-03T10:00:00Z",
        "scheduledTime": "2026-12-03T10:00:00Z",
    }
    manual = run_context(NewAttempt(3, 1, 1, "x", "runNow"), T0 + timedelta(seconds=2))
    assert manual.to_wire() == {"triggerTime": "2026-12-03T10:00:02Z"}


def test_due_times_a_long_run_kept_from_starting_are_missed_for_that_reason() -> None:
    running = seen(2, T0 - timedelta(hours=1), RUNNING)
    decision = which_run(wish(), [seen(), running], T0 + timedelta(hours=2, seconds=1))
    assert decision.blocked_by == "active"
    turn = decision.cron
    assert turn is not None
    assert (turn.due, turn.missed, turn.missed_reason) == (T0 + timedelta(hours=2), 2, MISSED_BUSY)
