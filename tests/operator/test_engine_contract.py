"""The contract between operator and engine: the Job the operator renders really copies.

In:  the operator (on the API emulator) renders the Job for an activity reading demo.orders from the
     Spark Thrift Server over TLS, with the password in a Secret, the CA in a ConfigMap and a PVC
     sink. The test then plays the kubelet (`Cluster.run_pod`, tests/operator/kubelet.py): it takes the
     container's command, args and env, resolves each `secretKeyRef` from the Secret, materialises each
     volume (ConfigMap items as files, the PVC as a folder) and maps their mount paths onto local
     folders (the only change made to the env), points the termination message path at a file, runs
     the process and reports the pod and Job as finished.
Out: exit code 0; Parquet files with every row of demo.orders in the PVC's folder; a termination
     message the operator parses as the run summary, also the last line the engine printed; the
     CopyActivity's status carries the summary's counters.
     The same with N = 3 (DynamicRange over order_id, bounds found by the plan step): the plan Job's
     pod, each index of the Indexed copy Job (out of order, JOB_COMPLETION_INDEX set) and the commit
     Job's pod run as local processes sharing the claim's folder; every row of demo.orders is
     published exactly once (ids and all values compared), the status has the commit's totals and
     per-partition counts.
Faked: the kubelet and Job controller (the engine runs as a local process, not in a pod).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from devservers.sts import ORDERS_COLUMNS, ORDERS_ROWS, StsServer, orders_row

from impala_copy.controller.core.outcome import parse_summary
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until
from tests.operator.kubelet import kubelet_env

CA = "copy-orders"


def objects_for(server: StsServer, parallel: int = 0) -> list[dict[str, Any]]:
    """The standard set pointed at `server`; with `parallel`, partitioned over order_id."""
    assert server.ca_pem is not None
    password = server.users["alice"]
    objects = (
        manifests.partitioned_set(password, parallel, column="order_id")
        if parallel
        else manifests.standard_set(password)
    )
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            obj["data"] = {"ca.pem": server.ca_pem.read_text()}
        if obj["kind"] == "ImpalaLinkedService":
            obj["spec"]["host"] = server.host
            obj["spec"]["port"] = server.port
        if obj["kind"] == "CopyActivity":
            obj["spec"]["validateDataConsistency"] = True
    return objects


async def test_rendered_job_copies_and_its_summary_becomes_status(
    sts_tls: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(*objects_for(sts_tls))
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="the Job")
    argv, _ = kubelet_env(cluster, job, tmp_path / "argv")
    assert argv[1:] == ["engine"]
    result = await cluster.run_pod(job, tmp_path)
    assert result.exit_code == 0, result.log[-3000:]

    message = result.termination_message
    summary = parse_summary(message)
    assert summary is not None
    assert summary.succeeded
    assert (summary.rows_read, summary.rows_copied, summary.consistency_verified) == (
        ORDERS_ROWS,
        ORDERS_ROWS,
        True,
    )
    files = sorted(tmp_path.glob(f"{result.pod}/mounts/sink-volume/orders/*.parquet"))
    assert files
    assert [str(f) for f in files] == summary.output_paths
    table = pq.read_table(files[0]) if len(files) == 1 else pq.ParquetDataset(files).read()
    assert table.num_rows == ORDERS_ROWS
    assert tuple(table.column_names) == ORDERS_COLUMNS
    assert summary.data_written == sum(f.stat().st_size for f in files)
    assert message in result.log.splitlines()

    # What the kubelet and the Job controller reported, and what the operator makes of it.
    await until(
        lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="phase Succeeded"
    )
    await settle(cluster)
    last = cluster.status("CopyActivity", CA)["lastRun"]
    assert (last["rowsRead"], last["rowsCopied"], last["filesWritten"]) == (
        ORDERS_ROWS,
        ORDERS_ROWS,
        len(files),
    )
    assert last["dataWritten"] == summary.data_written
    assert last["consistencyVerified"] is True
    assert last["outputPaths"] == summary.output_paths
    succeeded = [e for e in cluster.events(CA) if e["reason"] == "RunSucceeded"]
    assert len(succeeded) == 1
    assert f"{ORDERS_ROWS} rows copied" in succeeded[0]["message"]
    json.dumps(last)  # status is plain JSON


def published_rows(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("*.parquet"))
    assert files, f"nothing published in {folder}"
    return [row for f in files for row in pq.read_table(f).to_pylist()]


async def test_partitioned_run_over_three_indexes_publishes_every_row_once(
    sts_tls: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    claims = tmp_path / "claims"  # the PVC, shared by every pod of the run
    await cluster.apply(*objects_for(sts_tls, parallel=3))
    plan_job = await until(lambda: cluster.step_job(CA, "plan"), what="the plan Job")
    planned = await cluster.run_pod(plan_job, tmp_path, claims=claims)
    assert planned.exit_code == 0, planned.log[-3000:]
    partitions = json.loads(planned.termination_message)["partitions"]
    assert [p["index"] for p in partitions] == [0, 1, 2]

    copy_job = await until(lambda: cluster.step_job(CA, "copy"), what="the Indexed copy Job")
    assert (copy_job["spec"]["completionMode"], copy_job["spec"]["completions"]) == ("Indexed", 3)
    indexes = await cluster.run_indexed(copy_job, tmp_path, order=[2, 0, 1], claims=claims)
    assert [r.exit_code for r in indexes] == [0, 0, 0], [r.log[-2000:] for r in indexes]
    staged = [parse_summary(r.termination_message) for r in indexes]
    assert [(s.partition, s.output_paths) for s in staged if s] == [(2, []), (0, []), (1, [])]
    assert sum(s.rows_copied for s in staged if s) == ORDERS_ROWS
    assert not list((claims / "copies" / "orders").glob("*.parquet"))  # staged, nothing published yet

    commit_job = await until(lambda: cluster.step_job(CA, "commit"), what="the commit Job")
    committed = await cluster.run_pod(commit_job, tmp_path, claims=claims)
    assert committed.exit_code == 0, committed.log[-3000:]
    rows = published_rows(claims / "copies" / "orders")
    assert sorted(r["order_id"] for r in rows) == list(range(1, ORDERS_ROWS + 1))  # each row once
    assert sorted(rows, key=lambda r: r["order_id"]) == [orders_row(i) for i in range(1, ORDERS_ROWS + 1)]

    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="Succeeded")
    await settle(cluster)
    last = cluster.status("CopyActivity", CA)["lastRun"]
    assert (last["rowsRead"], last["rowsCopied"], last["consistencyVerified"]) == (
        ORDERS_ROWS,
        ORDERS_ROWS,
        True,
    )
    assert (last["progress"], last["jobName"]) == ("3/3 partitions", commit_job["metadata"]["name"])
    counts = {p["index"]: p["rowsCopied"] for p in last["partitions"]}
    assert sorted(counts) == [0, 1, 2]
    assert sum(counts.values()) == ORDERS_ROWS
    assert all(count > 0 for count in counts.values())
    assert len(cluster.job_creations()) == 3
