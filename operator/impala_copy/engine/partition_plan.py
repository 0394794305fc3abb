"""Planning a partitioned copy (`impala-copy engine --task partition-plan`): its partitions, from Impala.

    DynamicRange               the column's type (a LIMIT 0 read of the source), MIN/MAX when a bound
                               is not given, then ranges (engine/partition_split.py)
    PhysicalPartitionsOfTable  the table's key types (a LIMIT 0 read), SHOW PARTITIONS, then groups

The planning runs where the copy runs (a pod with the Impala credentials; the operator holds no
Secret value and does not know column types). A column or key that is not in the result, a type that
cannot be ranged, a bound that is not a value of the column's type, or a table without partitions is a
ConfigurationError (exit code 2) naming it. SHOW PARTITIONS is read in both forms: Hive / Spark's one
`partition` column (`k1=v1/k2=v2`, values path-escaped, `__HIVE_DEFAULT_PARTITION__` for NULL) and
Impala's one column per key followed by its counters (`#Rows`, ...) and a last `Total` row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import unquote

from impala_copy.api.partitions import PartitionOption
from impala_copy.api.placeholder_rendering import string_literal
from impala_copy.api.placeholders import Value as PlaceholderValue
from impala_copy.api.plan import CopyPlan, Partition, PartitioningPlan, SourcePlan
from impala_copy.engine.errors import ConfigurationError, QueryFailed
from impala_copy.engine.partition_split import Cut, Key, Literal, key_partitions, literal, range_partitions
from impala_copy.engine.source.arrow_types import HS2_TYPE_KEY
from impala_copy.engine.source.sql import ALL_ROWS, build_select, qualified_table, quote_identifier
from impala_copy.engine.source.watermark import Value, WatermarkKind, parse_value, watermark_kind

if TYPE_CHECKING:
    from impala_copy.engine.source.hs2 import ImpalaSession

# The alias of the source read when it is read as a subquery.
SUBQUERY_ALIAS = "impala_copy_partitions"
# Values of a partition key Hive and Impala show for NULL.
NULL_KEYS = frozenset({"__HIVE_DEFAULT_PARTITION__", "NULL"})
_TEXT_TYPES = ("STRING", "VARCHAR", "CHAR")


@dataclass(frozen=True)
class Planner:
    """One planning: the session, the source read and the run's placeholder values."""

    session: ImpalaSession
    source: SourcePlan
    values: Mapping[str, PlaceholderValue]

    def table(self, sql: str) -> tuple[list[str], list[list[object]]]:
        """The column names and rows of a small result (a planning query's)."""
        result = self.session.query(sql, timeout_seconds=self.source.query_timeout_seconds, prefetch=0)
        try:
            header = [field.name for field in result.schema]
            rows = [list(row.values()) for batch in result.batches() for row in batch.to_pylist()]
        finally:
            result.close()
        return header, rows

    def columns(self) -> dict[str, str]:
        """The source's result columns (lower-case name -> HS2 type), from a read of no row."""
        inner = build_select(self.source, self.values, predicate=ALL_ROWS if self.source.query else None)
        result = self.session.query(
            f"SELECT * FROM ({inner}) {SUBQUERY_ALIAS} LIMIT 0",
            timeout_seconds=self.source.query_timeout_seconds,
            prefetch=0,
        )
        try:
            schema = result.schema
        finally:
            result.close()
        return {
            field.name.rsplit(".", 1)[-1].lower(): bytes(
                (field.metadata or {}).get(HS2_TYPE_KEY, b"")
            ).decode("ascii", "replace")
            for field in schema
        }


def column_type(columns: Mapping[str, str], column: str, what: str) -> str:
    """The HS2 type of `column`, or ConfigurationError naming it and the columns there are."""
    found = columns.get(column.lower())
    if found is None:
        shown = ", ".join(sorted(columns)[:20]) + (", ..." if len(columns) > 20 else "")
        raise ConfigurationError(
            f"{what} {column!r} is not a column of the source's result (its columns: {shown or 'none'})"
        )
    return found


def plan_partitions(
    session: ImpalaSession, plan: CopyPlan, values: Mapping[str, PlaceholderValue]
) -> list[Partition]:
    """The partitions of a partitioned copy's plan."""
    partitioning = plan.partitioning
    if partitioning is None:
        raise ConfigurationError("the plan is not of a partitioned copy: it has no partitioning")
    planner = Planner(session, plan.source, values)
    if partitioning.option == PartitionOption.DYNAMIC_RANGE:
        return dynamic_ranges(planner, partitioning)
    if partitioning.option == PartitionOption.PHYSICAL_PARTITIONS_OF_TABLE:
        return physical_groups(planner, partitioning)
    return [Partition()]


# ------------------------------------------------------------------------------- DynamicRange


def dynamic_ranges(planner: Planner, partitioning: PartitioningPlan) -> list[Partition]:
    column = partitioning.column
    if not column:
        raise ConfigurationError(
            "partitionOption DynamicRange requires partitionSettings.partitionColumnName"
        )
    hs2_type = column_type(planner.columns(), column, "partition column")
    kind = watermark_kind(column, hs2_type, what="partition column", role="a DynamicRange partition column")
    low = _given(kind, partitioning.lower_bound, "partitionSettings.partitionLowerBound")
    high = _given(kind, partitioning.upper_bound, "partitionSettings.partitionUpperBound")
    if low is None or high is None:
        found_low, found_high = _min_max(planner, column)
        low = found_low if low is None else low
        high = found_high if high is None else high
    if low is None or high is None:  # no row with a value: one partition reads them all
        return [Partition(index=0, predicate=ALL_ROWS, label="all rows")]
    if _above(low, high):
        raise ConfigurationError(
            f"the low bound {low} of partition column {column!r} is above its high bound {high}"
        )
    key = Key(quote_identifier(column, what="partition column"), column)
    return range_partitions(key, kind, low, high, partitioning.count, scale=_scale(hs2_type))


def _given(kind: WatermarkKind, text: str | None, what: str) -> Value | None:
    return None if text is None else parse_value(kind, text, what)


def _above(a: Value, b: Value) -> bool:
    return bool(a > b)  # type: ignore[operator]  # the same kind on both sides


def _scale(hs2_type: str) -> int:
    """The scale of a DECIMAL(p,s) type (0 for any other)."""
    if not hs2_type.upper().startswith("DECIMAL(") or "," not in hs2_type:
        return 0
    return int(hs2_type.rstrip(")").rsplit(",", 1)[1])


def _min_max(planner: Planner, column: str) -> tuple[Value | None, Value | None]:
    quoted = quote_identifier(column, what="partition column")
    inner = build_select(planner.source, planner.values, predicate=ALL_ROWS if planner.source.query else None)
    _, rows = planner.table(f"SELECT MIN({quoted}), MAX({quoted}) FROM ({inner}) {SUBQUERY_ALIAS}")
    for row in rows:
        if len(row) != 2:
            raise QueryFailed(f"MIN and MAX of {column!r} came back with {len(row)} columns, not 2")
        return _value(row[0]), _value(row[1])
    return None, None


def _value(value: object) -> Value | None:
    if value is not None and not isinstance(value, int | Decimal | dt.date):
        raise QueryFailed(f"a bound came back as {type(value).__name__}")
    return value


# -------------------------------------------------------------------- PhysicalPartitionsOfTable


def physical_groups(planner: Planner, partitioning: PartitioningPlan) -> list[Partition]:
    source = planner.source
    if source.query or not source.table:
        raise ConfigurationError("partitionOption PhysicalPartitionsOfTable reads a table: it takes no query")
    table = qualified_table(source.schema_, source.table)
    try:
        header, listed = planner.table(f"SHOW PARTITIONS {table}")
    except QueryFailed as exc:
        raise ConfigurationError(
            f"SHOW PARTITIONS {table} failed: PhysicalPartitionsOfTable needs a partitioned table "
            f"({exc.message})"
        ) from None
    specs = partition_specs(header, listed)
    if not specs:
        return [Partition(index=0, predicate=ALL_ROWS, label="all rows")]
    columns = planner.columns()
    names = list(specs[0])
    kinds = [key_kind(name, column_type(columns, name, "partition key")) for name in names]
    keys = [Key(quote_identifier(n, what="partition key"), n) for n in names]
    tuples = sorted(
        (t for t in (_typed(spec, names, kinds) for spec in specs) if t is not None), key=lambda t: t[0]
    )
    cuts = [c for _, c in tuples]
    return key_partitions(keys, _distinct(cuts), partitioning.count)


def partition_specs(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[dict[str, str | None]]:
    """Each listed partition as {key: value text or None (NULL)}, from either form of SHOW PARTITIONS."""
    if len(header) == 1:  # Hive / Spark: partition=k1=v1/k2=v2
        return [_hive_spec(str(row[0])) for row in rows if row and row[0] is not None]
    # Impala: the key columns, then the counters (#Rows, #Files, Size, ...).
    keys = list(header[: next((i for i, n in enumerate(header) if n.startswith("#")), len(header))])
    specs = []
    for row in rows:
        values = [None if v is None else str(v) for v in row[: len(keys)]]
        if values and values[0] == "Total" and all(v in ("", None) for v in values[1:]):
            continue
        specs.append({k: (None if v in NULL_KEYS else v) for k, v in zip(keys, values, strict=True)})
    return specs


def _hive_spec(text: str) -> dict[str, str | None]:
    spec: dict[str, str | None] = {}
    for part in text.split("/"):
        name, sep, value = part.partition("=")
        if not sep:
            raise QueryFailed(f"SHOW PARTITIONS listed {text[:80]!r}, which is not key=value/...")
        spec[unquote(name)] = None if value in NULL_KEYS else unquote(value)
    return spec


@dataclass(frozen=True)
class KeyKind:
    """How a partition key's values are typed: a kind of watermark.py, or text."""

    name: str
    kind: WatermarkKind | None  # None: text (STRING, VARCHAR, CHAR)


def key_kind(name: str, hs2_type: str) -> KeyKind:
    if hs2_type.split("(", 1)[0].upper() in _TEXT_TYPES:
        return KeyKind(name, None)
    role = "a partition key of PhysicalPartitionsOfTable"
    return KeyKind(name, watermark_kind(name, hs2_type, what="partition key", role=role + " (or text)"))


def _typed(
    spec: Mapping[str, str | None], names: Sequence[str], kinds: Sequence[KeyKind]
) -> tuple[tuple[object, ...], Cut] | None:
    """(sort key, literals) of one partition; None for a partition with a NULL key (the first group's)."""
    sort_key: list[object] = []
    cut: list[Literal] = []
    for name, key in zip(names, kinds, strict=True):
        text = spec.get(name)
        if text is None:
            return None
        if key.kind is None:
            sort_key.append(text)
            cut.append(Literal(string_literal(text), text))
        else:
            value = parse_value(
                key.kind, text, f"the value of partition key {name!r} listed by SHOW PARTITIONS"
            )
            sort_key.append(value)
            cut.append(literal(key.kind, value))
    return tuple(sort_key), tuple(cut)


def _distinct(cuts: Sequence[Cut]) -> list[Cut]:
    out: list[Cut] = []
    for cut in cuts:
        if not out or out[-1] != cut:
            out.append(cut)
    return out


__all__ = [
    "NULL_KEYS",
    "SUBQUERY_ALIAS",
    "KeyKind",
    "Planner",
    "column_type",
    "dynamic_ranges",
    "key_kind",
    "partition_specs",
    "physical_groups",
    "plan_partitions",
]
