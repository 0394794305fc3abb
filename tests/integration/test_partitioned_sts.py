"""Partitioned copies end to end: `impala-copy run --parallel N` against the Spark Thrift Server.

In:  two tables made once for the module on the Spark Thrift Server: `flat` (BIGINT id, INT n and
     TIMESTAMP ts with NULLs, DECIMAL amount, STRING note) and `keyed` (PARTITIONED BY year INT and
     region STRING, one region NULL: Hive's default partition); CopyActivities with partitionOption
     DynamicRange (over n and over ts; bounds given, narrower than the data, or found with MIN/MAX; on
     the table or on a query with ?AdfDynamicRangePartitionCondition) and PhysicalPartitionsOfTable,
     parallelCopies N of 1, 3 and 8, into Parquet and CSV files on a volume, PostgreSQL (autoCreate)
     and Parquet objects on S3; each run is the CLI as a process (`impala-copy run --parallel N`), which
     plans in-process, copies each partition in a process of its own and commits.
     The partition-plan task alone, as the plan step's pod runs it (`impala-copy engine --task
     partition-plan`).
Out: the rows read back from the published files, table or objects, compared with the rows inserted:
     the same ids, no duplicate, and the same checksum over every column; the run's summary (rows,
     one count per partition, how many partitions); exact errors and exit codes for a partition
     column that is not in the result and for a column whose type cannot be ranged; the plan step's
     termination message (the exact predicates and labels) and exit codes.
Faked: nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from devservers.moto import MotoServer
from devservers.postgres import PostgresServer
from devservers.sts import StsServer, execute_statements
from tests.integration.copy_docs import CLAIM, files, impala_on, obj, plan, table, write
from tests.integration.sink_cases import postgres_docs, s3_docs
from tests.integration.test_run_engine import run_engine

from impala_copy.api.partitions import PARTITION_CONDITION

pytestmark = pytest.mark.integration

FLAT_ROWS = 240
KEYED_ROWS = 120
START = dt.datetime(2026, 12, 1)
REGIONS = ("AP", "EU", "US", None)
# Row tuples are compared as (id, n, ts, amount, note) and (id, note, year, region).
Row = tuple[Any, ...]


def flat_row(i: int) -> Row:
    n = None if i % 9 == 0 else (i * 37) % 101 - 20
    ts = None if i % 11 == 0 else START + dt.timedelta(minutes=17 * i, microseconds=250 * (i % 4))
    return (i, n, ts, Decimal(i * 13 % 1000) / 100, f"row {i}, with a comma")


def keyed_row(i: int) -> Row:
    return (i, f"order {i}", 2024 + i % 3, REGIONS[i % 4])


def _sql(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP'{value.isoformat(sep=' ')}'"
    if isinstance(value, Decimal):
        return f"CAST({value} AS DECIMAL(10,2))"
    return f"'{value}'" if isinstance(value, str) else str(value)


@pytest.fixture(scope="module")
def tables(sts: StsServer) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    flat, keyed = f"parts_flat_{suffix}", f"parts_keyed_{suffix}"
    flat_values = ", ".join(
        "(" + ", ".join(_sql(v) for v in flat_row(i)) + ")" for i in range(1, FLAT_ROWS + 1)
    )
    keyed_values = ", ".join(
        "(" + ", ".join(_sql(v) for v in keyed_row(i)) + ")" for i in range(1, KEYED_ROWS + 1)
    )
    execute_statements(
        sts,
        [
            f"CREATE TABLE demo.{flat} (id BIGINT, n INT, ts TIMESTAMP, amount DECIMAL(10,2), note STRING) "
            "USING parquet",
            f"INSERT INTO demo.{flat} VALUES {flat_values}",
            f"CREATE TABLE demo.{keyed} (id BIGINT, note STRING, year INT, region STRING) USING parquet "
            "PARTITIONED BY (year, region)",
            f"INSERT INTO demo.{keyed} VALUES {keyed_values}",
        ],
    )
    return {"flat": flat, "keyed": keyed}


# ------------------------------------------------------------------------------------------ runs


def source_spec(option: str, column: str | None = None, **settings: str) -> dict[str, Any]:
    if option == "PhysicalPartitionsOfTable":
        return {"partitionOption": option}
    return {"partitionOption": option, "partitionSettings": {"partitionColumnName": column, **settings}}


def activity(kind: str, sink: dict[str, Any], source: dict[str, Any], count: int) -> dict[str, Any]:
    spec = {
        "inputs": [{"referenceName": "source"}],
        "outputs": [{"referenceName": "target", "kind": kind}],
        "source": source,
        "sink": sink,
        "parallelCopies": count,
        "validateDataConsistency": True,
    }
    return obj("CopyActivity", "copy", spec)


def cli(folder: Path, docs: list[dict[str, Any]], parallel: int) -> tuple[int, dict[str, Any], str]:
    write(folder / "manifests", docs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    args = ["run", "-f", str(folder / "manifests"), "-a", "copy", "--volume", f"{CLAIM}={folder / 'out'}"]
    done = subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", *args, "-o", "json", "--parallel", str(parallel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, summary, done.stderr


def checksum(rows: list[Row]) -> str:
    def text(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None).isoformat(sep=" ")
        if isinstance(value, Decimal):
            return str(value.quantize(Decimal("0.01")))
        return value

    return hashlib.sha256(json.dumps(sorted([text(v) for v in r] for r in rows)).encode()).hexdigest()


def assert_same_rows(copied: list[Row], expected: list[Row]) -> None:
    ids = sorted(r[0] for r in copied)
    assert len(ids) == len(set(ids)), "a row was copied twice"
    assert ids == sorted(r[0] for r in expected)
    assert checksum(copied) == checksum(expected)


def rows_of(table_: pa.Table, columns: list[str]) -> list[Row]:
    data = table_.select(columns).to_pylist()
    return [tuple(r[c] for c in columns) for r in data]


FLAT_COLUMNS = ["id", "n", "ts", "amount", "note"]
KEYED_COLUMNS = ["id", "note", "year", "region"]
CSV_TYPES = {
    "id": pa.int64(),
    "n": pa.int32(),
    "ts": pa.timestamp("us"),
    "amount": pa.decimal128(10, 2),
    "note": pa.string(),
    "year": pa.int32(),
    "region": pa.string(),
}


def published(folder: Path, suffix: str) -> list[Path]:
    root = folder / "out" / "data"
    return sorted(p for p in root.rglob(f"*{suffix}") if "_temporary" not in p.relative_to(root).parts)


def parquet_rows(folder: Path, columns: list[str]) -> list[Row]:
    return [r for p in published(folder, ".parquet") for r in rows_of(pq.read_table(p), columns)]


def csv_rows(folder: Path, columns: list[str]) -> list[Row]:
    options = pacsv.ConvertOptions(
        column_types={c: CSV_TYPES[c] for c in columns},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    out = []
    for path in published(folder, ".csv"):
        read = pacsv.read_csv(path, convert_options=options)
        out += rows_of(read, columns)
    # CSV writes NULL as an empty field: a NULL region reads back as "".
    return [tuple(None if v == "" else v for v in r) for r in out]


def expected(name: str) -> tuple[list[Row], list[str]]:
    if name == "flat":
        return [flat_row(i) for i in range(1, FLAT_ROWS + 1)], FLAT_COLUMNS
    return [keyed_row(i) for i in range(1, KEYED_ROWS + 1)], KEYED_COLUMNS


def file_docs(
    sts: StsServer, tables: dict[str, str], name: str, kind: str, **dataset: Any
) -> list[dict[str, Any]]:
    return [*impala_on(sts), table("source", "demo", tables[name]), files(kind, "target", "data", **dataset)]


def check_summary(summary: dict[str, Any], rows: int, partitions: int) -> None:
    assert summary["status"] == "Succeeded", summary
    assert (summary["rowsRead"], summary["rowsCopied"]) == (rows, rows)
    counts = summary["partitions"]
    assert [c["index"] for c in counts] == list(range(partitions))
    assert sum(c["rowsCopied"] for c in counts) == rows
    assert summary["consistencyVerified"] is True


# -------------------------------------------------------------------------------- file sinks

FILE_CASES = [
    # (name, table, sink kind, source, N, partitions made)
    ("n-discovered-1", "flat", "ParquetDataset", source_spec("DynamicRange", "n"), 1, 1),
    (
        "n-given-narrow-8",
        "flat",
        "ParquetDataset",
        source_spec("DynamicRange", "n", partitionLowerBound="10", partitionUpperBound="14"),
        8,
        5,
    ),
    ("ts-discovered-8", "flat", "ParquetDataset", source_spec("DynamicRange", "ts"), 8, 8),
    (
        "ts-given-3",
        "flat",
        "DelimitedTextDataset",
        source_spec(
            "DynamicRange", "ts", partitionLowerBound="2026-12-02", partitionUpperBound="2026-12-03 12:00:00"
        ),
        3,
        3,
    ),
    ("physical-1", "keyed", "ParquetDataset", source_spec("PhysicalPartitionsOfTable"), 1, 1),
    ("physical-8", "keyed", "DelimitedTextDataset", source_spec("PhysicalPartitionsOfTable"), 8, 8),
]


@pytest.mark.parametrize(
    ("case", "name", "kind", "source", "count", "made"), FILE_CASES, ids=[c[0] for c in FILE_CASES]
)
def test_every_row_is_copied_once_into_files(
    sts: StsServer,
    tables: dict[str, str],
    tmp_path: Path,
    case: str,
    name: str,
    kind: str,
    source: dict[str, Any],
    count: int,
    made: int,
) -> None:
    sink = {"type": "ParquetSink" if kind == "ParquetDataset" else "DelimitedTextSink"}
    dataset = {} if kind == "ParquetDataset" else {"firstRowAsHeader": True}
    docs = [*file_docs(sts, tables, name, kind, **dataset), activity(kind, sink, source, count)]
    code, summary, stderr = cli(tmp_path, docs, count)
    assert code == 0, stderr
    rows, columns = expected(name)
    check_summary(summary, len(rows), made)
    copied = parquet_rows(tmp_path, columns) if kind == "ParquetDataset" else csv_rows(tmp_path, columns)
    assert_same_rows(copied, rows)


# ------------------------------------------------------------------------------ PostgreSQL, S3


def pg_rows(pg: PostgresServer, database: str, table_: str, columns: list[str]) -> list[Row]:
    with psycopg.connect(pg.uri_for(database)) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT {', '.join(columns)} FROM public.{table_}")]


@pytest.mark.parametrize(
    ("name", "source", "count"),
    [
        (
            "flat",
            {
                "query": f"SELECT * FROM demo.{{table}} WHERE amount >= 0 AND {PARTITION_CONDITION}",
                **source_spec("DynamicRange", "id"),
            },
            3,
        ),
        ("keyed", source_spec("PhysicalPartitionsOfTable"), 3),
    ],
    ids=["query-id-3", "physical-3"],
)
def test_every_row_is_copied_once_into_postgresql(
    sts: StsServer,
    tables: dict[str, str],
    pg: PostgresServer,
    pg_database: str,
    tmp_path: Path,
    name: str,
    source: dict[str, Any],
    count: int,
) -> None:
    if "query" in source:
        source = {**source, "query": source["query"].replace("{table}", tables[name])}
    sink = {"type": "PostgreSqlSink", "tableOption": "autoCreate"}
    docs = [
        *impala_on(sts),
        table("source", "demo", None if "query" in source else tables[name]),
        *postgres_docs(pg, pg_database, f"t_{name}"),
        activity("PostgreSqlTableDataset", sink, source, count),
    ]
    code, summary, stderr = cli(tmp_path, docs, count)
    assert code == 0, stderr
    rows, columns = expected(name)
    check_summary(summary, len(rows), count)
    assert_same_rows(pg_rows(pg, pg_database, f"t_{name}", columns), rows)


def test_every_row_is_copied_once_into_s3(
    sts: StsServer, tables: dict[str, str], s3: MotoServer, s3_bucket: str, tmp_path: Path
) -> None:
    source = source_spec("DynamicRange", "ts")
    docs = [
        *impala_on(sts),
        table("source", "demo", tables["flat"]),
        *s3_docs(s3, s3_bucket, "ParquetDataset", folder="parts"),
        activity("ParquetDataset", {"type": "ParquetSink"}, source, 3),
    ]
    code, summary, stderr = cli(tmp_path, docs, 3)
    assert code == 0, stderr
    rows, columns = expected("flat")
    check_summary(summary, len(rows), 3)
    client = s3.boto3_client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix="parts/").get("Contents", [])]
    parquet = [k for k in keys if k.endswith(".parquet") and "_temporary" not in k]
    copied = []
    for key in parquet:
        body = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        copied += rows_of(pq.read_table(pa.BufferReader(body)), columns)
    assert_same_rows(copied, rows)


# ------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (
            "missing",
            "partition column 'missing' is not a column of the source's result (its columns: amount, id, "
            "n, note, ts)",
        ),
        (
            "note",
            "partition column 'note' is of type STRING; a DynamicRange partition column must be BIGINT, INT, "
            "SMALLINT, TINYINT, DECIMAL, TIMESTAMP or DATE",
        ),
    ],
)
def test_a_column_that_cannot_be_ranged_fails_the_plan_with_exit_2(
    sts: StsServer, tables: dict[str, str], tmp_path: Path, column: str, message: str
) -> None:
    docs = [
        *file_docs(sts, tables, "flat", "ParquetDataset"),
        activity("ParquetDataset", {"type": "ParquetSink"}, source_spec("DynamicRange", column), 3),
    ]
    code, summary, stderr = cli(tmp_path, docs, 3)
    assert code == 2, stderr
    assert summary["status"] == "Failed"
    assert summary["errors"] == [{"code": "InvalidConfiguration", "message": message}]
    assert message in stderr
    assert published(tmp_path, ".parquet") == []


def test_a_partition_that_fails_publishes_nothing_and_the_last_output_stays(
    sts: StsServer, tables: dict[str, str], tmp_path: Path
) -> None:
    """The query fails only in the partition that reads id 77 (Spark's assert_true in the SELECT list)."""
    bounds = {"partitionLowerBound": "1", "partitionUpperBound": str(FLAT_ROWS)}

    def docs(check: str) -> list[dict[str, Any]]:
        query = f"SELECT *, {check} AS chk FROM demo.{tables['flat']} WHERE {PARTITION_CONDITION}"
        source = {"query": query, **source_spec("DynamicRange", "id", **bounds)}
        return [
            *impala_on(sts),
            table("source", "demo", None),
            files("ParquetDataset", "target", "data"),
            activity("ParquetDataset", {"type": "ParquetSink"}, source, 3),
        ]

    code, _, stderr = cli(tmp_path, docs("TRUE"), 3)
    assert code == 0, stderr
    before = {p: p.read_bytes() for p in published(tmp_path, "")}
    rows, columns = expected("flat")
    assert_same_rows(parquet_rows(tmp_path, columns), rows)

    code, summary, stderr = cli(tmp_path, docs("assert_true(id <> 77)"), 3)
    assert code == 2, stderr
    message = summary["errors"][0]["message"]
    assert summary["errors"][0]["code"] == "QueryFailed"
    assert message.startswith("1 of 3 partitions failed (0); nothing was published. Partition 0: ")
    assert [(c["index"], c["rowsCopied"] > 0) for c in summary["partitions"]] == [
        (0, False),
        (1, True),
        (2, True),
    ]
    assert {p: p.read_bytes() for p in published(tmp_path, "")} == before


def test_the_plan_step_reports_the_partitions_in_its_termination_message(
    sts: StsServer, tables: dict[str, str], tmp_path: Path
) -> None:
    def plan_step(source: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        docs = [
            *file_docs(sts, tables, "flat", "ParquetDataset"),
            activity("ParquetDataset", {"type": "ParquetSink"}, source, 3),
        ]
        resolved, secrets = plan(tmp_path, docs)
        code, summary, _, _ = run_engine(tmp_path, resolved, secrets, task="partition-plan")
        return code, summary

    code, summary = plan_step(source_spec("DynamicRange", "id"))
    assert code == 0
    assert summary == {
        "task": "partition-plan",
        "status": "Succeeded",
        "partitions": [
            {"index": 0, "predicate": "`id` IS NULL OR (`id` < 81)", "label": "id < 81 or NULL"},
            {"index": 1, "predicate": "(`id` >= 81) AND (`id` < 161)", "label": "81 <= id < 161"},
            {"index": 2, "predicate": "`id` >= 161", "label": "id >= 161"},
        ],
    }
    code, summary = plan_step(source_spec("DynamicRange", "ts", partitionLowerBound="1000"))
    assert code == 2
    assert summary["error"] == {
        "code": "InvalidConfiguration",
        "message": "partitionSettings.partitionLowerBound '1000' is not a timestamp without a zone (e.g. "
        "2026-12-01 08:30:00) for a TIMESTAMP column",
    }
