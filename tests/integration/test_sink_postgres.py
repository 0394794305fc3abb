"""The PostgreSQL sink against a real PostgreSQL 15 server (the `pg` fixture; `pg_tls` for TLS).

In:  manifests (PostgreSqlLinkedService, PostgreSqlTableDataset, CopyActivity with a PostgreSqlSink,
     the Secret) resolved like `impala-copy run` does; Arrow tables holding every type the source
     produces, streamed through the real sink by the engine's pipeline.
Out: rows and column types read back with psycopg; SinkResult counters; the errors the sink raises.
Faked: only the Impala side, an in-memory batch source (end-to-end runs through the Spark Thrift
     Server are in test_sink_postgres_engine.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from devservers.postgres import PostgresServer
from tests import session_password
from tests.fixtures.sinks import TlsPostgres
from tests.integration.sink_cases import activity, impala_docs, plan_from, postgres_docs, run_sink
from tests.unit.arrow_samples import ROWS, assert_rows_equal, numbered_table, sample_table

from impala_copy.engine.errors import (
    ConfigurationError,
    CopyError,
    SinkAuthenticationFailed,
    TableNotFound,
    TLSVerificationFailed,
)
from impala_copy.engine.sinks.postgresql import SinkDataRejected, create_sink

pytestmark = pytest.mark.integration


def sql(
    pg: PostgresServer, db: str, statement: str, params: tuple[Any, ...] | None = None
) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.uri_for(db), autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def rows_of(pg: PostgresServer, db: str, table: str, order: str = "1") -> list[dict[str, Any]]:
    with psycopg.connect(pg.uri_for(db)) as conn:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def column_types(pg: PostgresServer, db: str, table: str, schema: str = "public") -> dict[str, str]:
    rows = sql(
        pg,
        db,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table),
    )
    return dict(rows)


def pg_plan(
    tmp_path: Path,
    pg: PostgresServer,
    db: str,
    table: str,
    sink: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[Any, dict[str, str]]:
    schema = options.pop("schema", "public")
    password = options.pop("password", None)
    ssl = {k: options.pop(k) for k in ("ssl_mode", "ca_pem") if k in options}
    docs = [
        *impala_docs(),
        *postgres_docs(pg, db, table, schema=schema, password=password, **ssl),
        activity("PostgreSqlTableDataset", {"type": "PostgreSqlSink", **(sink or {})}, **options),
    ]
    return plan_from(tmp_path / uuid.uuid4().hex[:8], docs)


# ------------------------------------------------------------------------------------------ types


EXPECTED_AUTO_TYPES = {
    "id": "integer",
    "c_bool": "boolean",
    "c_tiny": "smallint",
    "c_big": "bigint",
    "c_float": "real",
    "c_double": "double precision",
    "c_dec": "numeric(18,4)",
    "c_dec38": "numeric(38,10)",
    "c_str": "text",
    "c_ts": "timestamp without time zone",
    "c_date": "date",
    "c_bin": "bytea",
    "c_json": "text",
}


def test_autocreate_maps_every_source_type_and_values_round_trip(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "all_types", {"tableOption": "autoCreate"})
    result = run_sink(plan, secrets, sample_table())
    assert result.rows_written == len(ROWS)
    assert result.rows_skipped == 0
    assert result.output_paths == [f"postgresql://{pg.host}:{pg.port}/{pg_database}/public.all_types"]
    assert column_types(pg, pg_database, "all_types") == EXPECTED_AUTO_TYPES
    back = rows_of(pg, pg_database, "all_types", "id")
    for row in back:  # bytea comes back as bytes, the float4 column as a Python float: as Arrow gives them
        row["c_bin"] = bytes(row["c_bin"]) if row["c_bin"] is not None else None
    assert_rows_equal(ROWS, back)


def test_autocreate_maps_the_other_arrow_types(tmp_path: Path, pg: PostgresServer, pg_database: str) -> None:
    table = pa.table(
        {
            "u8": pa.array([255], pa.uint8()),
            "u16": pa.array([65535], pa.uint16()),
            "u32": pa.array([4294967295], pa.uint32()),
            "u64": pa.array([18446744073709551615], pa.uint64()),
            "i16": pa.array([-32768], pa.int16()),
            "f16": pa.array([1.5], pa.float16()),
            "ts_ns": pa.array([1_700_000_000_123_456_789], pa.timestamp("ns")),
            "ts_tz": pa.array(
                [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC")
            ),
            "d64": pa.array([dt.date(2020, 5, 6)], pa.date64()),
            "t": pa.array([dt.time(1, 2, 3, 4)], pa.time64("us")),
            "dur": pa.array([dt.timedelta(seconds=90)], pa.duration("s")),
            "ls": pa.array(["large"], pa.large_string()),
            "dict": pa.array(["a"]).dictionary_encode(),
            "nulls": pa.array([None], pa.null()),
            "d256": pa.array([Decimal("1.5")], pa.decimal256(50, 2)),
        }
    )
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "other_types", {"tableOption": "autoCreate"})
    run_sink(plan, secrets, table, batch_rows=10)
    assert column_types(pg, pg_database, "other_types") == {
        "u8": "smallint",
        "u16": "integer",
        "u32": "bigint",
        "u64": "numeric(20,0)",
        "i16": "smallint",
        "f16": "real",
        "ts_ns": "timestamp without time zone",
        "ts_tz": "timestamp with time zone",
        "d64": "date",
        "t": "time without time zone",
        "dur": "interval",
        "ls": "text",
        "dict": "text",
        "nulls": "text",
        "d256": "numeric(50,2)",
    }
    [row] = rows_of(pg, pg_database, "other_types")
    assert row["u64"] == Decimal(18446744073709551615)
    assert row["ts_ns"] == dt.datetime(2023, 11, 14, 22, 13, 20, 123456)  # cut to microseconds
    assert row["ts_tz"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert row["dur"] == dt.timedelta(seconds=90)
    assert (row["f16"], row["dict"], row["nulls"], row["d256"]) == (1.5, "a", None, Decimal("1.50"))


def test_nested_types_are_refused_with_a_clear_error(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "nested", {"tableOption": "autoCreate"})
    with pytest.raises(ConfigurationError, match=r"column 'l' has Arrow type list<item: int64>.*JSON text"):
        run_sink(plan, secrets, pa.table({"l": pa.array([[1]])}))
    assert sql(pg, pg_database, "SELECT to_regclass('public.nested') IS NULL") == [(True,)]


def test_existing_table_with_other_types_gets_values_cast(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    """Columns are matched by name (any order, case-insensitively); text becomes integer, int32 bigint, etc."""
    sql(
        pg,
        pg_database,
        "CREATE TABLE cast_into (note text DEFAULT 'from default', \"Amount\" numeric(6,2), id bigint, "
        "code integer, flag varchar(5), day date)",
    )
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "code": pa.array(["17", "-3"]),
            "amount": pa.array([Decimal("12.345"), None], pa.decimal128(10, 3)),
            "flag": pa.array([True, False]),
            "day": pa.array([dt.datetime(2024, 5, 6, 7, 8), None], pa.timestamp("us")),
        }
    )
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "cast_into")
    result = run_sink(plan, secrets, table)
    assert result.rows_written == 2
    assert rows_of(pg, pg_database, "cast_into", "id") == [
        {
            "note": "from default",
            "Amount": Decimal("12.35"),
            "id": 1,
            "code": 17,
            "flag": "true",
            "day": dt.date(2024, 5, 6),
        },
        {"note": "from default", "Amount": None, "id": 2, "code": -3, "flag": "false", "day": None},
    ]


def test_quoted_identifiers(tmp_path: Path, pg: PostgresServer, pg_database: str) -> None:
    sql(pg, pg_database, 'CREATE SCHEMA "Sales Data"')
    table = pa.table(
        {'Order "Id"': pa.array([1, 2], pa.int64()), "select": ["a", "b"], "Mixed Case": [True, None]}
    )
    plan, secrets = pg_plan(
        tmp_path,
        pg,
        pg_database,
        'Order "Lines"; DROP TABLE x',
        {"tableOption": "autoCreate"},
        schema="Sales Data",
    )
    assert run_sink(plan, secrets, table).rows_written == 2
    assert column_types(pg, pg_database, 'Order "Lines"; DROP TABLE x', "Sales Data") == {
        'Order "Id"': "bigint",
        "select": "text",
        "Mixed Case": "boolean",
    }
    assert rows_of(pg, pg_database, '"Sales Data"."Order ""Lines""; DROP TABLE x"') == [
        {'Order "Id"': 1, "select": "a", "Mixed Case": True},
        {'Order "Id"': 2, "select": "b", "Mixed Case": None},
    ]


# ------------------------------------------------------------------------------------------ behaviour


def test_insert_appends_and_precopyscript_makes_a_rerun_replace(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "numbers", {"tableOption": "autoCreate"})
    run_sink(plan, secrets, numbered_table(10), batch_rows=3)
    run_sink(plan, secrets, numbered_table(10), batch_rows=3)
    assert sql(pg, pg_database, "SELECT count(*), count(DISTINCT n) FROM numbers") == [(20, 10)]
    plan, secrets = pg_plan(
        tmp_path, pg, pg_database, "numbers", {"preCopyScript": "DELETE FROM numbers WHERE n >= 0; SELECT 1"}
    )
    run_sink(plan, secrets, numbered_table(7), batch_rows=3)
    assert sql(pg, pg_database, "SELECT count(*), max(n) FROM numbers") == [(7, 6)]


def test_failed_run_leaves_the_table_exactly_as_before(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE kept (n bigint, s text)")
    sql(pg, pg_database, "INSERT INTO kept VALUES (100, 'old'), (101, 'old')")
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "kept", {"preCopyScript": "TRUNCATE kept"})
    with pytest.raises(RuntimeError, match="source broke"):
        run_sink(
            plan, secrets, numbered_table(10), batch_rows=3, fail_after=2
        )  # 6 rows loaded, then the source fails
    assert rows_of(pg, pg_database, "kept") == [{"n": 100, "s": "old"}, {"n": 101, "s": "old"}]
    # autoCreate inside the failed transaction leaves no table either
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "never", {"tableOption": "autoCreate"})
    with pytest.raises(RuntimeError):
        run_sink(plan, secrets, numbered_table(10), batch_rows=3, fail_after=2)
    assert sql(pg, pg_database, "SELECT to_regclass('public.never') IS NULL") == [(True,)]
    # no staging table or open transaction is left behind
    assert sql(
        pg, pg_database, "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
    ) == [(0,)]


def test_write_batch_size_sets_rows_per_bulk_load(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    """A statement trigger counts the bulk loads: 10 rows in units of 4 are 3 loads, whatever the batches."""
    sql(pg, pg_database, "CREATE TABLE batched (n bigint, s text); CREATE TABLE loads (at timestamptz)")
    sql(
        pg,
        pg_database,
        "CREATE FUNCTION count_load() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO loads VALUES (now()); RETURN NULL; END $$; "
        "CREATE TRIGGER per_load AFTER INSERT ON batched FOR EACH STATEMENT EXECUTE FUNCTION count_load()",
    )
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "batched", {"writeBatchSize": 4})
    result = run_sink(plan, secrets, numbered_table(10), batch_rows=3)
    assert result.rows_written == 10
    assert sql(pg, pg_database, "SELECT count(*) FROM loads") == [(3,)]
    assert sql(pg, pg_database, "SELECT count(*), sum(n) FROM batched") == [(10, 45)]


@pytest.mark.parametrize("unique_index", [True, False], ids=["on-conflict", "merge"])
def test_upsert_updates_existing_keys_and_inserts_new_ones(
    tmp_path: Path, pg: PostgresServer, pg_database: str, unique_index: bool
) -> None:
    sql(
        pg,
        pg_database,
        "CREATE TABLE people (region text, id integer, name text, score numeric(5,1), untouched text DEFAULT 'x')",
    )
    if unique_index:
        sql(pg, pg_database, "CREATE UNIQUE INDEX people_key ON people (id, region)")
    sql(
        pg,
        pg_database,
        "INSERT INTO people VALUES ('eu', 1, 'ann', 1.0, 'keep'), ('eu', 2, 'bob', 2.0, 'keep'), ('us', 1, 'cy', 3.0, 'keep')",
    )
    table = pa.table(
        {
            "id": pa.array([2, 3, 1, 3], pa.int32()),
            "region": ["eu", "eu", "us", "eu"],
            "name": ["bob2", "dan", "cy2", "dan-last"],  # key (3, eu) twice in one load: the last row wins
            "score": pa.array([Decimal("20.5"), Decimal("30"), None, Decimal("31")], pa.decimal128(5, 1)),
        }
    )
    plan, secrets = pg_plan(
        tmp_path,
        pg,
        pg_database,
        "people",
        {"writeBehavior": "upsert", "upsertSettings": {"keys": ["id", "region"]}},
    )
    result = run_sink(plan, secrets, table, batch_rows=4)
    assert result.rows_written == 4
    assert rows_of(pg, pg_database, "people", "region, id") == [
        {"region": "eu", "id": 1, "name": "ann", "score": Decimal("1.0"), "untouched": "keep"},
        {"region": "eu", "id": 2, "name": "bob2", "score": Decimal("20.5"), "untouched": "keep"},
        {"region": "eu", "id": 3, "name": "dan-last", "score": Decimal("31.0"), "untouched": "x"},
        {"region": "us", "id": 1, "name": "cy2", "score": None, "untouched": "keep"},
    ]
    # across loads, later rows update earlier ones
    run_sink(plan, secrets, table, batch_rows=1)
    assert sql(pg, pg_database, "SELECT count(*), max(name) FILTER (WHERE id = 3) FROM people") == [
        (4, "dan-last")
    ]


def test_upsert_keys_must_be_source_columns(tmp_path: Path, pg: PostgresServer, pg_database: str) -> None:
    sql(pg, pg_database, "CREATE TABLE keyed (n bigint, s text)")
    plan, secrets = pg_plan(
        tmp_path, pg, pg_database, "keyed", {"writeBehavior": "upsert", "upsertSettings": {"keys": ["nope"]}}
    )
    with pytest.raises(
        ConfigurationError, match=r"upsertSettings.keys \['nope'\] are not columns of the source"
    ):
        run_sink(plan, secrets, numbered_table(3))


# ------------------------------------------------------------------------------------------ incompatible rows


def _strict_table(pg: PostgresServer, db: str) -> None:
    sql(pg, db, "CREATE TABLE strict (n bigint PRIMARY KEY, s varchar(6) NOT NULL, CHECK (n <> 13))")
    sql(pg, db, "INSERT INTO strict VALUES (5, 'taken')")


STRICT_ROWS = pa.table(
    {
        "n": pa.array(range(20), pa.int64()),
        # row 3: too long; row 7: NULL into NOT NULL; row 5: duplicate key; row 13: check violated
        "s": [("much too long" if i == 3 else None if i == 7 else f"v{i}") for i in range(20)],
    }
)


def test_incompatible_rows_fail_the_run_unless_skipped(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    _strict_table(pg, pg_database)
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "strict")
    with pytest.raises(SinkDataRejected) as caught:
        run_sink(plan, secrets, STRICT_ROWS, batch_rows=20)
    assert "value too long for type character varying(6)" in caught.value.message
    assert "SQLSTATE 22001" in caught.value.message
    assert not caught.value.retryable
    assert sql(pg, pg_database, "SELECT n, s FROM strict") == [(5, "taken")]


def test_skipped_incompatible_rows_are_counted_and_logged(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    _strict_table(pg, pg_database)
    plan, secrets = pg_plan(
        tmp_path, pg, pg_database, "strict", enableSkipIncompatibleRow=True, validateDataConsistency=True
    )
    result = run_sink(plan, secrets, STRICT_ROWS, batch_rows=8)
    assert (result.rows_written, result.rows_skipped) == (16, 4)
    assert (
        result.rows_written + result.rows_skipped == STRICT_ROWS.num_rows
    )  # rowsRead == rowsCopied + rowsSkipped
    assert result.rows_verified == 16
    assert sql(pg, pg_database, "SELECT count(*) FROM strict") == [(17,)]
    assert sql(pg, pg_database, "SELECT n FROM strict WHERE n IN (3, 5, 7, 13) ORDER BY n") == [(5,)]
    log = result.skipped_rows
    assert [entry.split(":")[0] for entry in log] == ["row 3", "row 5", "row 7", "row 13"]
    assert "value too long for type character varying(6) (SQLSTATE 22001)" in log[0]
    assert '"s": "much too long"' in log[0]
    assert "duplicate key value violates unique constraint" in log[1]
    assert "23505" in log[1]
    assert "null value in column" in log[2]
    assert "23502" in log[2]
    assert "violates check constraint" in log[3]
    assert "23514" in log[3]


def test_skipped_row_log_is_bounded_and_hides_values_with_secure_output(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    sql(pg, pg_database, "CREATE TABLE tiny (n bigint, s varchar(1))")
    table = pa.table({"n": pa.array(range(50), pa.int64()), "s": ["toolong"] * 45 + ["a"] * 5})
    plan, secrets = pg_plan(
        tmp_path, pg, pg_database, "tiny", enableSkipIncompatibleRow=True, policy={"secureOutput": True}
    )
    result = run_sink(plan, secrets, table, batch_rows=50)
    assert (result.rows_written, result.rows_skipped) == (5, 45)
    assert len(result.skipped_rows) == 20
    assert all("toolong" not in entry and "values" not in entry for entry in result.skipped_rows)


# ------------------------------------------------------------------------------------------ connection errors


def test_wrong_password_names_the_store_never_the_secret(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    wrong = session_password.variant("Wr0ng-" + uuid.uuid4().hex)
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "x", password=wrong)
    with pytest.raises(SinkAuthenticationFailed) as caught:
        run_sink(plan, secrets, numbered_table(1))
    message = caught.value.message
    assert f"PostgreSQL server {pg.host}:{pg.port} (database '{pg_database}', user '{pg.user}')" in message
    assert 'password authentication failed for user "tester"' in message
    assert wrong not in message
    assert pg.password not in message


def test_missing_table_without_autocreate(tmp_path: Path, pg: PostgresServer, pg_database: str) -> None:
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "absent")
    with pytest.raises(
        TableNotFound, match=r'table "public"."absent" does not exist.*tableOption: autoCreate'
    ):
        run_sink(plan, secrets, numbered_table(1))


def test_unknown_database_and_unreachable_server(tmp_path: Path, pg: PostgresServer) -> None:
    plan, secrets = pg_plan(tmp_path, pg, "no_such_db", "x")
    with pytest.raises(ConfigurationError, match='database "no_such_db" does not exist'):
        run_sink(plan, secrets, numbered_table(1))


def test_a_value_over_a_server_limit_is_a_configuration_error(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    """An index entry over the server's limit (SQLSTATE 54000): the same row fails every retry alike."""
    import secrets as random_text

    sql(pg, pg_database, "CREATE TABLE wide (n bigint, s text)")
    sql(pg, pg_database, "CREATE UNIQUE INDEX wide_s ON wide (s)")
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "wide")
    table = pa.table({"n": pa.array([1], pa.int64()), "s": [random_text.token_hex(20_000)]})
    with pytest.raises(ConfigurationError) as caught:
        run_sink(plan, secrets, table)
    message = caught.value.message
    assert caught.value.retryable is False
    assert message.startswith(f'loading rows 0..0 into "public"."wide" on the PostgreSQL server {pg.host}:')
    assert "failed: index row requires 40016 bytes, maximum size is 8191 (SQLSTATE 54000)" in message
    assert message.endswith(
        "(SQLSTATE 54000); the data is over a limit of PostgreSQL (at most 1 GB per field value, about "
        "2.7 kB per btree index entry, 1600 columns per table; retrying cannot help)"
    )
    assert sql(pg, pg_database, "SELECT count(*) FROM wide") == [(0,)]


def test_tls_verify_full_with_the_ca(tmp_path: Path, pg_tls: TlsPostgres) -> None:
    pg = pg_tls.server
    plan, secrets = pg_plan(
        tmp_path,
        pg,
        "postgres",
        "over_tls",
        {"tableOption": "autoCreate"},
        ssl_mode="verify-full",
        ca_pem=pg_tls.ca_pem.read_text(),
    )
    assert run_sink(plan, secrets, numbered_table(5)).rows_written == 5
    assert sql(pg, "postgres", "SELECT count(*) FROM over_tls") == [(5,)]


def test_tls_with_an_untrusted_certificate_fails_clearly(
    tmp_path: Path, pg_tls: TlsPostgres, pg: PostgresServer
) -> None:
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    from tests.fixtures.sinks import make_self_signed

    wrong_ca, _ = make_self_signed(other_ca)
    plan, secrets = pg_plan(
        tmp_path, pg_tls.server, "postgres", "x", ssl_mode="verify-ca", ca_pem=wrong_ca.read_text()
    )
    with pytest.raises(TLSVerificationFailed, match="certificate verify failed"):
        run_sink(plan, secrets, numbered_table(1))
    # and sslMode require against a server without TLS
    plan, secrets = pg_plan(tmp_path, pg, "postgres", "x", ssl_mode="require")
    with pytest.raises(CopyError, match="server does not support SSL"):
        run_sink(plan, secrets, numbered_table(1))


def test_the_default_sslmode_verifies_the_server(
    tmp_path: Path, pg_tls: TlsPostgres, pg: PostgresServer
) -> None:
    """No sslMode: verify-full against the system's trusted CAs, which do not include the test CA."""
    plan, secrets = pg_plan(tmp_path, pg_tls.server, "postgres", "x", ssl_mode=None)
    sink = create_sink(plan, secrets)
    assert "sslmode=verify-full" in sink.uri()
    assert sink.uri().endswith("&sslrootcert=system")
    with pytest.raises(TLSVerificationFailed) as caught:
        run_sink(plan, secrets, numbered_table(1))
    assert caught.value.message.startswith(
        f"TLS verification of the PostgreSQL server {pg_tls.server.host}:{pg_tls.server.port} "
    )
    assert "certificate verify failed" in caught.value.message
    assert pg_tls.server.password not in caught.value.message
    plan, secrets = pg_plan(tmp_path, pg, "postgres", "x", ssl_mode=None)
    with pytest.raises(ConfigurationError) as caught:
        run_sink(plan, secrets, numbered_table(1))
    assert "(sslMode verify-full)" in caught.value.message
    assert "server does not support SSL" in caught.value.message


def test_precopyscript_cannot_end_the_load_transaction(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    """COMMIT in the script would publish the autoCreated table of a run that then fails."""
    sink = {"tableOption": "autoCreate", "preCopyScript": "TRUNCATE public.escaped"}
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "escaped", sink)
    # A plan that bypassed validation (the model rejects the script): the sink refuses it before it connects.
    plan.sink.sink.pre_copy_script = "TRUNCATE public.escaped; -- load\nCOMMIT"
    with pytest.raises(ConfigurationError) as caught:
        run_sink(plan, secrets, numbered_table(10), batch_rows=3, fail_after=2)
    assert caught.value.message.startswith("preCopyScript statement 2 (COMMIT) controls the transaction: ")
    assert sql(pg, pg_database, "SELECT to_regclass('public.escaped') IS NULL") == [(True,)]
    # In a DO block PostgreSQL itself refuses to end the transaction block; the whole run rolls back.
    sink["preCopyScript"] = "DO $$ BEGIN COMMIT; END $$"
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "escaped", sink)
    with pytest.raises(ConfigurationError) as caught:
        run_sink(plan, secrets, numbered_table(10), batch_rows=3)
    assert caught.value.message == (
        f"running preCopyScript on the PostgreSQL server {pg.host}:{pg.port} (database {pg_database!r}, "
        f"user {pg.user!r}) failed: invalid transaction termination (SQLSTATE 2D000)"
    )
    assert sql(pg, pg_database, "SELECT to_regclass('public.escaped') IS NULL") == [(True,)]


def test_precopyscript_runs_after_autocreate_in_the_same_transaction(
    tmp_path: Path, pg: PostgresServer, pg_database: str
) -> None:
    """On the first run the table autoCreate made is there for the script; a script may also create it."""
    sink = {"tableOption": "autoCreate", "preCopyScript": "TRUNCATE public.fresh"}
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "fresh", sink)
    run_sink(plan, secrets, numbered_table(4))
    run_sink(plan, secrets, numbered_table(3))
    assert sql(pg, pg_database, "SELECT count(*) FROM fresh") == [(3,)]
    script = {
        "preCopyScript": "CREATE TABLE IF NOT EXISTS made_by_script (n bigint, s text, note text DEFAULT 'x')"
    }
    plan, secrets = pg_plan(tmp_path, pg, pg_database, "made_by_script", script)
    run_sink(plan, secrets, numbered_table(2))
    assert sql(pg, pg_database, "SELECT n, s, note FROM made_by_script ORDER BY n") == [
        (0, "row-0", "x"),
        (1, "row-1", "x"),
    ]
