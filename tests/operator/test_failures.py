"""Failed runs: the reason in status and Events comes from the engine's summary or the pod's state;
retries follow policy.retry and retryIntervalInSeconds; configuration errors are not retried.

In:  the standard objects (some with a retry policy); the test plays the kubelet and Job controller:
     engine error with exit code 2, a transient engine error, OOMKilled, the Job's deadline, a pod
     stuck in ImagePullBackOff.
Out: phase, Ready/Running/Succeeded/Failed conditions (compared with the scenarios' shapes),
     lastRun.reason and errors, lastFailureTime, Warning Events, the retry Job and its labels.
Faked: the Job controller and kubelet. Failure times are written in the past to stand for the
     retry interval having passed (no test waits 30 s).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from impala_copy.controller.core.timeutil import format_time, utcnow
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until
from tests.operator.scenarios import ENGINE_AUTH_FAILED, scenarios, shape

CA = "copy-orders"


async def first_job(cluster: Cluster, **spec: Any) -> dict[str, Any]:
    objects = manifests.standard_set(manifests.random_password())
    objects[-1]["spec"].update(spec)
    await cluster.apply(*objects)
    return await until(lambda: cluster.jobs() and cluster.jobs()[0], what="a Job")


def phase(cluster: Cluster) -> str | None:
    return cluster.status("CopyActivity", CA).get("phase")


async def test_engine_error_is_reported_and_not_retried(cluster: Cluster, operator: OperatorThread) -> None:
    job = await first_job(cluster, policy={"retry": 3, "retryIntervalInSeconds": 30})
    long_ago = format_time(utcnow() - timedelta(hours=1))
    await cluster.fail(
        job,
        manifests.terminated(2, ENGINE_AUTH_FAILED.to_termination_message()),
        reason="PodFailurePolicy",
        message="Container engine for pod default/x failed with exit code 2 matching FailJob rule at index 0",
        when=long_ago,
    )
    await until(lambda: phase(cluster) == "Failed", what="phase Failed")
    await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    assert shape(status) == shape(scenarios()["failed-engine-error"]["status"])
    assert status["lastRun"]["reason"] == "AuthenticationFailed"
    assert status["lastRun"]["errors"] == [
        {"code": "AuthenticationFailed", "message": "user 'alice' was rejected by the server"}
    ]
    assert status["lastRun"]["exitCode"] == 2
    assert status["lastFailureTime"] == long_ago
    assert len(cluster.jobs()) == 1
    assert len(cluster.job_creations()) == 1
    failed = [e for e in cluster.events(CA) if e["reason"] == "RunFailed"]
    assert len(failed) == 1
    assert failed[0]["type"] == "Warning"
    assert "AuthenticationFailed" in failed[0]["message"]
    assert "rejected by the server" in failed[0]["message"]


async def test_transient_failure_is_retried_after_the_interval(
    cluster: Cluster, operator: OperatorThread
) -> None:
    job = await first_job(cluster, policy={"retry": 1, "retryIntervalInSeconds": 30})
    unreachable = manifests.failed_summary("Unreachable", "impala.example.internal:21050: connection refused")
    await cluster.fail(job, manifests.terminated(1, unreachable.to_termination_message()))
    await until(lambda: cluster.condition("CopyActivity", CA, "Running").get("reason") == "RetryScheduled")
    await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    assert shape(status) == shape(scenarios()["retry-scheduled"]["status"])
    assert status["nextRetryTime"]
    assert status["lastRun"]["reason"] == "Unreachable"
    assert "attempt 2 of 2 starts at" in cluster.condition("CopyActivity", CA, "Running")["message"]
    assert len(cluster.jobs()) == 1

    # The interval has passed: the failure happened 31 s ago.
    await cluster.job_status(
        job, manifests.job_failed("BackoffLimitExceeded", "", format_time(utcnow() - timedelta(seconds=31)))
    )
    retry = await until(lambda: len(cluster.jobs()) == 2 and cluster.jobs()[1], what="the retry Job")
    assert retry["metadata"]["labels"]["impalacopy.io/run"] == "1"
    assert retry["metadata"]["labels"]["impalacopy.io/attempt"] == "2"
    assert retry["metadata"]["annotations"]["impalacopy.io/trigger"] == "retry"
    await until(lambda: cluster.status("CopyActivity", CA)["lastRun"]["attempt"] == 2)

    await cluster.finish(retry, manifests.summary(rows=10))
    await until(lambda: phase(cluster) == "Succeeded", what="the retry succeeded")
    await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    assert (status["lastRun"]["attempt"], status["lastRun"]["trigger"]) == (2, "retry")
    assert "nextRetryTime" not in status
    assert status["lastFailureTime"]
    assert status["lastSuccessfulTime"]
    assert cluster.event_reasons(CA) == ["RunStarted", "RunFailed", "RunStarted", "RunSucceeded"]
    assert len(cluster.job_creations()) == 2


async def test_oom_killed(cluster: Cluster, operator: OperatorThread) -> None:
    job = await first_job(cluster)
    await cluster.fail(job, manifests.terminated(137, "", "OOMKilled"))
    await until(lambda: phase(cluster) == "Failed")
    await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    assert shape(status) == shape(scenarios()["failed-oom-killed"]["status"])
    assert "limits.memory" in cluster.condition("CopyActivity", CA, "Failed")["message"]
    assert [e["reason"] for e in cluster.events(CA)] == ["RunStarted", "RunFailed"]
    assert "OOMKilled" in cluster.events(CA)[-1]["message"]


async def test_deadline_exceeded(cluster: Cluster, operator: OperatorThread) -> None:
    job = await first_job(cluster, policy={"timeout": "0.00:10:00"})
    assert job["spec"]["activeDeadlineSeconds"] == 600
    await cluster.pod(job, manifests.running())
    await cluster.job_status(
        job, manifests.job_failed("DeadlineExceeded", "Job was active longer than specified deadline")
    )
    await until(lambda: phase(cluster) == "Failed")
    await settle(cluster)
    assert shape(cluster.status("CopyActivity", CA)) == shape(
        scenarios()["failed-deadline-exceeded"]["status"]
    )
    assert "policy.timeout" in cluster.condition("CopyActivity", CA, "Failed")["message"]


async def test_image_pull_back_off_is_shown_while_pending(cluster: Cluster, operator: OperatorThread) -> None:
    job = await first_job(cluster)
    await cluster.pod(
        job, manifests.waiting("ImagePullBackOff", 'Back-off pulling image "impala-copy:0.1.0"')
    )
    await cluster.job_status(job, manifests.job_active())
    await until(lambda: cluster.condition("CopyActivity", CA, "Running").get("reason") == "ImagePullBackOff")
    await settle(cluster)
    assert shape(cluster.status("CopyActivity", CA)) == shape(scenarios()["image-pull-backoff"]["status"])
    assert "Back-off pulling image" in cluster.condition("CopyActivity", CA, "Running")["message"]
    stuck = [e for e in cluster.events(CA) if e["reason"] == "PodNotStarting"]
    assert len(stuck) == 1
    assert stuck[0]["type"] == "Warning"
