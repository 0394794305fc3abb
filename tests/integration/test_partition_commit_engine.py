"""One index of a partitioned copy through the real engine, then the commit step as the pod runs it.

In:  a CopyActivity (demo.orders on the Spark Thrift Server into Parquet on a volume) resolved like
     `impala-copy run` does, its plan given one partition; `engine.run.execute(plan, partition=0)`
     as the Indexed Job's pod runs it, then `impala-copy engine --task commit` as a subprocess with
     the plan in IMPALA_COPY_PLAN (as the commit Job renders it).
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

from impala_copy.api.plan import Partition
from impala_copy.engine.errors import EXIT_OK
from impala_copy.engine.run import execute

pytestmark = pytest.mark.integration


def test_an_index_stages_and_the_commit_task_publishes(sts: StsServer, tmp_path: Path) -> None:
    docs = single_copy(impala_on(sts), "ParquetDataset", validateDataConsistency=True)
    resolved, secrets = plan(tmp_path, docs)
    resolved = resolved.model_copy(update={"partitions": [Partition(index=0, label="every row")]})
    index = execute(resolved, secrets, partition=0)
    assert index.exit_code == EXIT_OK, index.summary.errors
    assert (index.summary.partition, index.summary.rows_copied, index.summary.output_paths) == (
        0, ORDERS_ROWS, [],
    )  # fmt: skip
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
