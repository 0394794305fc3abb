"""ImpalaLinkedService connection tests run by the operator (kopf on the Kubernetes API emulator)
against real endpoints.

In:  linked services pointing at the Spark Thrift Server (`sts`: the password is checked by the
     server), at a closed loopback port, and at a socket that accepts and never answers; their
     Secrets created late, changed, and holding a wrong then a right password; probeIntervalSeconds.
Out: the Connected condition (status, reason, message) beside the reconciler's Ready condition,
     lastProbeTime, roundTripMilliseconds, probeDurationMilliseconds, the Events of a change of
     outcome, the shapes of tests/operator/scenarios.py, and the number of tests run.
Faked: the API server (kmock).
"""

from __future__ import annotations

from typing import Any

import pytest
from devservers.sts import StsServer

from tests.integration.silent_server import SilentServer, closed_port
from tests.operator.harness import Cluster, OperatorThread, settle, until
from tests.operator.impala_objects import linked_service, login_secret, sts_linked_service
from tests.operator.scenarios import linked_service_scenarios, shape

KIND = "ImpalaLinkedService"
WAIT = 90.0  # an upper bound for a loaded machine


def connected(cluster: Cluster, name: str = "impala") -> dict[str, Any]:
    return cluster.condition(KIND, name, "Connected") if cluster.exists(KIND, name) else {}


async def reason_becomes(cluster: Cluster, reason: str, name: str = "impala") -> dict[str, Any]:
    await until(
        lambda: connected(cluster, name).get("reason") == reason, timeout=WAIT, what=f"Connected {reason}"
    )
    return cluster.status(KIND, name)


async def test_a_reachable_server_with_the_right_password_is_connected(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(login_secret(), sts_linked_service(sts))
    status = await reason_becomes(cluster, "Connected")
    await settle(cluster)
    status = cluster.status(KIND, "impala")
    cond = connected(cluster)
    assert cond["status"] == "True"
    assert cond["message"].startswith(f"Connected to 127.0.0.1:{sts.port} as alice")
    assert cond["observedGeneration"] == 1
    assert cluster.condition(KIND, "impala", "Ready")["status"] == "True"  # the reconciler's, kept
    assert status["roundTripMilliseconds"] > 0
    assert status["probeDurationMilliseconds"] >= status["roundTripMilliseconds"]
    assert status["lastProbeTime"] == cond["lastTransitionTime"]
    assert shape(status) == shape(linked_service_scenarios()["connected"]["status"])
    events = [(e["type"], e["reason"]) for e in cluster.events("impala")]
    assert events.count(("Normal", "ConnectionSucceeded")) == 1
    # One test: the operator read the password once (a test reads it; nothing else does).
    reads = [
        r for r in cluster.operator_requests()
        if r.method.value == "GET" and r.resource and r.resource.plural == "secrets" and r.name == "impala-login"
    ]  # fmt: skip
    assert len(reads) == 1


async def test_a_wrong_password_then_the_secret_fixed_tests_again_at_once(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(login_secret("not-the-password"), sts_linked_service(sts))
    status = await reason_becomes(cluster, "AuthenticationFailed")
    cond = connected(cluster)
    assert cond["status"] == "False"
    assert "alice" in cond["message"]
    assert "not-the-password" not in cond["message"]
    assert "roundTripMilliseconds" not in status
    assert shape(status) == shape(linked_service_scenarios()["authentication-failed"]["status"])
    first_probe = status["lastProbeTime"]

    # Changing the Secret (nothing else: spec and probeIntervalSeconds stay) starts a new test.
    await cluster.patch("Secret", "impala-login", {"data": login_secret("secret")["data"]})
    status = await reason_becomes(cluster, "Connected")
    assert status["lastProbeTime"] >= first_probe
    await until(lambda: "ConnectionSucceeded" in cluster.event_reasons("impala"))  # posted after the status
    reasons = [
        (e["type"], e["reason"]) for e in cluster.events("impala") if e["reason"].startswith("Connection")
    ]
    assert reasons == [("Warning", "ConnectionFailed"), ("Normal", "ConnectionSucceeded")]


async def test_nothing_listening_is_unreachable(cluster: Cluster, operator: OperatorThread) -> None:
    port = closed_port()
    await cluster.apply(login_secret(), linked_service("127.0.0.1", port))
    status = await reason_becomes(cluster, "Unreachable")
    assert f"127.0.0.1:{port}" in connected(cluster)["message"]
    assert shape(status) == shape(linked_service_scenarios()["unreachable"]["status"])


async def test_a_server_that_never_answers_is_a_timeout(cluster: Cluster, operator: OperatorThread) -> None:
    with SilentServer() as silent:
        await cluster.apply(login_secret(), linked_service("127.0.0.1", silent.port, connectTimeoutSeconds=2))
        status = await reason_becomes(cluster, "Timeout")
    assert f"127.0.0.1:{silent.port}" in connected(cluster)["message"]
    assert shape(status) == shape(linked_service_scenarios()["timeout"]["status"])


async def test_a_missing_secret_is_not_tested_until_it_appears(
    sts: StsServer, cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(sts_linked_service(sts))
    await reason_becomes(cluster, "ReferencesNotResolved")
    cond = connected(cluster)
    assert cond["status"] == "Unknown"
    assert cond["message"] == (
        "not tested: Secret 'impala-login' referenced by ImpalaLinkedService 'impala' was not found"
    )
    await until(lambda: cluster.condition(KIND, "impala", "Ready").get("reason") == "SecretNotFound")
    assert shape(cluster.status(KIND, "impala")) == shape(
        linked_service_scenarios()["secret-not-found"]["status"]
    )
    await cluster.apply(login_secret())
    await reason_becomes(cluster, "Connected")
    assert cluster.condition(KIND, "impala", "Ready")["status"] == "True"


async def test_a_spec_change_tests_again_and_the_interval_repeats_the_test(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    from impala_copy.api import impala

    monkeypatch.setattr(impala, "MIN_PROBE_INTERVAL_SECONDS", 1)  # users get 0 or at least 300
    port = closed_port()
    await cluster.apply(login_secret(), linked_service("127.0.0.1", port))
    await reason_becomes(cluster, "Unreachable")
    await cluster.change_spec(KIND, "impala", {"port": sts.port})
    await reason_becomes(cluster, "Connected")
    assert connected(cluster)["observedGeneration"] == 2

    await cluster.change_spec(KIND, "impala", {"probeIntervalSeconds": 1})
    before = cluster.status(KIND, "impala")["lastProbeTime"]
    await until(
        lambda: cluster.status(KIND, "impala")["lastProbeTime"] > before, timeout=WAIT, what="a periodic test"
    )
    # A periodic test with the same outcome posts no new Event.
    assert [e["reason"] for e in cluster.events("impala")].count("ConnectionSucceeded") == 1


async def test_every_linked_service_is_tested_and_probes_are_off_with_zero_workers(
    kmock: Any, sts: StsServer, cluster: Cluster
) -> None:
    import dataclasses

    from tests.operator.harness import start_operator
    from tests.operator.harness import test_settings as operator_settings

    operator = await start_operator(kmock, dataclasses.replace(operator_settings(), probe_workers=0))
    try:
        await cluster.apply(login_secret(), sts_linked_service(sts))
        await until(lambda: cluster.condition(KIND, "impala", "Ready").get("status") == "True")
        await settle(cluster)
        assert connected(cluster) == {}
    finally:
        await operator.stop()
