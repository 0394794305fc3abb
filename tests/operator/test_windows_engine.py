"""Tumbling windows with the engine really running: each window's Job copies, its summary lands in
status.windows.

In:  the operator on the API emulator with a CopyActivity of two Minute windows (startTime two minutes
     before the last whole minute, endTime at it, maxConcurrency 1) reading demo.orders from the Spark
     Thrift Server into Parquet on a PVC; the kubelet stand-in (tests/operator/kubelet.py) runs each
     window's pod as a local engine process.
Out: one Job per window, oldest first, each with its window in the plan's runContext; each engine run
     exits 0 and writes the table's rows; status.windows counts both windows succeeded and
     completedThrough reaches endTime; lastRun carries the engine's counters.
Faked: the kubelet and Job controller (the engine runs as a local process, not in a pod).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
from devservers.sts import ORDERS_ROWS, StsServer

from impala_copy.controller.core.timeutil import format_time, utcnow
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, settle, until

CA = "copy-orders"


async def test_each_window_job_runs_the_engine_and_its_summary_becomes_status(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    end = utcnow().replace(second=0, microsecond=0)
    start = end - timedelta(minutes=2)
    ls = manifests.impala_linked_service()
    ls["spec"].update(host=sts.host, port=sts.port)
    activity = manifests.copy_activity()
    activity["spec"]["schedule"] = {
        "window": {
            "startTime": format_time(start),
            "endTime": format_time(end),
            "frequency": "Minute",
            "interval": 1,
        }
    }
    await cluster.apply(
        manifests.secret("impala-credentials", {"password": sts.users["alice"]}),
        manifests.pvc("copies"),
        ls,
        manifests.impala_dataset(),
        manifests.parquet_dataset(),
        activity,
    )
    windows = []
    for minute in range(2):
        job, result = await cluster.run_next("CopyActivity", CA, tmp_path / str(minute), timeout=120)
        assert result.exit_code == 0, result.log[-3000:]
        plan = json.loads(job["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])
        windows.append(plan["runContext"]["windowStart"])
        assert plan["runContext"]["windowEnd"] == format_time(start + timedelta(minutes=minute + 1))
        files = sorted((tmp_path / str(minute)).glob(f"{result.pod}/mounts/sink-volume/orders/*.parquet"))
        assert sum(pq.read_metadata(f).num_rows for f in files) == ORDERS_ROWS
    assert windows == [format_time(start), format_time(start + timedelta(minutes=1))]

    await until(
        lambda: cluster.status("CopyActivity", CA).get("windows", {}).get("succeededCount") == 2,
        timeout=60,
        what="both windows succeeded",
    )
    await settle(cluster)
    status = cluster.status("CopyActivity", CA)
    assert status["windows"]["completedThrough"] == format_time(end)
    assert (status["phase"], status["lastRun"]["rowsCopied"]) == ("Succeeded", ORDERS_ROWS)
    assert len(cluster.job_creations()) == 2
