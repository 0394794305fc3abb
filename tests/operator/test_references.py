"""Missing or wrong references: a Ready=False condition naming the object, nothing launched, and a
prompt run once the object appears or is fixed.

In:  the standard objects with one of them left out or wrong (Secret, Secret key, ConfigMap CA,
     ImpalaDataset, PVC), then the missing object created or fixed.
Out: Ready=False with the reason from api/resolve.py and a message naming the object, on the
     CopyActivity and on the linked service/dataset concerned; no Job; a Warning Event; then
     Ready=True and exactly one Job, without any periodic resync (resync is off in these tests).
Faked: nothing beyond the API server emulator.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until
from tests.operator.scenarios import scenarios, shape

CA = "copy-orders"


def without(objects: list[dict[str, Any]], kind: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    left = next(o for o in objects if o["kind"] == kind)
    return [o for o in objects if o is not left], left


@pytest.mark.parametrize(
    ("kind", "reason", "message", "others"),
    [
        (
            "Secret",
            "SecretNotFound",
            "Secret 'impala-credentials' referenced by ImpalaLinkedService 'impala' was not found",
            [("ImpalaLinkedService", "impala"), ("ImpalaDataset", "orders")],
        ),
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


async def test_missing_secret_key_then_the_secret_gets_it(cluster: Cluster, operator: OperatorThread) -> None:
    password = manifests.random_password()
    objects, secret = without(manifests.standard_set(password), "Secret")
    await cluster.apply(*objects, manifests.secret("impala-credentials", {"user": "alice"}))
    await until(lambda: cluster.condition("CopyActivity", CA, "Ready").get("reason") == "SecretKeyNotFound")
    ready = cluster.condition("CopyActivity", CA, "Ready")
    assert (
        ready["message"]
        == "Secret 'impala-credentials' has no key 'password' (referenced by ImpalaLinkedService 'impala')"
    )
    assert cluster.jobs() == []

    await cluster.patch("Secret", "impala-credentials", {"data": secret["data"]})
    await until(cluster.jobs, what="a Job once the key exists")
    await settle(cluster)
    assert len(cluster.jobs()) == 1


async def test_linked_service_points_to_another_secret(cluster: Cluster, operator: OperatorThread) -> None:
    """A reference changed on the linked service: the activity follows without being touched."""
    objects = manifests.standard_set(manifests.random_password())
    ls = next(o for o in objects if o["kind"] == "ImpalaLinkedService")
    ls["spec"]["password"]["secretKeyRef"]["name"] = "elsewhere"
    await cluster.apply(*objects)
    await until(lambda: cluster.condition("CopyActivity", CA, "Ready").get("reason") == "SecretNotFound")
    await cluster.change_spec(
        "ImpalaLinkedService",
        "impala",
        {"password": {"secretKeyRef": {"name": "impala-credentials", "key": "password"}}},
    )
    await until(cluster.jobs, what="a Job after the linked service was fixed")
    await settle(cluster)
    assert cluster.condition("ImpalaLinkedService", "impala", "Ready")["status"] == "True"
    assert cluster.condition("ImpalaLinkedService", "impala", "Ready")["observedGeneration"] == 2
    assert len(cluster.jobs()) == 1


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
