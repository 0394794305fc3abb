"""One index of a partitioned copy through the real engine, then the commit step, as the pods run them.

In:  a CopyActivity (demo.orders on the Spark Thrift Server into Parquet on a volume) resolved like
     `impala-copy run` does, its plan made a partitioned one with one partition; `impala-copy engine`
     as a subprocess with JOB_COMPLETION_INDEX=0 (the Indexed Job's pod), then
     `impala-copy engine --task commit`, both with the plan in IMPALA_COPY_PLAN (as the Jobs render it).
Out: the index's summary (partition 0, nothing published), the commit's termination message (the
     run's totals and per-partition counts), the published files and their rows.
Faked: nothing.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from devservers.sts import ORDERS_ROWS, StsServer
from tests.integration.copy_docs import impala_on, output_files, plan, single_copy
from tests.integration.test_run_engine import run_engine

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
