"""Partitioned copies through the real engine, each step run as its pod runs it.

In:  a CopyActivity (demo.orders on the Spark Thrift Server into Parquet on a volume) resolved like
     `impala-copy run` does, its plan made a partitioned one with one partition; `impala-copy engine`
     as a subprocess with JOB_COMPLETION_INDEX=0 (the Indexed Job's pod), then
     `impala-copy engine --task commit`, both with the plan in IMPALA_COPY_PLAN (as the Jobs render it);
     a 3,000,000-row query split in two by the partition-plan pod, index 1 SIGKILLed mid-write,
     index 0, index 1 again, then the commit pod.
Out: the index's summary (partition 0, nothing published), the commit's termination message (the
     run's totals and per-partition counts), the published files and their rows (every id once).
Faked: nothing.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from devservers.sts import ORDERS_ROWS, StsServer
from tests.integration.copy_docs import impala_on, output_files, plan, single_copy
from tests.integration.test_run_engine import run_engine, start_engine

from impala_copy.api.partitions import PARTITION_INDEX_ENV, PartitionOption
from impala_copy.api.plan import Partition, PartitioningPlan

pytestmark = pytest.mark.integration


def test_an_index_stages_and_the_commit_task_publishes(sts: StsServer, tmp_path: Path) -> None:
    docs = single_copy(impala_on(sts), "ParquetDataset", validateDataConsistency=True)
    resolved, secrets = plan(tmp_path, docs)
    partitioning = PartitioningPlan(
        option=PartitionOption.PHYSICAL_PARTITIONS_OF_TABLE, count=1, parallelism=1
    )
    resolved = resolved.model_copy(
        update={"partitions": [Partition(index=0, label="every row")], "partitioning": partitioning}
    )
    code, index, _, stderr = run_engine(tmp_path, resolved, secrets | {PARTITION_INDEX_ENV: "0"})
    assert code == 0, stderr
    assert (index["partition"], index["rowsCopied"], index["outputPaths"]) == (0, ORDERS_ROWS, [])
    assert output_files(tmp_path) == []  # staged, not published
    code, summary, _, stderr = run_engine(tmp_path, resolved, secrets, task="commit")
    assert code == 0, stderr
    published = output_files(tmp_path)
    assert [p.name for p in published] == ["part_00000.parquet"]
    assert pq.read_metadata(published[0]).num_rows == ORDERS_ROWS
    assert (summary["status"], summary["rowsRead"], summary["rowsCopied"], summary["filesWritten"]) == (
        "Succeeded", ORDERS_ROWS, ORDERS_ROWS, 1,
    )  # fmt: skip
    assert summary["consistencyVerified"] is True
    assert summary["outputPaths"] == [str(published[0])]
    assert [(p["index"], p["rowsCopied"]) for p in summary["partitions"]] == [(0, ORDERS_ROWS)]
    assert "partition" not in summary


BIG_QUERY = (
    "SELECT id, concat('row-', CAST(id AS STRING)) AS s FROM range(3000000) AS r "
    "WHERE ?AdfDynamicRangePartitionCondition"
)


def index_parts(tmp: Path, index: int) -> list[Path]:
    root = tmp / "volume" / "data" / "_temporary"
    return sorted(p for p in root.rglob(f"p{index:05d}-*/*.parquet")) if root.exists() else []


def test_the_pods_of_a_run_with_an_index_killed_mid_write(sts: StsServer, tmp_path: Path) -> None:
    """plan pod -> index 1 SIGKILLed after three parts -> index 0 -> index 1 again -> commit pod."""
    source = {
        "query": BIG_QUERY,
        "partitionOption": "DynamicRange",
        "partitionSettings": {
            "partitionColumnName": "id",
            "partitionLowerBound": "0",
            "partitionUpperBound": "3000000",
        },
    }
    docs = single_copy(
        impala_on(sts), "ParquetDataset", schema=None, table_name=None, source=source, parallelCopies=2,
        format_settings={"maxRowsPerFile": 200_000}, validateDataConsistency=True,
    )  # fmt: skip
    resolved, secrets = plan(tmp_path, docs, run_id="big")
    code, planned, _, stderr = run_engine(tmp_path, resolved, secrets, task="partition-plan")
    assert code == 0, planned
    resolved = resolved.model_copy(
        update={"partitions": [Partition.model_validate(p) for p in planned["partitions"]]}
    )
    assert len(resolved.partitions) == 2
    killed = start_engine(tmp_path, resolved, secrets | {PARTITION_INDEX_ENV: "1"})
    try:
        deadline = time.monotonic() + 240
        while len(index_parts(tmp_path, 1)) < 3:
            assert killed.poll() is None, f"the engine ended early: {killed.communicate()}"
            assert time.monotonic() < deadline, "no staged parts appeared"
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
    finally:
        killed.kill()
    left_behind = index_parts(tmp_path, 1)
    for index in (0, 1):
        code, summary, _, stderr = run_engine(tmp_path, resolved, secrets | {PARTITION_INDEX_ENV: str(index)})
        assert code == 0, stderr
        assert summary["partition"] == index
    assert output_files(tmp_path) == []
    code, summary, _, stderr = run_engine(tmp_path, resolved, secrets, task="commit")
    assert code == 0, stderr
    assert (summary["rowsRead"], summary["rowsCopied"], summary["consistencyVerified"]) == (
        3_000_000,
        3_000_000,
        True,
    )
    assert [p["rowsCopied"] for p in summary["partitions"]] == [1_500_000, 1_500_000]
    files = output_files(tmp_path)
    assert [p.name for p in files] == [f"part_{i:05d}.parquet" for i in range(16)]
    ids = pa.concat_arrays([pq.read_table(p, columns=["id"]).column("id").combine_chunks() for p in files])
    assert len(ids) == 3_000_000
    assert pc.count_distinct(ids).as_py() == 3_000_000
    assert (pc.min(ids).as_py(), pc.max(ids).as_py()) == (0, 2_999_999)
    assert not any(p.exists() for p in left_behind)  # the killed attempt's parts were never published
