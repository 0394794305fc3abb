"""The contract between operator and engine: the Job the operator renders really copies.

In:  the operator (on the API emulator) renders the Job for an activity reading demo.orders from the
     Spark Thrift Server over TLS, with the password in a Secret, the CA in a ConfigMap and a PVC
     sink. The test then plays the kubelet: it takes the container's command, args and env, resolves
     each `secretKeyRef` from the Secret, materialises each volume (ConfigMap items as files, the PVC
     as a folder) and maps their mount paths onto local folders (the only change made to the env),
     points the termination message path at a file, and runs the process.
Out: exit code 0; Parquet files with every row of demo.orders in the PVC's folder; a termination
     message the operator parses as the run summary; after the test reports the pod and Job as
     finished with that message, the CopyActivity's status carries the summary's counters.
Faked: the kubelet and Job controller (the engine runs as a local process, not in a pod).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from devservers.sts import ORDERS_COLUMNS, ORDERS_ROWS, StsServer

from impala_copy.api.plan import PLAN_ENV
from impala_copy.controller.core.outcome import parse_summary
from impala_copy.engine.main import TERMINATION_LOG_ENV
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until

CA = "copy-orders"


def objects_for(server: StsServer) -> list[dict[str, Any]]:
    assert server.ca_pem is not None
    objects = manifests.standard_set(server.users["alice"])
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            obj["data"] = {"ca.pem": server.ca_pem.read_text()}
        if obj["kind"] == "ImpalaLinkedService":
            obj["spec"]["host"] = server.host
            obj["spec"]["port"] = server.port
        if obj["kind"] == "CopyActivity":
            obj["spec"]["validateDataConsistency"] = True
    return objects


def kubelet_env(cluster: Cluster, job: dict[str, Any], root: Path) -> tuple[list[str], dict[str, str]]:
    """What the kubelet would give the container: its argv, and env with secrets and mounts in place."""
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    namespace = job["metadata"]["namespace"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    moved: dict[str, str] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        local = root / "mounts" / mount["name"]
        local.mkdir(parents=True)
        if "configMap" in volume:
            data = cluster.get("ConfigMap", volume["configMap"]["name"], namespace)["data"]
            for item in volume["configMap"]["items"]:
                (local / item["path"]).write_text(data[item["key"]])
        elif "secret" in volume:
            data = cluster.get("Secret", volume["secret"]["secretName"], namespace)["data"]
            for item in volume["secret"]["items"]:
                (local / item["path"]).write_bytes(base64.b64decode(data[item["key"]]))
        elif "emptyDir" in volume:
            continue  # /tmp stays the machine's /tmp
        moved[mount["mountPath"]] = str(local)
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            secret = cluster.get("Secret", ref["name"], namespace)
            env[var["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    for pod_path, local_path in moved.items():
        env[PLAN_ENV] = env[PLAN_ENV].replace(f'"{pod_path}', f'"{local_path}')
    env[TERMINATION_LOG_ENV] = str(root / "termination-log")
    executable = (
        shutil.which(container["command"][0], path=str(Path(sys.executable).parent))
        or container["command"][0]
    )
    return [executable, *container["command"][1:], *container["args"]], env


async def test_rendered_job_copies_and_its_summary_becomes_status(
    sts_tls: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    await cluster.apply(*objects_for(sts_tls))
    job = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="the Job")
    argv, env = kubelet_env(cluster, job, tmp_path)
    assert argv[1:] == ["engine"]
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "JAVA_HOME")}
    process = await asyncio.create_subprocess_exec(
        *argv, env=base | env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, stderr.decode()[-3000:]

    message = (tmp_path / "termination-log").read_text()
    summary = parse_summary(message)
    assert summary is not None
    assert summary.succeeded
    assert (summary.rows_read, summary.rows_copied, summary.consistency_verified) == (
        ORDERS_ROWS,
        ORDERS_ROWS,
        True,
    )
    files = sorted((tmp_path / "mounts").glob("sink-volume/orders/*.parquet"))
    assert files
    assert [str(f) for f in files] == summary.output_paths
    table = pq.read_table(files[0]) if len(files) == 1 else pq.ParquetDataset(files).read()
    assert table.num_rows == ORDERS_ROWS
    assert tuple(table.column_names) == ORDERS_COLUMNS
    assert summary.data_written == sum(f.stat().st_size for f in files)
    assert stdout.decode().strip().splitlines()[-1] == message

    # What the kubelet and the Job controller report next, and what the operator makes of it.
    await cluster.pod(job, manifests.terminated(0, message))
    await cluster.job_status(job, manifests.job_succeeded())
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
