"""Incremental copies against the Spark Thrift Server: the watermark carried from run to run.

In:  tables made for each test on the Spark Thrift Server (BIGINT, TIMESTAMP, DATE, DECIMAL and STRING
     columns),
     rows inserted between runs, CopyActivities with source.incremental on the table or on a query
     with {incrementalRange}, into Parquet files or PostgreSQL (insert, and upsert with lookback);
     the low watermark of each run set from the previous run's summary, as the operator does from
     status.watermark; `impala-copy run --state-file / --watermark` as a subprocess.
Out: the ids each run wrote (read back from its files or from PostgreSQL): no duplicate, no gap; the
     summary's watermark (absent after a failed run); exit codes and exact error texts; the state
     file's content after successful and failed runs.
Faked: nothing (the operator's status is played by the test: it passes the watermark on).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from devservers.postgres import PostgresServer
from devservers.sts import StsServer, execute_statements
from tests.integration.copy_docs import files, impala_on, output_files, plan, table, write
from tests.integration.sink_cases import activity, postgres_docs

from impala_copy.api.incremental import IncrementalPlan
from impala_copy.api.summary import RunSummary
from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK
from impala_copy.engine.run import execute

pytestmark = pytest.mark.integration


def new_table(sts: StsServer) -> str:
    name = f"inc_{uuid.uuid4().hex[:10]}"
    execute_statements(
        sts, [f"CREATE TABLE demo.{name} (id BIGINT, ts TIMESTAMP, note STRING) USING parquet"]
    )
    return name


def insert(sts: StsServer, name: str, rows: dict[int, str]) -> None:
    """Rows id -> 'YYYY-MM-DD HH:MM:SS' (its ts)."""
    values = ", ".join(f"({i}, TIMESTAMP'{ts}', 'row {i}')" for i, ts in rows.items())
    execute_statements(sts, [f"INSERT INTO demo.{name} VALUES {values}"])


def minutes(ids: range, hour: int = 10) -> dict[int, str]:
    """One row a minute from 2026-12-01 hour:00, in id order."""
    return {i: f"2026-12-01 {hour:02}:{i:02}:00" for i in ids}


class Runs:
    """Runs of one activity, each above the watermark the previous successful run reported."""

    def __init__(self, tmp: Path, docs: list[dict[str, Any]]) -> None:
        self.tmp = tmp
        self.docs = docs
        self.count = 0
        self.watermark: str | None = None  # what status.watermark would hold

    def run(self) -> tuple[RunSummary, int]:
        self.count += 1
        resolved, secrets = plan(self.tmp, self.docs, run_id=str(self.count))
        assert resolved.incremental is not None
        if self.watermark is not None:
            low = IncrementalPlan(**{**resolved.incremental.model_dump(), "low": self.watermark})
            resolved = resolved.model_copy(update={"incremental": low})
        outcome = execute(resolved, secrets)
        if outcome.summary.succeeded and outcome.summary.watermark is not None:
            self.watermark = outcome.summary.watermark
        return outcome.summary, outcome.exit_code

    def file_ids(self) -> list[int]:
        """The ids in the files of the last run (each run replaces the folder's previous output)."""
        return sorted(i for path in output_files(self.tmp) for i in pq.read_table(path)["id"].to_pylist())


def parquet_docs(sts: StsServer, name: str, source: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *impala_on(sts),
        table("source", "demo", name),
        files("ParquetDataset", "target", "data"),
        activity("ParquetDataset", {"type": "ParquetSink"}, source=source),
    ]


def test_three_runs_by_a_bigint_column_copy_exactly_the_new_rows(sts: StsServer, tmp_path: Path) -> None:
    name = new_table(sts)
    runs = Runs(tmp_path, parquet_docs(sts, name, {"incremental": {"column": "id"}}))
    copied: list[int] = []
    for new_ids in (range(1, 6), range(6, 9), range(9, 13)):
        insert(sts, name, minutes(new_ids))
        summary, code = runs.run()
        assert code == EXIT_OK, summary.errors
        assert runs.file_ids() == list(new_ids)
        assert (summary.rows_copied, summary.watermark) == (len(new_ids), str(new_ids[-1]))
        copied += runs.file_ids()
    assert copied == list(range(1, 13))


def test_three_runs_by_a_timestamp_column_through_a_query(sts: StsServer, tmp_path: Path) -> None:
    name = new_table(sts)
    source = {
        "query": f"SELECT id, ts FROM demo.{name} WHERE {{incrementalRange}} AND note LIKE 'row%'",
        "incremental": {"column": "ts", "initialValue": "2026-12-01 10:01:00"},
    }
    runs = Runs(tmp_path, parquet_docs(sts, name, source))
    insert(sts, name, minutes(range(5)))  # ids 0 and 1 are at or below initialValue
    summary, _ = runs.run()
    assert (runs.file_ids(), summary.watermark) == ([2, 3, 4], "2026-12-01 10:04:00")
    insert(sts, name, minutes(range(5, 7)))
    summary, _ = runs.run()
    assert (runs.file_ids(), summary.watermark) == ([5, 6], "2026-12-01 10:06:00")
    summary, _ = runs.run()  # nothing new: nothing copied, the watermark stays
    assert (runs.file_ids(), summary.rows_copied, summary.watermark) == ([], 0, None)
    assert runs.watermark == "2026-12-01 10:06:00"
    insert(sts, name, {7: "2026-12-01 10:06:00.000001"})
    summary, _ = runs.run()
    assert (runs.file_ids(), summary.watermark) == ([7], "2026-12-01 10:06:00.000001")


def pg_ids(pg: PostgresServer, database: str, name: str) -> list[int]:
    with psycopg.connect(pg.uri_for(database)) as conn:
        return [row[0] for row in conn.execute(f"SELECT id FROM public.{name} ORDER BY id").fetchall()]


def pg_execute(pg: PostgresServer, database: str, statement: str) -> None:
    with psycopg.connect(pg.uri_for(database), autocommit=True) as conn:
        conn.execute(statement)


def pg_runs(
    tmp: Path, sts: StsServer, pg: PostgresServer, database: str, name: str, sink: dict[str, Any], **inc: str
) -> Runs:
    docs = [
        *impala_on(sts),
        table("source", "demo", name),
        *postgres_docs(pg, database, name),
        activity(
            "PostgreSqlTableDataset",
            {"type": "PostgreSqlSink", "tableOption": "autoCreate", **sink},
            source={"incremental": {"column": "id", **inc}},
        ),
    ]
    return Runs(tmp, docs)


def test_a_run_that_fails_before_its_commit_does_not_advance_the_watermark(
    sts: StsServer, tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    name = new_table(sts)
    runs = pg_runs(tmp_path, sts, pg, pg_database, name, {})
    insert(sts, name, minutes(range(1, 4)))
    assert runs.run()[0].watermark == "3"
    insert(sts, name, minutes(range(4, 7)))
    # The sink reads rows 4..6 and fails on row 5 before its commit: the load is rolled back.
    pg_execute(pg, pg_database, f"ALTER TABLE public.{name} ADD CONSTRAINT below_five CHECK (id < 5)")
    summary, code = runs.run()
    assert (summary.status, summary.watermark, code) == ("Failed", None, EXIT_CONFIGURATION)
    assert [e.code for e in summary.errors] == ["SinkDataRejected"]
    assert summary.rows_read == 3
    assert (runs.watermark, pg_ids(pg, pg_database, name)) == ("3", [1, 2, 3])
    pg_execute(pg, pg_database, f"ALTER TABLE public.{name} DROP CONSTRAINT below_five")
    summary, code = runs.run()  # the same range again, copied once
    assert (code, summary.rows_copied, summary.watermark) == (EXIT_OK, 3, "6")
    assert pg_ids(pg, pg_database, name) == [1, 2, 3, 4, 5, 6]


def test_lookback_reads_late_rows_again_and_upsert_keeps_one_of_each(
    sts: StsServer, tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    name = new_table(sts)
    upsert = {"writeBehavior": "upsert", "upsertSettings": {"keys": ["id"]}}
    runs = pg_runs(tmp_path, sts, pg, pg_database, name, upsert, lookback="2")
    insert(sts, name, minutes(range(1, 4)) | minutes(range(5, 7)))
    assert runs.run()[0].watermark == "6"
    insert(sts, name, {4: "2026-12-01 11:00:00", 7: "2026-12-01 11:01:00"})  # 4 arrived late
    summary, code = runs.run()  # reads 5..7 (6 - lookback 2 < id): 4 stays below the lookback
    assert (code, summary.rows_copied, summary.watermark) == (EXIT_OK, 3, "7")
    assert pg_ids(pg, pg_database, name) == [1, 2, 3, 5, 6, 7]
    runs.watermark = "5"  # as if reset: 4 < id <= 7 again, rows 5..7 upserted, none duplicated
    summary, _ = runs.run()
    assert (summary.rows_copied, summary.watermark) == (4, "7")
    assert pg_ids(pg, pg_database, name) == [1, 2, 3, 4, 5, 6, 7]


def test_a_column_of_an_unsupported_type_is_a_configuration_error(sts: StsServer, tmp_path: Path) -> None:
    name = new_table(sts)
    insert(sts, name, minutes(range(1, 3)))
    runs = Runs(tmp_path, parquet_docs(sts, name, {"incremental": {"column": "note"}}))
    summary, code = runs.run()
    assert code == EXIT_CONFIGURATION
    assert [(e.code, e.message) for e in summary.errors] == [
        (
            "InvalidConfiguration",
            "incremental column 'note' is of type STRING; a watermark column must be BIGINT, INT, "
            "SMALLINT, TINYINT, DECIMAL, TIMESTAMP or DATE",
        )
    ]
    assert output_files(tmp_path) == []


def test_an_initial_value_of_the_wrong_type_is_a_configuration_error(sts: StsServer, tmp_path: Path) -> None:
    name = new_table(sts)
    source = {"incremental": {"column": "ts", "initialValue": "1000"}}
    summary, code = Runs(tmp_path, parquet_docs(sts, name, source)).run()
    assert code == EXIT_CONFIGURATION
    assert [e.message for e in summary.errors] == [
        "the low watermark '1000' is not a timestamp without a zone (e.g. 2026-12-01 08:30:00) for a "
        "TIMESTAMP column"
    ]


# ------------------------------------------------------------------------------------------ CLI


def cli(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    args = ["run", "-f", str(folder / "manifests"), "--activity", "copy", "--volume", f"out={folder / 'out'}"]
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", *args, "--output", "json", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def written_ids(folder: Path) -> list[int]:
    return sorted(
        i
        for path in (folder / "out" / "data").glob("*.parquet")
        for i in pq.read_table(path)["id"].to_pylist()
    )


def test_the_cli_keeps_the_watermark_in_a_state_file(sts: StsServer, tmp_path: Path) -> None:
    name = new_table(sts)
    write(tmp_path / "manifests", parquet_docs(sts, name, {"incremental": {"column": "id"}}))
    state = tmp_path / "state" / "orders.json"
    state.parent.mkdir()
    insert(sts, name, minutes(range(1, 4)))
    first = cli(tmp_path, "--state-file", str(state))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["watermark"] == "3"
    saved = json.loads(state.read_text())
    assert {k: saved[k] for k in ("activity", "column", "watermark")} == {
        "activity": "copy",
        "column": "id",
        "watermark": "3",
    }
    insert(sts, name, minutes(range(4, 6)))
    second = cli(tmp_path, "--state-file", str(state))
    assert (second.returncode, written_ids(tmp_path)) == (0, [4, 5])
    assert json.loads(state.read_text())["watermark"] == "5"
    before = state.read_bytes()
    bad = cli(tmp_path, "--state-file", str(state), "--watermark", "soon")
    assert bad.returncode == EXIT_CONFIGURATION
    assert bad.stderr.strip() == (
        "error: InvalidArgument: --watermark: watermark value 'soon' must be an integer (1000), a decimal "
        "(12.50), a date (2026-12-01) or a timestamp without a zone (2026-12-01 08:30:00)"
    )
    assert state.read_bytes() == before
    again = cli(tmp_path, "--state-file", str(state), "--watermark", "1")  # copies 2..5 again
    assert (again.returncode, written_ids(tmp_path)) == (0, [2, 3, 4, 5])
    assert json.loads(state.read_text())["watermark"] == "5"
    assert [p.name for p in state.parent.iterdir()] == ["orders.json"]


@pytest.mark.parametrize(
    ("column", "initial", "first_mark", "second_mark"),
    [
        ("d", "2026-12-01", "2026-12-03", "2026-12-05"),
        ("amount", "1.25", "3.25", "5.25"),
    ],
)
def test_date_and_decimal_columns(
    sts: StsServer, tmp_path: Path, column: str, initial: str, first_mark: str, second_mark: str
) -> None:
    name = f"inc_{uuid.uuid4().hex[:10]}"
    execute_statements(
        sts, [f"CREATE TABLE demo.{name} (id BIGINT, d DATE, amount DECIMAL(10,2)) USING parquet"]
    )

    def add(ids: range) -> None:
        values = ", ".join(f"({i}, DATE'2026-12-0{i}', {i}.25BD)" for i in ids)
        execute_statements(sts, [f"INSERT INTO demo.{name} VALUES {values}"])

    runs = Runs(
        tmp_path, parquet_docs(sts, name, {"incremental": {"column": column, "initialValue": initial}})
    )
    add(range(1, 4))
    summary, code = runs.run()
    assert (code, runs.file_ids(), summary.watermark) == (EXIT_OK, [2, 3], first_mark)
    add(range(4, 6))
    summary, _ = runs.run()
    assert (runs.file_ids(), summary.watermark) == ([4, 5], second_mark)
