"""When runs happen: spec changes, the run-now annotation, history limits, Secret rotation, deletion.

In:  the standard objects; spec patches with a generation bump (as the API server does), run-now
     annotation values, history limits, a Secret whose value changes, a deleted CopyActivity.
Out: which Jobs exist (run and attempt labels, trigger), which the operator deleted, status.lastRun,
     handledRunNow, and the requests the operator sends after a deletion (none about it).
Faked: the Job controller and kubelet; kmock has no garbage collector, so Jobs of a deleted
     CopyActivity stay (their ownerReferences are checked instead).
"""

from __future__ import annotations

import base64
from typing import Any

from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until

CA = "copy-orders"


async def start(cluster: Cluster, **spec: Any) -> dict[str, Any]:
    objects = manifests.standard_set(manifests.random_password())
    objects[-1]["spec"].update(spec)
    await cluster.apply(*objects)
    return await until(lambda: cluster.jobs() and cluster.jobs()[0], what="a Job")


def runs(cluster: Cluster) -> list[tuple[str, str, str]]:
    return [
        (
            j["metadata"]["labels"]["impalacopy.io/run"],
            j["metadata"]["labels"]["impalacopy.io/attempt"],
            j["metadata"]["annotations"]["impalacopy.io/trigger"],
        )
        for j in sorted(cluster.jobs(), key=lambda j: int(j["metadata"]["labels"]["impalacopy.io/run"]))
    ]


async def test_spec_change_starts_a_new_run_after_the_current_one(
    cluster: Cluster, operator: OperatorThread
) -> None:
    job = await start(cluster)
    await cluster.pod(job, manifests.running())
    await cluster.change_spec(
        "CopyActivity", CA, {"source": {"type": "ImpalaSource", "queryTimeout": "01:00:00"}}
    )
    await settle(cluster)
    assert runs(cluster) == [("1", "1", "create")]  # waits for the run in progress
    assert cluster.status("CopyActivity", CA)["observedGeneration"] == 2

    await cluster.finish(job, manifests.summary())
    second = await until(lambda: len(cluster.jobs()) == 2 and cluster.jobs(), what="the second run")
    assert runs(cluster) == [("1", "1", "create"), ("2", "1", "specChange")]
    newest = next(j for j in second if j["metadata"]["labels"]["impalacopy.io/run"] == "2")
    assert newest["metadata"]["annotations"]["impalacopy.io/generation"] == "2"
    assert (
        '"queryTimeoutSeconds":3600' in newest["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
    )
    await settle(cluster)
    last = cluster.status("CopyActivity", CA)["lastRun"]
    assert (last["runId"], last["generation"], last["trigger"], last["status"]) == (
        "2",
        2,
        "specChange",
        "Pending",
    )


async def test_run_now_starts_one_run_per_new_value(cluster: Cluster, operator: OperatorThread) -> None:
    job = await start(cluster)
    await cluster.finish(job, manifests.summary())
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded")

    await cluster.patch(
        "CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/run-now": "2026-01-15T10:00"}}}
    )
    await until(lambda: len(cluster.jobs()) == 2, what="a run for run-now")
    await settle(cluster)
    assert runs(cluster)[-1] == ("2", "1", "runNow")
    assert cluster.status("CopyActivity", CA)["handledRunNow"] == "2026-01-15T10:00"

    # The same value again (e.g. a re-apply) starts nothing; other metadata changes neither.
    await cluster.patch(
        "CopyActivity",
        CA,
        {"metadata": {"annotations": {"impalacopy.io/run-now": "2026-01-15T10:00", "note": "x"}}},
    )
    await cluster.patch("CopyActivity", CA, {"metadata": {"labels": {"team": "sales"}}})
    await settle(cluster)
    assert len(cluster.jobs()) == 2

    newest = max(cluster.jobs(), key=lambda j: j["metadata"]["labels"]["impalacopy.io/run"])
    await cluster.finish(newest, manifests.summary())
    await cluster.patch("CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/run-now": "again"}}})
    await until(lambda: len(cluster.jobs()) == 3, what="a run for the next value")
    assert runs(cluster)[-1] == ("3", "1", "runNow")
    assert len(cluster.job_creations()) == 3


async def test_history_limits(cluster: Cluster, operator: OperatorThread) -> None:
    job = await start(cluster, successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1)
    await cluster.finish(job, manifests.summary())
    for run, value in [(2, "a"), (3, "b")]:
        await cluster.patch(
            "CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/run-now": value}}}
        )
        newest = await until(
            lambda run=run: next(
                (j for j in cluster.jobs() if j["metadata"]["labels"]["impalacopy.io/run"] == str(run)), None
            )
        )
        await cluster.fail(
            newest,
            manifests.terminated(1, manifests.failed_summary("Unreachable", "down").to_termination_message()),
        )
        await until(
            lambda run=run: (
                cluster.status("CopyActivity", CA)["lastRun"].get("runId") == str(run)
                and cluster.status("CopyActivity", CA)["phase"] == "Failed"
            )
        )
    await settle(cluster)
    # Kept: the last succeeded Job (run 1) and the last failed one (run 3); run 2's Job was deleted.
    assert [r for r, _, _ in runs(cluster)] == ["1", "3"]
    assert len(cluster.job_deletions()) == 1
    assert cluster.job_deletions()[0].endswith("-2-1")
    delete = next(r for r in cluster.operator_requests() if r.method.value == "DELETE")
    assert delete.data == {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}


async def test_secret_rotation_needs_no_restart(cluster: Cluster, operator: OperatorThread) -> None:
    job = await start(cluster)
    await cluster.finish(job, manifests.summary())
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded")
    rotated = manifests.random_password()
    await cluster.patch(
        "Secret", "impala-credentials", {"data": {"password": base64.b64encode(rotated.encode()).decode()}}
    )
    await settle(cluster)
    assert len(cluster.jobs()) == 1  # a new value is no reason to copy again
    await cluster.patch(
        "CopyActivity", CA, {"metadata": {"annotations": {"impalacopy.io/run-now": "after-rotation"}}}
    )
    await until(lambda: len(cluster.jobs()) == 2)
    second = runs(cluster)[-1]
    assert second == ("2", "1", "runNow")
    env = next(j for j in cluster.jobs() if j["metadata"]["labels"]["impalacopy.io/run"] == "2")["spec"][
        "template"
    ]["spec"]["containers"][0]["env"]
    refs = [e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e]
    assert refs == [{"name": "impala-credentials", "key": "password"}]  # the pod reads the value at start


async def test_deletion(cluster: Cluster, operator: OperatorThread, logs: Any) -> None:
    job = await start(cluster)
    other = manifests.copy_activity("copy-orders-2")
    await cluster.apply(other)
    await until(lambda: len(cluster.jobs()) == 2)
    await settle(cluster)
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"], owner["blockOwnerDeletion"]) == (
        "CopyActivity",
        CA,
        True,
        True,
    )

    await cluster.delete("CopyActivity", CA)
    await settle(cluster)
    before = len(cluster.operator_requests())
    # Its Job goes on (Kubernetes would delete it with its owner): the operator sends nothing for it.
    await cluster.finish(job, manifests.summary())
    await settle(cluster)
    sent = [r for r in cluster.operator_requests()[before:] if r.method.value != "GET"]
    assert sent == []
    assert not any("reconciliation failed" in line for line in logs.lines)

    # The other activity is still served.
    second = next(
        j for j in cluster.jobs() if j["metadata"]["labels"]["impalacopy.io/activity"] == "copy-orders-2"
    )
    await cluster.finish(second, manifests.summary(rows=3))
    await until(lambda: cluster.status("CopyActivity", "copy-orders-2").get("phase") == "Succeeded")
