"""How a lookup sizes its fetches from the byte budget (engine/lookup.py: FetchPlanner, collect).

In:  results as Arrow tables behind a source that, like the HiveServer2 query with prefetch=0, reads
     `fetch_rows` and `max_response_bytes` as they stand when the next batch is asked for; narrow,
     wide and widening rows, a single row over the limit, a huge row past row 5000.
Out: the rows asked for in each fetch, the rows fetched in all, the replies refused, the output or
     ResultTooLarge with its message.
Faked: the server: the table stands in for a query's result (tests/integration/test_lookup_sts.py and
     test_lookup_engine_sts.py run the same code against the Spark Thrift Server).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from impala_copy.engine.lookup import (
    HARD_LIMIT_BYTES,
    MAX_ROWS,
    PROBE_ROWS,
    RESPONSE_SLACK_BYTES,
    FetchPlanner,
    ResultTooLarge,
    collect,
    dumps,
    value_width,
)
from impala_copy.engine.source.query import ResponseTooLarge


class SizedSource:
    """A finished query's result, handed out `fetch_rows` rows per fetch as the consumer sets it; a
    fetch whose Arrow size (about its size on the wire) exceeds `max_response_bytes` is refused, as a
    framed connection refuses the reply from its header."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.fetch_rows = 50_000
        self.max_response_bytes: int | None = None
        self.requests: list[int] = []
        self.refused: list[tuple[int, int]] = []
        self.rows_fetched = 0
        self.closed = False

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    def batches(self) -> Iterator[pa.RecordBatch]:
        while self.rows_fetched < self.table.num_rows:
            self.requests.append(self.fetch_rows)
            part = self.table.slice(self.rows_fetched, self.fetch_rows)
            if self.max_response_bytes is not None and part.nbytes > self.max_response_bytes:
                self.refused.append((part.nbytes, self.max_response_bytes))
                raise ResponseTooLarge(part.nbytes, self.max_response_bytes)
            self.rows_fetched += part.num_rows
            yield from part.to_batches()

    def close(self) -> None:
        self.closed = True


def strings(n: int, width: int) -> pa.Table:
    return pa.table({"id": pa.array(range(n), pa.int64()), "s": ["x" * width] * n})


def test_bounded_widths_come_from_the_schema() -> None:
    assert value_width(pa.int64()) == len(str(-(2**63)))
    assert value_width(pa.int32()) == len(str(-(2**31)))
    assert value_width(pa.bool_()) == len("false")
    assert value_width(pa.decimal128(10, 2)) == len('"-12345678.90"')
    assert value_width(pa.float64()) == len(dumps(-1.7976931348623157e308))
    assert value_width(pa.date32()) == len('"2024-02-29"')
    assert value_width(pa.timestamp("ns")) == len('"2024-02-29T12:34:56.123456789"')
    for unbounded in (pa.string(), pa.binary(), pa.list_(pa.int32()), pa.struct([("a", pa.int8())])):
        assert value_width(unbounded) is None


def test_the_first_fetch_of_a_result_with_strings_is_one_row() -> None:
    planner = FetchPlanner.for_schema(
        strings(1, 1).schema, ["id", "s"], limit_rows=MAX_ROWS, budget_bytes=HARD_LIMIT_BYTES
    )
    assert planner.schema_row_bytes is None
    assert planner.next_rows(0, 0) == PROBE_ROWS == 1
    planner.widest_row = 1000
    assert planner.next_rows(1, 1000) == (HARD_LIMIT_BYTES - 1000) // 1000
    planner.widest_row = 50_000  # a wider row later: the rest of the budget counted in the widest rows
    assert planner.next_rows(10, 60_000) == (HARD_LIMIT_BYTES - 60_000) // 50_000
    assert planner.next_rows(4990, HARD_LIMIT_BYTES - 500) == 1  # too little left for a row: one to see
    planner.widest_row = 10
    assert planner.next_rows(4000, 40_000) == 1000  # at most the rows the output still takes
    assert planner.next_rows(5000, 5000) == 1  # the row that tells truncation, on its own


def test_a_result_of_bounded_widths_is_fetched_at_once() -> None:
    source = SizedSource(pa.table({"id": pa.array(range(7000), pa.int64())}))
    result = collect(source, first_row_only=False)
    assert source.requests == [MAX_ROWS, 1]
    assert (result.rows, result.truncated) == (MAX_ROWS, True)
    assert source.rows_fetched == MAX_ROWS + 1


def test_narrow_strings_take_a_one_row_fetch_then_the_rest() -> None:
    source = SizedSource(strings(3000, 10))
    result = collect(source, first_row_only=False)
    assert source.requests == [1, MAX_ROWS - 1]
    assert (result.rows, result.truncated) == (3000, False)
    assert source.closed


def test_first_row_only_fetches_one_row() -> None:
    source = SizedSource(strings(100, 10))
    result = collect(source, first_row_only=True)
    assert source.requests == [1]
    assert result.output == {"firstRow": {"id": 0, "s": "x" * 10}}
    assert (source.rows_fetched, result.truncated) == (1, False)


def test_wide_rows_are_fetched_in_budget_sized_steps_and_stop_at_the_limit() -> None:
    width = 10_000  # 5000 rows would be 12x the budget
    source = SizedSource(strings(MAX_ROWS, width))
    with pytest.raises(ResultTooLarge) as info:
        collect(source, first_row_only=False)
    row_bytes = len(dumps({"id": 1, "s": "x" * width}).encode()) + 1
    assert source.requests[0] == 1
    assert source.requests[1] == (HARD_LIMIT_BYTES - row_bytes) // row_bytes
    # Nothing is asked for beyond what the budget holds, and one row more to see it overflow.
    assert max(source.requests) * row_bytes <= HARD_LIMIT_BYTES
    assert source.rows_fetched <= HARD_LIMIT_BYTES // row_bytes + 2
    assert "exceeds the 4 MiB limit" in info.value.message
    assert source.closed


def test_an_output_just_under_the_budget_is_complete() -> None:
    width = (HARD_LIMIT_BYTES - 2000) // 400 - len(dumps({"id": 100, "s": ""})) - 1
    source = SizedSource(strings(400, width))
    result = collect(source, first_row_only=False)
    assert (result.rows, result.truncated) == (400, False)
    assert result.size_bytes <= HARD_LIMIT_BYTES
    assert len(source.requests) == 2


def test_the_reply_limit_is_twice_the_budget_left_plus_slack() -> None:
    planner = FetchPlanner(limit_rows=MAX_ROWS + 1, budget_bytes=HARD_LIMIT_BYTES, schema_row_bytes=None)
    assert planner.max_response_bytes(0) == 2 * HARD_LIMIT_BYTES + RESPONSE_SLACK_BYTES
    planner.widest_row = 10_000
    assert planner.max_response_bytes(HARD_LIMIT_BYTES - 100) == 2 * 10_000 + RESPONSE_SLACK_BYTES


def test_rows_that_widen_sharply_are_refused_before_they_are_read() -> None:
    narrow = pa.table({"s": ["a"] * 10})
    wide = pa.table({"s": ["w" * 100_000] * 500})  # 50 MB after ten narrow rows
    source = SizedSource(pa.concat_tables([narrow, wide]))
    with pytest.raises(ResultTooLarge) as info:
        collect(source, first_row_only=False)
    assert source.requests == [1, MAX_ROWS - 1]
    assert len(source.refused) == 1
    assert source.rows_fetched == 1  # the wide rows were never taken
    assert info.value.message.startswith(
        f"the lookup output exceeds the 4 MiB limit (the server's reply for the next rows is "
        f"{source.refused[0][0]} bytes, after 1 rows and 10 bytes of JSON)"
    )


def test_a_single_row_over_the_limit_is_refused() -> None:
    source = SizedSource(pa.table({"s": ["x" * (9 * 1024 * 1024 + 1)]}))
    with pytest.raises(ResultTooLarge, match="the server's reply for the next rows is"):
        collect(source, first_row_only=True)
    assert source.rows_fetched == 0


def test_a_huge_row_past_the_limit_only_tells_truncation() -> None:
    rows = ["r"] * MAX_ROWS + ["x" * (9 * 1024 * 1024)]
    source = SizedSource(pa.table({"s": rows}))
    result = collect(source, first_row_only=False)
    assert (result.rows, result.truncated) == (MAX_ROWS, True)
    assert source.requests == [1, MAX_ROWS - 1, 1]
    assert len(source.refused) == 1
