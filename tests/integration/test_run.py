"""`run_copy` end to end: the Spark Thrift Server (a real HiveServer2 with a real password check) to
files on a local folder standing in for a PersistentVolumeClaim.

In:  manifests a user would write (linked service + Secret, ImpalaDataset, Parquet / DelimitedText /
     Json dataset, CopyActivity), resolved into a CopyPlan as `impala-copy run` does; the sample
     tables demo.all_types (every type, NULLs, unicode, extreme values), demo.orders (5000 rows),
     demo.empty_table.
Out: the RunSummary (ADF names, errors with codes) and the files, read back with independent
     readers and compared value by value with what the server holds.
Faked: nothing. The server is the session fixture `sts`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from devservers.sts import ALL_TYPES_EXPECTED, ORDERS_ROWS, StsServer, free_port, orders_row
from tests import session_password
from tests.integration.copy_docs import impala, impala_on, output_files, plan, single_copy
from tests.unit.arrow_samples import assert_rows_equal, from_json, from_text, json_rows

from impala_copy.api.summary import RunSummary
from impala_copy.engine.run import execute, run_copy
from impala_copy.engine.sinks.delimited_text import DelimitedTextFormat

WRONG = session_password.variant("wrong")  # a wrong password: begins with the right one


def copy(tmp: Path, docs: list[dict[str, Any]], *, run_id: str = "run-1") -> RunSummary:
    resolved, secrets = plan(tmp, docs, run_id=run_id)
    return run_copy(resolved, secrets)


def ok(summary: RunSummary) -> RunSummary:
    assert summary.succeeded, summary.errors
    assert summary.errors == []
    return summary


def by_id(rows: list[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r[key])


def read_parquet(paths: list[Path]) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in paths])


def test_every_type_round_trips_through_parquet_csv_and_json(sts: StsServer, tmp_path: Path) -> None:
    expected = list(ALL_TYPES_EXPECTED)
    # Parquet: the types and values as the server has them.
    s = ok(copy(tmp_path / "p", single_copy(impala_on(sts), "ParquetDataset", table_name="all_types")))
    parquet = read_parquet(output_files(tmp_path / "p"))
    schema = parquet.schema
    assert_rows_equal(expected, by_id(parquet.to_pylist()))
    assert pa.types.is_decimal(schema.field("c_decimal38").type)
    assert schema.field("c_timestamp").type == pa.timestamp("us")
    assert (s.rows_read, s.rows_copied, s.files_written) == (4, 4, 1)

    # CSV with a header: every value read back from its text.
    csv_docs = single_copy(
        impala_on(sts), "DelimitedTextDataset", table_name="all_types", dataset={"firstRowAsHeader": True}
    )
    ok(copy(tmp_path / "c", csv_docs))
    (path,) = output_files(tmp_path / "c")
    fmt = DelimitedTextFormat(first_row_as_header=True)
    read, parse, convert = fmt.read_options(len(schema))
    raw = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert).to_pylist()
    rows = [{f.name: from_text(f.type, r[f"c{i}"]) for i, f in enumerate(schema)} for r in raw]
    assert_rows_equal(expected, by_id(rows))
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(schema.names)

    # JSON Lines.
    ok(copy(tmp_path / "j", single_copy(impala_on(sts), "JsonDataset", table_name="all_types")))
    (path,) = output_files(tmp_path / "j")
    rows = [
        {f.name: from_json(f.type, r[f.name]) for f in schema} for r in json_rows(path.read_text("utf-8"))
    ]
    assert_rows_equal(expected, by_id(rows))


def test_table_with_rotation_and_consistency_check(sts: StsServer, tmp_path: Path) -> None:
    docs = single_copy(
        impala_on(sts),
        "ParquetDataset",
        format_settings={"maxRowsPerFile": 1200, "fileNamePrefix": "orders"},
        validateDataConsistency=True,
    )
    s = ok(copy(tmp_path, docs))
    paths = output_files(tmp_path)
    assert [p.name for p in paths] == [f"orders_0000{i}.parquet" for i in range(5)]
    assert [pq.ParquetFile(p).metadata.num_rows for p in paths] == [1200, 1200, 1200, 1200, 200]
    table = read_parquet(paths)
    assert by_id(table.to_pylist(), "order_id") == [orders_row(i) for i in range(1, ORDERS_ROWS + 1)]
    assert (s.rows_read, s.rows_copied, s.files_written) == (ORDERS_ROWS, ORDERS_ROWS, 5)
    assert s.consistency_verified is True
    assert s.data_written == sum(p.stat().st_size for p in paths)
    assert s.data_read > 0
    assert s.copy_duration > 0
    assert s.throughput == pytest.approx(ORDERS_ROWS / s.copy_duration, rel=0.01)
    assert s.output_paths == [str(p) for p in paths]


def test_query_instead_of_table_to_csv(sts: StsServer, tmp_path: Path) -> None:
    query = "SELECT order_id, customer, amount, note FROM demo.orders WHERE order_id <= 25 ORDER BY order_id"
    docs = single_copy(
        impala_on(sts),
        "DelimitedTextDataset",
        schema=None,
        table_name=None,
        dataset={"firstRowAsHeader": True, "nullValue": "NULL"},
        source={"query": query},
    )
    s = ok(copy(tmp_path, docs))
    (path,) = output_files(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "order_id,customer,amount,note"
    expected = [orders_row(i) for i in range(1, 26)]
    assert lines[1:] == [
        f"{r['order_id']},{r['customer']},{r['amount']},{'NULL' if r['note'] is None else r['note']}"
        for r in expected
    ]
    assert s.rows_copied == 25


def test_additional_columns_to_json(sts: StsServer, tmp_path: Path) -> None:
    docs = single_copy(
        impala_on(sts),
        "JsonDataset",
        source={
            "query": "SELECT order_id FROM demo.orders WHERE order_id <= 3",
            "additionalColumns": [
                {"name": "source_system", "value": "impala"},
                {"name": "key", "value": "$$COLUMN:order_id"},
            ],
        },
        schema=None,
        table_name=None,
    )
    ok(copy(tmp_path, docs))
    (path,) = output_files(tmp_path)
    rows = by_id([json.loads(line) for line in path.read_text().splitlines()], "order_id")
    assert rows == [{"order_id": i, "source_system": "impala", "key": i} for i in (1, 2, 3)]


@pytest.mark.parametrize(
    ("kind", "dataset", "content"),
    [
        (
            "DelimitedTextDataset",
            {"firstRowAsHeader": True},
            b"id,name,amount,created\r\n",
        ),  # ADF default rowDelimiter
        ("JsonDataset", {}, b""),
    ],
)
def test_empty_table_writes_one_empty_file(
    sts: StsServer, tmp_path: Path, kind: str, dataset: dict[str, Any], content: bytes
) -> None:
    s = ok(copy(tmp_path, single_copy(impala_on(sts), kind, table_name="empty_table", dataset=dataset)))
    (path,) = output_files(tmp_path)
    assert path.read_bytes() == content
    assert (s.rows_read, s.rows_copied, s.files_written) == (0, 0, 1)


def test_empty_table_to_parquet_keeps_the_schema(sts: StsServer, tmp_path: Path) -> None:
    ok(copy(tmp_path, single_copy(impala_on(sts), "ParquetDataset", table_name="empty_table")))
    (path,) = output_files(tmp_path)
    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.schema.names == ["id", "name", "amount", "created"]
    assert table.schema.field("amount").type == pa.decimal128(10, 2)


# ------------------------------------------------------------------------------------------- failures


def previous_output(sts: StsServer, tmp_path: Path) -> dict[str, bytes]:
    """A good run first: its files must survive the failed run."""
    docs = single_copy(impala_on(sts), "ParquetDataset", format_settings={"maxRowsPerFile": 2000})
    ok(copy(tmp_path, docs, run_id="good"))
    return {p.name: p.read_bytes() for p in output_files(tmp_path)}


@pytest.mark.parametrize(
    ("case", "code", "message", "exit_code"),
    [
        ("wrong password", "AuthenticationFailed", "alice", 2),
        ("missing table", "TableNotFound", "no_such_table", 2),
        ("bad query", "QueryFailed", "", 2),
        ("server down", "Unreachable", "127.0.0.1", 1),
    ],
)
def test_failed_run_reports_the_cause_and_keeps_the_previous_output(
    sts: StsServer, tmp_path: Path, case: str, code: str, message: str, exit_code: int
) -> None:
    before = previous_output(sts, tmp_path)
    server = impala_on(sts)
    options: dict[str, Any] = {"format_settings": {"maxRowsPerFile": 2000}}
    if case == "wrong password":
        server = impala_on(sts, password=WRONG)
    elif case == "missing table":
        options["table_name"] = "no_such_table"
    elif case == "bad query":
        options |= {
            "schema": None,
            "table_name": None,
            "source": {"query": "SELEC order_id FROM demo.orders"},
        }
    elif case == "server down":
        server = impala("127.0.0.1", free_port())
    resolved, secrets = plan(tmp_path, single_copy(server, "ParquetDataset", **options), run_id="bad")
    outcome = execute(resolved, secrets)
    s = outcome.summary
    assert s.status == "Failed"
    assert [e.code for e in s.errors] == [code]
    assert message in s.errors[0].message
    assert WRONG not in s.model_dump_json()
    assert outcome.exit_code == exit_code
    assert (s.rows_copied, s.files_written, s.output_paths) == (0, 0, [])
    assert {p.name: p.read_bytes() for p in output_files(tmp_path)} == before
    assert not (tmp_path / "volume" / "data" / "_temporary").exists()


def test_missing_secret_value_is_a_configuration_error(sts: StsServer, tmp_path: Path) -> None:
    resolved, _ = plan(tmp_path, single_copy(impala_on(sts), "ParquetDataset"))
    outcome = execute(resolved, {})
    assert [e.code for e in outcome.summary.errors] == ["SecretMissing"]
    assert "impala-login" in outcome.summary.errors[0].message
    assert outcome.exit_code == 2
    assert output_files(tmp_path) == []
