"""Placeholders judged by the operator: InvalidSpec naming the placeholder, no Job; a valid one runs.

In:  the standard set of objects (Secret, ConfigMap, PVC, linked service, datasets), plus activities
     whose query or sink dataset uses a placeholder their spec gives no value (a window without
     schedule.window, {scheduledTime} without a schedule, a window in a LookupActivity), one with an
     ADF expression that is not a placeholder, one with a format letter that does not exist, and a
     valid one using {triggerTime} and {runId}.
Out: Ready=False, reason InvalidSpec, with the exact message `impala-copy validate` prints; no Job
     for them; the valid activity's Job carries the query as written (the engine renders it).
Faked: nothing beyond the emulator.
"""

from __future__ import annotations

import json
from typing import Any

from impala_copy.api.plan import PLAN_ENV
from tests.operator import impala_objects, manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until

NEEDS_WINDOW = "needs spec.schedule.window: only the run of a tumbling window has a window start and end"


def invalid_objects() -> list[dict[str, Any]]:
    windowed_folder = manifests.parquet_dataset("per-day")
    windowed_folder["spec"]["location"]["folderPath"] = "orders/dt={windowStart:yyyy-MM-dd}"
    return [
        manifests.copy_activity(
            "no-window", source={"query": "SELECT * FROM demo.orders WHERE ts >= {windowStart}"}
        ),
        manifests.copy_activity(
            "no-schedule", source={"query": "SELECT '@{trigger().scheduledTime}' AS due"}
        ),
        manifests.copy_activity(
            "adf-parameter", source={"query": "SELECT * FROM t WHERE d = '@{pipeline().parameters.day}'"}
        ),
        manifests.copy_activity("bad-format", source={"query": "SELECT {windowStart:yy}"}),
        windowed_folder,
        manifests.copy_activity("folder-needs-window", output="per-day", schedule={"cron": "0 1 * * *"}),
        impala_objects.lookup("lookup-window", "SELECT {windowEnd}", schedule={"cron": "0 1 * * *"}),
    ]


async def test_placeholders_without_values_are_invalid_specs_and_get_no_job(
    cluster: Cluster, operator: OperatorThread
) -> None:
    objects = manifests.standard_set(manifests.random_password())
    objects[-1]["spec"]["source"]["query"] = (
        "SELECT {runId} AS run, * FROM demo.orders WHERE ts < {triggerTime}"
    )
    await cluster.apply(*objects, *invalid_objects())
    job = await until(lambda: cluster.jobs_of("CopyActivity", "copy-orders"), what="the valid activity's Job")
    await settle(cluster)

    def ready(kind: str, name: str) -> tuple[str, str, str]:
        cond = cluster.condition(kind, name, "Ready")
        return cond.get("status", ""), cond.get("reason", ""), cond.get("message", "")

    assert ready("CopyActivity", "no-window") == (
        "False",
        "InvalidSpec",
        f"CopyActivity 'no-window': '{{windowStart}}' in source.query {NEEDS_WINDOW}",
    )
    assert ready("CopyActivity", "no-schedule") == (
        "False",
        "InvalidSpec",
        "CopyActivity 'no-schedule': '@{trigger().scheduledTime}' in source.query needs spec.schedule "
        "(cron or window): only a scheduled run has a scheduled time",
    )
    assert ready("CopyActivity", "folder-needs-window") == (
        "False",
        "InvalidSpec",
        "CopyActivity 'folder-needs-window': '{windowStart:yyyy-MM-dd}' in location.folderPath of "
        f"ParquetDataset 'per-day' {NEEDS_WINDOW}",
    )
    assert ready("LookupActivity", "lookup-window") == (
        "False",
        "InvalidSpec",
        "LookupActivity 'lookup-window': '{windowEnd}' in source.query needs a tumbling window, which a "
        "LookupActivity does not have (spec.schedule.window is for CopyActivities)",
    )
    status, reason, message = ready("CopyActivity", "adf-parameter")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "spec.source.query: the ADF expression '@{pipeline().parameters.day}' is not supported" in message
    status, reason, message = ready("CopyActivity", "bad-format")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "spec.source.query: '{windowStart:yy}': the format letters 'yy' are not supported" in message
    # The dataset itself is fine: only the activity lacks the window.
    assert ready("ParquetDataset", "per-day")[:2] == ("True", "Resolved")

    assert [j["metadata"]["name"] for j in cluster.jobs()] == [j["metadata"]["name"] for j in job]
    (container,) = job[0]["spec"]["template"]["spec"]["containers"]
    plan = json.loads(next(e["value"] for e in container["env"] if e["name"] == PLAN_ENV))
    assert plan["source"]["query"] == "SELECT {runId} AS run, * FROM demo.orders WHERE ts < {triggerTime}"
