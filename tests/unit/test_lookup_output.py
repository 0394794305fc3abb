"""The Lookup output built from Arrow batches: ADF's shapes, the row and size limits, the JSON mapping.

In: Arrow record batches built here (the shape the HiveServer2 source yields). Out: ADF's output
({firstRow} or {count, value}), the truncation flag and sizes. Nothing is faked but the server: the
batches stand in for a query's result (the same code runs against the Spark Thrift Server in
tests/integration/test_lookup_sts.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pytest

from impala_copy.engine.lookup import (
    HARD_LIMIT_BYTES,
    MAX_ROWS,
    ResultTooLarge,
    collect,
    dumps,
    json_value,
    unique_names,
)


class Batches:
    """A finished query's result as Arrow batches; records whether it was closed."""

    def __init__(self, table: pa.Table, batch_rows: int = 1000) -> None:
        self.table = table
        self.batch_rows = batch_rows
        self.closed = False
        self.batches_read = 0

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    def batches(self) -> Iterator[pa.RecordBatch]:
        for batch in self.table.to_batches(max_chunksize=self.batch_rows):
            self.batches_read += 1
            yield batch

    def close(self) -> None:
        self.closed = True


def ids(n: int) -> pa.Table:
    return pa.table(
        {"id": pa.array(range(1, n + 1), pa.int64()), "name": [f"row {i}" for i in range(1, n + 1)]}
    )


def test_first_row_only_returns_the_first_row_as_an_object() -> None:
    source = Batches(ids(3))
    result = collect(source, first_row_only=True)
    assert result.output == {"firstRow": {"id": 1, "name": "row 1"}}
    assert (result.rows, result.truncated) == (1, False)
    assert result.size_bytes == len(b'{"firstRow":{"id":1,"name":"row 1"}}')
    assert source.closed


def test_first_row_only_with_no_row_is_an_empty_output() -> None:
    result = collect(Batches(ids(0)), first_row_only=True)
    assert result.output == {}
    assert result.rows == 0


def test_all_rows_returns_count_and_value() -> None:
    result = collect(Batches(ids(2)), first_row_only=False)
    assert result.output == {"count": 2, "value": [{"id": 1, "name": "row 1"}, {"id": 2, "name": "row 2"}]}
    assert result.to_json() == '{"count":2,"value":[{"id":1,"name":"row 1"},{"id":2,"name":"row 2"}]}'


def test_zero_rows_returns_count_zero_and_an_empty_list() -> None:
    result = collect(Batches(ids(0)), first_row_only=False)
    assert result.output == {"count": 0, "value": []}
    assert not result.truncated


def test_exactly_5000_rows_is_not_truncated() -> None:
    result = collect(Batches(ids(MAX_ROWS)), first_row_only=False)
    assert (result.rows, result.truncated, result.output["count"]) == (5000, False, 5000)


def test_5001_rows_are_truncated_to_5000_and_the_rest_is_not_fetched() -> None:
    source = Batches(ids(20_000), batch_rows=MAX_ROWS + 1)
    result = collect(source, first_row_only=False)
    assert (result.rows, result.truncated) == (5000, True)
    assert result.output["count"] == 5000
    assert result.output["value"][-1] == {"id": 5000, "name": "row 5000"}
    assert source.batches_read == 1
    assert source.closed


def test_output_over_the_hard_limit_fails_with_a_clear_error_and_stops_fetching() -> None:
    big = pa.table({"s": ["x" * 1000] * MAX_ROWS})  # about 5 MB of JSON
    source = Batches(big, batch_rows=100)
    with pytest.raises(
        ResultTooLarge, match=r"exceeds the 4 MiB limit .* select fewer columns or rows"
    ) as info:
        collect(source, first_row_only=False)
    assert info.value.code == "ResultTooLarge"
    assert not info.value.retryable
    assert source.batches_read < 50  # stopped near 4 MiB, did not read all 5 MB
    assert source.closed


def test_an_output_just_under_the_hard_limit_is_returned() -> None:
    per_row = (HARD_LIMIT_BYTES - 100) // MAX_ROWS  # bytes of one row in the JSON, with its comma
    text = "x" * (per_row - len(dumps({"s": ""})) - 1)
    result = collect(Batches(pa.table({"s": [text] * MAX_ROWS})), first_row_only=False)
    assert (result.rows, result.truncated) == (MAX_ROWS, False)
    assert HARD_LIMIT_BYTES - 10_000 < result.size_bytes <= HARD_LIMIT_BYTES


def test_repeated_column_names_keep_every_value() -> None:
    assert unique_names(["a", "a", "b", "a", "a_2"]) == ["a", "a_3", "b", "a_4", "a_2"]
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    assert collect(Batches(table), first_row_only=True).output == {"firstRow": {"x": 1, "x_2": 2}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (-9223372036854775808, -9223372036854775808),
        (1.5, 1.5),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (Decimal("12345678.90"), "12345678.90"),
        (Decimal("0E-10"), "0.0000000000"),
        (Decimal("-9999999999999999999999999999.9999999999"), "-9999999999999999999999999999.9999999999"),
        ("héllo ✓", "héllo ✓"),
        (dt.datetime(2024, 2, 29, 12, 34, 56, 123456), "2024-02-29T12:34:56.123456"),
        (dt.datetime(2024, 2, 29, 12, 34, 56), "2024-02-29T12:34:56"),
        (dt.date(9999, 12, 31), "9999-12-31"),
        (b"\x00\xff\x10", "AP8Q"),
        (b"", ""),
        ([1, None, 3], [1, None, 3]),
        ([("a", 1), ("b", None)], {"a": 1, "b": None}),
        ({"x": Decimal("1.50"), "y": b"\x01"}, {"x": "1.50", "y": "AQ=="}),
    ],
)
def test_json_mapping_of_each_value_type(value: object, expected: object) -> None:
    assert json_value(value) == expected


def test_arrow_types_map_through_the_documented_json() -> None:
    table = pa.table(
        {
            "b": pa.array([True], pa.bool_()),
            "i8": pa.array([-128], pa.int8()),
            "i64": pa.array([9223372036854775807], pa.int64()),
            "f32": pa.array([1.5], pa.float32()),
            "dec": pa.array([Decimal("0.01")], pa.decimal128(38, 10)),
            "s": pa.array(["ü"], pa.string()),
            "ts": pa.array([dt.datetime(1900, 1, 1, 0, 0, 0, 1)], pa.timestamp("us")),
            "ts_ns": pa.array([1], pa.timestamp("ns")),
            "d": pa.array([dt.date(2024, 2, 29)], pa.date32()),
            "bin": pa.array([b"\xde\xad\xbe\xef"], pa.binary()),
            "arr": pa.array([[1, 2]], pa.list_(pa.int32())),
            "map": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int32())),
            "st": pa.array([{"x": 1, "y": "z"}], pa.struct([("x", pa.int32()), ("y", pa.string())])),
            "nul": pa.array([None], pa.null()),
        }
    )
    row = collect(Batches(table), first_row_only=True).output["firstRow"]
    assert row == {
        "b": True,
        "i8": -128,
        "i64": 9223372036854775807,
        "f32": 1.5,
        "dec": "0.0100000000",
        "s": "ü",
        "ts": "1900-01-01T00:00:00.000001",
        "ts_ns": "1970-01-01T00:00:00.000000001",
        "d": "2024-02-29",
        "bin": "3q2+7w==",
        "arr": [1, 2],
        "map": {"k": 1},
        "st": {"x": 1, "y": "z"},
        "nul": None,
    }
    # Big integers are written exactly (JSON readers that use doubles may round them: see docs/lookup.md).
    assert '"i64":9223372036854775807' in dumps(row)


def test_complex_values_reported_as_json_text_become_nested_json() -> None:
    field = pa.field("c_map", pa.string(), metadata={b"hs2_type": b"MAP"})
    table = pa.Table.from_arrays([pa.array(['{"a":1,"b":2}', None, "not json"])], schema=pa.schema([field]))
    result = collect(Batches(table), first_row_only=False)
    assert [r["c_map"] for r in result.output["value"]] == [{"a": 1, "b": 2}, None, "not json"]


def test_output_json_is_compact_utf8_and_its_size_is_exact() -> None:
    result = collect(Batches(pa.table({"s": ["日本語"]})), first_row_only=False)
    text = result.to_json()
    assert text == '{"count":1,"value":[{"s":"日本語"}]}'
    assert result.size_bytes == len(text.encode("utf-8"))
    assert json.loads(text) == result.output
