"""ImpalaLinkedService connection tests: the operator (kopf on the Kubernetes API emulator) runs each
test as a Job whose pod connects to a real endpoint; the pod's summary becomes the Connected condition.

In:  connection tests turned on; linked services pointing at the Spark Thrift Server (`sts`: the
     password is checked by the server), at a closed loopback port, and at a socket that accepts and
     never answers; their Secrets missing then created, holding a wrong then a right password; spec
     changes, run-now and probeIntervalSeconds. Each test's Job is run by the test's kubelet
     (Cluster.run_pod): the engine as a local process.
Out: the Jobs (in the linked service's namespace, the password only as a secretKeyRef), the Connected
     condition (status, reason, message) beside the Ready condition, lastProbeTime,
     roundTripMilliseconds, probeDurationMilliseconds, the Events of a change of outcome, the shapes
     of tests/operator/scenarios.py, and the number of tests run.
Faked: the API server (kmock), the kubelet and the Job controller (tests/operator/kubelet.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from devservers.sts import StsServer

from tests import session_password
from tests.integration.silent_server import SilentServer, closed_port
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, secret_env, settle, start_operator, until
from tests.operator.harness import test_settings as operator_settings
from tests.operator.impala_objects import linked_service, login_secret, sts_linked_service
from tests.operator.kubelet import RunResult
from tests.operator.scenarios import linked_service_scenarios, shape

KIND = "ImpalaLinkedService"
WAIT = 90.0  # an upper bound for a loaded machine


WRONG = session_password.variant("wrong")  # a wrong password: begins with the right one


@pytest.fixture
async def testing_operator(kmock: Any, cluster: Cluster) -> AsyncIterator[OperatorThread]:
    """The operator with connection tests on."""
    running = await start_operator(kmock, operator_settings(connection_tests=True))
    yield running
    await running.stop()


def connected(cluster: Cluster, name: str = "impala") -> dict[str, Any]:
    return cluster.condition(KIND, name, "Connected") if cluster.exists(KIND, name) else {}


async def reason_becomes(cluster: Cluster, reason: str, name: str = "impala") -> dict[str, Any]:
    await until(
        lambda: connected(cluster, name).get("reason") == reason, timeout=WAIT, what=f"Connected {reason}"
    )
    return cluster.status(KIND, name)


async def run_test(cluster: Cluster, root: Path, name: str = "impala") -> tuple[dict[str, Any], RunResult]:
    """Run the linked service's next connection test Job; its pod must have started and ended."""
    job, result = await cluster.run_next(KIND, name, root, timeout=WAIT)
    assert result.started, result.waiting_message
    return job, result


async def test_a_reachable_server_with_the_right_password_is_connected(
    sts: StsServer, cluster: Cluster, testing_operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(login_secret(), sts_linked_service(sts))
    job, result = await run_test(cluster, tmp_path)
    assert result.exit_code == 0, result.log[-3000:]
    assert job["metadata"]["namespace"] == manifests.NS
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == ["--task", "connection-test"]
    assert list(secret_env(job).values()) == [("impala-login", "password")]
    status = await reason_becomes(cluster, "Connected")
    await until(lambda: "ConnectionSucceeded" in cluster.event_reasons("impala"))
    await settle(cluster)
    status = cluster.status(KIND, "impala")
    cond = connected(cluster)
    assert cond["status"] == "True"
    assert cond["message"].startswith(f"Connected to 127.0.0.1:{sts.port} as alice")
    assert cond["observedGeneration"] == 1
    assert cluster.condition(KIND, "impala", "Ready")["status"] == "True"
    assert status["roundTripMilliseconds"] > 0
    assert status["probeDurationMilliseconds"] >= status["roundTripMilliseconds"]
    assert status["lastProbeTime"] <= cond["lastTransitionTime"]
    assert status["connectionTest"]["jobName"] == job["metadata"]["name"]
    assert shape(status) == shape(linked_service_scenarios()["connected"]["status"])
    events = [(e["type"], e["reason"]) for e in cluster.events("impala")]
    assert events.count(("Normal", "ConnectionSucceeded")) == 1
    assert len(cluster.jobs_of(KIND, "impala")) == 1  # one test; nothing else starts another


async def test_a_wrong_password_then_the_secret_fixed_and_run_now_tests_again(
    sts: StsServer, cluster: Cluster, testing_operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(login_secret(WRONG), sts_linked_service(sts))
    await run_test(cluster, tmp_path)
    status = await reason_becomes(cluster, "AuthenticationFailed")
    cond = connected(cluster)
    assert cond["status"] == "False"
    assert "alice" in cond["message"]
    assert WRONG not in cond["message"]
    assert "roundTripMilliseconds" not in status
    assert shape(status) == shape(linked_service_scenarios()["authentication-failed"]["status"])
    first_probe = status["lastProbeTime"]
    await settle(cluster)
    assert len(cluster.jobs_of(KIND, "impala")) == 1  # a failed test is not retried

    # The operator cannot see the Secret change; run-now starts a test whose pod reads the new value.
    await cluster.patch("Secret", "impala-login", {"data": login_secret()["data"]})
    await cluster.patch(KIND, "impala", {"metadata": {"annotations": {"impalacopy.io/run-now": "fixed"}}})
    await run_test(cluster, tmp_path)
    status = await reason_becomes(cluster, "Connected")
    assert status["lastProbeTime"] >= first_probe
    assert status["handledRunNow"] == "fixed"
    await until(lambda: "ConnectionSucceeded" in cluster.event_reasons("impala"))  # posted after the status
    reasons = [
        (e["type"], e["reason"]) for e in cluster.events("impala") if e["reason"].startswith("Connection")
    ]
    assert reasons == [("Warning", "ConnectionFailed"), ("Normal", "ConnectionSucceeded")]


async def test_nothing_listening_is_unreachable(
    cluster: Cluster, testing_operator: OperatorThread, tmp_path: Path
) -> None:
    port = closed_port()
    await cluster.apply(login_secret(), linked_service("127.0.0.1", port))
    await run_test(cluster, tmp_path)
    status = await reason_becomes(cluster, "Unreachable")
    assert f"127.0.0.1:{port}" in connected(cluster)["message"]
    assert shape(status) == shape(linked_service_scenarios()["unreachable"]["status"])


async def test_a_server_that_never_answers_is_a_timeout(
    cluster: Cluster, testing_operator: OperatorThread, tmp_path: Path
) -> None:
    with SilentServer() as silent:
        await cluster.apply(login_secret(), linked_service("127.0.0.1", silent.port, connectTimeoutSeconds=2))
        await run_test(cluster, tmp_path)
        status = await reason_becomes(cluster, "Timeout")
    assert f"127.0.0.1:{silent.port}" in connected(cluster)["message"]
    assert shape(status) == shape(linked_service_scenarios()["timeout"]["status"])


async def test_a_missing_secret_reported_by_the_pod_is_not_tested_until_it_appears(
    sts: StsServer, cluster: Cluster, testing_operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(sts_linked_service(sts))
    job, result = await cluster.run_next(KIND, "impala", tmp_path, timeout=WAIT)
    assert result.waiting_message == 'secret "impala-login" not found'
    await reason_becomes(cluster, "SecretNotFound")
    cond = connected(cluster)
    assert cond["status"] == "Unknown"
    assert (
        cond["message"] == "not tested: Secret 'impala-login' was not found (the run starts once it exists)"
    )
    ready = cluster.condition(KIND, "impala", "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "SecretNotFound")
    assert "Secret 'impala-login'" in ready["message"]
    assert shape(cluster.status(KIND, "impala")) == shape(
        linked_service_scenarios()["secret-not-found"]["status"]
    )
    assert not any(e["reason"].startswith("Connection") for e in cluster.events("impala"))

    await cluster.apply(login_secret())
    result = await cluster.run_pod(job, tmp_path)  # the kubelet tries again: the same pod starts
    assert result.exit_code == 0, result.log[-3000:]
    await reason_becomes(cluster, "Connected")
    await until(lambda: cluster.condition(KIND, "impala", "Ready").get("status") == "True")
    assert len(cluster.job_creations()) == 1


async def test_a_missing_secret_key_is_reported_by_name(
    sts: StsServer, cluster: Cluster, testing_operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(
        manifests.secret("impala-login", {"passwd": session_password.PASSWORD}), sts_linked_service(sts)
    )
    _, result = await cluster.run_next(KIND, "impala", tmp_path, timeout=WAIT)
    assert result.waiting_message == "couldn't find key password in Secret default/impala-login"
    await reason_becomes(cluster, "SecretKeyNotFound")
    assert connected(cluster)["message"] == (
        "not tested: Secret 'impala-login' has no key 'password' (the run starts once it exists)"
    )
    assert cluster.condition(KIND, "impala", "Ready")["reason"] == "SecretKeyNotFound"


async def test_a_spec_change_tests_again_and_the_interval_repeats_the_test(
    sts: StsServer,
    cluster: Cluster,
    testing_operator: OperatorThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from impala_copy.api import impala

    monkeypatch.setattr(impala, "MIN_PROBE_INTERVAL_SECONDS", 1)  # users get 0 or at least 300
    port = closed_port()
    await cluster.apply(login_secret(), linked_service("127.0.0.1", port))
    await run_test(cluster, tmp_path)
    await reason_becomes(cluster, "Unreachable")
    await cluster.change_spec(KIND, "impala", {"port": sts.port})
    await run_test(cluster, tmp_path)
    await reason_becomes(cluster, "Connected")
    assert connected(cluster)["observedGeneration"] == 2

    await cluster.change_spec(KIND, "impala", {"probeIntervalSeconds": 1})
    await run_test(cluster, tmp_path)  # the spec change itself
    await until(lambda: connected(cluster).get("observedGeneration") == 3, timeout=WAIT)
    before = cluster.status(KIND, "impala")["lastProbeTime"]
    await run_test(cluster, tmp_path)  # one interval later
    await until(
        lambda: cluster.status(KIND, "impala")["lastProbeTime"] > before, timeout=WAIT, what="a periodic test"
    )
    assert cluster.status(KIND, "impala")["connectionTest"]["trigger"] == "interval"
    # A periodic test with the same outcome posts no new Event.
    assert [e["reason"] for e in cluster.events("impala")].count("ConnectionSucceeded") == 1


async def test_connection_tests_off_start_no_job(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(login_secret(), sts_linked_service(sts))
    await until(lambda: cluster.condition(KIND, "impala", "Ready").get("status") == "True")
    await settle(cluster)
    assert connected(cluster) == {}
    assert cluster.jobs() == []
