"""Two operator replicas on one API server: only the Lease holder reconciles, a standby takes over.

In:  replica A, `impala-copy operator` as a separate process (KUBECONFIG at the emulator), started
     first; replica B, the operator in this process (harness.OperatorThread) with its liveness
     endpoint; both elect on the Lease impala-copy-system/impala-copy-operator (lease 3 s, renew
     deadline 2 s, retry period 0.5 s). A CopyActivity is applied; A creates its Job and reports it
     Running. A is then killed (SIGKILL: the Lease stays held until it expires) or stopped gracefully
     (SIGTERM: A releases the Lease). The Job finishes while A is gone, before or after B took over.
Out: B takes over within the lease duration after a kill (plus one retry period, and scheduling slack)
     and within a few retry periods after a graceful stop; over the whole case one Job is created
     and the Events are posted once each; the status converges to Succeeded with the summary's rows
     (the update A could not write is not lost); B sent no write of any kind before the request that
     made it the Lease holder, and A none after it was stopped (but its release); B's probe says
     standby, then leader; impala_copy_leader is 0, then 1 on B; B releases the Lease when it stops.
Faked: the API server (kmock; admission.py gives Leases resourceVersions and 409 on a stale one);
     the Job controller and the kubelet (pod and Job status written by the test).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.operator import harness, manifests
from tests.operator.harness import Cluster, LogCapture, OperatorThread, settle, until
from tests.operator.operator_process import OperatorProcess, free_port
from tests.operator.test_cli_operator import get

CA = "copy-orders"
LEASE_NS = "impala-copy-system"
LEASE = "impala-copy-operator"
DURATION, RENEW, RETRY = 3, 2.0, 0.5
SLACK = 3.0  # scheduling on a busy machine; not a timing check of the election itself
WRITES = ("POST", "PATCH", "PUT", "DELETE")
WATCHED = ("copyactivities", "impaladatasets", "impalalinkedservices", "jobs", "pods")
LEASE_ENV = {
    "IMPALA_COPY_LEASE_NAMESPACE": LEASE_NS,
    "IMPALA_COPY_LEASE_NAME": LEASE,
    "IMPALA_COPY_LEASE_DURATION_SECONDS": str(DURATION),
    "IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS": str(RENEW),
    "IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS": str(RETRY),
}


def holder(cluster: Cluster) -> str:
    if not cluster.exists("Lease", LEASE, LEASE_NS):
        return ""
    return str(cluster.get("Lease", LEASE, LEASE_NS)["spec"].get("holderIdentity") or "")


def replica(request: Any) -> str:
    """Which replica sent a request: our client names it in the User-Agent ('' for kopf's own)."""
    agent = request.headers.get("User-Agent", "")
    for name in ("replica-a", "replica-b"):
        if f"({name}_" in agent:
            return name
    return ""


def is_lease(request: Any) -> bool:
    return request.resource is not None and request.resource.plural == "leases"


def writes(requests: list[Any], who: str, *, leases: bool = False) -> list[str]:
    return [
        f"{r.method.value} {r.url.path}"
        for r in requests
        if r.method.value in WRITES and replica(r) == who and is_lease(r) == leases
    ]


def first_claim(requests: list[Any], who: str) -> int:
    """Index of the first Lease write of `who` that names it as holder."""
    for index, r in enumerate(requests):
        data = r.data if isinstance(r.data, dict) else {}
        claimed = str(data.get("spec", {}).get("holderIdentity", "")).startswith(f"{who}_")
        if r.method.value in WRITES and is_lease(r) and replica(r) == who and claimed:
            return index
    raise AssertionError(f"{who} never claimed the Lease")


async def start_replica_a(kmock: Any, tmp_path: Path) -> OperatorProcess:
    return await OperatorProcess(kmock, tmp_path, "replica-a", **LEASE_ENV).start(watched=())


async def start_replica_b(kmock: Any, port: int, watchers: int = 2) -> OperatorThread:
    settings = dataclasses.replace(
        harness.test_settings(),
        namespaces=(manifests.NS,),
        pod_name="replica-b",
        liveness_endpoint=f"http://127.0.0.1:{port}/healthz",
        lease_namespace=LEASE_NS,
        lease_name=LEASE,
        lease_duration=DURATION,
        lease_renew_deadline=RENEW,
        lease_retry_period=RETRY,
    )
    operator = OperatorThread(str(kmock.url).rstrip("/"), settings)
    await operator.start()
    # Every replica's watches open, `watchers` of each (kopf's requests do not name the replica).
    await until(
        lambda: all(
            sum(1 for r in kmock if r.resource and r.resource.plural == plural and r.params.get("watch"))
            >= watchers
            for plural in WATCHED
        ),
        what="the watches of every replica",
    )
    await asyncio.sleep(0.2)
    return operator


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def probe(port: int) -> dict[str, Any]:
    status, body = get(f"http://127.0.0.1:{port}/healthz")
    return dict(json.loads(body)["leader"]) if status == 200 else {"status": status}


def leader_metric(operator: OperatorThread) -> float | None:
    return operator.runtime.metrics.registry.get_sample_value("impala_copy_leader")


@pytest.mark.parametrize("stop", ["kill", "graceful"])
async def test_the_standby_takes_over_without_a_duplicate_run_or_a_lost_update(
    kmock: Any, cluster: Cluster, logs: LogCapture, tmp_path: Path, stop: str
) -> None:
    a = await start_replica_a(kmock, tmp_path)
    b: OperatorThread | None = None
    try:
        await until(lambda: holder(cluster).startswith("replica-a_"), timeout=60, what="A holding the Lease")
        port = free_port()
        b = await start_replica_b(kmock, port)
        standby = await until(lambda: probe(port).get("role") == "standby" and probe(port), what="B standby")
        assert standby["holder"].startswith("replica-a_")
        assert standby["identity"].startswith("replica-b_")
        assert leader_metric(b) == 0.0

        await cluster.apply(*manifests.standard_set(manifests.random_password()))
        job = await until(lambda: cluster.jobs() and cluster.jobs()[0], timeout=30, what="A's Job")
        await cluster.pod(job, manifests.running())
        await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Running", what="Running")
        await settle(cluster)

        stopped_at = len(list(kmock))
        began = time.monotonic()
        code = await (a.kill() if stop == "kill" else a.stop())
        await cluster.finish(job, manifests.summary(rows=321))  # while A is gone

        await until(lambda: holder(cluster).startswith("replica-b_"), timeout=30, what="B holding the Lease")
        took = time.monotonic() - began
        bound = DURATION + RETRY + SLACK if stop == "kill" else 2 * RETRY + SLACK
        assert took <= bound, f"B took over after {took:.2f}s (bound {bound}s)"
        await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="Succeeded")
        await settle(cluster)
        # kopf keeps a probe's answer for 10 s.
        await until(lambda: probe(port).get("role") == "leader", timeout=15, what="B's probe: leader")
        assert leader_metric(b) == 1.0
    finally:
        if a.running:
            await a.kill()
        if b is not None:
            await b.stop()

    requests = list(kmock)
    assert len(cluster.job_creations()) == 1
    assert [replica(r) for r in cluster.job_creations()] == ["replica-a"]
    assert len(cluster.jobs()) == 1
    assert cluster.status("CopyActivity", CA)["lastRun"]["rowsCopied"] == 321
    assert cluster.event_reasons(CA) == ["RunStarted", "RunSucceeded"]
    # B wrote nothing while A led: every write of B comes after the request that made it the holder.
    claim = first_claim(requests, "replica-b")
    assert writes(requests[:claim], "replica-b") == []
    assert writes(requests[:claim], "replica-b", leases=True) == []
    assert writes(requests[claim:], "replica-b")  # it did reconcile as leader
    # A wrote nothing after it was stopped, but (graceful) the release of its Lease.
    assert writes(requests[stopped_at:], "replica-a") == []
    released = writes(requests[stopped_at:], "replica-a", leases=True)
    output = a.log
    assert "leader election: replica-a_" in output
    assert " leads now (Lease impala-copy-system/impala-copy-operator)" in output
    if stop == "graceful":
        assert code == 0, output[-3000:]
        assert released == [f"PATCH /apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases/{LEASE}"]
        assert "released Lease impala-copy-system/impala-copy-operator" in output
        assert "Traceback" not in output
    else:
        assert code == -signal.SIGKILL
        assert released == []
    # B stopped gracefully: it released the Lease for the next replica; the takeover was logged.
    assert holder(cluster) == ""
    text = "\n".join(logs.lines)
    assert "is held by replica-a_" in text
    assert "stands by" in text
    assert "leads now (Lease impala-copy-system/impala-copy-operator)" in text


async def test_a_replica_that_cannot_read_the_lease_is_not_ready(
    kmock: Any, cluster: Cluster, logs: LogCapture
) -> None:
    """Readiness is "leader or ready standby": a replica whose Lease reads fail is neither."""
    lease_path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NS}/leases/{LEASE}"
    refusal = kmock.refuse("GET", lease_path, 500, "InternalError", "etcdserver: request timed out")
    port = free_port()
    b = await start_replica_b(kmock, port, watchers=1)
    try:
        await until(lambda: refusal.hits >= 2, what="failed reads of the Lease")
        assert http_status(f"http://127.0.0.1:{port}/healthz") == 500
        assert not cluster.exists("Lease", LEASE, LEASE_NS)
        assert leader_metric(b) == 0.0
        kmock.lift(refusal)
        leader = await until(lambda: probe(port).get("role") == "leader" and probe(port), what="B leading")
        assert leader["identity"].startswith("replica-b_")
        assert holder(cluster) == leader["identity"]
    finally:
        await b.stop()
    text = "\n".join(logs.lines)
    assert "could not read or write Lease impala-copy-system/impala-copy-operator: 500 InternalError" in text
    assert "has not read Lease impala-copy-system/impala-copy-operator within the lease duration" in text
