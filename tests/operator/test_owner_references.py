"""Owner-reference permission enforcement: the operator's RBAC must let it set `blockOwnerDeletion`.

In:  the API emulator enforcing owner references as the `OwnerReferencesPermissionEnforcement`
     admission plugin does (tests/operator/admission.py), with the operator's RBAC as declared in
     kube.API_ACCESS (the chart's rules, tests/install/test_chart.py), once with the
     `copyactivities/finalizers` rule removed; the standard objects.
Out: the emulator's answer to a Job owned with blockOwnerDeletion (200 with the rule, the plugin's 403
     text without); with the rule the operator creates the Job; without it no Job exists, the
     operator was refused with the plugin's text, and Running=False Forbidden quotes it.
Faked: the API server's admission (admission.py); the Job controller and kubelet (not needed here).
"""

from __future__ import annotations

from typing import Any

from impala_copy.controller.core.kube import JOBS, OWNER_KINDS
from tests.operator import manifests
from tests.operator.admission import BLOCK_OWNER_DELETION, TEST_AGENT, finalizers_grant
from tests.operator.harness import Cluster, LogCapture, OperatorThread, settle, until

CA = "copy-orders"


def owned_job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": manifests.NS,
            "ownerReferences": [
                {
                    "apiVersion": manifests.GV,
                    "kind": "CopyActivity",
                    "name": CA,
                    "uid": "0f9c3a52-3b8e-4c1e-9d57-1a1f4f3c9e01",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}
        },
    }


async def post_as(cluster: Cluster, agent: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"User-Agent": agent}
    async with cluster.kmock.post(JOBS.path(manifests.NS), json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_the_emulator_enforces_owner_references_like_the_admission_plugin(cluster: Cluster) -> None:
    assert finalizers_grant("CopyActivity") in cluster.kmock.granted
    status, _ = await post_as(cluster, "impala-copy-operator", owned_job("allowed"))
    assert status == 200
    assert cluster.exists("Job", "allowed")

    cluster.kmock.revoke(finalizers_grant("CopyActivity"))
    status, answer = await post_as(cluster, "impala-copy-operator", owned_job("refused"))
    assert status == 403
    assert answer["reason"] == "Forbidden"
    assert answer["message"] == (
        'jobs.batch "refused" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to '
        "a resource you can't set finalizers on: , <nil>"
    )
    assert not cluster.exists("Job", "refused")  # refused before anything is stored

    # An owner without blockOwnerDeletion needs no rule; an administrator (the test) needs none either.
    unblocked = owned_job("unblocked")
    unblocked["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = False
    assert (await post_as(cluster, "impala-copy-operator", unblocked))[0] == 200
    assert (await post_as(cluster, TEST_AGENT, owned_job("by-admin")))[0] == 200


def test_every_owner_kind_has_its_finalizers_rule_declared() -> None:
    from tests.operator.admission import AdmittingEmulator

    granted = AdmittingEmulator().granted
    assert {finalizers_grant(kind) for kind in OWNER_KINDS} <= granted


async def test_with_the_finalizers_rule_the_job_is_created(
    cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="a Job")
    [owner] = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["blockOwnerDeletion"]) == ("CopyActivity", True)


async def test_without_the_finalizers_rule_no_job_can_be_created(
    cluster: Cluster, operator: OperatorThread, logs: LogCapture
) -> None:
    cluster.kmock.revoke(finalizers_grant("CopyActivity"))
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    refused = f"is forbidden: {BLOCK_OWNER_DELETION}"
    await until(lambda: any(refused in line for line in logs.lines), what="the operator refused")
    await until(lambda: len(cluster.job_creations()) >= 2, what="a second attempt")
    await settle(cluster)
    assert cluster.jobs() == []
    [line, *_] = [line for line in logs.lines if refused in line]
    assert f'403 Forbidden: jobs.batch "{CA}-' in line
    # The user sees it too (test_api_refusals.py has the details).
    running = cluster.condition("CopyActivity", CA, "Running")
    assert (running["status"], running["reason"]) == ("False", "Forbidden")
    assert refused in running["message"]
