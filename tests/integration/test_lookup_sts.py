"""The Lookup engine against a real HiveServer2 (the Spark Thrift Server with sample data).

In:  LookupPlans (query or dataset table, firstRowOnly true/false) run by `engine.lookup.run_lookup`
     over the real adapter (engine/source/hs2.py) with alice's password checked by the server.
Out: ADF's output JSON, compared value by value (every type of demo.all_types through the documented
     mapping), the 5000-row truncation, the 4 MiB limit and the rows fetched to reach it, and the
     errors of a bad query.
Faked: nothing (the `sts` fixture is a real server on loopback).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from devservers.sts import ORDERS_ROWS, StsServer
from tests.integration.lookup_expected import ALL_TYPES_JSON
from tests.integration.source_helpers import SECRETS, connection

from impala_copy.api.plan import ImpalaConnection, LookupPlan, SourcePlan
from impala_copy.engine.errors import QueryFailed
from impala_copy.engine.lookup import HARD_LIMIT_BYTES, ResultTooLarge, dumps, lookup_sql, run_lookup


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
        plan(sts, "SELECT order_id, status FROM demo.orders WHERE order_id = 7", first_row_only=False),
        SECRETS,
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


class Recorder:
    """A connector for run_lookup that keeps the real sessions and queries, to look at them after."""

    def __init__(self) -> None:
        self.sessions: list[Any] = []
        self.queries: list[Any] = []

    def connect(self, conn: ImpalaConnection, secrets: Mapping[str, str]) -> Any:
        from impala_copy.engine.source.hs2 import connect

        session = connect(conn, secrets)
        self.sessions.append(session)
        query = session.query

        def recorded(sql: str, **options: Any) -> Any:
            self.queries.append(query(sql, **options))
            return self.queries[-1]

        session.query = recorded
        return session


def test_a_result_ten_times_the_limit_is_fetched_only_up_to_the_limit(sts: StsServer) -> None:
    """Each fetch asks for what the budget left holds: the rows fetched stop just past 4 MiB."""
    width = 10 * HARD_LIMIT_BYTES // ORDERS_ROWS
    query = f"SELECT 1000 + id AS id, repeat('x', {width}) AS filler FROM range(5000)"
    recorder = Recorder()
    with pytest.raises(ResultTooLarge):
        run_lookup(plan(sts, query, first_row_only=False), SECRETS, connect=recorder.connect)
    row_bytes = len(dumps({"id": 1000, "filler": "x" * width}).encode()) + 1
    (hs2_query,) = recorder.queries
    assert hs2_query.prefetch == 0
    assert hs2_query.fetch_calls == 3  # one row, then what the budget holds, then the row that overflows
    assert hs2_query.rows_fetched == HARD_LIMIT_BYTES // row_bytes + 1


def test_rows_that_widen_after_the_first_are_refused_before_they_are_read(sts: StsServer) -> None:
    """The second fetch (sized from a one-character row) would bring 40 MB: its reply is refused from
    the frame header, the connection is dropped, and the lookup fails with ResultTooLarge."""
    query = "SELECT CASE WHEN id = 0 THEN 'a' ELSE repeat('x', 20000) END AS s FROM range(2000)"
    recorder = Recorder()
    with pytest.raises(ResultTooLarge) as info:
        run_lookup(plan(sts, query, first_row_only=False), SECRETS, connect=recorder.connect)
    assert "the server's reply for the next rows is" in info.value.message
    assert "after 1 rows and 10 bytes of JSON" in info.value.message
    (hs2_query,) = recorder.queries
    assert (hs2_query.fetch_calls, hs2_query.rows_fetched) == (1, 1)
    assert not recorder.sessions[0].usable
