"""Applying the kinds starts exactly one run: the Job's fields, and the status and Events that follow.

In:  a Secret with a random password, a ConfigMap with a CA, a PVC, an ImpalaLinkedService, an
     ImpalaDataset, a ParquetDataset and a CopyActivity, applied to the emulated API server.
Out: one Job, equal to what build_job renders for the resolved plan; Ready conditions on every
     object; the CopyActivity's status while pending, running and after success (lastRun counters
     from the termination message), the printer columns, and the Events.
Faked: the Job controller and kubelet: the test writes the pod (running, then terminated with the
     engine's summary) and the Job's status.
"""

from __future__ import annotations

import json
from typing import Any

from impala_copy.api.schedule import RunContext
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.readiness import copy_activity_readiness
from impala_copy.controller.core.runs import NewAttempt
from impala_copy.controller.core.settings import JobDefaults
from impala_copy.controller.core.timeutil import parse_time, utcnow
from impala_copy.controller.core.view import ViewCatalog
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, printer_columns, settle, until
from tests.operator.scenarios import scenarios, shape, view_of

CA = "copy-orders"


def expected_job(objects: list[dict[str, Any]], run_context: dict[str, Any]) -> dict[str, Any]:
    """The Job the operator should create: build_job on the plan resolved from the same objects, with
    the run's context (its trigger time is the operator's clock when it started the run)."""
    activity = next(o for o in objects if o["kind"] == "CopyActivity")
    checked = copy_activity_readiness(activity, ViewCatalog(view_of(objects), manifests.NS))
    assert checked.plan is not None
    assert checked.activity is not None
    owner = JobOwner(
        name=CA, namespace=manifests.NS, uid=activity["metadata"]["uid"], settings=checked.activity.spec.job
    )
    attempt = NewAttempt(run_number=1, attempt=1, generation=1, run_now=None, trigger="create")
    context = RunContext.model_validate(run_context)
    plan = checked.plan.model_copy(update={"run_id": "1", "run_context": context})
    return build_job(plan, owner, JobDefaults(), attempt)


async def test_apply_creates_exactly_one_job_with_the_expected_fields(
    cluster: Cluster, operator: OperatorThread
) -> None:
    objects = manifests.standard_set(manifests.random_password())
    await cluster.apply(*objects)
    await until(cluster.jobs, what="a Job")
    await settle(cluster)

    assert len(cluster.jobs()) == 1
    assert len(cluster.job_creations()) == 1
    job = cluster.jobs()[0]
    plan = json.loads(job["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])
    assert set(plan["runContext"]) == {"triggerTime"}  # not scheduled: a trigger time only
    started = parse_time(plan["runContext"]["triggerTime"])
    assert started is not None
    assert abs((utcnow() - started).total_seconds()) < 60
    assert job == expected_job(objects, plan["runContext"])
    assert plan["runId"] == "1"
    assert plan["activity"] == CA
    assert plan["namespace"] == "default"

    status = cluster.status("CopyActivity", CA)
    assert shape(status) == shape(scenarios()["pending"]["status"])
    assert status["lastRun"]["jobName"] == job["metadata"]["name"]
    assert status["lastRun"]["status"] == "Pending"
    assert status["observedGeneration"] == 1
    for kind, name in [
        ("ImpalaLinkedService", "impala"),
        ("ImpalaDataset", "orders"),
        ("ParquetDataset", "orders-parquet"),
    ]:
        ready = cluster.condition(kind, name, "Ready")
        assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "Resolved", 1), (
            kind
        )
    events = cluster.events(CA)
    assert [(e["type"], e["reason"]) for e in events] == [("Normal", "RunStarted")]
    assert events[0]["involvedObject"] == {
        "apiVersion": "impalacopy.io/v1alpha1",
        "kind": "CopyActivity",
        "name": CA,
        "namespace": "default",
        "uid": objects[-1]["metadata"]["uid"],
    }
    assert job["metadata"]["name"] in events[0]["message"]


async def test_running_then_succeeded(cluster: Cluster, operator: OperatorThread) -> None:
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="a Job")

    await cluster.pod(job, manifests.running())
    await cluster.job_status(job, manifests.job_active())
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Running", what="phase Running")
    assert shape(cluster.status("CopyActivity", CA)) == shape(scenarios()["running"]["status"])

    summary = manifests.summary(rows=5000)
    await cluster.finish(job, summary, when="2026-01-15T08:10:00Z")
    await until(
        lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="phase Succeeded"
    )
    await settle(cluster)

    obj = cluster.get("CopyActivity", CA)
    status = obj["status"]
    assert shape(status) == shape(scenarios()["succeeded"]["status"])
    last = status["lastRun"]
    assert last["rowsRead"] == summary.rows_read
    assert last["rowsCopied"] == summary.rows_copied
    assert last["dataRead"] == summary.data_read
    assert last["dataWritten"] == summary.data_written
    assert last["filesWritten"] == 1
    assert last["copyDuration"] == 2.5
    assert last["throughput"] == 2000.0
    assert last["outputPaths"] == summary.output_paths
    assert last["errors"] == []
    assert last["jobName"] == job["metadata"]["name"]
    assert last["attempt"] == 1
    assert last["runId"] == "1"
    assert last["completionTime"] == "2026-01-15T08:10:00Z"
    assert status["lastSuccessfulTime"] == "2026-01-15T08:10:00Z"

    columns = printer_columns(obj)
    assert columns["Phase"] == "Succeeded"
    assert columns["Rows"] == 5000
    assert columns["Attempt"] == 1
    assert columns["Reason"] == "RunSucceeded"  # the reason of the phase
    assert columns["Last Success"] == "2026-01-15T08:10:00Z"

    assert cluster.event_reasons(CA) == ["RunStarted", "RunSucceeded"]
    succeeded = cluster.events(CA)[-1]
    assert succeeded["type"] == "Normal"
    assert "5000 rows copied" in succeeded["message"]
    assert len(cluster.job_creations()) == 1
