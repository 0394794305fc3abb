"""Tumbling windows: which windows run when, and what status.windows records of them.

In:  schedule.window specs (startTime, endTime, frequency/interval, delay, maxConcurrency), a retry
     policy, an injected clock, the attempts a reconciliation sees (Jobs with window annotations), the
     status.windows record as last written, the rerun-window annotation.
Out: the attempts started (window, run, attempt, trigger) in order, status.windows (completedThrough,
     open and failed entries, counts), the Events and the phase told from it.
Faked: nothing. `Sim` plays the cluster: it keeps Jobs as attempts, starts what the decision asks
     (one per reconciliation, as the operator does), finishes them when the test says, and stores the
     record (or loses the write, or loses the Jobs) as the API server would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from impala_copy.api.schedule import TumblingWindow
from impala_copy.api.window_status import FAILED_LIMIT
from impala_copy.controller.core.constants import EventReason
from impala_copy.controller.core.job import JobOwner
from impala_copy.controller.core.outcome import FAILED, RUNNING, SUCCEEDED, AttemptOutcome
from impala_copy.controller.core.runs import Attempt, NewAttempt, RunPolicy
from impala_copy.controller.core.status import run_phase
from impala_copy.controller.core.timeutil import format_time
from impala_copy.controller.core.window_grid import Grid, add_months
from impala_copy.controller.core.window_record import phase_decision, window_events, windows_status
from impala_copy.controller.core.windows import WindowDecision, WindowInputs, decide_windows

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def spec(**fields: Any) -> TumblingWindow:
    base = {"startTime": "2026-12-03T07:00:00Z", "frequency": "Hour", "interval": 1}
    return TumblingWindow.model_validate({**base, **fields})


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Sim:
    """The cluster side of the window decision: Jobs as attempts, and the status record."""

    window: TumblingWindow
    retry: int = 0
    now: datetime = NOW
    ready: bool = True
    suspended: bool = False
    rerun: str | None = None
    jobs: dict[str, Attempt] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    started: list[tuple[str, int, int, str]] = field(default_factory=list)  # (start, run, attempt, trigger)
    events: list[tuple[str, str]] = field(default_factory=list)
    last: WindowDecision | None = None

    @property
    def grid(self) -> Grid:
        return Grid.of(self.window)

    def decide(self) -> WindowDecision:
        return decide_windows(
            WindowInputs(
                grid=self.grid,
                policy=RunPolicy(self.retry, 60),
                max_concurrency=self.window.max_concurrency,
                ready=self.ready,
                suspended=self.suspended,
                generation=1,
                record=self.record,
                attempts=list(self.jobs.values()),
                rerun=self.rerun,
                now=self.now,
            )
        )

    def create(self, start: NewAttempt) -> None:
        assert start.window is not None
        name = f"job-{start.run_number}-{start.attempt}"
        assert name not in self.jobs, f"Job {name} created twice"
        outcome = AttemptOutcome(RUNNING, "JobRunning", "", start_time=format_time(self.now))
        attempt = Attempt(
            start.run_number, start.attempt, 1, None, start.trigger, name, outcome, window=start.window
        )
        self.jobs[name] = attempt
        self.started.append((start.window.start, start.run_number, start.attempt, str(start.trigger)))

    def reconcile(self, write: bool = True) -> WindowDecision:
        """Reconciliations until no more window starts now (the operator requeues at once)."""
        for _ in range(100):
            decision = self.decide()
            if decision.starts:
                self.create(decision.starts[0])
                decision = self.decide()
            new = windows_status(self.grid, self.record, decision)
            events = window_events(self.grid, self.record, new, decision, hide=False)
            if write:
                self.record = new
                self.events += [(e.reason, e.message) for e in events]
            self.last = decision
            if not decision.starts or not write:
                return decision
        raise AssertionError("the decision kept starting windows")

    def running(self) -> list[str]:
        return sorted(a.window.start for a in self.jobs.values() if not a.outcome.finished and a.window)

    def finish(self, start: str, ok: bool = True, exit_code: int = 1) -> None:
        name, attempt = next(
            (n, a)
            for n, a in self.jobs.items()
            if a.window and a.window.start == start and not a.outcome.finished
        )
        outcome = AttemptOutcome(
            SUCCEEDED if ok else FAILED,
            "RunSucceeded" if ok else "EngineError",
            "copied 5 rows in 1.0s" if ok else "connection reset",
            exit_code=0 if ok else exit_code,
            completion_time=format_time(self.now),
            retryable=exit_code != 2,
        )
        self.jobs[name] = replace(attempt, outcome=outcome)

    def finish_all(self, ok: bool = True) -> None:
        for start in self.running():
            self.finish(start, ok)

    def drop_finished_jobs(self) -> None:
        """The history limits deleted every finished Job (after a reconciliation recorded it, as the
        operator deletes Jobs only after writing status)."""
        self.jobs = {n: a for n, a in self.jobs.items() if not a.outcome.finished}


def starts(sim: Sim) -> list[str]:
    return [s for s, _, _, _ in sim.started]


# ------------------------------------------------------------------ the grid
def test_fixed_windows_start_at_start_time_and_follow_each_other() -> None:
    grid = Grid.of(spec(frequency="Minute", interval=15, startTime="2026-12-03T07:05:30.250+01:00"))
    assert format_time(grid.start(0)) == "2026-12-03T06:05:30Z"  # UTC, fractions of a second dropped
    assert format_time(grid.end(0)) == format_time(grid.start(1)) == "2026-12-03T06:20:30Z"
    assert grid.index_of(t("2026-12-03T06:35:30Z")) == 2
    assert grid.index_of(t("2026-12-03T06:35:00Z")) is None
    assert grid.first_ending_after(t("2026-12-03T06:20:30Z")) == 1
    assert grid.first_ending_after(t("2026-01-01T00:00:00Z")) == 0


def test_month_windows_are_calendar_months_from_start_time() -> None:
    grid = Grid.of(spec(frequency="Month", interval=1, startTime="2026-01-31T00:00:00Z"))
    starts = [format_time(grid.start(i))[:10] for i in range(5)]
    assert starts == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    assert grid.index_of(t("2026-04-30T00:00:00Z")) == 3
    assert grid.first_ending_after(t("2026-03-31T00:00:00Z")) == 2
    quarters = Grid.of(spec(frequency="Month", interval=3, startTime="2025-11-01T00:00:00Z"))
    assert format_time(quarters.end(0)) == "2026-02-01T00:00:00Z"
    assert quarters.first_ending_after(t("2026-03-15T00:00:00Z")) == 1
    assert add_months(t("2024-01-31T05:00:00Z"), 1) == t("2024-02-29T05:00:00Z")


# ------------------------------------------------------------------ backfill
def test_backfill_runs_oldest_first_at_most_max_concurrency_at_once() -> None:
    sim = Sim(spec(maxConcurrency=2))  # windows 07-08 ... 11-12 are due at 12:00
    sim.reconcile()
    assert sim.running() == ["2026-12-03T07:00:00Z", "2026-12-03T08:00:00Z"]
    assert [(run, attempt, trigger) for _, run, attempt, trigger in sim.started] == [
        (1, 1, "window"),
        (2, 1, "window"),
    ]
    assert sim.record["runningCount"] == 2
    assert sim.record["nextWindowTime"] == "2026-12-03T10:00:00Z"  # due, waiting for a free slot

    sim.finish("2026-12-03T08:00:00Z")  # the younger one first
    sim.reconcile()
    assert sim.running() == ["2026-12-03T07:00:00Z", "2026-12-03T09:00:00Z"]
    assert "completedThrough" not in sim.record  # 07:00 has not finished
    assert [(e["start"], e["status"]) for e in sim.record["open"]] == [
        ("2026-12-03T07:00:00Z", "Running"),
        ("2026-12-03T08:00:00Z", "Succeeded"),
        ("2026-12-03T09:00:00Z", "Running"),
    ]
    for _ in range(4):
        sim.finish_all()
        sim.reconcile()
    assert starts(sim) == [f"2026-12-03T{h:02}:00:00Z" for h in range(7, 12)]
    assert sim.record["completedThrough"] == "2026-12-03T12:00:00Z"
    assert sim.record["lastWindowEnd"] == "2026-12-03T12:00:00Z"
    assert (sim.record["succeededCount"], sim.record["failedCount"], sim.record["open"]) == (5, 0, [])
    assert sim.record["nextWindowTime"] == "2026-12-03T13:00:00Z"
    assert sim.last is not None
    assert sim.last.wake_at == t("2026-12-03T13:00:00Z")
    assert [r for r, _ in sim.events] == ["WindowSucceeded"] * 5
    phase = run_phase(phase_decision(sim.last, 1, None))
    assert phase == SUCCEEDED


def test_a_window_runs_once_its_end_plus_delay_has_passed() -> None:
    sim = Sim(spec(startTime="2026-12-03T11:00:00Z", delay="00:15:00"), now=t("2026-12-03T12:10:00Z"))
    decision = sim.reconcile()
    assert sim.started == []
    assert decision.wake_at == t("2026-12-03T12:15:00Z")
    sim.now = t("2026-12-03T12:15:00Z")
    sim.reconcile()
    assert starts(sim) == ["2026-12-03T11:00:00Z"]


def test_no_window_starts_at_or_after_end_time() -> None:
    sim = Sim(spec(startTime="2026-12-03T07:00:00Z", endTime="2026-12-03T09:30:00Z", maxConcurrency=10))
    sim.reconcile()
    # 09:00-10:00 starts before endTime: it is the last window.
    assert starts(sim) == ["2026-12-03T07:00:00Z", "2026-12-03T08:00:00Z", "2026-12-03T09:00:00Z"]
    sim.finish_all()
    decision = sim.reconcile()
    assert sim.record["completedThrough"] == "2026-12-03T10:00:00Z"
    assert "nextWindowTime" not in sim.record
    assert decision.wake_at is None


def test_a_run_of_a_window_gets_its_start_end_and_trigger_time() -> None:
    from impala_copy.controller.copy.windowed import window_run_context

    window = spec(delay="00:05:00")
    sim = Sim(window)
    decision = sim.decide()
    context = window_run_context(decision.starts[0], window)
    assert context is not None
    assert context.to_wire() == {
        "triggerTime": "2026-12-03T08:05:00Z",
        "scheduledTime": "2026-12-03T08:05:00Z",  # a window is scheduled when it comes due
        "windowStart": "2026-12-03T07:00:00Z",
        "windowEnd": "2026-12-03T08:00:00Z",
    }


# ------------------------------------------------------------------ restarts
def test_a_restart_in_the_middle_of_a_backfill_repeats_and_skips_nothing() -> None:
    sim = Sim(spec(maxConcurrency=2))
    sim.reconcile()
    sim.finish("2026-12-03T07:00:00Z")
    sim.reconcile()
    sim.finish_all()
    sim.drop_finished_jobs()  # history limits: the finished Jobs are gone, the record stays
    # A new operator process: only the record and the Jobs remain.
    restarted = Sim(spec(maxConcurrency=2), record=json.loads(json.dumps(sim.record)), jobs=dict(sim.jobs))
    restarted.reconcile()
    assert starts(restarted) == ["2026-12-03T10:00:00Z", "2026-12-03T11:00:00Z"]
    assert [run for _, run, _, _ in restarted.started] == [4, 5]  # run numbers go on


def test_a_job_created_whose_status_write_was_lost_is_not_created_again() -> None:
    sim = Sim(spec(maxConcurrency=1))
    decision = sim.decide()
    sim.create(decision.starts[0])  # the Job exists, status was never written
    assert sim.record == {}
    sim.reconcile()
    assert starts(sim) == ["2026-12-03T07:00:00Z"]  # seen from the Job: not started twice
    assert sim.record["lastRunId"] == "1"
    assert [e["jobName"] for e in sim.record["open"]] == ["job-1-1"]


def test_windows_recorded_while_their_jobs_were_deleted_are_not_run_again() -> None:
    sim = Sim(spec(maxConcurrency=3))
    sim.reconcile()
    sim.finish("2026-12-03T09:00:00Z")  # succeeded out of order, then its Job is deleted
    sim.reconcile()
    sim.drop_finished_jobs()
    sim.reconcile()
    assert starts(sim).count("2026-12-03T09:00:00Z") == 1
    assert [(e["start"], e["status"]) for e in sim.record["open"]][1] == ("2026-12-03T08:00:00Z", "Running")


def test_a_running_window_whose_job_was_deleted_is_retried() -> None:
    sim = Sim(spec(maxConcurrency=1, startTime="2026-12-03T11:00:00Z"), retry=1)
    sim.reconcile()
    sim.jobs.clear()  # someone deleted the Job
    sim.reconcile()
    [entry] = sim.record["open"]
    assert (entry["status"], entry["reason"], entry["nextRetryTime"]) == (
        "Failed",
        "JobDeleted",
        "2026-12-03T12:01:00Z",
    )
    sim.now += timedelta(seconds=60)
    sim.reconcile()
    assert sim.started[-1] == ("2026-12-03T11:00:00Z", 1, 2, "retry")


# ------------------------------------------------------------------ failures
def test_a_failed_window_is_retried_then_failed_for_good_and_later_windows_go_on() -> None:
    sim = Sim(spec(startTime="2026-12-03T10:00:00Z", maxConcurrency=1), retry=1)
    sim.reconcile()
    sim.finish("2026-12-03T10:00:00Z", ok=False)
    sim.reconcile()
    assert sim.running() == []  # the window waiting for its retry holds its slot
    [entry] = sim.record["open"]
    assert (entry["status"], entry["attempt"], entry["nextRetryTime"]) == (
        "Failed",
        1,
        "2026-12-03T12:01:00Z",
    )
    assert sim.events[-1][0] == "WindowAttemptFailed"
    assert "connection reset; the next attempt starts at 2026-12-03T12:01:00Z" in sim.events[-1][1]
    assert sim.last is not None
    assert run_phase(phase_decision(sim.last, 2, None)) == "Pending"

    sim.now += timedelta(seconds=60)
    sim.reconcile()
    assert sim.started[-1] == ("2026-12-03T10:00:00Z", 1, 2, "retry")
    sim.finish("2026-12-03T10:00:00Z", ok=False)
    sim.reconcile()
    assert sim.events[-1] == (
        "WindowFailed",
        "window 2026-12-03T10:00:00Z to 2026-12-03T11:00:00Z (run 1 attempt 2) failed for good: "
        "run 1 attempt 2: connection reset",
    )
    [failed] = sim.record["failed"]
    assert (failed["start"], failed["attempt"], failed["reason"]) == (
        "2026-12-03T10:00:00Z",
        2,
        "EngineError",
    )
    assert sim.record["failedCount"] == 1
    assert sim.running() == ["2026-12-03T11:00:00Z"]  # the next window goes on
    assert sim.record["completedThrough"] == "2026-12-03T11:00:00Z"
    sim.drop_finished_jobs()
    sim.reconcile()
    assert sim.record["failed"] == [failed]  # kept once its Job is gone
    assert starts(sim).count("2026-12-03T10:00:00Z") == 2


def test_a_configuration_error_is_not_retried() -> None:
    sim = Sim(spec(startTime="2026-12-03T11:00:00Z"), retry=3)
    sim.reconcile()
    sim.finish("2026-12-03T11:00:00Z", ok=False, exit_code=2)
    decision = sim.reconcile()
    assert [e["start"] for e in sim.record["failed"]] == ["2026-12-03T11:00:00Z"]
    assert run_phase(phase_decision(decision, 4, None)) == FAILED


def test_suspend_and_references_not_ready_start_nothing() -> None:
    suspended = Sim(spec(), suspended=True)
    assert suspended.reconcile().wake_at is None
    assert suspended.started == []
    waiting = Sim(spec(), ready=False)
    decision = waiting.reconcile()
    assert waiting.started == []
    assert decision.blocked
    assert run_phase(phase_decision(decision, 1, None)) == "Pending"


# ------------------------------------------------------------------ rerun-window
def test_rerun_window_runs_exactly_that_window_again_once_per_value() -> None:
    sim = Sim(spec(startTime="2026-12-03T09:00:00Z", maxConcurrency=3))
    sim.reconcile()
    sim.finish_all()
    sim.reconcile()
    assert sim.record["completedThrough"] == "2026-12-03T12:00:00Z"
    sim.rerun = "2026-12-03T11:00:00+01:00"  # the window 10:00Z, in another spelling
    sim.reconcile()
    assert sim.started[-1] == ("2026-12-03T10:00:00Z", 4, 1, "rerunWindow")
    assert sim.record["handledRerunWindow"] == "2026-12-03T11:00:00+01:00"
    assert sim.events[-1] == ("WindowRerun", "window 2026-12-03T10:00:00Z runs again")
    assert [e["start"] for e in sim.record["open"]] == ["2026-12-03T10:00:00Z"]
    sim.finish_all()
    sim.reconcile()
    assert len(sim.started) == 4  # the same value again starts nothing
    assert (sim.record["open"], sim.record["succeededCount"]) == ([], 3)
    sim.rerun = None  # removing the annotation forgets the value: the same value may come again
    sim.reconcile()
    assert "handledRerunWindow" not in sim.record


def test_a_rerun_started_whose_status_write_was_lost_is_not_started_again() -> None:
    sim = Sim(spec(startTime="2026-12-03T10:00:00Z", maxConcurrency=2))
    sim.reconcile()
    sim.finish_all()
    sim.reconcile()
    sim.rerun = "2026-12-03T10:00:00Z"
    sim.reconcile(write=False)  # the Job was created, the status write lost
    sim.reconcile()
    assert [s for s in sim.started if s[3] == "rerunWindow"] == [
        ("2026-12-03T10:00:00Z", 3, 1, "rerunWindow")
    ]
    assert sim.record["handledRerunWindow"] == "2026-12-03T10:00:00Z"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "yesterday",
            "rerun-window 'yesterday' is not an RFC 3339 time with a zone (e.g. 2026-12-01T00:00:00Z)",
        ),
        (
            "2026-12-03T10:30:00Z",
            "rerun-window '2026-12-03T10:30:00Z' is not the start of a window (windows start at "
            "window.startTime and every interval x frequency after it, before endTime)",
        ),
        (
            "2026-12-03T12:00:00Z",
            "rerun-window '2026-12-03T12:00:00Z' names a window that is not due yet (it may run from "
            "2026-12-03T13:00:00Z)",
        ),
        ("2026-12-03T10:00:00", "rerun-window '2026-12-03T10:00:00' is not an RFC 3339 time with a zone"),
    ],
)
def test_an_invalid_rerun_value_is_reported_once_and_starts_nothing(value: str, message: str) -> None:
    sim = Sim(spec(startTime="2026-12-03T10:00:00Z", maxConcurrency=2))
    sim.reconcile()
    sim.finish_all()
    sim.reconcile()
    sim.rerun = value
    sim.reconcile()
    sim.reconcile()
    assert len(sim.started) == 2
    assert sim.record["rerunWindowMessage"].startswith(message)
    assert [r for r, _ in sim.events].count("InvalidRerunWindow") == 1


# ------------------------------------------------------------------ size
def test_status_stays_small_for_a_backfill_of_1000_hourly_windows() -> None:
    start = NOW - timedelta(hours=1000)
    sim = Sim(spec(startTime=format_time(start), maxConcurrency=10))
    largest, rounds, failures = 0, 0, []
    sim.reconcile()
    while sim.record.get("completedThrough") != format_time(NOW):
        for index, window in enumerate(sim.running()[::-1]):
            # Some windows fail for good (no retries); windows finish newest first.
            ok = int(window[11:13]) % 5 != 0 or index % 7 == 1
            failures += [] if ok else [window]
            sim.finish(window, ok=ok)
        sim.reconcile()
        sim.drop_finished_jobs()
        sim.reconcile()
        largest = max(largest, len(json.dumps(sim.record)))
        rounds += 1
        assert rounds < 500
    assert len(sim.started) == 1000
    assert len(set(starts(sim))) == 1000
    assert starts(sim) == sorted(starts(sim))
    assert (sim.record["failedCount"], sim.record["succeededCount"]) == (len(failures), 1000 - len(failures))
    assert len(failures) > FAILED_LIMIT
    assert [e["start"] for e in sim.record["failed"]] == sorted(failures)[-FAILED_LIMIT:]  # the newest kept
    assert largest < 64 * 1024, largest  # the API server takes objects up to 1.5 MiB


# ------------------------------------------------------------------ the Job and the docs
def test_a_window_job_records_its_window_and_reads_it_back() -> None:
    from impala_copy.controller.core.job import job_annotations
    from impala_copy.controller.core.records import WindowRef, window_ref

    class Plan:
        run_id = "7"

        def to_wire(self) -> dict[str, Any]:
            return {"runId": "7"}

    owner = JobOwner(name="orders", namespace="default", uid="u1")
    ref = WindowRef("2026-12-03T07:00:00Z", "2026-12-03T08:00:00Z", "2026-12-03T08:00:00+01:00")
    annotations = job_annotations(Plan(), owner, NewAttempt(7, 2, 3, None, "rerunWindow", window=ref))  # type: ignore[arg-type]
    assert {k: v for k, v in annotations.items() if "window" in k} == {
        "impalacopy.io/window-start": "2026-12-03T07:00:00Z",
        "impalacopy.io/window-end": "2026-12-03T08:00:00Z",
        "impalacopy.io/rerun-window": "2026-12-03T08:00:00+01:00",
    }
    assert window_ref(annotations) == ref
    assert window_ref({"impalacopy.io/window-start": "2026-12-03T07:00:00Z"}) is None  # half written
    plain = job_annotations(Plan(), owner, NewAttempt(1, 1, 1, None, "create"))  # type: ignore[arg-type]
    assert not any("window" in k for k in plain)


def test_the_window_events_are_documented() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "schedules.md").read_text()
    for reason in (
        EventReason.WINDOW_SUCCEEDED,
        EventReason.WINDOW_ATTEMPT_FAILED,
        EventReason.WINDOW_FAILED,
        EventReason.WINDOW_RERUN,
        EventReason.INVALID_RERUN_WINDOW,
        EventReason.RUN_NOW_IGNORED,
    ):
        assert f"| `{reason}` |" in page, reason


# ------------------------------------------------------------------ hostile times
def test_windows_at_the_end_of_time_never_run_and_never_crash() -> None:
    for frequency in ("Minute", "Day", "Month"):
        sim = Sim(spec(startTime="9999-12-31T00:00:00Z", frequency=frequency, interval=10000))
        decision = sim.reconcile()
        assert (sim.started, decision.wake_at) == ([], None), frequency
        sim.rerun = "9999-12-31T00:00:00Z"
        sim.reconcile()
        assert sim.record["rerunWindowMessage"].startswith(
            "rerun-window '9999-12-31T00:00:00Z' names a window"
        )


def test_a_start_time_out_of_range_in_utc_is_refused_with_its_value() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        spec(startTime="0001-01-01T00:30:00+01:00")
    assert "'0001-01-01T00:30:00+01:00' is out of range (years 0001 to 9999 in UTC)" in str(refused.value)


def test_a_long_rerun_value_is_recorded_as_a_digest_and_reported_shortened() -> None:
    sim = Sim(spec(startTime="2026-12-03T10:00:00Z", maxConcurrency=2))
    sim.reconcile()
    sim.finish_all()
    sim.reconcile()
    sim.rerun = "x" * 5000
    sim.reconcile()
    sim.reconcile()
    assert sim.record["handledRerunWindow"].startswith("sha256:")
    assert len(sim.record["handledRerunWindow"]) == 71
    assert sim.record["rerunWindowMessage"] == (
        f"rerun-window '{'x' * 64}…' is not an RFC 3339 time with a zone (e.g. 2026-12-01T00:00:00Z)"
    )
    assert [r for r, _ in sim.events].count("InvalidRerunWindow") == 1


# ------------------------------------------------------------------ through the CopyActivity controller
def test_the_copy_controller_runs_windows_and_tells_phase_and_conditions() -> None:
    from tests.operator import manifests
    from tests.operator.scenarios import NOW as START
    from tests.operator.scenarios import Scenario

    from impala_copy.controller.core.constants import CONDITION_REASONS

    objects = manifests.standard_set("scenario-password-not-used")
    window = {"startTime": format_time(START - timedelta(hours=2)), "frequency": "Hour", "interval": 1}
    objects[-1]["spec"]["schedule"] = {"window": window}
    scenario = Scenario(objects)

    def conditions() -> dict[str, tuple[str, str]]:
        found = scenario.activity["status"]["conditions"]
        assert {c["reason"] for c in found} <= CONDITION_REASONS
        return {c["type"]: (c["status"], c["reason"]) for c in found}

    scenario.step(seconds=0)
    status = scenario.activity["status"]
    assert (status["phase"], status["lastRun"]["trigger"], status["windows"]["runningCount"]) == (
        "Pending",
        "window",
        1,
    )
    assert conditions()["Running"] == ("False", "JobPending")
    scenario.set_pod(manifests.running())
    scenario.step(seconds=0)
    assert scenario.activity["status"]["phase"] == "Running"
    assert conditions()["Running"] == ("True", "JobRunning")

    for _ in range(2):
        scenario.set_pod(manifests.terminated(0, manifests.summary(rows=12).to_termination_message()))
        scenario.set_job_status(manifests.job_succeeded())
        scenario.step(seconds=0)
    status = scenario.activity["status"]
    assert len([o for o in scenario.objects if o["kind"] == "Job"]) == 2
    assert (status["phase"], status["lastRun"]["runId"], status["lastRun"]["rowsCopied"]) == (
        "Succeeded",
        "2",
        12,
    )
    assert conditions()["Succeeded"] == ("True", "RunSucceeded")
    assert status["windows"]["completedThrough"] == format_time(START)
    assert (status["suspended"], status["nextScheduleTime"]) == (
        False,
        format_time(START + timedelta(hours=1)),
    )


def test_a_rerun_of_an_old_window_failing_again_is_counted_and_told_once() -> None:
    """With more failed windows than the list keeps, a re-run old window that fails stays listed while
    its Job is seen, and is told once (no Event at every reconciliation). Its earlier failure was
    dropped from the list: the record cannot tell it from a success, so it counts as one more failure
    (documented)."""
    sim = Sim(spec(startTime=format_time(NOW - timedelta(hours=FAILED_LIMIT + 5)), maxConcurrency=50))
    while sim.record.get("completedThrough") != format_time(NOW):
        sim.reconcile()
        sim.finish_all(ok=False)
        sim.reconcile()
        sim.drop_finished_jobs()
    assert (sim.record["failedCount"], len(sim.record["failed"])) == (FAILED_LIMIT + 5, FAILED_LIMIT)
    oldest = format_time(NOW - timedelta(hours=FAILED_LIMIT + 5))
    sim.rerun = oldest
    sim.reconcile()
    sim.finish_all(ok=False)
    for _ in range(3):
        sim.reconcile()  # the failed rerun's Job stays (history keeps it)
    assert sim.record["failedCount"] == FAILED_LIMIT + 6
    assert oldest in [e["start"] for e in sim.record["failed"]]
    told = [m for r, m in sim.events if r == "WindowFailed" and m.startswith(f"window {oldest}")]
    assert len(told) == 2  # its first run and its rerun


def test_a_window_waiting_for_its_retry_lets_the_backfill_go_at_most_100_windows_ahead() -> None:
    from impala_copy.api.window_status import AHEAD_LIMIT

    first = format_time(NOW - timedelta(hours=200))
    sim = Sim(spec(startTime=first, maxConcurrency=50), retry=1)
    sim.reconcile()
    sim.finish(first, ok=False)  # its retry waits 60 s; the clock stands still
    for _ in range(10):
        sim.finish_all()
        sim.reconcile()
        sim.drop_finished_jobs()
    assert len(set(starts(sim))) == AHEAD_LIMIT
    assert max(starts(sim)) == format_time(NOW - timedelta(hours=200 - AHEAD_LIMIT + 1))
    assert len(sim.record["open"]) == AHEAD_LIMIT  # the waiting window and those done after it
    sim.now += timedelta(seconds=60)
    sim.reconcile()
    sim.finish(first)
    sim.reconcile()
    assert sim.record["completedThrough"] == format_time(NOW - timedelta(hours=100))
    assert len(sim.running()) == 50  # the backfill goes on


def test_windows_due_while_suspended_are_backfilled_on_resume() -> None:
    sim = Sim(spec(startTime="2026-12-03T11:00:00Z", maxConcurrency=5), suspended=True)
    sim.now = t("2026-12-03T15:30:00Z")
    sim.reconcile()
    assert sim.started == []
    sim.suspended = False
    sim.reconcile()
    assert starts(sim) == [f"2026-12-03T{h}:00:00Z" for h in (11, 12, 13, 14)]
