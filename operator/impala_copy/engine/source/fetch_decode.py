"""A FetchResults reply (one whole frame) -> TFetchResultsResp, numeric columns straight into numpy.

thrift's C decoder (`fastbinary`) makes one Python object per value: an int or a float for every
numeric cell, which the conversion then packs back into a buffer (engine/source/arrow_types.py). In
the binary protocol a `list<i32>` (`i64`, `i16`, `byte`, `double`, `bool`) is its element count and
then the values back to back, big-endian: here such a list becomes a numpy array read from the frame
in one step, with no Python object per value. Everything else (the status, text and binary columns,
fields this module does not know) is decoded by thrift itself, from the same buffer at the same
position, so the result is the TFetchResultsResp thrift would have built, with numpy arrays as the
`values` of the numeric columns.

A reply that does not follow the protocol (a list longer than the frame, a negative count, an
element type that is not the column's) raises `MalformedReply`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, overload

import numpy as np

from impala_copy.engine.errors import ServerError

# TType codes of the binary protocol (thrift.Thrift.TType).
_STOP, _BOOL, _BYTE, _DOUBLE, _I16, _I32, _I64, _STRING, _STRUCT, _LIST = 0, 2, 3, 4, 6, 8, 10, 11, 12, 15
# TColumn member id -> (attribute, its class, the list's element type, its big-endian numpy type).
_NUMERIC_MEMBERS: dict[int, tuple[str, str, int, str]] = {
    1: ("boolVal", "TBoolColumn", _BOOL, "u1"),
    2: ("byteVal", "TByteColumn", _BYTE, "i1"),
    3: ("i16Val", "TI16Column", _I16, ">i2"),
    4: ("i32Val", "TI32Column", _I32, ">i4"),
    5: ("i64Val", "TI64Column", _I64, ">i8"),
    6: ("doubleVal", "TDoubleColumn", _DOUBLE, ">f8"),
}


class MalformedReply(ServerError):
    """The server's FetchResults reply does not follow the HS2 protocol."""


class FixedWidthValues(Sequence[bytes]):
    """The values of a text column whose values all have the same length, back to back in `data`
    (DATE text, CHAR(n), codes): read from the frame in one copy instead of one `bytes` per value."""

    def __init__(self, data: bytes, width: int, size: int) -> None:
        self.data = data
        self.width = width
        self.size = size

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(index)
        start = (index % self.size) * self.width
        return self.data[start : start + self.width]


def decode_fetch_response(frame: bytes) -> Any:
    """The TFetchResultsResp of a FetchResults reply message; ServerError for a server exception."""
    from impala._thrift_gen.TCLIService.ttypes import TFetchResultsResp
    from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
    from thrift.Thrift import TApplicationException, TMessageType
    from thrift.transport.TTransport import TMemoryBuffer

    from impala_copy.engine.source.errors import server_message

    reader = _Reader(frame, TMemoryBuffer(frame))
    protocol = TBinaryProtocolAccelerated(reader.buffer)
    _, message_type, _ = protocol.readMessageBegin()
    if message_type == TMessageType.EXCEPTION:
        error = TApplicationException()
        error.read(protocol)
        raise ServerError(f"the server failed the fetch: {server_message(error.message)}")
    response = None
    for ftype, fid in _fields(protocol):
        if fid == 0 and ftype == _STRUCT:  # FetchResults_result.success
            response = TFetchResultsResp()
            _read_response(reader, protocol, response)
        else:
            protocol.skip(ftype)
    if response is None:
        raise ServerError("the server sent an empty FetchResults reply")
    return response


class _Reader:
    """The frame and the thrift buffer over it (whose position the protocol and this module share)."""

    def __init__(self, frame: bytes, buffer: Any) -> None:
        self.frame = frame
        self.buffer = buffer

    def numeric_list(self, protocol: Any, element: int, dtype: str) -> np.ndarray[Any, Any]:
        etype, size = protocol.readByte(), protocol.readI32()  # the list header, read without thrift's checks
        if etype != element:
            raise MalformedReply(f"a numeric column of the reply holds elements of type {etype}")
        if size < 0:
            raise MalformedReply(f"a column of the reply has {size} values")
        stream = self.buffer._buffer  # the BytesIO TMemoryBuffer reads (thrift's C decoder reads it too)
        start = stream.tell()
        width = np.dtype(dtype).itemsize
        if start + size * width > len(self.frame):
            raise MalformedReply(f"a column of the reply claims {size} values, more than the reply holds")
        values = np.frombuffer(self.frame, dtype=dtype, count=size, offset=start)
        stream.seek(start + size * width)
        return values

    def fixed_width_list(self, protocol: Any) -> FixedWidthValues | None:
        """A list<binary> whose values all have the length of the first; None (nothing consumed
        that matters: the caller starts over) when they differ or the list is not such a list."""
        stream = self.buffer._buffer
        start = stream.tell()
        if start + 9 > len(self.frame) or self.frame[start] != _STRING:
            return None
        size, width = struct.unpack_from(">ii", self.frame, start + 1)
        first = start + 5
        if size <= 0 or width < 0 or first + size * (4 + width) > len(self.frame):
            return None
        limits = (protocol.string_length_limit, protocol.container_length_limit)
        if not (_within(width, limits[0]) and _within(size, limits[1])):
            return None  # thrift's decoder refuses it, with the error the source reports (errors.py)
        rows = np.frombuffer(self.frame, np.uint8, count=size * (4 + width), offset=first).reshape(
            size, 4 + width
        )
        if not (rows[:, :4] == rows[0, :4]).all():
            return None
        stream.seek(first + size * (4 + width))
        return FixedWidthValues(rows[:, 4:].tobytes(), width, size)


def _within(length: int, limit: int | None) -> bool:
    return limit is None or length <= limit


def _fields(protocol: Any) -> Any:
    """(type, id) of each field of the struct being read, up to its end."""
    while True:
        _, ftype, fid = protocol.readFieldBegin()
        if ftype == _STOP:
            return
        yield ftype, fid


def _read_response(reader: _Reader, protocol: Any, response: Any) -> None:
    from impala._thrift_gen.TCLIService.ttypes import TRowSet, TStatus

    for ftype, fid in _fields(protocol):
        if fid == 1 and ftype == _STRUCT:
            response.status = TStatus()
            response.status.read(protocol)
        elif fid == 2 and ftype == _BOOL:
            response.hasMoreRows = protocol.readBool()
        elif fid == 3 and ftype == _STRUCT:
            response.results = TRowSet(rows=[])
            _read_rowset(reader, protocol, response.results)
        else:
            protocol.skip(ftype)


def _read_rowset(reader: _Reader, protocol: Any, rowset: Any) -> None:
    for ftype, fid in _fields(protocol):
        if fid == 1 and ftype == _I64:
            rowset.startRowOffset = protocol.readI64()
        elif fid == 3 and ftype == _LIST:
            etype, size = protocol.readListBegin()
            if etype != _STRUCT or size < 0:
                raise MalformedReply("the columns of the reply are not a list of columns")
            rowset.columns = [_read_column(reader, protocol) for _ in range(size)]
        elif fid == 4 and ftype == _STRING:
            rowset.binaryColumns = protocol.readBinary()
        elif fid == 5 and ftype == _I32:
            rowset.columnCount = protocol.readI32()
        else:  # rows (the row-based result of protocol versions before V6): none in a columnar reply
            protocol.skip(ftype)


def _read_column(reader: _Reader, protocol: Any) -> Any:
    from impala._thrift_gen.TCLIService import ttypes

    column = ttypes.TColumn()
    for ftype, fid in _fields(protocol):
        numeric = _NUMERIC_MEMBERS.get(fid)
        if ftype != _STRUCT:
            protocol.skip(ftype)
        elif numeric is not None:
            name, kind, element, dtype = numeric
            member = getattr(ttypes, kind)()
            _read_numeric(reader, protocol, member, element, dtype)
            setattr(column, name, member)
        elif fid in (7, 8):
            member = ttypes.TStringColumn() if fid == 7 else ttypes.TBinaryColumn()
            _read_text(reader, protocol, member)
            setattr(column, "stringVal" if fid == 7 else "binaryVal", member)
        else:
            protocol.skip(ftype)
    return column


def _read_text(reader: _Reader, protocol: Any, member: Any) -> None:
    """A TStringColumn (TBinaryColumn): values of one length as FixedWidthValues, else thrift's decode."""
    stream = reader.buffer._buffer
    start = stream.tell()
    for ftype, fid in _fields(protocol):
        if fid == 1 and ftype == _LIST:
            member.values = reader.fixed_width_list(protocol)
            if member.values is None:  # lengths differ: thrift decodes the whole struct, from its start
                stream.seek(start)
                member.read(protocol)
                return
        elif fid == 2 and ftype == _STRING:
            member.nulls = protocol.readBinary()
        else:
            protocol.skip(ftype)


def _read_numeric(reader: _Reader, protocol: Any, member: Any, element: int, dtype: str) -> None:
    """A TI32Column (TBoolColumn, ...): its values as a numpy array, its null bitmap as bytes."""
    for ftype, fid in _fields(protocol):
        if fid == 1 and ftype == _LIST:
            member.values = reader.numeric_list(protocol, element, dtype)
        elif fid == 2 and ftype == _STRING:
            member.nulls = protocol.readBinary()
        else:
            protocol.skip(ftype)


__all__ = ["MalformedReply", "decode_fetch_response"]
