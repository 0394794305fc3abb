"""The whole engine into PostgreSQL: the Spark Thrift Server (`sts`, a real HiveServer2) to a real PostgreSQL (`pg`).

In:  manifests a user would write (ImpalaLinkedService + Secret, ImpalaDataset on demo.all_types or a
     query on demo.orders, PostgreSqlLinkedService + Secret, PostgreSqlTableDataset, CopyActivity),
     resolved and run by `engine.run.execute` exactly as `impala-copy run` does.
Out: the RunSummary (ADF names: rowsRead, rowsCopied, rowsSkipped, skippedRowsLog, errors) and the
     table read back with psycopg, compared value by value with what the server holds; the column
     types autoCreate chose for every source type.
Faked: nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from devservers.postgres import PostgresServer
from devservers.sts import ALL_TYPES_EXPECTED, StsServer
from tests.integration.sink_cases import activity, impala_docs, plan_from, postgres_docs

from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK
from impala_copy.engine.run import execute

pytestmark = pytest.mark.integration

# The PostgreSQL type autoCreate gives each Impala type (through the Arrow type the source produces).
EXPECTED_TYPES = {
    "id": "integer",  # INT
    "c_boolean": "boolean",
    "c_tinyint": "smallint",  # PostgreSQL has no 1-byte integer
    "c_smallint": "smallint",
    "c_int": "integer",
    "c_bigint": "bigint",
    "c_float": "real",
    "c_double": "double precision",
    "c_decimal": "numeric(10,2)",
    "c_decimal38": "numeric(38,10)",
    "c_decimal_int": "numeric(9,0)",
    "c_string": "text",
    "c_varchar": "text",
    "c_char": "text",
    "c_timestamp": "timestamp without time zone",
    "c_date": "date",
    "c_binary": "bytea",
    "c_array": "text",  # complex types arrive as JSON text
    "c_map": "text",
    "c_struct": "text",
}


def fetch(pg: PostgresServer, db: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(pg.uri_for(db)) as conn:
        cur = conn.execute(query)
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def run(tmp_path: Path, sts: StsServer, docs: list[dict[str, Any]]) -> Any:
    plan, secrets = plan_from(tmp_path / uuid.uuid4().hex[:8], [*impala_docs(sts.host, sts.port), *docs])
    return execute(plan, secrets)


def test_all_types_autocreate_and_round_trip(
    tmp_path: Path, sts: StsServer, pg: PostgresServer, pg_database: str
) -> None:
    docs = [
        *postgres_docs(pg, pg_database, "all_types"),
        activity(
            "PostgreSqlTableDataset",
            {"type": "PostgreSqlSink", "tableOption": "autoCreate"},
            validateDataConsistency=True,
        ),
    ]
    outcome = run(tmp_path, sts, docs)
    summary = outcome.summary
    assert outcome.exit_code == EXIT_OK, summary.errors
    assert (summary.rows_read, summary.rows_copied, summary.rows_skipped) == (4, 4, 0)
    assert summary.consistency_verified is True
    assert summary.output_paths == [f"postgresql://{pg.host}:{pg.port}/{pg_database}/public.all_types"]
    types = fetch(
        pg,
        pg_database,
        "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
        "WHERE attrelid = 'public.all_types'::regclass AND attnum > 0 ORDER BY attnum",
    )
    assert {r["attname"]: r["type"] for r in types} == EXPECTED_TYPES
    # real is read as float8 (an exact widening), so the float32 value compares exactly
    columns = ", ".join("c_float::float8 AS c_float" if c == "c_float" else c for c in EXPECTED_TYPES)
    back = fetch(pg, pg_database, f"SELECT {columns} FROM all_types ORDER BY id")
    for row in back:
        row["c_binary"] = bytes(row["c_binary"]) if row["c_binary"] is not None else None
    assert back == [dict(r) for r in ALL_TYPES_EXPECTED]


def test_query_upsert_and_skipped_rows_in_the_summary(
    tmp_path: Path, sts: StsServer, pg: PostgresServer, pg_database: str
) -> None:
    with psycopg.connect(pg.uri_for(pg_database), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE orders (order_id bigint PRIMARY KEY, customer varchar(5), amount numeric(12,2))"
        )
        conn.execute("INSERT INTO orders VALUES (1, 'old', 0), (999999, 'keep', 1)")
    docs = [
        *postgres_docs(pg, pg_database, "orders"),
        activity(
            "PostgreSqlTableDataset",
            {"type": "PostgreSqlSink", "writeBehavior": "upsert", "upsertSettings": {"keys": ["order_id"]}},
            source={"query": "SELECT order_id, customer, amount FROM demo.orders WHERE order_id <= 100"},
            enableSkipIncompatibleRow=True,
        ),
    ]
    outcome = run(tmp_path, sts, docs)
    summary = outcome.summary
    assert outcome.exit_code == EXIT_OK, summary.errors
    loaded = fetch(pg, pg_database, "SELECT count(*) AS n FROM orders WHERE order_id <= 100")[0]["n"]
    assert summary.rows_read == 100
    assert summary.rows_copied == loaded
    assert summary.rows_read == summary.rows_copied + summary.rows_skipped
    assert summary.rows_skipped > 0  # customer names longer than 5 characters are rejected by varchar(5)
    assert summary.skipped_rows_log
    assert all("value too long for type character varying(5)" in line for line in summary.skipped_rows_log)
    assert fetch(pg, pg_database, "SELECT customer FROM orders WHERE order_id = 999999") == [
        {"customer": "keep"}
    ]
    # order 1 was updated (or skipped, when its customer is too long): never left as 'old' unless skipped
    first = fetch(pg, pg_database, "SELECT customer FROM orders WHERE order_id = 1")[0]["customer"]
    skipped_first = any(line.startswith("row 0:") for line in summary.skipped_rows_log)
    assert (first == "old") == skipped_first


def test_wrong_password_fails_the_run_with_a_configuration_exit(
    tmp_path: Path, sts: StsServer, pg: PostgresServer, pg_database: str
) -> None:
    wrong = "bad-" + uuid.uuid4().hex
    docs = [
        *postgres_docs(pg, pg_database, "x", password=wrong),
        activity("PostgreSqlTableDataset", {"type": "PostgreSqlSink", "tableOption": "autoCreate"}),
    ]
    outcome = run(tmp_path, sts, docs)
    assert outcome.exit_code == EXIT_CONFIGURATION
    [error] = outcome.summary.errors
    assert error.code == "SinkAuthenticationFailed"
    assert f"PostgreSQL server {pg.host}:{pg.port} (database '{pg_database}', user 'tester')" in error.message
    assert wrong not in outcome.summary.to_termination_message()
    assert outcome.summary.rows_read == 0  # the sink is checked before Impala is queried
