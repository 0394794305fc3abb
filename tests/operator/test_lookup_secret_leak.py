"""The Impala password the operator reads for connection tests and lookups goes nowhere else.

In:  random passwords for a linked service whose user the Spark Thrift Server lets in with any
     password (`bob`), so connection tests and lookups succeed with them; a lookup large enough for
     a result ConfigMap, a failing connection test, a rotation of the password (a new test and a
     run-now lookup), with every logger of the process at DEBUG.
Out: every request body and URL the operator sent (status, Events, ConfigMaps), every log line and
     every ConfigMap, searched for each password in plain text and base64.
Faked: the API server (kmock). Impala is the real Spark Thrift Server.
"""

from __future__ import annotations

import base64
from typing import Any

from devservers.sts import ANY_PASSWORD_USER, StsServer

from tests.integration.silent_server import closed_port
from tests.operator import manifests
from tests.operator.harness import Cluster, LogCapture, settle, start_operator, until
from tests.operator.impala_objects import dataset, linked_service, login_secret, lookup, sts_linked_service

WAIT = 120.0


def forms(secret: str) -> list[str]:
    encoded = base64.b64encode(secret.encode()).decode()
    return [secret, encoded, encoded.rstrip("=")]


async def test_the_password_appears_in_no_request_log_line_or_config_map(
    kmock: Any, sts: StsServer, cluster: Cluster, logs: LogCapture
) -> None:
    password, rotated, other = (manifests.random_password() for _ in range(3))
    operator = await start_operator(kmock)
    try:
        await cluster.apply(
            login_secret(password),
            sts_linked_service(sts, username=ANY_PASSWORD_USER),
            login_secret(other, name="elsewhere-login"),
            linked_service("127.0.0.1", closed_port(), name="elsewhere", secret="elsewhere-login"),
            dataset("queries", table=None),
            lookup("ids", "SELECT id FROM range(2000)", dataset="queries", firstRowOnly=False),
        )
        await until(lambda: cluster.condition("ImpalaLinkedService", "impala", "Connected").get("status") == "True",
                    timeout=WAIT)  # fmt: skip
        await until(
            lambda: cluster.condition("ImpalaLinkedService", "elsewhere", "Connected").get("reason") == "Unreachable",
            timeout=WAIT,
        )  # fmt: skip
        await until(lambda: cluster.status("LookupActivity", "ids").get("phase") == "Succeeded", timeout=WAIT)
        assert cluster.exists("ConfigMap", "ids-lookup-result")

        await cluster.patch("Secret", "impala-login", {"data": login_secret(rotated)["data"]})
        await cluster.patch(
            "LookupActivity", "ids", {"metadata": {"annotations": {"impalacopy.io/run-now": "1"}}}
        )
        await until(lambda: cluster.status("LookupActivity", "ids").get("handledRunNow") == "1", timeout=WAIT)
        await until(
            lambda: cluster.status("LookupActivity", "ids").get("phase") == "Succeeded"
            and cluster.event_reasons("ids").count("LookupStarted") == 2,
            timeout=WAIT,
        )  # fmt: skip
        await settle(cluster)
    finally:
        await operator.stop()

    sent = cluster.operator_requests()
    writes = [r for r in sent if r.method.value in ("POST", "PATCH", "PUT", "DELETE") and r.resource]
    assert any(r.resource.plural == "configmaps" for r in writes)
    assert any(r.resource.plural == "events" for r in writes)
    assert any(r.subresource == "status" and r.resource.plural == "impalalinkedservices" for r in writes)
    # The operator did read the Secret (that is how it connects): reads carry no body.
    assert any(r.method.value == "GET" and r.resource and r.resource.plural == "secrets" for r in sent)
    assert len(logs.lines) > 100
    config_maps = [str(cm) for cm in cluster.all("ConfigMap")]
    for secret_value in (password, rotated, other):
        for form in forms(secret_value):
            for request in sent:
                assert form not in request.body.decode(errors="replace"), request.url
                assert form not in str(request.url)
            for line in logs.lines:
                assert form not in line
            for text in config_maps:
                assert form not in text
