"""Arrow test data for the sink tests: a table with every type the source produces, and an in-memory BatchSource."""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa

SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("c_bool", pa.bool_()),
        ("c_tiny", pa.int8()),
        ("c_big", pa.int64()),
        ("c_float", pa.float32()),
        ("c_double", pa.float64()),
        ("c_dec", pa.decimal128(18, 4)),
        ("c_dec38", pa.decimal128(38, 10)),
        ("c_str", pa.string()),
        ("c_ts", pa.timestamp("us")),
        ("c_date", pa.date32()),
        ("c_bin", pa.binary()),
        ("c_json", pa.string()),  # a complex value, as the source renders it
    ]
)

ROWS: list[dict[str, Any]] = [
    {
        "id": 1, "c_bool": True, "c_tiny": -128, "c_big": 9223372036854775807, "c_float": 1.5,
        "c_double": 0.1, "c_dec": Decimal("12345678901234.5678"),
        "c_dec38": Decimal("1234567890123456789012345678.0123456789"),
        "c_str": "héllo wörld ✓ 日本語 🎉", "c_ts": dt.datetime(2024, 2, 29, 12, 34, 56, 123456),
        "c_date": dt.date(2024, 2, 29), "c_bin": b"\x00\xff\x10", "c_json": '{"x":1,"y":"z"}',
    },
    {
        "id": 2, "c_bool": False, "c_tiny": 127, "c_big": -9223372036854775808, "c_float": -2.25,
        "c_double": -1.0e300, "c_dec": Decimal("-0.0001"), "c_dec38": Decimal("-0.0000000001"),
        "c_str": "", "c_ts": dt.datetime(1900, 1, 1, 0, 0, 0, 1), "c_date": dt.date(1900, 1, 1),
        "c_bin": b"", "c_json": "[]",
    },
    {"id": 3, **dict.fromkeys(SCHEMA.names[1:])},
    {
        "id": 4, "c_bool": True, "c_tiny": 0, "c_big": 0, "c_float": float("inf"), "c_double": float("nan"),
        "c_dec": Decimal("0.0000"), "c_dec38": Decimal("0E-10"),
        "c_str": 'line1\nline2\r\t"quoted" \'single\' \\ back,comma;semi|pipe \x01 NULL',
        "c_ts": dt.datetime(2038, 1, 19, 3, 14, 7, 999999), "c_date": dt.date(9999, 12, 31),
        "c_bin": b"\xde\xad\xbe\xef", "c_json": '{"k":null}',
    },
    {
        "id": 5, "c_bool": None, "c_tiny": 1, "c_big": 42, "c_float": float("-inf"), "c_double": 1e20,
        "c_dec": Decimal("1.2000"), "c_dec38": Decimal("1.0000000000"), "c_str": "NULL",
        "c_ts": dt.datetime(1970, 1, 1), "c_date": dt.date(1970, 1, 1), "c_bin": b"a", "c_json": "null",
    },
]  # fmt: skip


def sample_table() -> pa.Table:
    return pa.Table.from_pylist(ROWS, schema=SCHEMA)


def numbered_table(rows: int) -> pa.Table:
    return pa.table(
        {
            "n": pa.array(range(rows), pa.int64()),
            "s": pa.array([f"row-{i}" for i in range(rows)], pa.string()),
        }
    )


class MemorySource:
    """A BatchSource over a table: `fail_after` batches then an error, `delay` seconds per batch."""

    def __init__(
        self,
        table: pa.Table,
        *,
        batch_rows: int = 2,
        fail_after: int | None = None,
        error: BaseException | None = None,
        delay: float = 0.0,
    ) -> None:
        self._table = table
        self._batch_rows = batch_rows
        self._fail_after = fail_after
        self._error = error or RuntimeError("source broke")
        self._delay = delay
        self.closed = False

    @property
    def schema(self) -> pa.Schema:
        return self._table.schema

    def batches(self) -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(self._table.to_batches(max_chunksize=self._batch_rows)):
            if self._fail_after is not None and i >= self._fail_after:
                raise self._error
            if self._delay:
                time.sleep(self._delay)
            yield batch

    def close(self) -> None:
        self.closed = True


# ------------------------------------------------------------------------------------------ reading back


def from_text(typ: pa.DataType, text: str | None) -> Any:
    """A value written by the text formats, back as the Python value Arrow would give."""
    if text is None:
        return None
    if pa.types.is_boolean(typ):
        return {"true": True, "false": False}[text]
    if pa.types.is_integer(typ):
        return int(text)
    if pa.types.is_floating(typ):
        value = float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(text, text))
        return _float32(value) if typ == pa.float32() else value
    if pa.types.is_decimal(typ):
        return Decimal(text)
    if pa.types.is_timestamp(typ):
        assert "T" in text
        return dt.datetime.fromisoformat(text)
    if pa.types.is_date(typ):
        return dt.date.fromisoformat(text)
    if pa.types.is_binary(typ):
        return base64.b64decode(text, validate=True)
    return text


def from_json(typ: pa.DataType, value: Any) -> Any:
    if value is None:
        return None
    if pa.types.is_floating(typ) and isinstance(value, str):
        return from_text(typ, value)
    if pa.types.is_floating(typ):
        return _float32(float(value)) if typ == pa.float32() else float(value)
    if pa.types.is_decimal(typ):
        # A JSON number with the exact digits (an integer when the scale is 0).
        assert isinstance(value, Decimal) or (isinstance(value, int) and typ.scale == 0), value
        return Decimal(value)
    if isinstance(value, str):
        return from_text(typ, value)
    return value


def _float32(value: float) -> float:
    """The float32 nearest to `value` (the shortest text of a float32 reads back as this)."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) and expected != expected:
        return isinstance(actual, float) and actual != actual
    return bool(expected == actual) and type(expected) is type(actual)


def assert_rows_equal(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected)
    for e, a in zip(expected, actual, strict=True):
        assert list(a) == list(e)
        bad = {k: (e[k], a[k]) for k in e if not same(e[k], a[k])}
        assert not bad, f"row {e.get('id')}: {bad}"


def json_rows(text: str) -> list[dict[str, Any]]:
    assert text == "" or text.endswith("\n")
    return [json.loads(line, parse_float=Decimal) for line in text.split("\n")[:-1]]
