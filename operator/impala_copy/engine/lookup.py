"""The Lookup activity: run one query and return ADF's output JSON.

    firstRowOnly: true  -> {"firstRow": {"col": value, ...}}          ({} when the query returns no row)
    firstRowOnly: false -> {"count": N, "value": [{"col": value}, ...]}

At most `MAX_ROWS` (5000, ADF's limit) rows are returned: when the query has more, the output holds
the first 5000, `truncated` is set, and the rest of the result is never fetched (the query is closed).
The output may not exceed `HARD_LIMIT_BYTES` (ADF fails a lookup over 4 MB): fetching stops as soon
as it would, and the lookup fails with `ResultTooLarge`.

Memory follows the byte budget, not the result: rows are fetched without read-ahead, and each fetch
asks for as many rows as the budget left can hold at the widest row width known (`FetchPlanner`):
from the schema when every column has a bounded JSON width, else from the rows already read, after
a first fetch of PROBE_ROWS rows. On a framed (SASL) connection a reply larger than twice the budget
left (plus RESPONSE_SLACK_BYTES) is refused from its header before it is read: its rows hold more
JSON than the budget left (no value takes more bytes on the wire than twice its JSON), so the
lookup fails with ResultTooLarge, or, for the row that only tells truncation, is truncated.

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
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from impala_copy.api.lookup_frames import MAX_OUTPUT_BYTES, encode_frames
from impala_copy.api.plan import ImpalaConnection, LookupPlan
from impala_copy.api.summary import LookupSummary
from impala_copy.engine.errors import CopyError, Timeout
from impala_copy.engine.secrets import scrubs_errors
from impala_copy.engine.source.arrow_types import COMPLEX_TYPES, HS2_TYPE_KEY
from impala_copy.engine.source.query import ResponseTooLarge

MAX_ROWS = 5000
# ADF fails a Lookup whose output exceeds 4 MB; so does this one (bytes of the compact UTF-8 JSON).
HARD_LIMIT_BYTES = MAX_OUTPUT_BYTES
# Rows of the first fetch when a column's JSON width is unbounded (STRING, BINARY, complex types):
# one row tells how wide rows are before more are asked for.
PROBE_ROWS = 1
# What a FetchResults reply may hold beyond twice the budget left: the message and column headers
# and null bitmaps (about 20 bytes and rows/8 per column).
RESPONSE_SLACK_BYTES = 1024 * 1024


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


def _sequence(value: list[Any] | tuple[Any, ...]) -> Any:
    if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
        # An Arrow MAP comes back as a list of (key, value) pairs.
        return {str(k): json_value(v) for k, v in value}
    return [json_value(v) for v in value]


# (Python type, its JSON form), tried in order: datetime before date (a datetime is a date).
_JSON_FORMS: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (float, _float),
    (Decimal, _decimal),
    (dt.datetime, _timestamp),
    ((dt.date, dt.time), lambda v: v.isoformat()),
    ((bytes, bytearray, memoryview), lambda v: _binary(bytes(v))),
    (dict, lambda v: {str(k): json_value(x) for k, x in v.items()}),
    ((list, tuple), _sequence),
    (dt.timedelta, lambda v: v.total_seconds()),
)


def json_value(value: Any) -> Any:
    """One Python value (from Arrow's to_pylist) as JSON, following the documented mapping."""
    if value is None or isinstance(value, bool | int | str):
        return value
    for kind, form in _JSON_FORMS:
        if isinstance(value, kind):
            return form(value)
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


@runtime_checkable
class _SizedSource(Protocol):
    """A source whose next fetch asks for `fetch_rows` rows in a reply of at most `max_response_bytes`
    (engine/source/query.py with prefetch=0)."""

    fetch_rows: int
    max_response_bytes: int | None


def value_width(data_type: pa.DataType) -> int | None:
    """The most characters one value of this type takes in the JSON; None when it is unbounded."""
    t = pa.types
    if t.is_null(data_type):
        return 4
    if t.is_boolean(data_type):
        return 5
    if t.is_integer(data_type):
        return {8: 4, 16: 6, 32: 11}.get(data_type.bit_width, 20)
    if t.is_floating(data_type):
        return 24  # -1.7976931348623157e+308
    if t.is_decimal(data_type):
        return int(data_type.precision) + 4  # quotes, sign, point
    if t.is_date(data_type):
        return 12
    if t.is_timestamp(data_type) or t.is_time(data_type):
        return 31  # "YYYY-MM-DDTHH:MM:SS.fffffffff"
    return None


@dataclass
class FetchPlanner:
    """How many rows the next fetch may ask for, so that one fetch holds about what the budget has left.

    The row width is the widest row read so far (compact JSON with its separator); before any row,
    the schema's bound when every column has one, else PROBE_ROWS rows are fetched first.
    """

    limit_rows: int
    budget_bytes: int
    schema_row_bytes: int | None
    widest_row: int = 0

    @classmethod
    def for_schema(
        cls, schema: pa.Schema, names: list[str], *, limit_rows: int, budget_bytes: int
    ) -> FetchPlanner:
        widths = [value_width(f.type) for f in schema]
        keys = sum(len(dumps(name).encode()) + 2 for name in names)  # "name": and the comma
        bounded = None if any(w is None for w in widths) else 3 + keys + sum(w or 0 for w in widths)
        return cls(limit_rows=limit_rows, budget_bytes=budget_bytes, schema_row_bytes=bounded)

    def max_response_bytes(self, bytes_used: int) -> int:
        """The largest reply the next fetch may bring: a larger one holds more than the budget left."""
        return 2 * max(self.budget_bytes - bytes_used, self.widest_row) + RESPONSE_SLACK_BYTES

    def next_rows(self, rows_kept: int, bytes_used: int) -> int:
        """Rows of the output still to come that the budget left holds; once the output is full, the
        one row that tells truncation, in a fetch of its own (so a refused reply always means that
        the output would be too large)."""
        remaining_rows = self.limit_rows - rows_kept
        if remaining_rows <= 0:
            return 1
        width = self.widest_row or self.schema_row_bytes
        if width is None:
            return min(remaining_rows, PROBE_ROWS)
        return max(1, min(remaining_rows, (self.budget_bytes - bytes_used) // width))


def _too_large(size: int, rows: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"the lookup output exceeds the {HARD_LIMIT_BYTES // (1024 * 1024)} MiB limit "
        f"({size} bytes of JSON after {rows} rows): select fewer columns or rows, or use a CopyActivity"
    )


def _reply_too_large(exc: ResponseTooLarge, rows: int, size: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"the lookup output exceeds the {HARD_LIMIT_BYTES // (1024 * 1024)} MiB limit (the server's reply "
        f"for the next rows is {exc.size} bytes, after {rows} rows and {size} bytes of JSON): select fewer "
        "columns or rows, or use a CopyActivity"
    )


@dataclass
class _Collected:
    rows: list[dict[str, Any]]
    size: int = 0
    truncated: bool = False


def _take(
    source: _Source,
    planner: FetchPlanner,
    limit: int,
    hard_limit_bytes: int,
    check_deadline: Callable[[], None],
    *,
    tell_truncation: bool,
) -> _Collected:
    """Up to `limit` rows (and one more with tell_truncation), each fetch sized by the planner."""
    names = unique_names([f.name for f in source.schema])
    converters = [column_converter(f) for f in source.schema]
    got = _Collected(rows=[])
    batches = source.batches()
    while tell_truncation or len(got.rows) < limit:
        if isinstance(source, _SizedSource):
            source.fetch_rows = planner.next_rows(len(got.rows), got.size)
            source.max_response_bytes = planner.max_response_bytes(got.size)
        try:
            batch = next(batches, None)
        except ResponseTooLarge as exc:
            if len(got.rows) >= limit:  # the row past the limit exists: the output is truncated
                got.truncated = True
                return got
            raise _reply_too_large(exc, len(got.rows), got.size) from None
        if batch is None:
            break
        check_deadline()
        for row in batch_rows(batch, names, converters):
            if len(got.rows) >= limit:
                got.truncated = tell_truncation
                return got
            row_bytes = len(dumps(row).encode()) + 1
            planner.widest_row = max(planner.widest_row, row_bytes)
            got.size += row_bytes
            if got.size > hard_limit_bytes:
                raise _too_large(got.size, len(got.rows) + 1)
            got.rows.append(row)
        del batch
    return got


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

    def check_deadline() -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise Timeout(f"the lookup did not finish within {timeout_seconds:.0f}s (policy.timeout)")

    limit = 1 if first_row_only else max_rows
    names = unique_names([f.name for f in source.schema])
    planner = FetchPlanner.for_schema(source.schema, names, limit_rows=limit, budget_bytes=hard_limit_bytes)
    try:
        got = _take(
            source, planner, limit, hard_limit_bytes, check_deadline, tell_truncation=not first_row_only
        )
    finally:
        source.close()
    rows = got.rows
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
        truncated=got.truncated,
        size_bytes=total,
        duration_seconds=time.monotonic() - started,
        columns=tuple(names),
    )


# ------------------------------------------------------------------------------------- running


def lookup_sql(plan: LookupPlan) -> str:
    """The statement a lookup runs: the user's query (its placeholders rendered, engine/run_values.py),
    or the dataset's table with a LIMIT."""
    from impala_copy.engine.run_values import run_values
    from impala_copy.engine.source.sql import build_select

    sql = build_select(plan.source, run_values(plan))
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


@scrubs_errors
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
    sql = lookup_sql(plan)  # a placeholder without a value fails here, before Impala is touched
    session = (connect or _default_connect)(plan.impala, secrets)
    try:
        fetch_rows = 1 if plan.first_row_only else plan.max_rows + 1
        # Fetched in this thread, one block at a time (no read-ahead), each fetch sized by collect():
        # nothing past row 5001 and nothing far past the byte budget is fetched.
        source = session.query(sql, timeout_seconds=timeout, batch_rows=fetch_rows, prefetch=0)
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


def lookup_summary(result: LookupResult) -> tuple[LookupSummary, list[str]]:
    """The summary of a successful lookup, with the output in it when the termination message holds it;
    otherwise with `frames`, and the frame lines to print on stdout before it."""
    summary = LookupSummary(
        status="Succeeded",
        rows=result.rows,
        truncated=result.truncated,
        size_bytes=result.size_bytes,
        duration_seconds=round(result.duration_seconds, 3),
        output=result.output,
    )
    if summary.fits():
        return summary, []
    frames, lines = encode_frames(result.to_json())
    return summary.model_copy(update={"output": None, "frames": frames}), lines


__all__ = [
    "HARD_LIMIT_BYTES",
    "MAX_ROWS",
    "PROBE_ROWS",
    "RESPONSE_SLACK_BYTES",
    "FetchPlanner",
    "LookupResult",
    "ResultTooLarge",
    "collect",
    "dumps",
    "json_value",
    "lookup_sql",
    "lookup_summary",
    "run_lookup",
]
