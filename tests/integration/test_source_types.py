"""Every HiveServer2 type arrives in Arrow with the values the server holds.

In:  the seeded `sts` server (demo.all_types, demo.orders, demo.empty_table), our hs2 adapter.
Out: Arrow schemas (types and the `hs2_type` metadata) and values compared one by one with the rows
     the dev server inserted (NULLs, unicode, negative/large decimals, microsecond timestamps,
     complex types as JSON text); table reads vs queries; empty results; batching and early close;
     a value over thrift's 16 MB limit (a configuration error naming the limit).
Faked: nothing (a real Spark Thrift Server).
"""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from devservers.sts import ALL_TYPES_COLUMNS, ALL_TYPES_EXPECTED, ORDERS_COLUMNS, ORDERS_ROWS, orders_row
from tests.integration.source_helpers import SECRETS, connection

from impala_copy.api.plan import SourcePlan
from impala_copy.engine.source.hs2 import connect
from impala_copy.engine.source.sql import build_select

EXPECTED_TYPES = {
    "id": pa.int32(),
    "c_boolean": pa.bool_(),
    "c_tinyint": pa.int8(),
    "c_smallint": pa.int16(),
    "c_int": pa.int32(),
    "c_bigint": pa.int64(),
    "c_float": pa.float32(),
    "c_double": pa.float64(),
    "c_decimal": pa.decimal128(10, 2),
    "c_decimal38": pa.decimal128(38, 10),
    "c_decimal_int": pa.decimal128(9, 0),
    "c_string": pa.string(),
    "c_varchar": pa.string(),
    "c_char": pa.string(),
    "c_timestamp": pa.timestamp("us"),
    "c_date": pa.date32(),
    "c_binary": pa.binary(),
    "c_array": pa.string(),
    "c_map": pa.string(),
    "c_struct": pa.string(),
}
EXPECTED_HS2_TYPES = {
    "c_decimal38": "DECIMAL(38,10)",
    "c_varchar": "VARCHAR(20)",
    "c_char": "CHAR(5)",
    "c_array": "ARRAY",
    "c_map": "MAP",
    "c_struct": "STRUCT",
    "c_timestamp": "TIMESTAMP",
}


def _read(server, sql, **kwargs) -> pa.Table:
    with connect(connection(server), SECRETS) as session:
        source = session.query(sql, timeout_seconds=120, **kwargs)
        try:
            return pa.Table.from_batches(list(source.batches()), schema=source.schema)
        finally:
            source.close()


def test_every_type_maps_to_its_arrow_type(sts):
    table = _read(sts, "SELECT * FROM demo.all_types ORDER BY id")
    assert table.schema.names == list(ALL_TYPES_COLUMNS)
    assert {f.name: f.type for f in table.schema} == EXPECTED_TYPES
    for name, hs2_type in EXPECTED_HS2_TYPES.items():
        assert table.schema.field(name).metadata[b"hs2_type"] == hs2_type.encode()


def test_every_value_round_trips(sts):
    rows = _read(sts, "SELECT * FROM demo.all_types ORDER BY id").to_pylist()
    assert len(rows) == len(ALL_TYPES_EXPECTED)
    for got, expected in zip(rows, ALL_TYPES_EXPECTED, strict=True):
        for column in ALL_TYPES_COLUMNS:
            assert got[column] == expected[column], f"row {expected['id']} column {column}"


def test_nulls_are_nulls_in_every_column(sts):
    table = _read(sts, "SELECT * FROM demo.all_types WHERE id = 3")
    assert table.num_rows == 1
    assert all(table.column(c).null_count == 1 for c in ALL_TYPES_COLUMNS[1:])


def test_special_floating_point_values(sts):
    table = _read(
        sts,
        "SELECT CAST('NaN' AS DOUBLE) AS nan, CAST('Infinity' AS DOUBLE) AS inf, "
        "CAST('-Infinity' AS FLOAT) AS ninf, CAST(-0.0 AS DOUBLE) AS nzero",
    )
    row = table.to_pylist()[0]
    assert math.isnan(row["nan"])
    assert row["inf"] == math.inf
    assert row["ninf"] == -math.inf
    assert table.schema.field("ninf").type == pa.float32()


def test_table_read_by_name_and_columns(sts):
    plan = SourcePlan.model_validate(
        {"schema": "demo", "table": "orders", "columns": ["order_id", "customer"]}
    )
    sql = build_select(plan)
    assert sql == "SELECT `order_id`, `customer` FROM `demo`.`orders`"
    table = _read(sts, sql)
    assert table.schema.names == ["order_id", "customer"]
    assert table.num_rows == ORDERS_ROWS
    by_id = dict(zip(table.column("order_id").to_pylist(), table.column("customer").to_pylist(), strict=True))
    assert by_id[1] == orders_row(1)["customer"]
    assert by_id[ORDERS_ROWS] == orders_row(ORDERS_ROWS)["customer"]


def test_whole_table_in_several_batches_with_prefetch(sts):
    sql = build_select(SourcePlan.model_validate({"schema": "demo", "table": "orders"}))
    with connect(connection(sts), SECRETS) as session:
        source = session.query(sql, timeout_seconds=120, batch_rows=700, prefetch=2)
        batches = list(source.batches())
        source.close()
    assert [b.num_rows for b in batches[:-1]] == [700] * (len(batches) - 1)
    assert sum(b.num_rows for b in batches) == ORDERS_ROWS
    rows = sorted(pa.Table.from_batches(batches).to_pylist(), key=lambda r: r["order_id"])
    assert rows == [orders_row(i) for i in range(1, ORDERS_ROWS + 1)]
    assert list(rows[0]) == list(ORDERS_COLUMNS)


def test_query_instead_of_table(sts):
    plan = SourcePlan.model_validate(
        {"query": "SELECT status, count(*) AS n FROM demo.orders GROUP BY status ORDER BY status;\n"}
    )
    table = _read(sts, build_select(plan))
    assert table.to_pylist() == [
        {"status": "cancelled", "n": ORDERS_ROWS // 4},
        {"status": "new", "n": ORDERS_ROWS // 4},
        {"status": "paid", "n": ORDERS_ROWS // 4},
        {"status": "shipped", "n": ORDERS_ROWS // 4},
    ]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_empty_table_gives_schema_and_no_rows(sts, prefetch):
    with connect(connection(sts), SECRETS) as session:
        source = session.query("SELECT * FROM `demo`.`empty_table`", timeout_seconds=60, prefetch=prefetch)
        batches = list(source.batches())
        source.close()
    assert sum(b.num_rows for b in batches) == 0
    assert source.schema.names == ["id", "name", "amount", "created"]
    assert source.schema.field("amount").type == pa.decimal128(10, 2)
    assert source.schema.field("created").type == pa.timestamp("us")


@pytest.mark.parametrize("prefetch", [0, 2])
def test_closing_mid_way_leaves_the_session_usable(sts, prefetch):
    with connect(connection(sts), SECRETS) as session:
        source = session.query(
            "SELECT * FROM demo.orders", timeout_seconds=60, batch_rows=500, prefetch=prefetch
        )
        first = next(iter(source.batches()))
        source.close()
        assert first.num_rows == 500
        again = session.query("SELECT count(*) AS n FROM demo.orders", timeout_seconds=60)
        assert [b.to_pylist() for b in again.batches()] == [[{"n": ORDERS_ROWS}]]
        again.close()
        assert session.ping() > 0


def test_a_result_can_be_read_once(sts):
    with connect(connection(sts), SECRETS) as session:
        source = session.query("SELECT 1 AS x", timeout_seconds=60)
        assert [b.to_pylist() for b in source.batches()] == [[{"x": 1}]]
        with pytest.raises(Exception, match="read only once"):
            list(source.batches())
        source.close()


@pytest.mark.parametrize("prefetch", [0, 1])
def test_a_value_over_thrifts_16_mb_limit_fails_for_good_naming_the_limit(sts, prefetch):
    from impala_copy.engine.errors import ConfigurationError

    with connect(connection(sts), SECRETS) as session:
        source = session.query("SELECT repeat('x', 17000000) AS big", timeout_seconds=120, prefetch=prefetch)
        with pytest.raises(ConfigurationError) as caught:
            list(source.batches())
        source.close()
    assert caught.value.retryable is False
    assert caught.value.message == (
        f"127.0.0.1:{sts.port} sent a value while fetching results, over the client's limit of 16384000 "
        "bytes (16.384 MB); a single value that large cannot be read: leave the column out or cut it in "
        "the query (e.g. substr)"
    )
