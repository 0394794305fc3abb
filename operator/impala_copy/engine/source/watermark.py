"""The range of an incremental copy: typed watermark values, their SQL literals, the range predicate.

    high = MAX(column) read at the start of the run (over the table, or over the query as a subquery)
    low  = the run's low watermark (stored, else initialValue) minus lookback; none on a first run
    rows copied: low < column <= high; new watermark: max(low before lookback, high)

Every value is parsed into a Python value of the column's type (int, Decimal, datetime, date) and
rendered back as a literal of that type, so neither a manifest nor a server reply is ever spliced
into SQL as text. Supported column types: TINYINT, SMALLINT, INT, BIGINT, DECIMAL, TIMESTAMP, DATE;
any other is a ConfigurationError naming the column and its type. A NULL high mark (no rows above
the low watermark) copies nothing and leaves the watermark where it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING

from impala_copy.api.durations import timespan_seconds
from impala_copy.api.incremental import IncrementalPlan
from impala_copy.api.placeholders import INCREMENTAL_RANGE_NAME, SqlFragment
from impala_copy.api.placeholders import Value as PlaceholderValue
from impala_copy.api.plan import SourcePlan
from impala_copy.engine.errors import ConfigurationError, QueryFailed
from impala_copy.engine.source.arrow_types import HS2_TYPE_KEY
from impala_copy.engine.source.sql import build_select, qualified_table, quote_identifier

if TYPE_CHECKING:
    from impala_copy.engine.source.hs2 import ImpalaSession
    from impala_copy.engine.source.query import HS2Query

Value = int | Decimal | dt.datetime | dt.date
# The alias of the source query when its high mark is read over it.
SUBQUERY_ALIAS = "impala_copy_incremental"


class WatermarkKind(StrEnum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    TIMESTAMP = "timestamp"
    DATE = "date"


_KINDS = {
    "TINYINT": WatermarkKind.INTEGER,
    "SMALLINT": WatermarkKind.INTEGER,
    "INT": WatermarkKind.INTEGER,
    "BIGINT": WatermarkKind.INTEGER,
    "DECIMAL": WatermarkKind.DECIMAL,
    "TIMESTAMP": WatermarkKind.TIMESTAMP,
    "DATE": WatermarkKind.DATE,
}


def watermark_kind(
    column: str, hs2_type: str, *, what: str = "incremental column", role: str = "a watermark column"
) -> WatermarkKind:
    """The kind of value a column of `hs2_type` holds (also a DynamicRange partition column's, with its
    own `what` and `role` in the message), or ConfigurationError naming both."""
    kind = _KINDS.get(hs2_type.split("(", 1)[0].upper())
    if kind is None:
        raise ConfigurationError(
            f"{what} {column!r} is of type {hs2_type}; {role} must be BIGINT, "
            "INT, SMALLINT, TINYINT, DECIMAL, TIMESTAMP or DATE"
        )
    return kind


def parse_value(kind: WatermarkKind, text: str, what: str) -> Value:
    """`text` as a value of `kind`; ConfigurationError naming `what` (e.g. initialValue) when it is not."""
    try:
        return _parse(kind, text.strip())
    except (ValueError, InvalidOperation):
        shown = text if len(text) <= 64 else text[:64] + "..."
        raise ConfigurationError(f"{what} {shown!r} is not a {_EXAMPLES[kind]}") from None


_EXAMPLES = {
    WatermarkKind.INTEGER: "whole number (e.g. 1000) for an integer column",
    WatermarkKind.DECIMAL: "decimal number (e.g. 12.50) for a DECIMAL column",
    WatermarkKind.TIMESTAMP: "timestamp without a zone (e.g. 2026-12-01 08:30:00) for a TIMESTAMP column",
    WatermarkKind.DATE: "date (e.g. 2026-12-01) for a DATE column",
}


def _parse(kind: WatermarkKind, text: str) -> Value:
    if kind is WatermarkKind.INTEGER:
        if not text.lstrip("-").isdigit() or not text.isascii():
            raise ValueError(text)
        return int(text)
    if kind is WatermarkKind.DECIMAL:
        value = Decimal(text)
        if not value.is_finite() or "e" in text.lower():
            raise ValueError(text)
        return value
    if kind is WatermarkKind.DATE:
        return dt.date.fromisoformat(text)
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        raise ValueError(text)
    return parsed


def value_text(kind: WatermarkKind, value: Value) -> str:
    """The canonical text of a watermark (what the summary, status and state files hold)."""
    if kind is WatermarkKind.DECIMAL:
        assert isinstance(value, Decimal)
        return format(value, "f")
    if kind is WatermarkKind.TIMESTAMP:
        assert isinstance(value, dt.datetime)
        return value.isoformat(sep=" ")
    if kind is WatermarkKind.DATE:
        assert isinstance(value, dt.date)
        return value.isoformat()
    return str(value)


def sql_literal(kind: WatermarkKind, value: Value) -> str:
    """A SQL literal of the column's type; the text comes from a typed value, never from input."""
    text = value_text(kind, value)
    if kind is WatermarkKind.TIMESTAMP:
        return f"CAST('{text}' AS TIMESTAMP)"
    if kind is WatermarkKind.DATE:
        return f"CAST('{text}' AS DATE)"
    return text


def lowered(kind: WatermarkKind, value: Value, lookback: str | None) -> Value:
    """`value` minus `lookback` (a number for numeric kinds, a timespan [D.]HH:MM:SS for times)."""
    if not lookback:
        return value
    is_span = ":" in lookback
    if kind in (WatermarkKind.INTEGER, WatermarkKind.DECIMAL):
        if is_span:
            raise ConfigurationError(f"lookback {lookback!r} is a timespan; a numeric column takes a number")
        step = parse_value(kind, lookback, "lookback")
        assert isinstance(value, int | Decimal)
        assert isinstance(step, int | Decimal)
        return value - step
    if not is_span:
        raise ConfigurationError(
            f"lookback {lookback!r} is a number; a {kind.upper()} column takes a timespan [D.]HH:MM:SS"
        )
    seconds = timespan_seconds(lookback)
    if kind is WatermarkKind.DATE:
        if seconds % 86400:
            raise ConfigurationError(
                f"lookback {lookback!r} of a DATE column must be whole days (D.00:00:00)"
            )
        assert isinstance(value, dt.date)
        return value - dt.timedelta(days=seconds // 86400)
    assert isinstance(value, dt.datetime)
    return value - dt.timedelta(seconds=seconds)


def _rendered(source: SourcePlan, values: Mapping[str, PlaceholderValue], predicate: str) -> str:
    """The source query with its placeholders rendered, `{incrementalRange}` as `(predicate)`."""
    return build_select(source, {**values, INCREMENTAL_RANGE_NAME: SqlFragment(f"({predicate})")})


def _bounds(column: str, low: str | None, high: str | None) -> str:
    quoted = quote_identifier(column, what="incremental column")
    parts = [f"{quoted} > {low}"] if low is not None else []
    parts += [f"{quoted} <= {high}"] if high is not None else []
    return " AND ".join(parts) if parts else "TRUE"


def high_mark_sql(
    source: SourcePlan, column: str, where: str | None, values: Mapping[str, PlaceholderValue]
) -> str:
    """SELECT MAX(column) over the rows that satisfy `where`: of the table, or of the query."""
    quoted = quote_identifier(column, what="incremental column")
    if source.query is not None and source.query.strip():
        inner = _rendered(source, values, where or "TRUE")
        return f"SELECT MAX({quoted}) FROM ({inner}) {SUBQUERY_ALIAS}"
    if not source.table:
        raise ConfigurationError("the source names neither a query nor a table")
    condition = f" WHERE {where}" if where else ""
    return f"SELECT MAX({quoted}) FROM {qualified_table(source.schema_, source.table)}{condition}"


@dataclass(frozen=True)
class IncrementalRange:
    """The rows a run copies (`predicate`) and the watermark to store once they are committed."""

    predicate: str
    new_watermark: str | None  # None: no row above the low watermark, the stored one stays
    kind: WatermarkKind


def read_range(
    session: ImpalaSession, source: SourcePlan, plan: IncrementalPlan, values: Mapping[str, PlaceholderValue]
) -> IncrementalRange:
    """Read the column's type and its high mark above the low watermark; the run's range from them."""
    column = plan.column
    kind = watermark_kind(column, _column_type(session, source, column, values))
    low = parse_value(kind, plan.low, "the low watermark") if plan.low is not None else None
    start = lowered(kind, low, plan.lookback) if low is not None else None
    where = _bounds(column, sql_literal(kind, start), None) if start is not None else None
    result = session.query(
        high_mark_sql(source, column, where, values), timeout_seconds=source.query_timeout_seconds, prefetch=0
    )
    try:
        high = _first_value(result)
    finally:
        result.close()
    return make_range(kind, column, low, start, high)


def _column_type(
    session: ImpalaSession, source: SourcePlan, column: str, values: Mapping[str, PlaceholderValue]
) -> str:
    """The HS2 type of MAX(column), from a query that reads no row (WHERE FALSE)."""
    result = session.query(
        high_mark_sql(source, column, "FALSE", values),
        timeout_seconds=source.query_timeout_seconds,
        prefetch=0,
    )
    try:
        schema = result.schema
    finally:
        result.close()
    if len(schema) != 1:
        raise QueryFailed(f"the high mark of {column!r} came back with {len(schema)} columns, not 1")
    metadata = schema.field(0).metadata or {}
    return bytes(metadata.get(HS2_TYPE_KEY, b"UNKNOWN")).decode("ascii", "replace")


def select_range(source: SourcePlan, rows: IncrementalRange, values: Mapping[str, PlaceholderValue]) -> str:
    """The statement that reads the run's rows: the table read with the range as its WHERE, or the
    query with `{incrementalRange}` rendered as the range."""
    if source.query is not None and source.query.strip():
        return _rendered(source, values, rows.predicate)
    return f"{build_select(source, values)} WHERE {rows.predicate}"


def make_range(
    kind: WatermarkKind, column: str, low: Value | None, start: Value | None, high: Value | None
) -> IncrementalRange:
    """The range `start < column <= high` and the new watermark max(low, high) (pure)."""
    if high is None:
        return IncrementalRange("FALSE", None, kind)
    start_lit = sql_literal(kind, start) if start is not None else None
    newest = high if low is None or _greater(high, low) else low
    return IncrementalRange(
        _bounds(column, start_lit, sql_literal(kind, high)), value_text(kind, newest), kind
    )


def _greater(a: Value, b: Value) -> bool:
    return bool(a > b)  # type: ignore[operator]  # the same kind on both sides


def _first_value(result: HS2Query) -> Value | None:
    for batch in result.batches():
        if batch.num_rows:
            value = batch.column(0)[0].as_py()
            if value is not None and not isinstance(value, int | Decimal | dt.date):
                raise QueryFailed(f"the high mark came back as {type(value).__name__}")
            return value
    return None


__all__ = [
    "IncrementalRange",
    "WatermarkKind",
    "high_mark_sql",
    "lowered",
    "make_range",
    "parse_value",
    "read_range",
    "select_range",
    "sql_literal",
    "value_text",
    "watermark_kind",
]
