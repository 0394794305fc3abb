"""Missing or wrong references: a Ready=False condition naming the object, nothing launched, and a
prompt run once the object appears or is fixed.

In:  the standard objects with one of them left out or wrong (Secret, Secret key, ConfigMap CA,
     ImpalaDataset, PVC), then the missing object created or fixed. The operator cannot see
     Secrets: a missing Secret or key is reported by the run's pod (the test's kubelet,
     Cluster.run_pod, leaves it waiting with CreateContainerConfigError).
Out: Ready=False with the reason from api/resolve.py (or from the pod's waiting state) and a message
     naming the object, on the CopyActivity and on the linked service/dataset concerned; no Job (a
     waiting Job for a Secret); a Warning Event; then Ready=True and exactly one Job, without any
     periodic resync (resync is off in these tests).
Faked: the API server (kmock), the kubelet and the Job controller (tests/operator/kubelet.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, secret_env, settle, until
from tests.operator.scenarios import scenarios, shape

CA = "copy-orders"


def without(objects: list[dict[str, Any]], kind: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    left = next(o for o in objects if o["kind"] == kind)
    return [o for o in objects if o is not left], left


@pytest.mark.parametrize(
    ("kind", "reason", "message", "others"),
    [
        (
            "ConfigMap",
            "ConfigMapNotFound",
            "ConfigMap 'impala-ca' referenced by ImpalaLinkedService 'impala' was not found",
            [("ImpalaLinkedService", "impala")],
        ),
        (
            "ImpalaDataset",
            "ReferenceNotFound",
            "ImpalaDataset 'orders' referenced by CopyActivity 'copy-orders' was not found",
            [],
        ),
        (
            "PersistentVolumeClaim",
            "ReferenceNotFound",
            "PersistentVolumeClaim 'copies' referenced by ParquetDataset 'orders-parquet' was not found",
            [("ParquetDataset", "orders-parquet")],
        ),
    ],
)
async def test_missing_object_then_created(
    cluster: Cluster,
    operator: OperatorThread,
    kind: str,
    reason: str,
    message: str,
    others: list[tuple[str, str]],
) -> None:
    objects, missing = without(manifests.standard_set(manifests.random_password()), kind)
    await cluster.apply(*objects)
    await until(lambda: cluster.condition("CopyActivity", CA, "Ready").get("reason") == reason, what=reason)
    await settle(cluster)

    ready = cluster.condition("CopyActivity", CA, "Ready")
    assert (ready["status"], ready["message"]) == ("False", message)
    assert cluster.jobs() == []
    assert cluster.job_creations() == []
    status = cluster.status("CopyActivity", CA)
    assert status["phase"] == "Pending"
    assert cluster.condition("CopyActivity", CA, "Running")["reason"] == "NotReady"
    for other_kind, other_name in others:
        cond = cluster.condition(other_kind, other_name, "Ready")
        assert (cond["status"], cond["reason"]) == ("False", reason), other_kind
    warnings = [e for e in cluster.events(CA) if e["type"] == "Warning"]
    assert [(e["reason"], e["message"]) for e in warnings] == [(reason, message)]

    await cluster.apply(missing)
    await until(cluster.jobs, what="a Job once the missing object exists")
    await settle(cluster)
    assert len(cluster.jobs()) == 1
    assert cluster.condition("CopyActivity", CA, "Ready")["status"] == "True"
    assert shape(cluster.status("CopyActivity", CA)) == shape(scenarios()["pending"]["status"])
    for other_kind, other_name in others:
        assert cluster.condition(other_kind, other_name, "Ready")["status"] == "True", other_kind
    assert cluster.event_reasons(CA) == [reason, "Resolved", "RunStarted"]


async def pod_reports_missing(cluster: Cluster, root: Path, reason: str) -> tuple[dict[str, Any], str]:
    """The run's Job exists although a Secret or key is missing; its pod, run by the test's kubelet,
    waits with CreateContainerConfigError. Returns the Job and the kubelet's message."""
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="the run's Job")
    result = await cluster.run_pod(job, root)
    assert not result.started
    await until(lambda: cluster.condition("CopyActivity", CA, "Ready").get("reason") == reason, what=reason)
    await settle(cluster)
    assert cluster.status("CopyActivity", CA)["phase"] == "Pending"
    return job, result.waiting_message


async def the_pod_starts(cluster: Cluster, job: dict[str, Any]) -> None:
    """The kubelet tries again once the Secret is right, and the container runs."""
    await cluster.pod(job, manifests.running())
    await until(lambda: cluster.condition("CopyActivity", CA, "Ready").get("status") == "True")
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Running")
    await settle(cluster)
    assert len(cluster.job_creations()) == 1


async def test_missing_secret_reported_by_the_pod_then_created(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    objects, secret = without(manifests.standard_set(manifests.random_password()), "Secret")
    await cluster.apply(*objects)
    job, kubelet_message = await pod_reports_missing(cluster, tmp_path, "SecretNotFound")
    assert kubelet_message == 'secret "impala-credentials" not found'
    message = "Secret 'impala-credentials' was not found (the run starts once it exists)"
    ready = cluster.condition("CopyActivity", CA, "Ready")
    assert (ready["status"], ready["message"]) == ("False", message)
    running = cluster.condition("CopyActivity", CA, "Running")
    assert (running["status"], running["reason"]) == ("False", "SecretNotFound")
    assert shape(cluster.status("CopyActivity", CA)) == shape(scenarios()["secret-not-found"]["status"])
    # The operator cannot see Secrets: the linked service's own references (names only) resolve.
    assert cluster.condition("ImpalaLinkedService", "impala", "Ready")["status"] == "True"
    warnings = [e for e in cluster.events(CA) if e["type"] == "Warning"]
    assert [(e["reason"], e["message"]) for e in warnings] == [("SecretNotFound", message)]

    await cluster.apply(secret)
    await the_pod_starts(cluster, job)


async def test_missing_secret_key_then_the_secret_gets_it(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    password = manifests.random_password()
    objects, secret = without(manifests.standard_set(password), "Secret")
    await cluster.apply(*objects, manifests.secret("impala-credentials", {"user": "alice"}))
    job, kubelet_message = await pod_reports_missing(cluster, tmp_path, "SecretKeyNotFound")
    assert kubelet_message == "couldn't find key password in Secret default/impala-credentials"
    ready = cluster.condition("CopyActivity", CA, "Ready")
    assert ready["message"] == (
        "Secret 'impala-credentials' has no key 'password' (the run starts once it exists)"
    )
    assert shape(cluster.status("CopyActivity", CA)) == shape(scenarios()["secret-key-not-found"]["status"])

    await cluster.patch("Secret", "impala-credentials", {"data": secret["data"]})
    await the_pod_starts(cluster, job)


async def test_linked_service_points_to_another_secret(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    """A reference changed on the linked service while the run's pod waits for the wrong Secret: the
    activity follows without being touched (a pod can never start with the old name)."""
    objects = manifests.standard_set(manifests.random_password())
    ls = next(o for o in objects if o["kind"] == "ImpalaLinkedService")
    ls["spec"]["password"]["secretKeyRef"]["name"] = "elsewhere"
    await cluster.apply(*objects)
    stuck, kubelet_message = await pod_reports_missing(cluster, tmp_path, "SecretNotFound")
    assert kubelet_message == 'secret "elsewhere" not found'
    await cluster.change_spec(
        "ImpalaLinkedService",
        "impala",
        {"password": {"secretKeyRef": {"name": "impala-credentials", "key": "password"}}},
    )
    job = await until(
        lambda: next((j for j in cluster.jobs() if j["metadata"]["name"] != stuck["metadata"]["name"]), None),
        what="a Job after the linked service was fixed",
    )
    await settle(cluster)
    assert cluster.condition("ImpalaLinkedService", "impala", "Ready")["status"] == "True"
    assert cluster.condition("ImpalaLinkedService", "impala", "Ready")["observedGeneration"] == 2
    assert ("impala-credentials", "password") in secret_env(job).values()
    assert [j["metadata"]["name"] for j in cluster.jobs()] == [job["metadata"]["name"]]


async def test_references_never_cross_namespaces(cluster: Cluster, operator: OperatorThread) -> None:
    password = manifests.random_password()
    others = [o for o in manifests.standard_set(password, namespace="team-b") if o["kind"] != "CopyActivity"]
    await cluster.apply(*others, manifests.copy_activity(namespace="team-a"))
    await until(
        lambda: cluster.condition("CopyActivity", CA, "Ready", "team-a").get("reason") == "ReferenceNotFound"
    )
    await settle(cluster)
    assert cluster.jobs("team-a") == []
    assert cluster.jobs("team-b") == []
