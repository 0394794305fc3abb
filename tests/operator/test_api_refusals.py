"""A request the API server refuses is shown to the user: a condition and a Warning Event, then retries.

In:  the standard objects; the API emulator refusing, before it stores anything (admission.py), the
     operator's Job create (403, 422 or 500 with a Kubernetes Status answer) or its status patch (422);
     the refusal is then lifted.
Out: while refused: no Job stored, the CopyActivity Running=False with reason Forbidden / Invalid /
     ApiError and the server's message, phase Pending and that reason in status.reason, exactly one
     Warning Event with that reason however often the operator retries (at least 3 attempts are waited
     for); once lifted: the Job, Running JobPending, no further refusal Event. A refused status patch:
     one Warning Event and one log line, the operator keeps running, and the status is written once the
     refusal is lifted. Both refused at once: one Event for each.
Faked: the API server's refusals (injected by the test); the Job controller and kubelet (not needed).
"""

from __future__ import annotations

import pytest

from impala_copy.controller.core.kube import JOBS, OURS
from tests.operator import manifests
from tests.operator.harness import Cluster, LogCapture, OperatorThread, until

CA = "copy-orders"
JOB_INVALID = 'Job.batch "{name}" is invalid: spec.template.spec.containers[0].image: Required value'
JOB_FORBIDDEN = (
    'jobs.batch "{name}" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to '
    "a resource you can't set finalizers on: , <nil>"
)


def running(cluster: Cluster) -> dict[str, str]:
    return cluster.condition("CopyActivity", CA, "Running")


def refusal_events(cluster: Cluster, reason: str) -> list[dict[str, str]]:
    return [e for e in cluster.events(CA) if e["reason"] == reason]


@pytest.mark.parametrize(
    ("code", "api_reason", "server_message", "reason"),
    [
        (403, "Forbidden", JOB_FORBIDDEN, "Forbidden"),
        (422, "Invalid", JOB_INVALID, "Invalid"),
        (500, "InternalError", "Internal error occurred: etcdserver: request timed out", "ApiError"),
    ],
)
async def test_a_refused_job_create_is_a_condition_and_one_event_until_it_succeeds(
    cluster: Cluster, operator: OperatorThread, code: int, api_reason: str, server_message: str, reason: str
) -> None:
    refusal = cluster.kmock.refuse("POST", JOBS.path(manifests.NS), code, api_reason, server_message)
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    await until(lambda: refusal.hits >= 3, timeout=60, what="three refused attempts")
    await until(lambda: refusal_events(cluster, reason), what="the Warning Event")
    [job_name] = set(refusal.names)  # every retry asks for the same Job
    answer = server_message.replace("{name}", job_name)

    assert cluster.jobs() == []
    cond = running(cluster)
    expected = (
        f"the API server refused to create Job {job_name}: {code} {api_reason}: {answer} "
        "(the operator tries again)"
    )
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", reason, expected)
    status = cluster.status("CopyActivity", CA)
    assert (status["phase"], status["reason"]) == ("Pending", reason)
    [event] = refusal_events(cluster, reason)
    assert (event["type"], event["message"]) == ("Warning", expected)
    assert len(cluster.job_creations()) == refusal.hits  # every attempt was refused

    cluster.kmock.lift(refusal)
    await until(lambda: cluster.jobs(), timeout=90, what="the Job once the refusal is lifted")
    await until(lambda: running(cluster).get("reason") == "JobPending", what="Running JobPending")
    assert [j["metadata"]["name"] for j in cluster.jobs()] == [job_name]
    assert len(refusal_events(cluster, reason)) == 1
    assert cluster.status("CopyActivity", CA)["reason"] == "JobPending"


async def test_a_refused_status_write_is_logged_and_posted_once_and_retried(
    cluster: Cluster, operator: OperatorThread, logs: LogCapture
) -> None:
    answer = 'CopyActivity.impalacopy.io "copy-orders" is invalid: status.phase: Unsupported value: "Pending"'
    path = OURS["CopyActivity"].path(manifests.NS, CA, "status")
    refusal = cluster.kmock.refuse("PATCH", path, 422, "Invalid", answer)
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    await until(lambda: refusal.hits >= 3, timeout=60, what="three refused status writes")
    await until(lambda: refusal_events(cluster, "Invalid"), what="the Warning Event")

    expected = f"the API server refused to write the status: 422 Invalid: {answer} (the operator tries again)"
    [event] = refusal_events(cluster, "Invalid")
    assert (event["type"], event["message"]) == ("Warning", expected)
    told = [line for line in logs.lines if expected in line]
    assert len(told) == 1
    assert told[0].startswith("impala_copy.controller WARNING default/copy-orders: ")
    assert cluster.status("CopyActivity", CA) == {}
    assert len(cluster.jobs()) == 1  # the Job was created once; the retries create none

    cluster.kmock.lift(refusal)
    await until(lambda: running(cluster).get("reason") == "JobPending", timeout=90, what="the status")
    assert len(refusal_events(cluster, "Invalid")) == 1
    assert len(cluster.jobs()) == 1


async def test_a_refused_create_and_status_write_are_each_told_once(
    cluster: Cluster, operator: OperatorThread, logs: LogCapture
) -> None:
    create = cluster.kmock.refuse("POST", JOBS.path(manifests.NS), 403, "Forbidden", JOB_FORBIDDEN)
    path = OURS["CopyActivity"].path(manifests.NS, CA, "status")
    write = cluster.kmock.refuse("PATCH", path, 500, "InternalError", "etcdserver: request timed out")
    await cluster.apply(*manifests.standard_set(manifests.random_password()))
    await until(lambda: min(create.hits, write.hits) >= 3, timeout=60, what="three refusals of each")

    [forbidden] = refusal_events(cluster, "Forbidden")
    [api_error] = refusal_events(cluster, "ApiError")
    assert forbidden["message"].startswith(f"the API server refused to create Job {create.names[0]}: 403 ")
    assert api_error["message"] == (
        "the API server refused to write the status: 500 InternalError: etcdserver: request timed out "
        "(the operator tries again)"
    )
    assert len([line for line in logs.lines if api_error["message"] in line]) == 1
    assert cluster.jobs() == []
    assert cluster.status("CopyActivity", CA) == {}
