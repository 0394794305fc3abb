"""status.watermark of an incremental CopyActivity, with the engine really copying.

In:  a CopyActivity with source.incremental on a table of the Spark Thrift Server, rows inserted
     between runs, runs started by the run-now annotation; each Job's pod run as a local process by
     the kubelet stand-in (tests/operator/kubelet.py), except one pod reported killed (OOMKilled, no
     summary); the impalacopy.io/reset-watermark annotation with a valid and an invalid value.
Out: the low watermark in each Job's plan, the ids each run wrote to its volume, status.watermark
     (value, column, runId, reset) and handledResetWatermark after each step, the Events posted
     (WatermarkReset, InvalidWatermarkReset with its message), the WATERMARK printer column.
Faked: the API server (kmock), the kubelet and Job controller (tests/operator/kubelet.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from devservers.sts import StsServer, execute_statements

from impala_copy.api.plan import PLAN_ENV
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, printer_columns, settle, until

CA = "copy-orders"


def objects(sts: StsServer, table: str) -> list[dict[str, Any]]:
    ls = manifests.impala_linked_service()
    ls["spec"] |= {"host": sts.host, "port": sts.port}
    dataset = manifests.impala_dataset()
    dataset["spec"]["table"] = table
    activity = manifests.copy_activity(
        source={"type": "ImpalaSource", "incremental": {"column": "id", "initialValue": "0"}}
    )
    return [
        manifests.secret("impala-credentials", {"password": sts.users["alice"]}),
        manifests.pvc("copies"),
        ls,
        dataset,
        manifests.parquet_dataset(),
        activity,
    ]


def insert(sts: StsServer, table: str, ids: range) -> None:
    values = ", ".join(f"({i})" for i in ids)
    execute_statements(sts, [f"INSERT INTO demo.{table} VALUES {values}"])


def low_of(job: dict[str, Any]) -> str | None:
    [container] = job["spec"]["template"]["spec"]["containers"]
    plan = json.loads(next(v["value"] for v in container["env"] if v["name"] == PLAN_ENV))
    low: str | None = plan["incremental"]["low"]
    return low


def ids_written(root: Path, pod: str) -> list[int]:
    files = sorted(root.glob(f"{pod}/mounts/sink-volume/orders/*.parquet"))
    return sorted(i for f in files for i in pq.read_table(f)["id"].to_pylist())


def watermark(cluster: Cluster) -> dict[str, Any]:
    mark: dict[str, Any] = cluster.status("CopyActivity", CA).get("watermark") or {}
    return mark


async def annotate(cluster: Cluster, **values: str) -> None:
    annotations = {f"impalacopy.io/{k.replace('_', '-')}": v for k, v in values.items()}
    await cluster.patch("CopyActivity", CA, {"metadata": {"annotations": annotations}})


class Runs:
    """Runs the activity's Jobs one by one, as the kubelet would."""

    def __init__(self, cluster: Cluster, root: Path) -> None:
        self.cluster = cluster
        self.root = root
        self.seen: set[str] = set()

    async def next_job(self, low: str | None) -> dict[str, Any]:
        """The next new Job; its plan starts above `low`."""
        job: dict[str, Any] = await until(
            lambda: next((j for j in self.cluster.jobs() if j["metadata"]["name"] not in self.seen), None),
            what="a new Job",
        )
        self.seen.add(job["metadata"]["name"])
        assert low_of(job) == low
        return job

    async def copy(self, low: str | None) -> list[int]:
        """Run the next Job to the end; the ids it wrote."""
        result = await self.cluster.run_pod(await self.next_job(low), self.root)
        assert result.exit_code == 0, result.log[-3000:]
        return ids_written(self.root, result.pod)


async def test_the_watermark_moves_with_succeeded_runs_only_and_can_be_reset(
    sts: StsServer, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    table = f"inc_{uuid.uuid4().hex[:10]}"
    execute_statements(sts, [f"CREATE TABLE demo.{table} (id BIGINT) USING parquet"])
    insert(sts, table, range(1, 4))
    await cluster.apply(*objects(sts, table))
    runs = Runs(cluster, tmp_path)
    assert await runs.copy("0") == [1, 2, 3]
    await until(lambda: watermark(cluster).get("value") == "3", what="watermark 3")
    assert watermark(cluster) | {"time": None} == {"value": "3", "column": "id", "runId": "1", "time": None}
    assert printer_columns(cluster.get("CopyActivity", CA))["Watermark"] == "3"

    # A run killed after it read (no summary): the watermark stays, the next run copies the same rows.
    insert(sts, table, range(4, 6))
    await annotate(cluster, run_now="second")
    killed = await runs.next_job("3")
    await cluster.fail(killed, manifests.terminated(137, reason="OOMKilled"))
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Failed", what="phase Failed")
    await settle(cluster)
    assert watermark(cluster)["value"] == "3"
    await annotate(cluster, run_now="third")
    assert await runs.copy("3") == [4, 5]
    await until(lambda: watermark(cluster).get("value") == "5", what="watermark 5")
    assert watermark(cluster)["runId"] == "3"

    # The annotation sets it back; the next run copies from there.
    await annotate(cluster, reset_watermark="1")
    await until(lambda: watermark(cluster).get("value") == "1", what="watermark reset to 1")
    assert (watermark(cluster)["reset"], watermark(cluster)["runId"]) == (True, "3")
    assert cluster.status("CopyActivity", CA)["handledResetWatermark"] == "1"
    await until(lambda: "WatermarkReset" in cluster.event_reasons(CA), what="the WatermarkReset Event")
    [reset] = [e for e in cluster.events(CA) if e["reason"] == "WatermarkReset"]
    assert reset["message"] == "watermark of column 'id' set to '1': the next run copies the rows above it"
    await annotate(cluster, run_now="fourth")
    assert await runs.copy("1") == [2, 3, 4, 5]
    await until(lambda: watermark(cluster).get("runId") == "4", what="watermark of run 4")
    assert watermark(cluster)["value"] == "5"

    # A value that is no watermark: a Warning Event, the watermark unchanged, handled once.
    await annotate(cluster, reset_watermark="tomorrow")
    await until(lambda: "InvalidWatermarkReset" in cluster.event_reasons(CA), what="the Warning")
    [warning] = [e for e in cluster.events(CA) if e["reason"] == "InvalidWatermarkReset"]
    assert (warning["type"], warning["message"]) == (
        "Warning",
        "impalacopy.io/reset-watermark: watermark value 'tomorrow' must be an integer (1000), a decimal "
        "(12.50), a date (2026-12-01) or a timestamp without a zone (2026-12-01 08:30:00); the watermark "
        "is unchanged",
    )
    await settle(cluster)
    assert (watermark(cluster)["value"], watermark(cluster)["runId"]) == ("5", "4")
    assert cluster.status("CopyActivity", CA)["handledResetWatermark"] == "tomorrow"
    assert len(cluster.jobs()) == 4
