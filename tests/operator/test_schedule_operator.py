"""Cron schedules on the running operator: a Job at each due time, none while suspended, none twice.

In:  CopyActivities with `schedule.cron: "* * * * *"` applied to the API emulator; the operator's
     clock shifted (same rate as the wall clock) so a due time comes a second or two after the test
     starts instead of at the next real minute; a second operator started at the due time.
Out: when the Job appears (not before its due time), its scheduled-time annotation, the status
     fields (lastScheduleTime, nextScheduleTime, missedRuns, suspended), the printer columns, the
     Events, and the number of Job creations.
Faked: the API server (kmock); the clock (an offset, see above); the Job controller (not needed:
       no Job has to run).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from impala_copy.controller.core.timeutil import format_time, utcnow
from tests.operator import manifests
from tests.operator.harness import Cluster, printer_columns, settle, start_operator, until

CA = "copy-orders"
LEAD_SECONDS = 2.0  # how long before a due time the shifted clock starts


def minute_after(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


class ShiftedClock:
    """The operator's clock: the wall clock shifted, at its rate; `set` moves it just before a due time."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def set(self, due: datetime, seconds_before: float) -> None:
        self.offset = due - timedelta(seconds=seconds_before) - utcnow()


def scheduled_set(clock: ShiftedClock, **schedule: Any) -> list[dict[str, Any]]:
    """The standard objects, the CopyActivity on a schedule and created now by the shifted clock."""
    objects = manifests.standard_set(manifests.random_password())
    objects[-1]["spec"]["schedule"] = {"cron": "* * * * *", **schedule}
    objects[-1]["metadata"]["creationTimestamp"] = format_time(clock())
    return objects


async def test_a_due_run_creates_its_job_at_the_due_time(kmock: Any, cluster: Cluster) -> None:
    due = minute_after(utcnow() + timedelta(minutes=5))
    clock = ShiftedClock()
    operator = await start_operator(kmock, clock=clock)
    clock.set(due, LEAD_SECONDS)
    try:
        await cluster.apply(*scheduled_set(clock))
        status = await until(
            lambda: cluster.status("CopyActivity", CA).get("nextScheduleTime"), what="status"
        )
        assert status == format_time(due)
        assert cluster.jobs() == []  # no run on create
        job = await until(lambda: cluster.jobs() and cluster.jobs()[0], timeout=15, what="the due Job")
        assert clock() >= due
        annotations = job["metadata"]["annotations"]
        assert (annotations["impalacopy.io/trigger"], annotations["impalacopy.io/scheduled-time"]) == (
            "schedule", format_time(due),
        )  # fmt: skip
        await until(lambda: cluster.status("CopyActivity", CA).get("lastScheduleTime") == format_time(due))
        await settle(cluster)
    finally:
        await operator.stop()
    status = cluster.status("CopyActivity", CA)
    assert status["nextScheduleTime"] == format_time(due + timedelta(minutes=1))
    assert (status["missedRuns"], status["suspended"]) == (0, False)
    assert status["lastRun"]["scheduledTime"] == format_time(due)
    columns = printer_columns(cluster.get("CopyActivity", CA))
    assert (columns["Schedule"], columns["Suspended"], columns["Next"]) == (
        "* * * * *", None, format_time(due + timedelta(minutes=1)),
    )  # fmt: skip
    started = [e["message"] for e in cluster.events(CA) if e["reason"] == "RunStarted"]
    assert started == [
        f"scheduled run for {format_time(due)} started: run 1 attempt 1, Job {job['metadata']['name']}"
    ]
    assert len(cluster.job_creations()) == 1


async def test_suspend_starts_nothing_at_the_due_time(kmock: Any, cluster: Cluster) -> None:
    due = minute_after(utcnow() + timedelta(minutes=5))
    clock = ShiftedClock()
    operator = await start_operator(kmock, clock=clock)
    clock.set(due, 1.0)
    try:
        await cluster.apply(*scheduled_set(clock, suspend=True))
        await until(lambda: cluster.status("CopyActivity", CA).get("suspended") is True, what="status")
        await asyncio.sleep(2.5)  # past the due time
        await settle(cluster)
    finally:
        await operator.stop()
    assert cluster.job_creations() == []
    status = cluster.status("CopyActivity", CA)
    assert "nextScheduleTime" not in status
    assert printer_columns(cluster.get("CopyActivity", CA))["Suspended"] is True


async def test_a_restart_at_the_due_time_creates_no_second_job(kmock: Any, cluster: Cluster) -> None:
    due = minute_after(utcnow() + timedelta(minutes=5))
    clock = ShiftedClock()
    first = await start_operator(kmock, clock=clock)
    clock.set(due, 1.0)
    await cluster.apply(*scheduled_set(clock))
    await until(lambda: cluster.jobs(), timeout=15, what="the due Job")
    await settle(cluster)
    await first.stop()
    # As if the operator had died between creating the Job and writing status: the status of the
    # moment before, only the Job tells that the due time was handled.
    before = {"lastScheduleTime": None, "nextScheduleTime": format_time(due), "lastRun": None}
    await cluster.patch_status("CopyActivity", CA, before)
    assert "lastScheduleTime" not in cluster.status("CopyActivity", CA)

    clock.set(due, -0.5)  # the second operator starts at the due time
    second = await start_operator(kmock, clock=clock)
    try:
        await until(lambda: cluster.status("CopyActivity", CA).get("lastScheduleTime"), what="status")
        await settle(cluster)
    finally:
        await second.stop()
    assert len(cluster.job_creations()) == 1
    status = cluster.status("CopyActivity", CA)
    assert (status["lastScheduleTime"], status["missedRuns"]) == (format_time(due), 0)
