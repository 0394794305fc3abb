"""Partition scaling (issue "Partitioned parallel copy", section 4): one copy over N local processes.

    partitions_1, partitions_2, partitions_4
        `impala-copy run --parallel N` of bench.mixed_5m (5M rows, 8 columns) to Parquet on a volume,
        partitionOption DynamicRange over the INT column `i` with its bounds given (0 .. 4,999,999),
        parallelCopies N: the run plans N ranges in-process, runs one process per partition (the Job
        pod's command with the pod's environment, JOB_COMPLETION_INDEX set), then commits once

What each case reports beside rows/s and the whole run's CPU (every process): per partition process
its CPU seconds per million rows of its own partition and its peak RSS (sampled from /proc, see
bench/local_run.py), and the command's own process (planning and commit). `make bench
CASE=partitions` runs the three cases alone (131 s with the server start and the table, measured).

The Spark Thrift Server runs on the same 2 cores as the processes, so N = 4 cannot be 4 times N = 1
here: the `server CPU s` column shows how much of the machine the server took for the same rows.
"""

from __future__ import annotations

from typing import Any

from bench.engine_cpu import check_copied
from bench.framework import Context, Measured, SetupContext, case, rss_limit, table_setup
from bench.local_run import ProcessTree, byte_compile, copy_activity, run_cli, source_docs, volume_dataset

# The cases' table name only selects their setup; they read bench.mixed_5m.
SOURCE_TABLE = "mixed_5m"
COUNTS = (1, 2, 4)
RSS_LIMIT_MB = 250


@table_setup("partitions_5m")
def partitions_table(ctx: SetupContext) -> int:
    """bench.mixed_5m, and the package byte-compiled (as in the image) before anything is timed."""
    from bench.foundation import mixed_5m

    byte_compile()
    return mixed_5m(ctx)


def _docs(ctx: Context, count: int) -> list[dict[str, Any]]:
    source = {
        "partitionOption": "DynamicRange",
        "partitionSettings": {
            "partitionColumnName": "i",
            "partitionLowerBound": "0",
            "partitionUpperBound": str(ctx.rows - 1),
        },
    }
    activity = copy_activity("ParquetDataset", {"type": "ParquetSink"}, source=source, parallelCopies=count)
    return [*source_docs(ctx, SOURCE_TABLE), volume_dataset(), activity]


def partition_figures(tree: ProcessTree, rows: int, count: int) -> dict[str, Any]:
    """Per partition process: CPU s per 1M rows of its share, peak RSS; and the command's own figures."""
    parts = tree.partitions
    if sorted(p.index for p in parts) != list(range(count)):
        raise RuntimeError(
            f"expected one process per partition 0..{count - 1}, saw {[p.index for p in parts]}"
        )
    share = rows / count  # DynamicRange over 0 .. rows-1 in equal ranges
    return {
        "peak_rss_mb": round(max(p.peak_rss_mb for p in parts), 1),
        "pod_cpu_s_per_1m_rows": [round(p.cpu_seconds * 1_000_000 / share, 2) for p in parts],
        "pod_peak_rss_mb": [round(p.peak_rss_mb) for p in parts],
        "command_cpu_s": round(tree.cpu_seconds - sum(p.cpu_seconds for p in parts), 2),
        "command_peak_rss_mb": round(tree.command_peak_rss_mb),
    }


def _partitioned(ctx: Context, count: int) -> Measured:
    tree = run_cli(ctx, _docs(ctx, count), ["--parallel", str(count)])
    check_copied(tree, ctx.rows)
    return Measured(ctx.rows, partition_figures(tree, ctx.rows, count))


def _register(count: int) -> None:
    name = f"partitions_{count}"

    @case(name, f"`impala-copy run --parallel {count}`, 5M rows -> Parquet", table="partitions_5m")
    def partitioned(ctx: Context) -> Measured:
        return _partitioned(ctx, count)

    rss_limit(name, RSS_LIMIT_MB)  # the largest partition process's peak


for _count in COUNTS:
    _register(_count)
