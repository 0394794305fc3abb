"""HS2 columnar blocks -> Arrow arrays, without a server.

In:  TRowSet/TColumn objects built with impyla's generated thrift classes, shaped like what servers send
     (null bitmaps, short bitmaps, nanosecond timestamps, invalid UTF-8, exponent decimals).
Out: Arrow arrays and schemas compared value by value; ConversionError messages. Faked: the server.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from impala._thrift_gen.TCLIService.ttypes import (
    TBinaryColumn,
    TBoolColumn,
    TByteColumn,
    TColumn,
    TColumnDesc,
    TDoubleColumn,
    TI16Column,
    TI32Column,
    TI64Column,
    TPrimitiveTypeEntry,
    TRowSet,
    TStringColumn,
    TTableSchema,
    TTypeDesc,
    TTypeEntry,
    TTypeQualifiers,
    TTypeQualifierValue,
)

from impala_copy.engine.source.arrow_types import (
    ConversionError,
    arrow_schema,
    column_spec,
    column_specs,
    null_mask,
    rowset_to_batch,
)


def _bitmap(nulls: list[bool]) -> bytes:
    out = bytearray((len(nulls) + 7) // 8)
    for i, is_null in enumerate(nulls):
        if is_null:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _convert(hs2_type: str, member: str, cls, values, nulls=None):
    spec = column_spec("c", hs2_type)
    column = TColumn(**{member: cls(values=values, nulls=_bitmap(nulls or [False] * len(values)))})
    return rowset_to_batch(
        TRowSet(startRowOffset=0, rows=[], columns=[column]), [spec], arrow_schema([spec])
    )[0]


def test_null_mask_reads_lsb_first_and_pads_short_bitmaps():
    assert null_mask(b"\x00\x00", 10) is None
    assert null_mask(b"\x05", 4).tolist() == [True, False, True, False]
    # a server may omit trailing zero bytes: rows past the bitmap are not NULL
    assert null_mask(b"\x80", 12).tolist() == [False] * 7 + [True] + [False] * 4


@pytest.mark.parametrize(
    ("hs2_type", "member", "cls", "values", "arrow_type"),
    [
        ("BOOLEAN", "boolVal", TBoolColumn, [True, False, True], pa.bool_()),
        ("TINYINT", "byteVal", TByteColumn, [-128, 0, 127], pa.int8()),
        ("SMALLINT", "i16Val", TI16Column, [-32768, 1, 32767], pa.int16()),
        ("INT", "i32Val", TI32Column, [-(2**31), 2, 2**31 - 1], pa.int32()),
        ("BIGINT", "i64Val", TI64Column, [-(2**63), 3, 2**63 - 1], pa.int64()),
        ("DOUBLE", "doubleVal", TDoubleColumn, [-1.5e300, 0.0, 2.5], pa.float64()),
    ],
)
def test_fixed_width_types_keep_values_and_nulls(hs2_type, member, cls, values, arrow_type):
    array = _convert(hs2_type, member, cls, values, [False, True, False])
    assert array.type == arrow_type
    assert array.to_pylist() == [values[0], None, values[2]]


def test_float_becomes_float32():
    array = _convert("FLOAT", "doubleVal", TDoubleColumn, [1.5, 3.4028234663852886e38])
    assert array.type == pa.float32()
    assert array.to_pylist() == [1.5, 3.4028234663852886e38]


def test_text_types_decode_utf8_and_replace_invalid_bytes():
    array = _convert(
        "STRING", "stringVal", TStringColumn, ["ünï".encode(), b"", b"bad \xff byte"], [False, False, False]
    )
    assert array.type == pa.string()
    assert array.to_pylist() == ["ünï", "", "bad \ufffd byte"]


def test_decimal_fast_path_and_exponent_fallback():
    array = _convert(
        "DECIMAL(38,10)",
        "stringVal",
        TStringColumn,
        [b"-9999999999999999999999999999.9999999999", b"1E-10", b"0"],
    )
    assert array.type == pa.decimal128(38, 10)
    assert array.to_pylist() == [
        Decimal("-9999999999999999999999999999.9999999999"),
        Decimal("1E-10"),
        Decimal(0),
    ]


def test_decimal_wider_than_38_digits_uses_decimal256():
    assert column_spec("c", "DECIMAL(40,2)").field.type == pa.decimal256(40, 2)


def test_timestamp_keeps_microseconds_and_truncates_nanoseconds():
    values = [b"2024-02-29 12:34:56.123456789", b"1400-01-01 00:00:00", b"", b"9999-12-31 23:59:59.5"]
    array = _convert("TIMESTAMP", "stringVal", TStringColumn, values, [False, False, True, False])
    assert array.type == pa.timestamp("us")
    assert array.to_pylist() == [
        dt.datetime(2024, 2, 29, 12, 34, 56, 123456),
        dt.datetime(1400, 1, 1),
        None,
        dt.datetime(9999, 12, 31, 23, 59, 59, 500000),
    ]


def test_date_and_binary():
    dates = _convert("DATE", "stringVal", TStringColumn, [b"0001-01-01", b"2024-02-29"])
    assert dates.to_pylist() == [dt.date(1, 1, 1), dt.date(2024, 2, 29)]
    blobs = _convert("BINARY", "binaryVal", TBinaryColumn, [b"\x00\xff", b""], [False, True])
    assert blobs.type == pa.binary()
    assert blobs.to_pylist() == [b"\x00\xff", None]


def test_unparseable_value_names_the_column():
    with pytest.raises(ConversionError, match=r"column 'c': value 'yesterday' is not a valid DATE"):
        _convert("DATE", "stringVal", TStringColumn, [b"yesterday"])


def _desc(name: str, type_id: int, position: int, **qualifiers: TTypeQualifierValue) -> TColumnDesc:
    entry = TPrimitiveTypeEntry(
        type=type_id, typeQualifiers=TTypeQualifiers(qualifiers=qualifiers) if qualifiers else None
    )
    return TColumnDesc(
        columnName=name, typeDesc=TTypeDesc(types=[TTypeEntry(primitiveEntry=entry)]), position=position
    )


def test_schema_from_result_metadata_keeps_order_and_qualifiers():
    schema = TTableSchema(
        columns=[
            _desc(
                "amount",
                15,
                2,
                precision=TTypeQualifierValue(i32Value=18),
                scale=TTypeQualifierValue(i32Value=4),
            ),
            _desc("id", 4, 1),
            _desc("code", 18, 3, characterMaximumLength=TTypeQualifierValue(i32Value=20)),
            _desc("tags", 10, 4),
            _desc("nothing", 16, 5),
        ]
    )
    specs = column_specs(schema)
    assert [s.name for s in specs] == ["id", "amount", "code", "tags", "nothing"]
    assert [s.hs2_type for s in specs] == ["BIGINT", "DECIMAL(18,4)", "VARCHAR(20)", "ARRAY", "NULL"]
    assert arrow_schema(specs).types == [
        pa.int64(),
        pa.decimal128(18, 4),
        pa.string(),
        pa.string(),
        pa.string(),
    ]


def test_a_block_with_a_missing_value_is_refused():
    spec = column_spec("c", "INT")
    rowset = TRowSet(
        startRowOffset=0, rows=[], columns=[TColumn(i32Val=TI32Column(values=[1], nulls=b""))] * 2
    )
    with pytest.raises(ConversionError, match="sent 2 columns for a result of 1 columns"):
        rowset_to_batch(rowset, [spec], arrow_schema([spec]))
