"""An operator restart never starts a duplicate run: what exists is derived from the Jobs found.

In:  an operator that creates a Job and is stopped mid-run; the run finishes (or fails) while no
     operator runs; a new operator (fresh process state) starts against the same API server.
Out: no second Job creation, the status converging to the run's outcome, each Event posted once.
Faked: the Job controller and kubelet.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from impala_copy.controller.core.timeutil import format_time, utcnow
from tests.operator import manifests
from tests.operator.harness import Cluster, settle, start_operator, until

CA = "copy-orders"


async def test_restart_mid_run_converges_without_a_duplicate(kmock: Any, cluster: Cluster) -> None:
    first = await start_operator(kmock)
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="a Job")
    await cluster.pod(job, manifests.running())
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Running")
    await settle(cluster)
    await first.stop()

    await cluster.finish(job, manifests.summary(rows=321))

    second = await start_operator(kmock)
    try:
        await until(
            lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="convergence"
        )
        await settle(cluster)
    finally:
        await second.stop()
    assert len(cluster.job_creations()) == 1
    assert len(cluster.jobs()) == 1
    assert cluster.status("CopyActivity", CA)["lastRun"]["rowsCopied"] == 321
    assert cluster.event_reasons(CA) == ["RunStarted", "RunSucceeded"]


async def test_restart_repeatedly_while_idle_changes_nothing(kmock: Any, cluster: Cluster) -> None:
    operator = await start_operator(kmock)
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0])
    await cluster.finish(job, manifests.summary())
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded")
    await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    await operator.stop()
    for _ in range(2):
        before = len(cluster.operator_requests())
        operator = await start_operator(kmock)
        await settle(cluster)
        await operator.stop()
        writes = [
            r
            for r in cluster.operator_requests()[before:]
            if r.method.value in ("POST", "PATCH", "DELETE")
            # The linked service's connection test reports each probe (JSON patches of probe fields).
            and not (r.resource.plural == "impalalinkedservices" and isinstance(r.data, list))
        ]
        assert [(w.url.path, w.data) for w in writes] == []
    assert cluster.status("CopyActivity", CA) == status


async def test_restart_during_a_retry_wait_starts_the_retry_once(kmock: Any, cluster: Cluster) -> None:
    operator = await start_operator(kmock)
    objects = manifests.standard_set(manifests.random_password())
    objects[-1]["spec"]["policy"] = {"retry": 2, "retryIntervalInSeconds": 30}
    await cluster.apply(*objects)
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0])
    await cluster.fail(
        job, manifests.terminated(1, manifests.failed_summary("Unreachable", "down").to_termination_message())
    )
    await until(lambda: cluster.condition("CopyActivity", CA, "Running").get("reason") == "RetryScheduled")
    await settle(cluster)
    await operator.stop()

    # While no operator runs, the interval passes.
    await cluster.job_status(
        job, manifests.job_failed("BackoffLimitExceeded", "", format_time(utcnow() - timedelta(minutes=5)))
    )
    operator = await start_operator(kmock)
    try:
        await until(lambda: len(cluster.jobs()) == 2, what="the retry")
        await settle(cluster)
    finally:
        await operator.stop()
    operator = await start_operator(kmock)
    try:
        await settle(cluster)
    finally:
        await operator.stop()
    assert len(cluster.job_creations()) == 2
    assert sorted(j["metadata"]["labels"]["impalacopy.io/attempt"] for j in cluster.jobs()) == ["1", "2"]
