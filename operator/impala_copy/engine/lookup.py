"""The Lookup activity: run one query and return ADF's output JSON.

    firstRowOnly: true  -> {"firstRow": {"col": value, ...}}          ({} when the query returns no row)
    firstRowOnly: false -> {"count": N, "value": [{"col": value}, ...]}

At most `MAX_ROWS` (5000, ADF's limit) rows are returned: when the query has more, the output holds
the first 5000, `truncated` is set, and the rest of the result is never fetched (the query is closed).
The output may not exceed `HARD_LIMIT_BYTES` (ADF fails a lookup over 4 MB): fetching stops as soon
as it would, and the lookup fails with `ResultTooLarge`.

Values follow one documented JSON mapping (docs/lookup.md), see `json_value`:
BOOLEAN -> true/false; TINYINT..BIGINT -> integer; FLOAT/DOUBLE -> number ("NaN", "Infinity",
"-Infinity" as strings); DECIMAL(p,s) -> string with exactly s decimals (exact); STRING/VARCHAR/CHAR
-> string; TIMESTAMP -> "YYYY-MM-DDTHH:MM:SS[.ffffff]" (no zone, like Impala's TIMESTAMP); DATE ->
"YYYY-MM-DD"; BINARY -> base64 string; ARRAY/MAP/STRUCT -> nested JSON; NULL -> null.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import pyarrow as pa

from impala_copy.api.plan import ImpalaConnection, LookupPlan
from impala_copy.engine.errors import CopyError, Timeout
from impala_copy.engine.source.arrow_types import COMPLEX_TYPES, HS2_TYPE_KEY

MAX_ROWS = 5000
# ADF fails a Lookup whose output exceeds 4 MB; so does this one (bytes of the compact UTF-8 JSON).
HARD_LIMIT_BYTES = 4 * 1024 * 1024
# Rows per fetch: the row limit and one more, so a single round trip tells whether the result was truncated.
FETCH_ROWS = MAX_ROWS + 1


class ResultTooLarge(CopyError):
    """The output is larger than the hard limit; retrying returns the same rows."""

    code = "ResultTooLarge"
    retryable = False


@dataclass(frozen=True)
class LookupResult:
    """ADF's output of a Lookup and what the operator reports about it."""

    output: dict[str, Any]
    rows: int
    truncated: bool
    size_bytes: int
    duration_seconds: float
    columns: tuple[str, ...] = ()

    def to_json(self) -> str:
        """The output as compact UTF-8 JSON, exactly `size_bytes` long once encoded."""
        return dumps(self.output)


def dumps(value: Any) -> str:
    """Compact JSON as stored and measured everywhere (status, ConfigMap, size limits)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# ------------------------------------------------------------------------------------- value mapping


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _decimal(value: Decimal) -> str:
    # format "f" keeps the scale and never switches to exponent notation (Decimal("0E-10") -> "0.0000000000").
    return format(value, "f")


def _timestamp(value: dt.datetime) -> str:
    # pandas.Timestamp (nanosecond units) is a datetime whose isoformat keeps the nanoseconds.
    return value.isoformat()


def _binary(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _complex_text(value: str) -> Any:
    """Complex values (ARRAY/MAP/STRUCT) arrive as JSON text; nest them, or keep text that is not JSON."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def json_value(value: Any) -> Any:
    """One Python value (from Arrow's to_pylist) as JSON, following the documented mapping."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return _binary(bytes(value))
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            # An Arrow MAP comes back as a list of (key, value) pairs.
            return {str(k): json_value(v) for k, v in value}
        return [json_value(v) for v in value]
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def _hs2_type(field: pa.Field) -> str | None:
    """The HiveServer2 type the source recorded in the field's metadata (engine/source/arrow_types.py)."""
    value = (field.metadata or {}).get(
        HS2_TYPE_KEY.encode() if isinstance(HS2_TYPE_KEY, str) else HS2_TYPE_KEY
    )
    return None if value is None else str(value.decode("utf-8", "replace")).upper()


def column_converter(field: pa.Field) -> Callable[[Any], Any]:
    """How one column's values become JSON: complex types reported as text are parsed back to JSON."""
    hs2_type = _hs2_type(field)
    if hs2_type is not None and hs2_type.split("<")[0] in COMPLEX_TYPES and pa.types.is_string(field.type):

        def complex_value(value: Any) -> Any:
            return None if value is None else _complex_text(value)

        return complex_value
    return json_value


def unique_names(names: list[str]) -> list[str]:
    """Column names as output keys: a repeated name gets a suffix (_2, _3...) so no value is lost."""
    seen: dict[str, int] = {}
    out: list[str] = []
    taken = set(names)
    for name in names:
        if name not in seen:
            seen[name] = 1
            out.append(name)
            continue
        n = seen[name]
        candidate = f"{name}_{n + 1}"
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n + 1}"
        seen[name] = n + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def batch_rows(
    batch: pa.RecordBatch, names: list[str], converters: list[Callable[[Any], Any]]
) -> Iterator[dict[str, Any]]:
    """The rows of one batch as JSON objects (column order kept)."""
    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    for r in range(batch.num_rows):
        yield {names[c]: converters[c](columns[c][r]) for c in range(len(names))}


# ------------------------------------------------------------------------------------- collecting


class _Source(Protocol):
    @property
    def schema(self) -> pa.Schema: ...

    def batches(self) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


def _too_large(size: int, rows: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"the lookup output exceeds the {HARD_LIMIT_BYTES // (1024 * 1024)} MiB limit "
        f"({size} bytes of JSON after {rows} rows): select fewer columns or rows, or use a CopyActivity"
    )


def collect(
    source: _Source,
    *,
    first_row_only: bool,
    max_rows: int = MAX_ROWS,
    hard_limit_bytes: int = HARD_LIMIT_BYTES,
    deadline: float | None = None,
    timeout_seconds: float | None = None,
) -> LookupResult:
    """Read at most max_rows (+1 to detect truncation) from an open query into ADF's output."""
    started = time.monotonic()
    names = unique_names([f.name for f in source.schema])
    converters = [column_converter(f) for f in source.schema]
    rows: list[dict[str, Any]] = []
    # Bytes of the JSON so far: the wrapper {"count":N,"value":[...]} is added at the end.
    size = 0
    truncated = False
    limit = 1 if first_row_only else max_rows
    try:
        for batch in source.batches():
            if deadline is not None and time.monotonic() > deadline:
                raise Timeout(f"the lookup did not finish within {timeout_seconds:.0f}s (policy.timeout)")
            for row in batch_rows(batch, names, converters):
                if len(rows) >= limit:
                    truncated = not first_row_only
                    break
                size += len(dumps(row).encode()) + 1
                if size > hard_limit_bytes:
                    raise _too_large(size, len(rows) + 1)
                rows.append(row)
            if truncated or (first_row_only and rows):
                break
    finally:
        source.close()
    if first_row_only:
        output: dict[str, Any] = {"firstRow": rows[0]} if rows else {}
    else:
        output = {"count": len(rows), "value": rows}
    total = len(dumps(output).encode())
    if total > hard_limit_bytes:
        raise _too_large(total, len(rows))
    return LookupResult(
        output=output,
        rows=len(rows),
        truncated=truncated,
        size_bytes=total,
        duration_seconds=time.monotonic() - started,
        columns=tuple(names),
    )


# ------------------------------------------------------------------------------------- running


def lookup_sql(plan: LookupPlan) -> str:
    """The statement a lookup runs: the user's query as written, or the dataset's table with a LIMIT."""
    from impala_copy.engine.source.sql import build_select

    sql = build_select(plan.source)
    if plan.source.query is None or not plan.source.query.strip():
        sql += f" LIMIT {1 if plan.first_row_only else plan.max_rows + 1}"
    return sql


class _Session(Protocol):
    def query(
        self, sql: str, *, timeout_seconds: float, batch_rows: int = ..., prefetch: int = ...
    ) -> _Source: ...

    def close(self) -> None: ...


Connector = Callable[[ImpalaConnection, Mapping[str, str]], _Session]


def _default_connect(conn: ImpalaConnection, secrets: Mapping[str, str]) -> _Session:
    from impala_copy.engine.source.hs2 import connect

    return connect(conn, secrets)


def run_lookup(
    plan: LookupPlan, secrets: Mapping[str, str], *, connect: Connector | None = None
) -> LookupResult:
    """Connect, run the lookup's query (bounded by queryTimeout and policy.timeout), close.

    Raises CopyError subclasses (AuthenticationFailed, Unreachable, Timeout, QueryFailed, ResultTooLarge...)
    whose messages never contain a secret value.
    """
    started = time.monotonic()
    timeout = float(min(plan.source.query_timeout_seconds, plan.timeout_seconds))
    deadline = started + float(plan.timeout_seconds)
    session = (connect or _default_connect)(plan.impala, secrets)
    try:
        fetch_rows = 1 if plan.first_row_only else plan.max_rows + 1
        # Fetched in this thread, one block at a time (no read-ahead): nothing past row 5001 is fetched.
        source = session.query(lookup_sql(plan), timeout_seconds=timeout, batch_rows=fetch_rows, prefetch=0)
        result = collect(
            source,
            first_row_only=plan.first_row_only,
            max_rows=plan.max_rows,
            deadline=deadline,
            timeout_seconds=float(plan.timeout_seconds),
        )
    finally:
        session.close()
    return LookupResult(
        output=result.output,
        rows=result.rows,
        truncated=result.truncated,
        size_bytes=result.size_bytes,
        duration_seconds=time.monotonic() - started,
        columns=result.columns,
    )


__all__ = [
    "FETCH_ROWS",
    "HARD_LIMIT_BYTES",
    "MAX_ROWS",
    "LookupResult",
    "ResultTooLarge",
    "collect",
    "dumps",
    "json_value",
    "lookup_sql",
    "run_lookup",
]
