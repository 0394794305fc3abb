"""API server faults: the operator retries with backoff, never crashes, and converges.

In:  the standard objects (one CopyActivity); the API emulator (admission.py) injecting, before it
     stores anything, one kind of fault at a time into the operator's requests:
     - 409 Conflict on the status write (the object was modified meanwhile), three times;
     - 410 Gone on the watch of CopyActivities (an ERROR event in the stream), the first two watches;
     - 429 Too Many Requests with `Retry-After: 2` on the Job create, twice;
     - 500 Internal Error on the status write, three times;
     - a connection reset (no answer at all) on the Job create, twice.
Out: exactly one Job of the run (its create counted), the status converged (Running JobPending, phase
     Pending, observedGeneration 1), no Warning Event for a fault that is not a refusal to tell
     (409, 429, reset), the time between refused creates (Retry-After obeyed), and the operator's
     thread alive and stopping without error.
Faked: the API server (kmock) and its faults; the Job controller and kubelet (not needed).
"""

from __future__ import annotations

from typing import Any

from impala_copy.controller.core.kube import JOBS, OURS
from tests.operator import manifests
from tests.operator.admission import RESET, Refusal
from tests.operator.harness import Cluster, OperatorThread, settle, until

CA = "copy-orders"
STATUS = OURS["CopyActivity"].path(manifests.NS, CA, "status")
RETRY_AFTER = 2.0


async def converged(cluster: Cluster, refusal: Refusal, times: int) -> dict[str, Any]:
    """Wait until every injected fault was met and the status is the truth; returns the status."""
    await until(lambda: refusal.hits == times, timeout=60, what=f"{times} faults met")
    await until(
        lambda: cluster.condition("CopyActivity", CA, "Running").get("reason") == "JobPending",
        timeout=60,
        what="Running JobPending",
    )
    await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    assert (status["phase"], status["observedGeneration"]) == ("Pending", 1)
    [job] = cluster.jobs()
    assert job["metadata"]["labels"]["impalacopy.io/run"] == "1"
    return status


def warnings(cluster: Cluster) -> list[str]:
    return [e["reason"] for e in cluster.events(CA) if e["type"] == "Warning"]


async def test_conflicts_on_the_status_write_are_retried(cluster: Cluster, operator: OperatorThread) -> None:
    message = (
        'Operation cannot be fulfilled on copyactivities.impalacopy.io "copy-orders": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    refusal = cluster.kmock.refuse("PATCH", STATUS, 409, "Conflict", message, times=3)
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    await converged(cluster, refusal, 3)
    assert len(cluster.job_creations()) == 1
    assert warnings(cluster) == []  # a conflict is not a refusal: nothing to tell the user
    assert operator.running


async def test_gone_on_the_watch_is_followed_by_a_new_watch(cluster: Cluster, kmock: Any) -> None:
    from tests.operator.harness import start_operator

    path = OURS["CopyActivity"].path()
    refusal = cluster.kmock.refuse(
        "GET", path, 410, "Expired", "too old resource version: 1 (2)", watch=True, times=2
    )
    running = await start_operator(kmock)
    try:
        await until(lambda: refusal.hits == 2, what="two watches told 410 Gone")
        await cluster.apply(*manifests.standard_set(manifests.random_password()))
        await converged(cluster, refusal, 2)
        assert len(cluster.job_creations()) == 1
        assert running.running
    finally:
        await running.stop()


async def test_too_many_requests_waits_as_long_as_retry_after(
    cluster: Cluster, operator: OperatorThread
) -> None:
    refusal = cluster.kmock.refuse(
        "POST", JOBS.path(manifests.NS), 429, "TooManyRequests", "Too many requests, please try again later.",
        headers={"Retry-After": f"{RETRY_AFTER:g}"}, times=2,
    )  # fmt: skip
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    await converged(cluster, refusal, 2)
    assert len(cluster.job_creations()) == 3  # two refused, the third stored
    first, second = refusal.at
    assert second - first >= RETRY_AFTER  # the work queue's own backoff would have been 0.5 s
    assert warnings(cluster) == []  # throttling is not a refusal


async def test_internal_errors_on_the_status_write_are_told_once_and_retried(
    cluster: Cluster, operator: OperatorThread
) -> None:
    refusal = cluster.kmock.refuse(
        "PATCH", STATUS, 500, "InternalError", "etcdserver: leader changed", times=3
    )
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    await converged(cluster, refusal, 3)
    assert len(cluster.job_creations()) == 1
    assert warnings(cluster) == ["ApiError"]  # told once, however many retries met it
    assert operator.running


async def test_connection_resets_on_the_job_create_are_retried(
    cluster: Cluster, operator: OperatorThread
) -> None:
    refusal = cluster.kmock.refuse("POST", JOBS.path(manifests.NS), RESET, "", "", times=2)
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    await converged(cluster, refusal, 2)
    assert len(cluster.job_creations()) == 3
    assert cluster.jobs()[0]["metadata"]["name"] == refusal.names[0]  # the same Job, asked for again
    assert operator.running
