"""The Lookup engine against a real HiveServer2 (the Spark Thrift Server with sample data).

In:  LookupPlans (query or dataset table, firstRowOnly true/false) run by `engine.lookup.run_lookup`
     over the real adapter (engine/hs2.py) with alice's password checked by the server.
Out: ADF's output JSON, compared value by value (every type of demo.all_types through the documented
     mapping), the 5000-row truncation, the 4 MiB limit, and the errors of a bad query.
Faked: nothing (the `sts` fixture is a real server on loopback).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from devservers.sts import ORDERS_ROWS, StsServer

from impala_copy.api.plan import LookupPlan, SourcePlan
from impala_copy.engine.errors import QueryFailed
from impala_copy.engine.lookup import HARD_LIMIT_BYTES, ResultTooLarge, dumps, lookup_sql, run_lookup
from tests.integration.source_helpers import SECRETS, connection


def plan(
    server: StsServer,
    query: str | None = None,
    *,
    first_row_only: bool = True,
    table: str | None = None,
    columns: list[str] | None = None,
    timeout_seconds: int = 600,
) -> LookupPlan:
    source = SourcePlan(
        query=query, schema="demo" if table else None, table=table, columns=columns, query_timeout_seconds=300
    )
    return LookupPlan(
        activity="lookup-test",
        run_id="r1",
        impala=connection(server),
        source=source,
        first_row_only=first_row_only,
        timeout_seconds=timeout_seconds,
    )


def test_first_row_only_returns_the_first_row(sts: StsServer) -> None:
    result = run_lookup(
        plan(sts, "SELECT order_id, customer, amount, ordered_at FROM demo.orders ORDER BY order_id"), SECRETS
    )
    assert result.output == {
        "firstRow": {
            "order_id": 1,
            "customer": "Ana",
            "amount": "0.00",
            "ordered_at": "2024-01-01T00:00:00",
        }
    }
    assert (result.rows, result.truncated) == (1, False)


def test_first_row_only_of_an_aggregate(sts: StsServer) -> None:
    query = "SELECT max(order_id) AS high_watermark, count(*) AS orders FROM demo.orders"
    result = run_lookup(plan(sts, query), SECRETS)
    assert result.output == {"firstRow": {"high_watermark": ORDERS_ROWS, "orders": ORDERS_ROWS}}


def test_no_row_with_first_row_only_is_an_empty_output(sts: StsServer) -> None:
    result = run_lookup(plan(sts, "SELECT * FROM demo.empty_table"), SECRETS)
    assert result.output == {}
    assert result.rows == 0


def test_no_row_returns_count_zero(sts: StsServer) -> None:
    result = run_lookup(plan(sts, "SELECT * FROM demo.empty_table", first_row_only=False), SECRETS)
    assert result.output == {"count": 0, "value": []}


def test_one_row_returns_count_one(sts: StsServer) -> None:
    result = run_lookup(
        plan(sts, "SELECT order_id, status FROM demo.orders WHERE order_id = 7", first_row_only=False), SECRETS
    )
    assert result.output == {"count": 1, "value": [{"order_id": 7, "status": "shipped"}]}


def test_5001_rows_are_truncated_to_5000(sts: StsServer) -> None:
    result = run_lookup(plan(sts, "SELECT id FROM range(5001) ORDER BY id", first_row_only=False), SECRETS)
    assert (result.rows, result.truncated) == (5000, True)
    assert result.output["count"] == 5000
    assert [row["id"] for row in result.output["value"]] == list(range(5000))


def test_a_query_with_far_more_rows_stops_fetching_at_5001(sts: StsServer) -> None:
    result = run_lookup(plan(sts, "SELECT id FROM range(2000000)", first_row_only=False), SECRETS)
    assert (result.rows, result.truncated) == (5000, True)


def test_dataset_table_without_query_reads_with_a_limit(sts: StsServer) -> None:
    lookup = plan(sts, first_row_only=False, table="orders", columns=["order_id", "status"])
    assert lookup_sql(lookup) == "SELECT `order_id`, `status` FROM `demo`.`orders` LIMIT 5001"
    result = run_lookup(lookup, SECRETS)
    # demo.orders holds exactly 5000 rows: all of them, not truncated.
    assert (result.rows, result.truncated) == (ORDERS_ROWS, False)
    assert {row["order_id"] for row in result.output["value"]} == set(range(1, ORDERS_ROWS + 1))


def test_dataset_table_with_first_row_only_reads_one_row(sts: StsServer) -> None:
    lookup = plan(sts, table="orders", columns=["status"])
    assert lookup_sql(lookup).endswith(" LIMIT 1")
    assert run_lookup(lookup, SECRETS).rows == 1


# The documented JSON mapping (docs/lookup.md), written out for the rows of demo.all_types.
ALL_TYPES_JSON: list[dict[str, Any]] = [
    {
        "id": 1, "c_boolean": True, "c_tinyint": 1, "c_smallint": 300, "c_int": 70000, "c_bigint": 5000000000,
        "c_float": 1.5, "c_double": 3.141592653589793, "c_decimal": "12345678.90",
        "c_decimal38": "1234567890123456789012345678.0123456789", "c_decimal_int": "42",
        "c_string": "héllo wörld ✓ 日本語 🎉", "c_varchar": "varchar ü", "c_char": "ab   ",
        "c_timestamp": "2024-02-29T12:34:56.123456", "c_date": "2024-02-29", "c_binary": "AP8Q",
        "c_array": [1, 2, 3], "c_map": {"a": 1, "b": 2}, "c_struct": {"x": 1, "y": "z"},
    },
    {
        "id": 2, "c_boolean": False, "c_tinyint": -128, "c_smallint": -32768, "c_int": -2147483648,
        "c_bigint": -9223372036854775808, "c_float": -2.25, "c_double": -1.0e300, "c_decimal": "-99999999.99",
        "c_decimal38": "-9999999999999999999999999999.9999999999", "c_decimal_int": "-999999999",
        "c_string": "", "c_varchar": "x", "c_char": "abcde", "c_timestamp": "1900-01-01T00:00:00.000001",
        "c_date": "1900-01-01", "c_binary": "", "c_array": [], "c_map": {}, "c_struct": {"x": -1, "y": ""},
    },
    {"id": 3, **{c: None for c in (
        "c_boolean", "c_tinyint", "c_smallint", "c_int", "c_bigint", "c_float", "c_double", "c_decimal",
        "c_decimal38", "c_decimal_int", "c_string", "c_varchar", "c_char", "c_timestamp", "c_date", "c_binary",
        "c_array", "c_map", "c_struct")}},
    {
        "id": 4, "c_boolean": True, "c_tinyint": 127, "c_smallint": 32767, "c_int": 2147483647,
        "c_bigint": 9223372036854775807, "c_float": 3.4028234663852886e38, "c_double": 1.7976931348623157e308,
        "c_decimal": "0.01", "c_decimal38": "0.0000000001", "c_decimal_int": "0",
        "c_string": "line1\nline2\t\"quoted\" 'single' \\ back,comma;semi", "c_varchar": "ÅÄÖ", "c_char": "é    ",
        "c_timestamp": "2038-01-19T03:14:07.999999", "c_date": "9999-12-31", "c_binary": "3q2+7w==",
        "c_array": [None, 5], "c_map": {"k": None}, "c_struct": {"x": None, "y": "ü"},
    },
]  # fmt: skip


def test_every_type_maps_to_the_documented_json(sts: StsServer) -> None:
    result = run_lookup(plan(sts, "SELECT * FROM demo.all_types ORDER BY id", first_row_only=False), SECRETS)
    assert result.output["count"] == 4
    for got, want in zip(result.output["value"], ALL_TYPES_JSON, strict=True):
        assert got == want
    # What is stored is plain JSON that parses back to the same values.
    assert json.loads(result.to_json()) == {"count": 4, "value": ALL_TYPES_JSON}


def test_an_output_over_4_mib_fails_with_result_too_large(sts: StsServer) -> None:
    query = "SELECT id, repeat('x', 1000) AS filler FROM range(5000)"
    with pytest.raises(ResultTooLarge) as info:
        run_lookup(plan(sts, query, first_row_only=False), SECRETS)
    assert "exceeds the 4 MiB limit" in info.value.message
    assert "select fewer columns or rows, or use a CopyActivity" in info.value.message


def test_an_output_just_under_4_mib_is_returned(sts: StsServer) -> None:
    per_row = (HARD_LIMIT_BYTES - 1000) // 5000
    filler = per_row - len(dumps({"id": 1234, "filler": ""})) - 1
    query = f"SELECT 1000 + id AS id, repeat('y', {filler}) AS filler FROM range(5000)"
    result = run_lookup(plan(sts, query, first_row_only=False), SECRETS)
    assert (result.rows, result.truncated) == (5000, False)
    assert HARD_LIMIT_BYTES - 20_000 < result.size_bytes <= HARD_LIMIT_BYTES


def test_a_bad_query_fails_with_the_servers_reason(sts: StsServer) -> None:
    with pytest.raises(QueryFailed) as info:
        run_lookup(plan(sts, "SELECT no_such_column FROM demo.orders"), SECRETS)
    assert "no_such_column" in info.value.message
    assert "secret" not in info.value.message
