"""A Job deleted by the history limit is deleted once, though the operator's view still shows it.

In:  a CopyActivity (successfulJobsHistoryLimit 1) with two succeeded runs, planned step by step
     (tests/operator/scenarios.py), its objects stored in the API emulator; the operator's reconciler
     with a view that still holds both Jobs, as kopf's indexes do until the DELETED event arrives.
Out: the DELETE requests the emulator receives over two reconciliations, and the Job left.
Faked: the API server (kmock); the lag of the view is built by hand instead of waiting for a race.
"""

from __future__ import annotations

from typing import Any

import kopf

from impala_copy.controller.core.kube import KubeClient
from impala_copy.controller.core.reconcile import Reconciler
from impala_copy.controller.registry import CONTROLLERS
from tests.operator import manifests
from tests.operator.harness import Cluster, path
from tests.operator.scenarios import PASSWORD, Scenario, view_of


def two_succeeded_runs() -> Scenario:
    scenario = Scenario(manifests.standard_set(PASSWORD))
    scenario.activity["spec"]["successfulJobsHistoryLimit"] = 1
    for run in (1, 2):
        if run == 2:
            scenario.activity["metadata"]["annotations"] = {"impalacopy.io/run-now": "again"}
        scenario.step()
        scenario.set_pod(manifests.terminated(0, manifests.summary().to_termination_message()))
        scenario.set_job_status(manifests.job_succeeded())
    return scenario


async def test_a_deleted_job_still_in_the_view_is_not_deleted_again(cluster: Cluster, kmock: Any) -> None:
    scenario = two_succeeded_runs()
    for obj in scenario.objects:
        body = {k: v for k, v in obj.items() if k != "status"} if obj["kind"] == "Job" else obj
        await cluster.apply(body)
    client = KubeClient()
    client.use(kopf.ConnectionInfo(server=str(kmock.url).rstrip("/"), insecure=True))
    lagging = view_of(scenario.objects)  # both Jobs, whatever the API server holds by now
    reconciler = Reconciler(
        client, scenario.settings, lagging, controllers=CONTROLLERS, clock=lambda: scenario.now
    )
    key = ("CopyActivity", manifests.NS, scenario.activity["metadata"]["name"])
    try:
        await reconciler.reconcile(key)
        await reconciler.reconcile(key)
    finally:
        await client.close()
    first, second = (job["metadata"]["name"] for job in scenario.objects if job["kind"] == "Job")
    deletes = [str(r.url.path) for r in cluster.operator_requests() if r.method.value == "DELETE"]
    assert deletes == [path("Job", manifests.NS, first)]
    assert [job["metadata"]["name"] for job in cluster.jobs()] == [second]
