"""`impala-copy run` of a partitioned copy, where it stops before any partition is copied.

In:  manifests of a CopyActivity with and without a partitionOption, whose Impala is a closed port;
     `--parallel` given or not.
     A partitioned run's summary printed as text; `impala-copy validate` of the query hook in a column
     value.
Out: the exit code, the one error line on stderr, nothing on stdout and no file written; the line of
     partition counts in the text summary.
Faked: nothing (the closed loopback port is real).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from impala_copy.api.summary import PartitionCount, RunSummary
from impala_copy.cli import copy_commands
from impala_copy.cli.report import summary_table

API = "impalacopy.io/v1alpha1"


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def manifests(tmp: Path, source: dict[str, Any], **spec: Any) -> Path:
    docs = [
        obj("ImpalaLinkedService", "impala", {"host": "127.0.0.1", "port": 9, "connectTimeoutSeconds": 2}),
        obj(
            "ImpalaDataset",
            "orders",
            {"linkedServiceName": {"referenceName": "impala"}, "schema": "s", "table": "t"},
        ),
        obj(
            "ParquetDataset", "out", {"location": {"type": "PersistentVolumeClaimLocation", "claimName": "c"}}
        ),
        obj(
            "CopyActivity",
            "copy",
            {
                "inputs": [{"referenceName": "orders"}],
                "outputs": [{"referenceName": "out", "kind": "ParquetDataset"}],
                "source": source,
                "sink": {"type": "ParquetSink"},
                **spec,
            },
        ),
    ]
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "m.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return tmp


def run(path: Path, tmp: Path, parallel: int | None) -> tuple[int, str, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    code = copy_commands.run(
        path,
        "copy",
        namespace="default",
        volumes=[f"c={tmp / 'volume'}"],
        volume_root=str(tmp / "volumes"),
        output="json",
        parallel=parallel,
        out=Console(file=out, width=1000, highlight=False, soft_wrap=True),
        err=Console(file=err, width=1000, highlight=False, soft_wrap=True),
    )
    return code, out.getvalue(), err.getvalue().splitlines()


def test_parallel_is_refused_for_a_copy_without_a_partition_option(tmp_path: Path) -> None:
    code, out, err = run(manifests(tmp_path / "m", {}), tmp_path, 3)
    assert (code, out) == (2, "")
    assert err == [
        "error: InvalidArgument: --parallel applies to a partitioned copy; CopyActivity 'copy' has no "
        "source.partitionOption (DynamicRange or PhysicalPartitionsOfTable)"
    ]


def test_a_plan_that_cannot_reach_impala_fails_before_any_partition_runs(tmp_path: Path) -> None:
    source = {"partitionOption": "DynamicRange", "partitionSettings": {"partitionColumnName": "id"}}
    code, out, err = run(manifests(tmp_path / "m", source, parallelCopies=3), tmp_path, None)
    assert code == 1
    assert '"status":"Failed"' in out.replace(" ", "")
    assert len(err) == 1
    assert err[0].startswith("error: Unreachable: ")
    assert not (tmp_path / "volume").exists() or list((tmp_path / "volume").rglob("*.parquet")) == []


def test_the_text_summary_of_a_partitioned_run_has_one_line_of_partition_counts() -> None:
    counts = [PartitionCount(index=i, rows_copied=n) for i, n in enumerate((1_100, 1_400, 1_250))]
    summary = RunSummary(rows_read=3_750, rows_copied=3_750, partitions=counts)
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table(summary))
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert "partitions    3 listed, 1,100 to 1,400 rows copied each" in lines
    Console(file=out, width=200).print(summary_table(RunSummary()))
    assert out.getvalue().count("partitions") == 1


def test_the_hook_outside_sql_code_is_refused_by_validate(tmp_path: Path) -> None:
    hook = "?AdfDynamicRangePartitionCondition"
    source = {
        "partitionOption": "DynamicRange",
        "partitionSettings": {"partitionColumnName": "id"},
        "query": f"SELECT x FROM t WHERE {hook}",
        "additionalColumns": [{"name": "a", "value": hook}],
    }
    out = io.StringIO()
    console = Console(file=out, width=1000, highlight=False, soft_wrap=True)
    code = copy_commands.validate(manifests(tmp_path, source), "default", out=console, err=console)
    assert code == 1
    assert (
        f"CopyActivity 'copy': '{hook}' in source.additionalColumns 'a' stands for SQL the engine builds: "
        "write it in SQL code, not in a quoted string, an identifier, a comment, a path or a column value"
    ) in out.getvalue()
