"""Arrow -> PostgreSQL: the column types a table gets from tableOption autoCreate, and quoting.

Every Arrow type the source produces has one PostgreSQL type (docs/sinks.md has the same table):

| Arrow                              | PostgreSQL                  |
|------------------------------------|-----------------------------|
| bool                               | boolean                     |
| int8, int16, uint8                 | smallint                    |
| int32, uint16                      | integer                     |
| int64, uint32                      | bigint                      |
| uint64                             | numeric(20,0)               |
| float16, float32                   | real                        |
| float64                            | double precision            |
| decimal128/256(p,s)                | numeric(p,s)                |
| string, large_string, string_view  | text                        |
| binary, large_binary, fixed binary | bytea                       |
| date32, date64                     | date                        |
| timestamp without tz (any unit)    | timestamp (microseconds)    |
| timestamp with tz                  | timestamp with time zone    |
| time32, time64                     | time (microseconds)         |
| duration                           | interval                    |
| null (all-NULL column)             | text                        |
| dictionary<values>                 | the type of its values      |

Batches are normalised before they are bulk-loaded (`normalize_batch`) so that the binary COPY the
loader sends matches these column types exactly (e.g. uint32 is widened to int64, ns timestamps are
cut to microseconds, PostgreSQL's precision). Nested types (list, struct, map) are refused with a
clear error: the Impala source already renders complex columns as JSON text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from impala_copy.engine.errors import ConfigurationError

# numeric's largest declared precision.
PG_NUMERIC_MAX_PRECISION = 1000


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes (embedded quotes doubled); NUL is refused."""
    if not name or "\x00" in name:
        raise ConfigurationError(f"invalid PostgreSQL identifier {name!r}: empty or contains NUL")
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


@dataclass(frozen=True)
class ColumnMapping:
    """How one Arrow column is loaded: the Arrow type sent and the PostgreSQL type it lands in."""

    name: str
    load_type: pa.DataType  # the Arrow type after normalisation
    pg_type: str  # DDL type, e.g. numeric(18,4)
    pg_typname: str  # pg_type.typname the binary COPY sends, e.g. numeric, int8, timestamptz


def _unsupported(name: str, t: pa.DataType) -> ConfigurationError:
    return ConfigurationError(
        f"column {name!r} has Arrow type {t}, which has no PostgreSQL mapping (nested types are not loaded; "
        "select them as JSON text)"
    )


def _timestamp(name: str, t: pa.DataType) -> ColumnMapping:
    if t.tz is None:
        return ColumnMapping(name, pa.timestamp("us"), "timestamp", "timestamp")
    return ColumnMapping(name, pa.timestamp("us", tz=t.tz), "timestamp with time zone", "timestamptz")


def _decimal(name: str, t: pa.DataType) -> ColumnMapping:
    if t.precision > PG_NUMERIC_MAX_PRECISION:
        raise _unsupported(name, t)
    return ColumnMapping(name, t, f"numeric({t.precision},{t.scale})", "numeric")


_is = pa.types
# (which Arrow types, their load type and PostgreSQL type), tried in order.
_MAPPINGS: tuple[tuple[Callable[[pa.DataType], bool], Callable[[str, pa.DataType], ColumnMapping]], ...] = (
    (_is.is_boolean, lambda n, t: ColumnMapping(n, t, "boolean", "bool")),
    (
        lambda t: _is.is_int8(t) or _is.is_int16(t) or _is.is_uint8(t),
        lambda n, t: ColumnMapping(n, pa.int16(), "smallint", "int2"),
    ),
    (
        lambda t: _is.is_int32(t) or _is.is_uint16(t),
        lambda n, t: ColumnMapping(n, pa.int32(), "integer", "int4"),
    ),
    (
        lambda t: _is.is_int64(t) or _is.is_uint32(t),
        lambda n, t: ColumnMapping(n, pa.int64(), "bigint", "int8"),
    ),
    (_is.is_uint64, lambda n, t: ColumnMapping(n, pa.decimal128(20, 0), "numeric(20,0)", "numeric")),
    (
        lambda t: _is.is_float16(t) or _is.is_float32(t),
        lambda n, t: ColumnMapping(n, pa.float32(), "real", "float4"),
    ),
    (_is.is_float64, lambda n, t: ColumnMapping(n, t, "double precision", "float8")),
    (_is.is_decimal, _decimal),
    (
        lambda t: _is.is_string(t) or _is.is_large_string(t) or _is.is_string_view(t),
        lambda n, t: ColumnMapping(n, pa.string() if _is.is_string_view(t) else t, "text", "text"),
    ),
    (_is.is_null, lambda n, t: ColumnMapping(n, pa.string(), "text", "text")),
    (
        lambda t: _is.is_binary(t) or _is.is_large_binary(t) or _is.is_fixed_size_binary(t),
        lambda n, t: ColumnMapping(n, pa.binary() if _is.is_fixed_size_binary(t) else t, "bytea", "bytea"),
    ),
    (_is.is_date, lambda n, t: ColumnMapping(n, pa.date32(), "date", "date")),
    (_is.is_timestamp, _timestamp),
    (_is.is_time, lambda n, t: ColumnMapping(n, pa.time64("us"), "time", "time")),
    (_is.is_duration, lambda n, t: ColumnMapping(n, pa.duration("us"), "interval", "interval")),
)


def map_type(name: str, t: pa.DataType) -> ColumnMapping:
    """The load type and PostgreSQL type of an Arrow column (see the module docstring)."""
    if _is.is_dictionary(t):
        return map_type(name, t.value_type)
    for matches, mapping in _MAPPINGS:
        if matches(t):
            return mapping(name, t)
    raise _unsupported(name, t)


def map_schema(schema: pa.Schema) -> list[ColumnMapping]:
    names = [f.name for f in schema]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigurationError(f"the source has duplicate column names {dupes}: a table needs unique names")
    return [map_type(f.name, f.type) for f in schema]


def load_schema(mappings: list[ColumnMapping]) -> pa.Schema:
    return pa.schema([pa.field(m.name, m.load_type) for m in mappings])


def normalize_batch(
    batch: pa.RecordBatch, mappings: list[ColumnMapping], schema: pa.Schema
) -> pa.RecordBatch:
    """Cast each column to its load type (no-op when it already has it)."""
    if batch.schema.equals(schema):
        return batch
    columns = []
    for column, m in zip(batch.columns, mappings, strict=True):
        if column.type.equals(m.load_type):
            columns.append(column)
            continue
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        # Sub-microsecond digits are cut (PostgreSQL keeps microseconds); widening casts are exact.
        lossy = (
            pa.types.is_timestamp(m.load_type)
            or pa.types.is_time(m.load_type)
            or pa.types.is_duration(m.load_type)
        )
        columns.append(pc.cast(column, m.load_type, safe=not lossy))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def column_ddl(mappings: list[ColumnMapping]) -> str:
    return ", ".join(f"{quote_ident(m.name)} {m.pg_type}" for m in mappings)
