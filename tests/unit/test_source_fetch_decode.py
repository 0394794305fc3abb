"""The FetchResults reply decoder: numeric columns read straight from the frame into numpy.

In:  FetchResults reply messages encoded by thrift's own generated code (every numeric member with
     extreme values and NULLs, text and binary columns of one length and of several, an error
     status, unknown fields), and crafted replies (a list longer than the frame, a negative count,
     a wrong element type).
Out: the same TFetchResultsResp thrift decodes (status, hasMoreRows, every column's values and
     null bitmap), the same Arrow batch from it, and MalformedReply naming what is wrong.
Faked: nothing; there is no server (the replies are bytes).
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from impala._thrift_gen.TCLIService.TCLIService import FetchResults_result
from impala._thrift_gen.TCLIService.ttypes import (
    TBinaryColumn,
    TBoolColumn,
    TByteColumn,
    TColumn,
    TDoubleColumn,
    TFetchResultsResp,
    TI16Column,
    TI32Column,
    TI64Column,
    TRowSet,
    TStatus,
    TStringColumn,
)
from thrift.protocol.TBinaryProtocol import TBinaryProtocol, TBinaryProtocolAccelerated
from thrift.Thrift import TMessageType
from thrift.transport.TTransport import TMemoryBuffer

from impala_copy.engine.errors import ServerError
from impala_copy.engine.source.arrow_types import ConversionError, arrow_schema, column_spec, rowset_to_batch
from impala_copy.engine.source.fetch_decode import FixedWidthValues, MalformedReply, decode_fetch_response

NULLS = bytes([0b00000101])  # rows 0 and 2 are NULL


def _columns() -> list[TColumn]:
    return [
        TColumn(boolVal=TBoolColumn(values=[True, False, True, True], nulls=NULLS)),
        TColumn(byteVal=TByteColumn(values=[-128, 0, 1, 127], nulls=b"")),
        TColumn(i16Val=TI16Column(values=[-32768, 0, 7, 32767], nulls=NULLS)),
        TColumn(i32Val=TI32Column(values=[-(2**31), 0, 42, 2**31 - 1], nulls=b"\x00")),
        TColumn(i64Val=TI64Column(values=[-(2**63), 0, 10**15, 2**63 - 1], nulls=NULLS)),
        TColumn(doubleVal=TDoubleColumn(values=[-1.5, 0.0, float("inf"), 1e300], nulls=b"")),
        TColumn(stringVal=TStringColumn(values=[b"a", b"", "é".encode(), b"x" * 300], nulls=NULLS)),
        TColumn(binaryVal=TBinaryColumn(values=[b"\x00", b"\xff", b"", b"b"], nulls=b"")),
    ]


TYPES = ["BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "DOUBLE", "STRING", "BINARY"]


def reply(response: TFetchResultsResp, *, fast: bool = True) -> bytes:
    """A FetchResults reply message as a server sends it (one frame's body)."""
    buffer = TMemoryBuffer()
    protocol = (TBinaryProtocolAccelerated if fast else TBinaryProtocol)(buffer)
    protocol.writeMessageBegin("FetchResults", TMessageType.REPLY, 7)
    FetchResults_result(success=response).write(protocol)
    protocol.writeMessageEnd()
    return buffer.getvalue()


def columns_reply(columns: list[TColumn]) -> bytes:
    rowset = TRowSet(startRowOffset=0, rows=[], columns=columns)
    return reply(TFetchResultsResp(status=TStatus(statusCode=0), hasMoreRows=False, results=rowset))


def thrift_decode(frame: bytes) -> Any:
    protocol = TBinaryProtocolAccelerated(TMemoryBuffer(frame))
    protocol.readMessageBegin()
    result = FetchResults_result()
    result.read(protocol)
    return result.success


def member_of(column: TColumn) -> Any:
    return next(getattr(column, spec[2]) for spec in TColumn.thrift_spec[1:] if getattr(column, spec[2]))


def test_the_reply_decodes_as_thrift_decodes_it_with_numbers_as_arrays() -> None:
    response = TFetchResultsResp(
        status=TStatus(statusCode=0, infoMessages=["fine"]),
        hasMoreRows=True,
        results=TRowSet(startRowOffset=1000, rows=[], columns=_columns()),
    )
    frame = reply(response)
    ours, theirs = decode_fetch_response(frame), thrift_decode(frame)
    assert ours.status == theirs.status
    assert (ours.hasMoreRows, ours.results.startRowOffset) == (True, 1000)
    for mine, expected in zip(ours.results.columns, theirs.results.columns, strict=True):
        got, want = member_of(mine), member_of(expected)
        assert type(got) is type(want)
        assert list(got.values) == list(want.values)
        assert got.nulls == want.nulls
    assert isinstance(ours.results.columns[3].i32Val.values, np.ndarray)
    specs = [column_spec(f"c{i}", t) for i, t in enumerate(TYPES)]
    schema = arrow_schema(specs)
    batch = rowset_to_batch(ours.results, specs, schema)
    assert batch.equals(rowset_to_batch(theirs.results, specs, schema))
    assert batch.column(4).to_pylist() == [None, 0, None, 2**63 - 1]
    assert batch.column(0).to_pylist() == [None, False, None, True]


def test_an_error_status_and_an_empty_block_come_through() -> None:
    status = TStatus(statusCode=3, errorMessage="query failed", sqlState="HY000", errorCode=7)
    frame = reply(TFetchResultsResp(status=status, hasMoreRows=False), fast=False)
    decoded = decode_fetch_response(frame)
    assert decoded.status == status
    assert (decoded.hasMoreRows, decoded.results) == (False, None)


def test_fields_it_does_not_know_are_skipped() -> None:
    # A newer server's TRowSet field 9 (a list of two i32) before the columns.
    frame = bytearray(columns_reply([]))
    marker = struct.pack(">bhbi", 15, 3, 12, 0)  # TRowSet.columns: a list of 0 structs
    at = bytes(frame).index(marker)
    unknown = struct.pack(">bhbi", 15, 9, 8, 2) + struct.pack(">ii", 5, 6)
    frame[at:at] = unknown
    decoded = decode_fetch_response(bytes(frame))
    assert decoded.results.columns == []


def test_a_column_of_an_int_type_refuses_a_value_it_cannot_hold() -> None:
    frame = columns_reply([TColumn(i64Val=TI64Column(values=[1, 2**40], nulls=b""))])
    specs = [column_spec("n", "INT")]
    with pytest.raises(ConversionError, match=r"column 'n' \(INT\): a value does not fit int32"):
        rowset_to_batch(decode_fetch_response(frame).results, specs, arrow_schema(specs))


def _i32_reply(count: int, element_type: int = 8, values: bytes = b"") -> bytes:
    """A reply whose one column is an i32 list that claims `count` values of `element_type`."""
    head = columns_reply([TColumn(i32Val=TI32Column(values=[], nulls=b""))])
    empty_list = struct.pack(">bhbi", 15, 1, 8, 0)
    at = head.index(empty_list)
    return (
        head[:at] + struct.pack(">bhbi", 15, 1, element_type, count) + values + head[at + len(empty_list) :]
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_i32_reply(1_000_000, values=b"\x00" * 8), "claims 1000000 values, more than the reply holds"),
        (_i32_reply(-1), "a column of the reply has -1 values"),
        (_i32_reply(2, element_type=11, values=b"\x00" * 8), "holds elements of type 11"),
    ],
    ids=["longer-than-the-frame", "negative-count", "wrong-element-type"],
)
def test_a_crafted_reply_is_refused_with_what_is_wrong(frame: bytes, message: str) -> None:
    with pytest.raises(MalformedReply, match=message) as caught:
        decode_fetch_response(frame)
    assert isinstance(caught.value, ServerError)


def test_a_well_formed_crafted_list_decodes_exactly() -> None:
    frame = _i32_reply(2, values=struct.pack(">ii", -5, 70000))
    column = decode_fetch_response(frame).results.columns[0].i32Val
    assert column.values.tolist() == [-5, 70000]
    assert pa.array(column.values.astype(np.int32)).to_pylist() == [-5, 70000]


def test_text_values_of_one_length_are_read_in_one_copy_and_convert_the_same() -> None:
    dates = [b"2026-12-01", b"2026-12-02", b"1999-01-31"]
    frame = columns_reply(
        [
            TColumn(stringVal=TStringColumn(values=dates, nulls=b"")),
            TColumn(stringVal=TStringColumn(values=[b"", b"", b""], nulls=bytes([0b111]))),
            TColumn(binaryVal=TBinaryColumn(values=[b"\x00\x01", b"\xff\xfe", b"ab"], nulls=b"")),
        ]
    )
    ours, theirs = decode_fetch_response(frame), thrift_decode(frame)
    for mine, expected in zip(ours.results.columns, theirs.results.columns, strict=True):
        got, want = member_of(mine), member_of(expected)
        assert isinstance(got.values, FixedWidthValues)
        assert (list(got.values), got.nulls) == (want.values, want.nulls)
    assert ours.results.columns[0].stringVal.values[-1] == b"1999-01-31"
    assert ours.results.columns[0].stringVal.values[1:] == [b"2026-12-02", b"1999-01-31"]
    specs = [column_spec("d", "DATE"), column_spec("s", "STRING"), column_spec("b", "BINARY")]
    schema = arrow_schema(specs)
    batch = rowset_to_batch(ours.results, specs, schema)
    assert batch.equals(rowset_to_batch(theirs.results, specs, schema))
    assert batch.to_pylist()[2] == {"d": dt.date(1999, 1, 31), "s": None, "b": b"ab"}


def test_text_values_of_different_lengths_are_decoded_by_thrift() -> None:
    values = [b"row-9", b"row-10", "é".encode(), b""]
    frame = columns_reply([TColumn(stringVal=TStringColumn(values=values, nulls=bytes([0b1000])))])
    column = decode_fetch_response(frame).results.columns[0].stringVal
    assert (column.values, column.nulls) == (values, bytes([0b1000]))


def test_a_text_list_longer_than_the_reply_is_not_read_past_its_end() -> None:
    frame = columns_reply([TColumn(stringVal=TStringColumn(values=[b"abc", b"def"], nulls=b""))])
    at = frame.index(struct.pack(">bi", 11, 2))  # the list header: 2 binary values
    crafted = frame[:at] + struct.pack(">bi", 11, 1000) + frame[at + 5 :]
    # Not of one length as claimed: thrift's decoder reads it, and refuses it (the source reports it
    # as a failed fetch, engine/source/query.py).
    with pytest.raises(OverflowError, match="size exceeded"):
        decode_fetch_response(crafted)


def test_a_value_over_thrifts_string_limit_is_refused_as_thrift_refuses_it() -> None:
    frame = columns_reply([TColumn(stringVal=TStringColumn(values=[b"x" * 16_384_001], nulls=b""))])
    with pytest.raises(OverflowError, match="size exceeded specified limit: 16384000"):
        decode_fetch_response(frame)
