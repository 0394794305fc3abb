"""The Impala password of connection tests and lookups stays in its Secret and the pods' env.

In:  connection tests on; random passwords for a linked service whose user the Spark Thrift Server
     lets in with any password (`bob`), so connection tests and lookups succeed with them; a lookup
     large enough for a result ConfigMap and the pod log; a connection test that fails (nothing
     listens); a rotation of the password (a run-now connection test and a run-now lookup, whose pods
     read the new value), with every logger of the process at DEBUG. Every pod is run by the test's
     kubelet (Cluster.run_pod), which alone reads the Secrets.
Out: every request (URL and body) the operator sent, every log line, every Event, the status of
     every object, every ConfigMap and Job, and the pods' own logs, searched for each password in
     plain text and base64; the operator never asked for a Secret (the `cluster` fixture checks it).
Faked: the API server (kmock), the kubelet and the Job controller. Impala is the real Spark Thrift
Server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devservers.sts import ANY_PASSWORD_USER, StsServer

from tests.integration.silent_server import closed_port
from tests.operator import manifests
from tests.operator.harness import Cluster, LogCapture, settle, start_operator, until
from tests.operator.harness import test_settings as operator_settings
from tests.operator.impala_objects import dataset, linked_service, login_secret, lookup, sts_linked_service
from tests.operator.leak_search import assert_nowhere, operator_texts

WAIT = 120.0
LS = "ImpalaLinkedService"
LOOKUP = "LookupActivity"


async def run_now(cluster: Cluster, kind: str, name: str, value: str) -> None:
    await cluster.patch(kind, name, {"metadata": {"annotations": {"impalacopy.io/run-now": value}}})


async def test_the_password_appears_in_nothing_the_operator_wrote_or_logged(
    kmock: Any, sts: StsServer, cluster: Cluster, logs: LogCapture, tmp_path: Path
) -> None:
    password, rotated, other = (manifests.random_password() for _ in range(3))
    operator = await start_operator(kmock, operator_settings(connection_tests=True))
    try:
        await cluster.apply(
            login_secret(password),
            sts_linked_service(sts, username=ANY_PASSWORD_USER),
            login_secret(other, name="elsewhere-login"),
            linked_service("127.0.0.1", closed_port(), name="elsewhere", secret="elsewhere-login"),
            dataset("queries", table=None),
            lookup("ids", "SELECT id FROM range(5001)", dataset="queries", firstRowOnly=False),
        )
        for kind, name in ((LS, "impala"), (LS, "elsewhere"), (LOOKUP, "ids")):
            _, result = await cluster.run_next(kind, name, tmp_path, timeout=WAIT)
            assert result.started, result.waiting_message
        await until(
            lambda: cluster.condition(LS, "impala", "Connected").get("status") == "True", timeout=WAIT
        )
        await until(
            lambda: cluster.condition(LS, "elsewhere", "Connected").get("reason") == "Unreachable",
            timeout=WAIT,
        )
        await until(lambda: cluster.status(LOOKUP, "ids").get("phase") == "Succeeded", timeout=WAIT)
        assert cluster.exists("ConfigMap", "ids-lookup-result")

        # A rotation: the next pods read the new value from the Secret.
        await cluster.patch("Secret", "impala-login", {"data": login_secret(rotated)["data"]})
        await run_now(cluster, LS, "impala", "1")
        await run_now(cluster, LOOKUP, "ids", "1")
        for kind, name in ((LS, "impala"), (LOOKUP, "ids")):
            _, result = await cluster.run_next(kind, name, tmp_path, timeout=WAIT)
            assert result.exit_code == 0, result.log[-3000:]
        await until(lambda: cluster.status(LOOKUP, "ids").get("handledRunNow") == "1", timeout=WAIT)
        await until(
            lambda: (
                cluster.status(LOOKUP, "ids").get("phase") == "Succeeded"
                and cluster.event_reasons("ids").count("LookupStarted") == 2
            ),
            timeout=WAIT,
        )
        await until(lambda: cluster.status(LS, "impala").get("handledRunNow") == "1", timeout=WAIT)
        await settle(cluster)
    finally:
        await operator.stop()

    texts = operator_texts(cluster, logs)
    sent = cluster.operator_requests()
    writes = [r for r in sent if r.method.value in ("POST", "PATCH", "PUT", "DELETE") and r.resource]
    assert any(r.resource.plural == "configmaps" for r in writes)
    assert any(r.resource.plural == "events" for r in writes)
    assert any(r.resource.plural == "jobs" for r in writes)
    assert any(r.subresource == "status" and r.resource.plural == "impalalinkedservices" for r in writes)
    assert any(str(r.url.path).endswith("/log") for r in sent)  # the large output came through the log
    assert len(logs.lines) > 100
    assert len(cluster.pod_logs) == 5
    assert_nowhere((password, rotated, other), {**texts, "pod log": list(cluster.pod_logs.values())})
