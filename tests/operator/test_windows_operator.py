"""Tumbling windows on the API emulator: a backfill of Minute windows, one Job per window.

In:  the standard objects with `schedule.window` (Minute/1, startTime a few minutes ago, endTime so the
     number of windows is fixed, maxConcurrency 2); Jobs finished as the Job controller would; an
     operator restart in the middle of the backfill; the run-now and rerun-window annotations.
Out: which Jobs the operator creates (their window annotations, run and attempt labels, trigger, the
     plan's runContext), at most two running at once, oldest window first, none twice; status.windows,
     phase, lastRun, the printer columns and the Events.
Faked: the Job controller and kubelet (pods and Job status written by the test).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from impala_copy.api.plan import PLAN_ENV
from impala_copy.controller.core.timeutil import format_time, utcnow
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, printer_columns, settle, start_operator, until

CA = "copy-orders"
WINDOWS = 4


def window_set(**window: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The standard objects with Minute windows ending at the last whole minute; the windows' starts and
    the end of the last one."""
    last = utcnow().replace(second=0, microsecond=0)
    first = last - timedelta(minutes=WINDOWS)
    objects = manifests.standard_set(manifests.random_password())
    objects[-1]["spec"]["schedule"] = {
        "window": {
            "startTime": format_time(first),
            "endTime": format_time(last),
            "frequency": "Minute",
            "interval": 1,
            "maxConcurrency": 2,
            **window,
        }
    }
    # Windows running side by side write their own folders (one shared folder is refused for them).
    dataset = next(o for o in objects if o["kind"] == "ParquetDataset")
    dataset["spec"]["location"]["folderPath"] = "orders/{windowStart:yyyy-MM-dd-HH-mm}"
    return objects, [format_time(first + timedelta(minutes=i)) for i in range(WINDOWS + 1)]


def window_of(job: dict[str, Any]) -> str:
    return str(job["metadata"]["annotations"]["impalacopy.io/window-start"])


def unfinished(cluster: Cluster) -> list[dict[str, Any]]:
    jobs = cluster.jobs_of("CopyActivity", CA)
    return [j for j in jobs if not (j.get("status") or {}).get("conditions")]


def created_windows(cluster: Cluster) -> list[str]:
    """The window of every Job the operator created, in the order it created them."""
    return [window_of(r.data) for r in cluster.job_creations()]


async def test_a_backfill_runs_one_job_per_window_oldest_first_two_at_a_time(
    cluster: Cluster, operator: OperatorThread
) -> None:
    objects, bounds = window_set()
    starts, end = bounds[:-1], bounds[-1]
    await cluster.apply(*objects)
    await until(lambda: len(unfinished(cluster)) == 2, what="two window Jobs")
    await settle(cluster)
    first, second = cluster.jobs_of("CopyActivity", CA)
    assert [window_of(first), window_of(second)] == starts[:2]
    assert first["metadata"]["annotations"]["impalacopy.io/window-end"] == starts[1]
    assert first["metadata"]["annotations"]["impalacopy.io/trigger"] == "window"
    plan = json.loads(first["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])
    assert plan["runContext"] == {
        "triggerTime": starts[1], "scheduledTime": starts[1], "windowStart": starts[0], "windowEnd": starts[1]
    }  # fmt: skip
    assert first["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"] == PLAN_ENV
    status = cluster.status("CopyActivity", CA)
    assert (status["phase"], status["windows"]["runningCount"]) == ("Pending", 2)
    assert [e["start"] for e in status["windows"]["open"]] == starts[:2]

    await cluster.finish(second, manifests.summary(rows=7))  # the younger window ends first
    await until(lambda: len(cluster.jobs_of("CopyActivity", CA)) == 3, what="the third window's Job")
    await settle(cluster)
    assert len(unfinished(cluster)) == 2
    windows = cluster.status("CopyActivity", CA)["windows"]
    assert [(e["start"], e["status"]) for e in windows["open"]] == [
        (starts[0], "Pending"),
        (starts[1], "Succeeded"),
        (starts[2], "Pending"),
    ]
    while len(created_windows(cluster)) < WINDOWS or unfinished(cluster):
        for job in unfinished(cluster):
            await cluster.finish(job, manifests.summary(rows=7))
        await until(lambda: cluster.status("CopyActivity", CA)["windows"].get("runningCount") == 0 or
                    len(unfinished(cluster)) > 0, what="the next windows")  # fmt: skip
        await settle(cluster)

    assert created_windows(cluster) == starts  # each window once, oldest first
    status = cluster.status("CopyActivity", CA)
    windows = status["windows"]
    assert windows["completedThrough"] == windows["lastWindowEnd"] == end
    assert (windows["succeededCount"], windows["failedCount"], windows["open"], windows["failed"]) == (
        WINDOWS,
        0,
        [],
        [],
    )
    assert "nextWindowTime" not in windows  # endTime reached
    assert (status["phase"], status["lastRun"]["rowsCopied"]) == ("Succeeded", 7)
    columns = printer_columns(cluster.get("CopyActivity", CA))
    assert columns["Windows Through"] == windows["completedThrough"]
    assert cluster.event_reasons(CA).count("WindowSucceeded") == WINDOWS
    assert "RunStarted" not in cluster.event_reasons(CA)


async def test_a_restart_in_the_middle_of_a_backfill_creates_no_job_twice(
    kmock: Any, cluster: Cluster
) -> None:
    first = await start_operator(kmock)
    objects, bounds = window_set()
    starts = bounds[:-1]
    await cluster.apply(*objects)
    await until(lambda: len(unfinished(cluster)) == 2, what="two window Jobs")
    await settle(cluster)
    await first.stop()
    for job in unfinished(cluster):  # both finish while no operator runs
        await cluster.finish(job, manifests.summary(rows=3))

    second = await start_operator(kmock)
    try:
        await until(lambda: len(cluster.job_creations()) == WINDOWS, what="the last two windows")
        await settle(cluster)
        for job in unfinished(cluster):
            await cluster.finish(job, manifests.summary(rows=3))
        await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="caught up")
        await settle(cluster)
    finally:
        await second.stop()
    assert created_windows(cluster) == starts
    assert cluster.status("CopyActivity", CA)["windows"]["succeededCount"] == WINDOWS


async def test_run_now_is_ignored_and_rerun_window_runs_one_window_again(
    cluster: Cluster, operator: OperatorThread
) -> None:
    objects, bounds = window_set(maxConcurrency=4)
    starts = bounds[:-1]
    await cluster.apply(*objects)
    await until(lambda: len(unfinished(cluster)) == WINDOWS, what="every window's Job")
    for job in unfinished(cluster):
        await cluster.finish(job, manifests.summary(rows=2))
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="caught up")

    await cluster.patch("CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/run-now": "now"}}})
    await until(lambda: cluster.status("CopyActivity", CA).get("handledRunNow") == "now", what="run-now seen")
    await settle(cluster)
    assert len(cluster.job_creations()) == WINDOWS
    [ignored] = [e for e in cluster.events(CA) if e["reason"] == "RunNowIgnored"]
    assert "impalacopy.io/rerun-window=<the window's start, RFC 3339>" in ignored["message"]

    await cluster.patch(
        "CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/rerun-window": starts[1]}}}
    )
    await until(lambda: len(cluster.job_creations()) == WINDOWS + 1, what="the rerun")
    await settle(cluster)
    rerun = cluster.job_creations()[-1].data
    assert (window_of(rerun), rerun["metadata"]["annotations"]["impalacopy.io/trigger"]) == (
        starts[1],
        "rerunWindow",
    )
    assert rerun["metadata"]["labels"]["impalacopy.io/run"] == str(WINDOWS + 1)
    windows = cluster.status("CopyActivity", CA)["windows"]
    assert (windows["handledRerunWindow"], windows["rerunWindowMessage"]) == (
        starts[1],
        f"window {starts[1]} runs again",
    )
    assert "WindowRerun" in cluster.event_reasons(CA)

    await cluster.patch(
        "CopyActivity",
        CA,
        {"metadata": {"annotations": {"impalacopy.io/rerun-window": "2020-01-01T00:00:00Z"}}},
    )
    await until(lambda: "InvalidRerunWindow" in cluster.event_reasons(CA), what="the refusal")
    await settle(cluster)
    assert len(cluster.job_creations()) == WINDOWS + 1
    assert cluster.status("CopyActivity", CA)["windows"]["rerunWindowMessage"].startswith(
        "rerun-window '2020-01-01T00:00:00Z' is not the start of a window"
    )


async def test_a_window_that_fails_for_good_is_shown_and_later_windows_go_on(
    cluster: Cluster, operator: OperatorThread
) -> None:
    objects, bounds = window_set(maxConcurrency=1)
    starts = bounds[:-1]
    await cluster.apply(*objects)
    job = await until(lambda: unfinished(cluster) and unfinished(cluster)[0], what="the first window's Job")
    failure = manifests.failed_summary("QueryFailed", "AnalysisException: no such column")
    await cluster.fail(job, manifests.terminated(1, failure.to_termination_message()))
    second = await until(
        lambda: len(cluster.job_creations()) == 2 and unfinished(cluster) and unfinished(cluster)[0],
        what="the second window's Job",
    )
    assert window_of(second) == starts[1]
    await settle(cluster)
    windows = cluster.status("CopyActivity", CA)["windows"]
    [failed] = windows["failed"]
    assert (failed["start"], failed["end"], failed["reason"], failed["attempt"]) == (
        starts[0],
        starts[1],
        "QueryFailed",
        1,
    )
    assert (windows["failedCount"], windows["completedThrough"]) == (1, starts[1])
    [event] = [e for e in cluster.events(CA) if e["reason"] == "WindowFailed"]
    assert event["type"] == "Warning"
    assert event["message"] == (
        f"window {starts[0]} to {starts[1]} (run 1 attempt 1) failed for good: "
        "run 1 attempt 1: AnalysisException: no such column"
    )

    while len(created_windows(cluster)) < WINDOWS or unfinished(cluster):
        job = await until(lambda: unfinished(cluster) and unfinished(cluster)[0], what="the next window")
        await cluster.finish(job, manifests.summary(rows=1))
        await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    assert created_windows(cluster) == starts
    assert (status["phase"], status["windows"]["failedCount"], status["windows"]["succeededCount"]) == (
        "Succeeded",
        1,
        WINDOWS - 1,
    )
    assert [e["start"] for e in status["windows"]["failed"]] == [starts[0]]  # still listed
