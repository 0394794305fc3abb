"""Engine CPU as a whole process (issue "Partitioned parallel copy", section 4).

    d_process   `impala-copy run` of bench.mixed_1m (1M rows, 8 columns) to Parquet on a volume, as
                its own process: interpreter start, imports, manifests, plan, copy, commit

Every pod of a partitioned copy pays its start-up, so the figure is the process's CPU time (all
threads, from its resource usage) per million rows, start-up included. Target: at most 1.0 CPU s.
"""

from __future__ import annotations

import json

from bench.framework import Context, Measured, SetupContext, case, cpu_limit, rss_limit, table_setup
from bench.local_run import ProcessTree, byte_compile, copy_activity, run_cli, source_docs, volume_dataset

# The cases' table names only select their setup; they read bench.mixed_1m.
SOURCE_TABLE = "mixed_1m"


@table_setup("process_1m")
def process_table(ctx: SetupContext) -> int:
    """bench.mixed_1m, and the package byte-compiled (as in the image) before anything is timed."""
    from bench.foundation import mixed_1m

    byte_compile()
    return mixed_1m(ctx)


@case("d_process", "(d) `impala-copy run` -> Parquet, whole process", table="process_1m", repeat=2)
def engine_process(ctx: Context) -> Measured:
    docs = [
        *source_docs(ctx, SOURCE_TABLE),
        volume_dataset(),
        copy_activity("ParquetDataset", {"type": "ParquetSink"}),
    ]
    tree = run_cli(ctx, docs, [])
    check_copied(tree, ctx.rows)
    return Measured(ctx.rows, {"peak_rss_mb": round(tree.peak_rss_mb, 1)})


def check_copied(tree: ProcessTree, rows: int) -> None:
    """The command succeeded and its JSON summary says `rows` rows were copied."""
    if tree.returncode != 0:
        raise RuntimeError(f"impala-copy run exited {tree.returncode}: {tree.stderr[-2000:]}")
    summary = json.loads(tree.stdout)
    if summary.get("rowsCopied") != rows:
        raise RuntimeError(f"impala-copy run copied {summary.get('rowsCopied')} rows, expected {rows}")


cpu_limit("d_process", 1.0)
rss_limit("d_process", 250)
