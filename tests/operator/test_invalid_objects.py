"""Objects that bypass schema validation with wrong shapes: InvalidSpec (or InvalidReference) in their
status, no Job for them, and the operator keeps serving everything else.

In:  a valid set of objects, plus objects the API server would have rejected (kmock validates
     nothing): specs of the wrong type, fields of the wrong type, rule violations, garbage status and
     annotations, a Secret without data, a labelled Job and pod that are not ours or not well formed.
Out: Ready=False with InvalidSpec and a message naming the field, InvalidReference on activities
     using an invalid object, no Job for them, no failed reconciliation in the logs, and the valid
     activity's run going from Job to Succeeded as usual.
Faked: nothing beyond the emulator.
"""

from __future__ import annotations

from typing import Any

from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until

GV = manifests.GV


def broken_objects() -> list[dict[str, Any]]:
    spec_string = manifests.copy_activity("spec-is-a-string")
    spec_string["spec"] = "copy everything please"
    no_spec = manifests.copy_activity("no-spec")
    del no_spec["spec"]
    wrong_sink = manifests.copy_activity("wrong-sink", sink={"type": "JsonSink"})
    garbage = manifests.copy_activity("garbage-status-and-annotations")
    garbage["status"] = "not a status"
    garbage["metadata"]["annotations"] = {"impalacopy.io/run-now": 12}
    garbage["metadata"]["generation"] = "three"
    garbage["spec"]["inputs"] = [{"referenceName": 42}]
    bad_ls = manifests.impala_linked_service("bad-port")
    bad_ls["spec"]["port"] = "twenty-one thousand"
    bad_dataset = manifests.impala_dataset("uses-bad-port", linked_service="bad-port")
    uses_bad = manifests.copy_activity("uses-bad-dataset", dataset="uses-bad-port")
    list_spec = manifests.impala_dataset("list-spec")
    list_spec["spec"] = [1, 2, 3]
    odd_secret = {"apiVersion": "v1", "kind": "Secret", "metadata": manifests.meta("odd"), "data": "oops"}
    return [spec_string, no_spec, wrong_sink, garbage, bad_ls, bad_dataset, uses_bad, list_spec, odd_secret]


def foreign_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {**manifests.meta("someone-elses"), "labels": {"impalacopy.io/activity": "copy-orders"}},
        "spec": {"template": {"spec": {"containers": []}}},
        "status": {"conditions": "nope", "active": "one"},
    }


def odd_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **manifests.meta("odd-pod"),
            "labels": {"impalacopy.io/activity": "copy-orders", "batch.kubernetes.io/job-name": "x"},
            "annotations": {"impalacopy.io/activity-name": "copy-orders"},
        },
        "status": {"containerStatuses": "many", "phase": 7},
    }


async def test_invalid_objects_get_invalid_spec_and_the_rest_is_served(
    cluster: Cluster, operator: OperatorThread, logs: Any
) -> None:
    await cluster.apply(*broken_objects(), foreign_job(), odd_pod())
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    job = await until(
        lambda: next((j for j in cluster.jobs() if j["metadata"]["name"].startswith("copy-orders-")), None),
        what="the valid activity's Job",
    )
    await settle(cluster)

    def ready(kind: str, name: str) -> tuple[str, str, str]:
        cond = cluster.condition(kind, name, "Ready")
        return cond.get("status", ""), cond.get("reason", ""), cond.get("message", "")

    status, reason, message = ready("CopyActivity", "spec-is-a-string")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "spec" in message
    assert ready("CopyActivity", "no-spec")[:2] == ("False", "InvalidSpec")
    status, reason, message = ready("CopyActivity", "wrong-sink")
    assert (status, reason) == (
        "False",
        "InvalidSpec",
    )
    assert "sink.type must match the output dataset" in message
    status, reason, message = ready("CopyActivity", "garbage-status-and-annotations")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "inputs[0].referenceName" in message
    status, reason, message = ready("ImpalaLinkedService", "bad-port")
    assert (status, reason) == ("False", "InvalidSpec")
    assert "port" in message
    status, reason, message = ready("CopyActivity", "uses-bad-dataset")
    assert (status, reason) == ("False", "InvalidReference")
    assert message.startswith("ImpalaLinkedService 'bad-port' is invalid: ")
    assert ready("ImpalaDataset", "uses-bad-port")[:2] == ("False", "InvalidReference")
    assert ready("ImpalaDataset", "list-spec")[:2] == ("False", "InvalidSpec")
    garbage = cluster.status("CopyActivity", "garbage-status-and-annotations")
    assert garbage["phase"] == "Pending"

    # Only the valid activity got a Job; the foreign Job was left alone.
    ours = [j["metadata"]["name"] for j in cluster.jobs() if j["metadata"]["name"] != "someone-elses"]
    assert ours == [job["metadata"]["name"]]
    assert not any(r.method.value == "DELETE" for r in cluster.operator_requests())
    assert not any("reconciliation failed" in line or "Traceback" in line for line in logs.lines)

    await cluster.finish(job, manifests.summary(rows=7))
    await until(lambda: cluster.status("CopyActivity", "copy-orders").get("phase") == "Succeeded")
    assert cluster.status("CopyActivity", "copy-orders")["lastRun"]["rowsCopied"] == 7


async def test_fixing_an_invalid_activity_starts_its_run(cluster: Cluster, operator: OperatorThread) -> None:
    objects = manifests.standard_set(manifests.random_password())
    objects[-1]["spec"]["sink"] = {"type": "JsonSink"}
    await cluster.apply(*objects)
    await until(
        lambda: cluster.condition("CopyActivity", "copy-orders", "Ready").get("reason") == "InvalidSpec"
    )
    assert cluster.jobs() == []
    await cluster.change_spec("CopyActivity", "copy-orders", {"sink": {"type": "ParquetSink"}})
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="a Job after the fix")
    assert job["metadata"]["annotations"]["impalacopy.io/generation"] == "2"
    assert job["metadata"]["annotations"]["impalacopy.io/trigger"] == "create"
