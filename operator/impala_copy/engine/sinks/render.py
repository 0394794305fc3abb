"""How values become text in the text formats (DelimitedText and Json), one rule per Arrow type.

The rules (also in docs/engine.md), text first, then JSON:

- string: as is; JSON string.
- boolean: `true` / `false`; the same in JSON.
- integers: decimal digits; JSON number.
- float / double: the shortest text that reads back to the same value (`0.1`, `1e+20`); JSON number.
  Non-finite values are `NaN`, `Infinity`, `-Infinity` (JSON: those strings).
- decimal(p, s): exact, with s fraction digits (`12.3400`); JSON number with the same exact digits.
- date: `YYYY-MM-DD`; JSON string.
- timestamp: ISO 8601 `YYYY-MM-DDTHH:MM:SS.ffffff` (as many fraction digits as the unit: 6 for
  microseconds). Naive timestamps (Impala's) get no offset; zoned ones are shown in UTC with `Z`.
- binary: base64 (RFC 4648, padded); JSON string.
- anything else: Arrow's text cast, else JSON text; JSON string.
- NULL: DelimitedText `nullValue`; JSON `null`.

Everything except binary is converted with Arrow compute kernels over whole columns: no Python
object is made per value (binary columns, rare in Impala tables, are encoded value by value).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# Characters that may appear in the text of a non-string value (numbers, dates, timestamps, booleans).
NON_STRING_ALPHABET = frozenset("0123456789+-.:eETZNaIfinity truls")

_NAN, _POS_INF, _NEG_INF = "NaN", "Infinity", "-Infinity"


def is_string_like(typ: pa.DataType) -> bool:
    """True for types whose text can hold any character (strings, binary as base64, complex values)."""
    return not (
        pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_decimal(typ)
        or pa.types.is_boolean(typ)
        or pa.types.is_date(typ)
        or pa.types.is_timestamp(typ)
        or pa.types.is_null(typ)
    )


def is_json_number(typ: pa.DataType) -> bool:
    return bool(pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ))


def _is_binary(typ: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(typ) or pa.types.is_large_binary(typ) or pa.types.is_fixed_size_binary(typ)
    )


def _as_text(arr: pa.Array) -> pa.Array:
    try:
        return arr.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array(
            [None if v is None else json.dumps(v, default=str) for v in arr.to_pylist()], pa.string()
        )


# (which columns, how they become text), tried in order; anything else is cast, or written as JSON.
_TEXT_FORMS: tuple[tuple[Callable[[pa.DataType], bool], Callable[[pa.Array], pa.Array]], ...] = (
    (pa.types.is_string, lambda arr: arr),
    (lambda t: pa.types.is_large_string(t) or pa.types.is_string_view(t), lambda arr: arr.cast(pa.string())),
    (pa.types.is_floating, lambda arr: _floating(arr)),
    (pa.types.is_timestamp, lambda arr: _timestamp(arr)),
    (pa.types.is_null, lambda arr: pa.nulls(len(arr), pa.string())),
    (_is_binary, lambda arr: _base64(arr)),
    (pa.types.is_decimal, lambda arr: _decimal(arr)),
)


def text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as a string array, NULLs kept as NULLs."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    for matches, form in _TEXT_FORMS:
        if matches(arr.type):
            return form(arr)
    return _as_text(arr)


def _floating(arr: pa.Array) -> pa.Array:
    out = arr.cast(pa.string())
    if pc.all(pc.is_finite(arr)).as_py() is not False:
        return out
    out = pc.if_else(pc.is_nan(arr), _NAN, out)
    out = pc.if_else(pc.and_(pc.is_inf(arr), pc.greater(arr, 0)), _POS_INF, out)
    return pc.if_else(pc.and_(pc.is_inf(arr), pc.less(arr, 0)), _NEG_INF, out)


def _decimal(arr: pa.Array) -> pa.Array:
    """Plain digits with `scale` fraction digits. Arrow writes tiny values like 1E-10 in scientific
    notation (as Java's BigDecimal.toString does): those few are rewritten, from Python's Decimal."""
    out = arr.cast(pa.string())
    scientific = pc.fill_null(pc.match_substring(out, "E"), False)
    if not pc.any(scientific).as_py():
        return out
    values = pc.filter(arr, scientific).to_pylist()
    return pc.replace_with_mask(out, scientific, pa.array([format(v, "f") for v in values], pa.string()))


def _timestamp(arr: pa.Array) -> pa.Array:
    """Arrow's cast gives `2024-02-29 12:34:56.123456` (zoned: in UTC, with `Z`); ISO 8601 wants a `T`.
    (An order of magnitude faster than strftime, which formats value by value.)"""
    typ: Any = arr.type
    if typ.tz is not None:
        arr = arr.cast(pa.timestamp(typ.unit, "UTC"))
    return pc.replace_substring(arr.cast(pa.string()), " ", "T", max_replacements=1)


def _base64(arr: pa.Array) -> pa.Array:
    return pa.array(
        [None if v is None else base64.b64encode(v).decode("ascii") for v in arr.to_pylist()], pa.string()
    )


# ----------------------------------------------------------------------------------- JSON


_JSON_SPECIAL = r'["\\\x00-\x1f]'
_JSON_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def quoted(s: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', s, '"', "")


def json_string(s: pa.Array) -> pa.Array:
    """JSON string literals ("..." with escapes) of a string array; NULLs kept."""
    if pc.any(pc.match_substring_regex(s, _JSON_SPECIAL)).as_py():
        if pc.any(pc.match_substring_regex(s, _JSON_CONTROL)).as_py():
            # Rare: control characters other than \t \n \r; json.dumps escapes them as \u00XX.
            return pa.array(
                [None if v is None else json.dumps(v, ensure_ascii=False) for v in s.to_pylist()], pa.string()
            )
        s = pc.replace_substring(s, "\\", "\\\\")
        s = pc.replace_substring(s, '"', '\\"')
        s = pc.replace_substring(s, "\n", "\\n")
        s = pc.replace_substring(s, "\r", "\\r")
        s = pc.replace_substring(s, "\t", "\\t")
    return quoted(s)


def json_value(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """JSON text of each value (number, true/false, "string" or null); never NULL itself."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    typ = arr.type
    if pa.types.is_null(typ):
        return pa.array(["null"] * len(arr), pa.string())
    rendered = text(arr)
    if pa.types.is_floating(typ):
        non_finite = pc.fill_null(pc.invert(pc.is_finite(arr)), False)
        out = pc.if_else(non_finite, quoted(rendered), rendered) if pc.any(non_finite).as_py() else rendered
    elif is_json_number(typ) or pa.types.is_boolean(typ):
        out = rendered
    elif is_string_like(typ):
        out = json_string(rendered)
    else:
        out = quoted(rendered)  # dates and timestamps: digits, '-', ':', '.', 'T', 'Z' need no escape
    return pc.fill_null(out, "null")


def json_key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)
