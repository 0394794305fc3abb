"""Cron schedules through the CopyActivity and LookupActivity controllers, step by step.

In:  a CopyActivity (or LookupActivity) with spec.schedule.cron, the cluster as the scenarios keep it
     (created 07:55, the clock starting at 08:00), Jobs finishing as the tests say.
Out: the Jobs created (trigger, scheduled-time annotation, RunContext in the plan, plan digest), the
     status (lastScheduleTime, nextScheduleTime, missedRuns, suspended, lastRun.scheduledTime), the
     printer columns, the Events, when the reconciler looks again, the Job a Replace deletes.
Faked: the cluster (a list of objects); the controllers are the real ones.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.operator import manifests
from tests.operator.harness import printer_columns
from tests.operator.scenarios import PASSWORD, Scenario, lookup_object, view_of

from impala_copy.api.plan import PLAN_ENV
from impala_copy.controller.core.controller import Actions, PlanContext
from impala_copy.controller.core.timeutil import format_time
from impala_copy.controller.registry import CONTROLLERS


def scheduled(cron: str = "30 * * * *", kind: str = "CopyActivity", **fields: Any) -> Scenario:
    schedule = {"cron": cron, **fields}
    if kind == "CopyActivity":
        objects = manifests.standard_set(PASSWORD)
        objects[-1]["spec"]["schedule"] = schedule
    else:
        objects = [*manifests.standard_set(PASSWORD), lookup_object(schedule=schedule)]
    return Scenario(objects, kind=kind)


def step(s: Scenario, seconds: float = 1.0) -> Actions:
    """One reconciliation at now + seconds; returns its actions (Events, recheck) after applying them."""
    s.now += timedelta(seconds=seconds)
    ctx = PlanContext(view=view_of(s.objects), old_status=s.activity.get("status") or {},
                      settings=s.settings, now=s.now)  # fmt: skip
    actions = CONTROLLERS[s.kind].plan(s.activity, ctx)
    s.step(0)
    return actions


def jobs(s: Scenario) -> list[dict[str, Any]]:
    return [o for o in s.objects if o["kind"] == "Job"]


def annotations(job: dict[str, Any]) -> dict[str, str]:
    return dict(job["metadata"]["annotations"])


def plan_of(job: dict[str, Any]) -> dict[str, Any]:
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    return dict(json.loads(next(e["value"] for e in env if e["name"] == PLAN_ENV)))


def succeed(s: Scenario) -> None:
    s.set_pod(manifests.terminated(0, manifests.summary(rows=3).to_termination_message()))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    step(s)


def events(actions: Actions) -> list[tuple[str, str, str]]:
    return [(e.type, e.reason, e.message) for e in actions.events]


def test_no_run_on_create_the_next_due_time_is_shown_and_awaited() -> None:
    s = scheduled()
    actions = step(s)
    assert jobs(s) == []
    status = s.activity["status"]
    assert status["nextScheduleTime"] == "2026-01-15T08:30:00Z"
    assert (status["missedRuns"], status["suspended"]) == (0, False)
    assert "lastScheduleTime" not in status
    assert actions.recheck_after == 1799.0  # woken at the due time, no polling
    running = next(c for c in status["conditions"] if c["type"] == "Running")
    assert running["message"] == "no run in progress; the next scheduled run is at 2026-01-15T08:30:00Z"
    assert printer_columns(s.activity) | {"Age": None} == {
        "Phase": "Pending", "Rows": None, "Attempt": None, "Reason": "Idle", "Last Success": None,
        "Schedule": "30 * * * *", "Suspended": None, "Next": "2026-01-15T08:30:00Z", "Age": None,
        "Watermark": None, "Windows Through": None, "Step": None, "Progress": None,
    }  # fmt: skip


def test_the_due_time_starts_one_run_with_its_scheduled_time_and_run_context() -> None:
    s = scheduled()
    step(s)
    actions = step(s, 1799)  # 08:30:01
    assert len(jobs(s)) == 1
    job = jobs(s)[0]
    assert annotations(job)["impalacopy.io/trigger"] == "schedule"
    assert annotations(job)["impalacopy.io/scheduled-time"] == "2026-01-15T08:30:00Z"
    assert plan_of(job)["runContext"] == {
        "triggerTime": "2026-01-15T08:30:00Z", "scheduledTime": "2026-01-15T08:30:00Z",
    }  # fmt: skip
    status = s.activity["status"]
    assert status["lastScheduleTime"] == "2026-01-15T08:30:00Z"
    assert status["nextScheduleTime"] == "2026-01-15T09:30:00Z"
    assert status["lastRun"]["scheduledTime"] == "2026-01-15T08:30:00Z"
    assert events(actions) == [
        ("Normal", "RunStarted", f"scheduled run for 2026-01-15T08:30:00Z started: run 1 attempt 1, Job "
         f"{job['metadata']['name']}"),
    ]  # fmt: skip
    for _ in range(3):
        step(s)
    assert len(jobs(s)) == 1  # one Job per due time however often it reconciles


def test_each_due_time_runs_the_same_plan_with_its_own_context() -> None:
    s = scheduled()
    step(s, 1800)
    succeed(s)
    step(s, 3600)
    first, second = jobs(s)
    assert annotations(first)["impalacopy.io/plan-digest"] == annotations(second)["impalacopy.io/plan-digest"]
    assert plan_of(second)["runContext"]["scheduledTime"] == "2026-01-15T09:30:00Z"


def test_a_run_started_by_hand_has_a_trigger_time_only() -> None:
    s = scheduled()
    s.activity["metadata"]["annotations"] = {"impalacopy.io/run-now": "now please"}
    step(s, 60)
    job = jobs(s)[0]
    assert annotations(job)["impalacopy.io/trigger"] == "runNow"
    assert "impalacopy.io/scheduled-time" not in annotations(job)
    assert plan_of(job)["runContext"] == {"triggerTime": "2026-01-15T08:01:00Z"}


def test_after_an_outage_the_newest_due_time_runs_and_the_others_are_counted() -> None:
    s = scheduled()
    step(s, 1800)
    succeed(s)
    actions = step(s, 3 * 3600)  # 11:30:02: 09:30 and 10:30 were missed, 11:30 runs
    assert [annotations(j)["impalacopy.io/scheduled-time"] for j in jobs(s)] == [
        "2026-01-15T08:30:00Z", "2026-01-15T11:30:00Z",
    ]  # fmt: skip
    status = s.activity["status"]
    assert (status["missedRuns"], status["lastScheduleTime"]) == (2, "2026-01-15T11:30:00Z")
    assert ("Warning", "MissedSchedule",
            "2 scheduled runs missed (operator down); the next due time is 2026-01-15T12:30:00Z") in events(actions)  # fmt: skip
    step(s)
    assert s.activity["status"]["missedRuns"] == 2  # counted once


def test_suspend_starts_nothing_and_shows_it_resume_counts_the_missed() -> None:
    s = scheduled(suspend=True)
    actions = step(s, 7200)  # 10:00:01, two due times passed while suspended
    assert jobs(s) == []
    status = s.activity["status"]
    assert status["suspended"] is True
    assert "nextScheduleTime" not in status
    assert actions.recheck_after is None
    assert printer_columns(s.activity)["Suspended"] is True
    s.activity["spec"]["schedule"]["suspend"] = False
    s.activity["metadata"]["generation"] = 2
    actions = step(s, 60)
    assert jobs(s) == []
    status = s.activity["status"]
    assert (status["suspended"], status["missedRuns"]) == (False, 2)
    assert status["nextScheduleTime"] == "2026-01-15T10:30:00Z"
    step(s, 1800)
    assert len(jobs(s)) == 1


def test_replace_deletes_the_running_job_for_the_due_run() -> None:
    s = scheduled(concurrencyPolicy="Replace")
    step(s, 1800)
    s.set_pod(manifests.running())
    s.set_job_status(manifests.job_active())
    old = jobs(s)[0]["metadata"]["name"]
    actions = step(s, 3600)
    assert actions.delete == (old,)
    assert [annotations(j)["impalacopy.io/scheduled-time"] for j in jobs(s)] == ["2026-01-15T09:30:00Z"]


def test_forbid_waits_for_the_running_job() -> None:
    s = scheduled()
    step(s, 1800)
    s.set_pod(manifests.running())
    s.set_job_status(manifests.job_active())
    actions = step(s, 3600)
    assert actions.delete == ()
    assert len(jobs(s)) == 1
    succeed(s)
    assert [annotations(j)["impalacopy.io/scheduled-time"] for j in jobs(s)] == [
        "2026-01-15T08:30:00Z", "2026-01-15T09:30:00Z",
    ]  # fmt: skip


def test_a_lookup_runs_on_its_schedule_the_same_way() -> None:
    s = scheduled("*/15 * * * *", kind="LookupActivity")
    step(s)  # 08:00:01: the first due time after its creation (07:55) is 08:00
    assert [annotations(j)["impalacopy.io/trigger"] for j in jobs(s)] == ["schedule"]
    assert plan_of(jobs(s)[0])["runContext"]["scheduledTime"] == "2026-01-15T08:00:00Z"
    status = s.activity["status"]
    assert (status["lastScheduleTime"], status["nextScheduleTime"]) == (
        "2026-01-15T08:00:00Z", "2026-01-15T08:15:00Z",
    )  # fmt: skip
    assert status["nextRunTime"] == "2026-01-15T08:15:00Z"
    assert printer_columns(s.activity)["Schedule"] == "*/15 * * * *"


def test_a_spec_change_waits_for_the_due_time_and_removing_the_schedule_runs_at_once() -> None:
    s = scheduled()
    step(s)
    s.activity["spec"]["schedule"]["cron"] = "45 * * * *"
    s.activity["metadata"]["generation"] = 2
    step(s, 60)
    assert jobs(s) == []
    assert s.activity["status"]["nextScheduleTime"] == "2026-01-15T08:45:00Z"
    del s.activity["spec"]["schedule"]
    s.activity["metadata"]["generation"] = 3
    step(s, 60)
    assert [annotations(j)["impalacopy.io/trigger"] for j in jobs(s)] == ["create"]
    status = s.activity["status"]
    assert not {"nextScheduleTime", "lastScheduleTime", "missedRuns", "suspended"} & set(status)
