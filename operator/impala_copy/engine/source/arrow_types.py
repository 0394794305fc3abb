"""HiveServer2 result metadata -> Arrow schema, and HS2 columnar result sets -> Arrow arrays.

HS2 (protocol V6+) returns each fetched block column by column: one typed value list and a null
bitmap (bit i set = row i is NULL, least significant bit first) per column. The thrift C decoder
already produced those lists; here they become Arrow arrays in bulk:

| HS2 type               | Arrow type           | how                                              |
|------------------------|----------------------|--------------------------------------------------|
| BOOLEAN                | bool                 | value list + null mask                           |
| TINYINT..BIGINT        | int8..int64          | value list + null mask                           |
| FLOAT / DOUBLE         | float32 / float64    | doubles, FLOAT cast to float32                   |
| DECIMAL(p,s)           | decimal128(p,s)      | text, Arrow cast (decimal256 above 38 digits)    |
| STRING/VARCHAR/CHAR    | string               | bytes, Arrow UTF-8 validating cast               |
| TIMESTAMP              | timestamp[us]        | text, Arrow cast (nanoseconds truncated)         |
| DATE                   | date32               | text, Arrow cast                                 |
| BINARY                 | binary               | bytes                                            |
| ARRAY/MAP/STRUCT/UNION | string (JSON text)   | as the server renders it                         |
| NULL, anything else    | string               | as text                                          |

Every field carries its HS2 type in the field metadata key `hs2_type` (e.g. `DECIMAL(38,10)`,
`VARCHAR(20)`, `ARRAY`), for sinks that create typed tables. A value the fast path cannot convert (not
UTF-8, an unusual timestamp format) falls back to a per-value conversion for that block only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from impala_copy.engine.errors import QueryFailed
from impala_copy.engine.source.fetch_decode import FixedWidthValues

HS2_TYPE_KEY = b"hs2_type"
# TTypeId values of the HS2 protocol (TCLIService.thrift).
TYPE_NAMES: dict[int, str] = {
    0: "BOOLEAN", 1: "TINYINT", 2: "SMALLINT", 3: "INT", 4: "BIGINT", 5: "FLOAT", 6: "DOUBLE",
    7: "STRING", 8: "TIMESTAMP", 9: "BINARY", 10: "ARRAY", 11: "MAP", 12: "STRUCT", 13: "UNION",
    14: "USER_DEFINED", 15: "DECIMAL", 16: "NULL", 17: "DATE", 18: "VARCHAR", 19: "CHAR",
    20: "INTERVAL_YEAR_MONTH", 21: "INTERVAL_DAY_TIME", 22: "TIMESTAMP",
}  # fmt: skip
COMPLEX_TYPES = frozenset({"ARRAY", "MAP", "STRUCT", "UNION", "USER_DEFINED"})
# Which TColumn member carries each type's values (the first one tried; any set member is accepted).
_MEMBER = {
    "BOOLEAN": "boolVal", "TINYINT": "byteVal", "SMALLINT": "i16Val", "INT": "i32Val", "BIGINT": "i64Val",
    "FLOAT": "doubleVal", "DOUBLE": "doubleVal", "BINARY": "binaryVal",
}  # fmt: skip
_MEMBERS = ("stringVal", "binaryVal", "i64Val", "i32Val", "doubleVal", "boolVal", "i16Val", "byteVal")
_NUMPY_TYPES: dict[str, tuple[Any, pa.DataType]] = {
    "TINYINT": (np.int8, pa.int8()), "SMALLINT": (np.int16, pa.int16()), "INT": (np.int32, pa.int32()),
    "BIGINT": (np.int64, pa.int64()), "FLOAT": (np.float32, pa.float32()),
    "DOUBLE": (np.float64, pa.float64()),
}  # fmt: skip
TIMESTAMP_TEXT_LENGTH = len("2000-01-01 00:00:00.000000")

Converter = Callable[[Sequence[Any], bytes, int], pa.Array]


@dataclass(frozen=True)
class ColumnSpec:
    """One result column: its name, HS2 type text, Arrow field and value converter."""

    name: str
    hs2_type: str
    field: pa.Field
    member: str
    convert: Converter


class ConversionError(QueryFailed):
    """A value the server sent could not be converted to the column's Arrow type."""

    code = "ConversionFailed"


def null_mask(nulls: bytes, n: int) -> np.ndarray[Any, np.dtype[np.bool_]] | None:
    """The HS2 null bitmap as a boolean mask (True = NULL), or None when nothing is NULL."""
    if n == 0 or not nulls or nulls.count(0) == len(nulls):
        return None
    bits = np.unpackbits(np.frombuffer(nulls, dtype=np.uint8), bitorder="little")
    if bits.size < n:  # some servers omit trailing zero bytes
        bits = np.concatenate([bits, np.zeros(n - bits.size, dtype=np.uint8)])
    return bits[:n].astype(np.bool_)


def validity_buffer(nulls: bytes, n: int) -> pa.Buffer | None:
    """The HS2 null bitmap turned into an Arrow validity bitmap (both LSB first; Arrow's 1 = valid)."""
    if n == 0 or not nulls or nulls.count(0) == len(nulls):
        return None
    size = (n + 7) // 8
    raw = np.frombuffer(nulls, dtype=np.uint8)[:size]
    if raw.size < size:  # some servers omit trailing zero bytes (= not NULL)
        raw = np.concatenate([raw, np.zeros(size - raw.size, dtype=np.uint8)])
    return pa.py_buffer(np.invert(raw))


# Arrays are built from buffers (numpy, bytes.join), never with pa.array(list): that is slower and
# makes pyarrow import pandas (about 55 MB of RSS) to check the list's element types.
def _numbers(values: Sequence[Any] | np.ndarray[Any, Any], np_type: Any, n: int) -> np.ndarray[Any, Any]:
    """The values as a native array of `np_type`: from a list of Python numbers, or from the array the
    reply decoder read (engine/source/fetch_decode.py). An integer that the type cannot hold is refused
    either way (a double narrowed to FLOAT is rounded, as from a list)."""
    if not isinstance(values, np.ndarray):
        return np.fromiter(values, dtype=np_type, count=n)
    data = values[:n].astype(np_type)
    narrowed = data.dtype.kind != values.dtype.kind or data.dtype.itemsize < values.dtype.itemsize
    if data.dtype.kind in "iu" and narrowed and not np.array_equal(data, values[:n]):
        raise OverflowError(f"a value does not fit {data.dtype.name}")
    return data


def _fixed(np_type: Any, arrow_type: pa.DataType) -> Converter:
    def convert(values: Sequence[Any], nulls: bytes, n: int) -> pa.Array:
        data = _numbers(values, np_type, n)
        return pa.Array.from_buffers(arrow_type, n, [validity_buffer(nulls, n), pa.py_buffer(data)])

    return convert


def _boolean(values: Sequence[Any], nulls: bytes, n: int) -> pa.Array:
    bits = np.packbits(_numbers(values, np.bool_, n), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), n, [validity_buffer(nulls, n), pa.py_buffer(bits)])


MAX_BLOCK_BYTES = 2**31 - 1


def _variable(values: Sequence[Any], nulls: bytes, n: int) -> tuple[pa.Array, int]:
    """Variable-length values (bytes, or str from a decoder that already decoded) as an Arrow binary
    array, and the longest value's length."""
    if isinstance(values, FixedWidthValues):
        return _fixed_width(values, nulls, n)
    if n and isinstance(values[0], str):
        values = [v.encode("utf-8", "surrogatepass") for v in values]
    lengths = np.fromiter(map(len, values), dtype=np.int32, count=n)  # within one frame: < 1 GiB each
    total = int(lengths.sum(dtype=np.int64))
    if total > MAX_BLOCK_BYTES:
        raise ConversionError(
            f"a block of {n} rows holds {total} bytes in one column (over 2 GiB): lower the fetch size"
        )
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:], dtype=np.int32)
    data = b"".join(values)
    buffers = [validity_buffer(nulls, n), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.binary(), n, buffers), int(lengths.max()) if n else 0


def _fixed_width(values: FixedWidthValues, nulls: bytes, n: int) -> tuple[pa.Array, int]:
    """Values of one length, already back to back: the offsets are multiples of that length."""
    total = n * values.width
    if total > MAX_BLOCK_BYTES:
        raise ConversionError(
            f"a block of {n} rows holds {total} bytes in one column (over 2 GiB): lower the fetch size"
        )
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(values.width)
    buffers = [validity_buffer(nulls, n), pa.py_buffer(offsets), pa.py_buffer(values.data[:total])]
    return pa.Array.from_buffers(pa.binary(), n, buffers), values.width


def _bytes(values: Sequence[Any], nulls: bytes, n: int) -> pa.Array:
    return _variable(values, nulls, n)[0]


def _text(values: Sequence[Any], nulls: bytes, n: int) -> pa.Array:
    raw = _bytes(values, nulls, n)
    try:
        return raw.cast(pa.string())
    except pa.ArrowInvalid:  # not UTF-8: keep the row, replace the bad bytes (U+FFFD)
        texts = [None if v is None else v.decode("utf-8", "replace") for v in raw.to_pylist()]
        encoded = [b"" if t is None else t.encode("utf-8") for t in texts]
        return _bytes(encoded, nulls, n).cast(pa.string())


def _slow(
    values: Sequence[Any],
    nulls: bytes,
    n: int,
    arrow_type: pa.DataType,
    normalize: Callable[[str], str],
    what: str,
) -> pa.Array:
    """Per-value fallback: each value rewritten in the canonical text form Arrow's cast reads."""
    mask = null_mask(nulls, n)
    out: list[bytes] = []
    for i, value in enumerate(values[:n]):
        if mask is not None and mask[i]:
            out.append(b"")
            continue
        text = value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)
        try:
            out.append(normalize(text.strip()).encode())
        except (ValueError, InvalidOperation, ArithmeticError):
            raise ConversionError(f"value {text[:60]!r} is not a valid {what}") from None
    try:
        return _bytes(out, nulls, n).cast(pa.string()).cast(arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ConversionError(f"a {what} value does not fit the column type ({exc})") from None


def _plain_decimal(text: str) -> str:
    return format(Decimal(text), "f")


def _decimal(arrow_type: pa.DataType, what: str) -> Converter:
    def convert(values: Sequence[Any], nulls: bytes, n: int) -> pa.Array:
        try:
            return _text(values, nulls, n).cast(arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _slow(values, nulls, n, arrow_type, _plain_decimal, what)

    return convert


def _canonical_timestamp(text: str) -> str:
    head, _, frac = text.partition(".")
    micros = (frac + "000000")[:6] if frac else "0"
    return dt.datetime.fromisoformat(head).replace(microsecond=int(micros)).isoformat(sep=" ")


def _canonical_date(text: str) -> str:
    return dt.date.fromisoformat(text).isoformat()


def _timestamp(values: Sequence[Any], nulls: bytes, n: int) -> pa.Array:
    try:
        raw, longest = _variable(values, nulls, n)
        if longest > TIMESTAMP_TEXT_LENGTH:  # nanoseconds -> microseconds (a longer value is not ASCII
            raw = pc.binary_slice(raw, 0, TIMESTAMP_TEXT_LENGTH)  # digits: its cast fails either way)
        return raw.cast(pa.string()).cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _slow(values, nulls, n, pa.timestamp("us"), _canonical_timestamp, "TIMESTAMP")


def _date(values: Sequence[Any], nulls: bytes, n: int) -> pa.Array:
    try:
        return _text(values, nulls, n).cast(pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _slow(values, nulls, n, pa.date32(), _canonical_date, "DATE")


def _type_text(entry: Any) -> str:
    """`DECIMAL(18,4)`, `VARCHAR(20)`, `INT`... from a TPrimitiveTypeEntry."""
    name = TYPE_NAMES.get(entry.type, f"TYPE_{entry.type}")
    qualifiers = getattr(getattr(entry, "typeQualifiers", None), "qualifiers", None) or {}
    if name == "DECIMAL":
        precision = qualifiers.get("precision")
        scale = qualifiers.get("scale")
        p = precision.i32Value if precision is not None and precision.i32Value is not None else 38
        s = scale.i32Value if scale is not None and scale.i32Value is not None else 0
        return f"DECIMAL({p},{s})"
    if name in ("VARCHAR", "CHAR"):
        length = qualifiers.get("characterMaximumLength")
        if length is not None and length.i32Value is not None:
            return f"{name}({length.i32Value})"
    return name


def column_spec(name: str, hs2_type: str) -> ColumnSpec:
    """The Arrow field and converter of one column of HS2 type `hs2_type` (as `_type_text` writes it)."""
    base = hs2_type.split("(", 1)[0]
    convert: Converter
    if base == "DECIMAL":
        p, s = (int(x) for x in hs2_type[len("DECIMAL(") : -1].split(","))
        arrow_type = pa.decimal128(p, s) if p <= 38 else pa.decimal256(min(p, 76), s)
        convert = _decimal(arrow_type, hs2_type)
    elif base == "BOOLEAN":
        arrow_type, convert = pa.bool_(), _boolean
    elif base == "TIMESTAMP":
        arrow_type, convert = pa.timestamp("us"), _timestamp
    elif base == "DATE":
        arrow_type, convert = pa.date32(), _date
    elif base == "BINARY":
        arrow_type, convert = pa.binary(), _bytes
    elif base in _NUMPY_TYPES:
        np_type, arrow_type = _NUMPY_TYPES[base]
        convert = _fixed(np_type, arrow_type)
    else:  # STRING, VARCHAR, CHAR, complex types as JSON text, NULL, intervals, unknown
        arrow_type, convert = pa.string(), _text
    field = pa.field(name, arrow_type, nullable=True, metadata={HS2_TYPE_KEY: hs2_type.encode()})
    return ColumnSpec(
        name=name, hs2_type=hs2_type, field=field, member=_MEMBER.get(base, "stringVal"), convert=convert
    )


def column_specs(table_schema: Any) -> list[ColumnSpec]:
    """The columns of a TTableSchema (from GetResultSetMetadata), in order."""
    specs: list[ColumnSpec] = []
    for column in sorted(table_schema.columns or [], key=lambda c: c.position or 0):
        entries = column.typeDesc.types if column.typeDesc is not None else []
        top = entries[0] if entries else None
        if top is not None and top.primitiveEntry is not None:
            hs2_type = _type_text(top.primitiveEntry)
        elif top is not None and top.arrayEntry is not None:
            hs2_type = "ARRAY"
        elif top is not None and top.mapEntry is not None:
            hs2_type = "MAP"
        elif top is not None and top.structEntry is not None:
            hs2_type = "STRUCT"
        elif top is not None and top.unionEntry is not None:
            hs2_type = "UNION"
        else:
            hs2_type = "STRING"
        specs.append(column_spec(column.columnName, hs2_type))
    return specs


def arrow_schema(specs: Sequence[ColumnSpec]) -> pa.Schema:
    return pa.schema([s.field for s in specs])


def _column_values(tcolumn: Any, preferred: str) -> tuple[Sequence[Any], bytes]:
    member = getattr(tcolumn, preferred, None)
    if member is None:
        member = next((m for m in (getattr(tcolumn, name, None) for name in _MEMBERS) if m is not None), None)
    if member is None:
        return [], b""
    return member.values if member.values is not None else [], member.nulls or b""


def rowset_length(rowset: Any, specs: Sequence[ColumnSpec]) -> int:
    """Rows in a TRowSet (0 when it carries no columns)."""
    columns = getattr(rowset, "columns", None) if rowset is not None else None
    if not columns or not specs:
        return 0
    values, _ = _column_values(columns[0], specs[0].member)
    return len(values)


def rowset_to_batch(rowset: Any, specs: Sequence[ColumnSpec], schema: pa.Schema) -> pa.RecordBatch:
    """One fetched TRowSet as an Arrow record batch of `schema`."""
    n = rowset_length(rowset, specs)
    if n == 0:
        return schema.empty_table().to_batches()[0] if len(schema) else pa.record_batch([], schema=schema)
    columns = rowset.columns
    if len(columns) != len(specs):
        raise ConversionError(f"the server sent {len(columns)} columns for a result of {len(specs)} columns")
    arrays: list[pa.Array] = []
    for spec, tcolumn in zip(specs, columns, strict=True):
        values, nulls = _column_values(tcolumn, spec.member)
        if len(values) != n:
            raise ConversionError(f"column {spec.name!r} has {len(values)} values in a block of {n} rows")
        try:
            arrays.append(spec.convert(values, nulls, n))
        except ConversionError as exc:
            raise ConversionError(f"column {spec.name!r}: {exc.message}") from None
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
            raise ConversionError(f"column {spec.name!r} ({spec.hs2_type}): {exc}") from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


__all__ = [
    "COMPLEX_TYPES",
    "HS2_TYPE_KEY",
    "ColumnSpec",
    "ConversionError",
    "arrow_schema",
    "column_spec",
    "column_specs",
    "null_mask",
    "rowset_length",
    "rowset_to_batch",
]
