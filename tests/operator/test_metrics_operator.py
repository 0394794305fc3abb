"""The running operator's /metrics after a copy runs to success, scraped over HTTP.

In:  the standard set of objects (Secret, linked service, datasets, CopyActivity) applied to the
     API emulator, with the operator serving metrics on a free port; the test plays the kubelet and
     the Job controller (pod running, then terminated with the engine's run summary, Job Complete);
     then a label change makes the operator reconcile the finished run again.
Out: the Prometheus text from http://127.0.0.1:<port>/metrics: runs started by trigger, runs
     finished by outcome and reason, rows and bytes from the run summary, no run active; the same
     numbers after the operator reconciled the finished run again; no secret value anywhere.
Faked: the API server (kmock), the Job controller and the kubelet.
"""

from __future__ import annotations

import asyncio
import re
import socket
import urllib.request
from typing import Any

from tests.operator import harness, manifests
from tests.operator.harness import Cluster, settle, start_operator, until

CA = "copy-orders"
NS = manifests.NS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """Every sample of the impala_copy_* metrics: `name{labels}` (labels sorted, as served) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = re.match(r"^(impala_copy_\w+(?:\{[^}]*\})?) (\S+)$", line)
        if match:
            samples[match.group(1)] = float(match.group(2))
    return samples


def labels(**values: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(values.items())) + "}"


COPY = {"namespace": NS, "kind": "CopyActivity", "name": CA}


async def test_a_successful_copy_shows_in_the_scraped_metrics(kmock: Any, cluster: Cluster) -> None:
    port = free_port()
    operator = await start_operator(kmock, harness.test_settings(metrics_port=port))
    try:
        password = manifests.random_password()
        await cluster.apply(*manifests.standard_set(password))
        job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="a Job")
        await settle(cluster)
        before = scrape(port)
        assert before["impala_copy_runs_started_total" + labels(**COPY, trigger="create")] == 1
        assert before["impala_copy_active_runs" + labels(namespace=NS, kind="CopyActivity")] == 1

        await cluster.pod(job, manifests.running())
        await cluster.job_status(job, manifests.job_active())
        summary = manifests.summary(rows=5000)
        await cluster.finish(job, summary)
        await until(
            lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="phase Succeeded"
        )
        await settle(cluster)
        after = scrape(port)

        # The finished run is reconciled again (a change of the object wakes it): nothing more counts.
        await cluster.patch("CopyActivity", CA, {"metadata": {"labels": {"team": "data"}}})
        await asyncio.sleep(0.5)
        await settle(cluster)
        again = scrape(port)
    finally:
        await operator.stop()

    succeeded = labels(**COPY, outcome="succeeded")
    assert after["impala_copy_runs_started_total" + labels(**COPY, trigger="create")] == 1
    assert (
        after["impala_copy_runs_finished_total" + labels(**COPY, outcome="succeeded", reason="RunSucceeded")]
        == 1
    )
    assert after["impala_copy_rows_copied_total" + succeeded] == summary.rows_copied == 5000
    assert after["impala_copy_bytes_written_total" + succeeded] == summary.data_written == 5000 * 12
    assert after["impala_copy_active_runs" + labels(namespace=NS, kind="CopyActivity")] == 0
    assert not any('outcome="failed"' in key for key in after)
    assert again == after
    assert all(password not in key for key in again)
