"""The partitions of a partitioned copy, from typed bounds or partition keys (pure; no server).

Every partition's predicate is built from quoted identifiers and typed literals only (a literal is
rendered from a parsed value by engine/source/watermark.py, never copied from input), and the
predicates of a plan together cover every row exactly once, whatever the data did since planning:

    first   key IS NULL OR key < b1          (NULLs, and everything below the first cut)
    middle  key >= b(i) AND key < b(i+1)
    last    key >= b(n-1)                    (everything above the last cut)

DynamicRange cuts `[low, high]` of a column into at most `count` ranges of about equal width, in the
column's own unit (1 for integers, 10^-scale for DECIMAL, a day for DATE, a microsecond for
TIMESTAMP): fewer when there are fewer distinct values (3 integers make 3 ranges at most).
PhysicalPartitionsOfTable sorts the partitions' key tuples and groups them into at most `count`
contiguous groups; a cut is the first tuple of a group and the comparisons are lexicographic on the
tuple (a row with any NULL key belongs to the first group only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from impala_copy.api.plan import Partition
from impala_copy.engine.source.sql import ALL_ROWS
from impala_copy.engine.source.watermark import Value, WatermarkKind, sql_literal, value_text

# A label longer than this is cut (labels are for people: status and messages).
LABEL_MAX = 160
_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Key:
    """One key column: its quoted SQL name and the name people read."""

    sql: str
    name: str


@dataclass(frozen=True)
class Literal:
    """One typed value: its SQL literal and its text for people."""

    sql: str
    text: str


# A cut between partitions: one value per key column.
Cut = tuple[Literal, ...]


def literal(kind: WatermarkKind, value: Value) -> Literal:
    return Literal(sql_literal(kind, value), value_text(kind, value))


# ------------------------------------------------------------------------------- DynamicRange


def to_units(kind: WatermarkKind, value: Value, scale: int, *, up: bool) -> int:
    """`value` as a whole number of the column's unit (rounded down, or up when `up`)."""
    if kind is WatermarkKind.INTEGER:
        assert isinstance(value, int)
        return value
    if kind is WatermarkKind.DECIMAL:
        assert isinstance(value, Decimal)
        return int(value.scaleb(scale).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR))
    if kind is WatermarkKind.TIMESTAMP:
        assert isinstance(value, dt.datetime)
        return (value.replace(tzinfo=None) - _EPOCH) // _MICROSECOND
    assert isinstance(value, dt.date)
    return value.toordinal()


def from_units(kind: WatermarkKind, units: int, scale: int) -> Value:
    if kind is WatermarkKind.INTEGER:
        return units
    if kind is WatermarkKind.DECIMAL:
        return Decimal(units).scaleb(-scale)
    if kind is WatermarkKind.TIMESTAMP:
        return _EPOCH + units * _MICROSECOND
    return dt.date.fromordinal(units)


def cut_points(low: int, high: int, count: int) -> list[int]:
    """The inner cuts of at most `count` ranges of about equal width over the integers low..high."""
    span = high - low + 1
    ranges = max(1, min(count, span))
    return [low + (span * i) // ranges for i in range(1, ranges)]


def range_partitions(
    key: Key, kind: WatermarkKind, low: Value, high: Value, count: int, *, scale: int = 0
) -> list[Partition]:
    """At most `count` ranges of `key` between `low` and `high` (low <= high), NULLs in the first."""
    first, last = to_units(kind, low, scale, up=False), to_units(kind, high, scale, up=True)
    cuts = [(literal(kind, from_units(kind, c, scale)),) for c in cut_points(first, last, count)]
    return split_at(
        cuts,
        below=lambda b: f"{key.sql} < {b[0].sql}",
        at_or_above=lambda b: f"{key.sql} >= {b[0].sql}",
        nulls=f"{key.sql} IS NULL",
        names=[key.name],
    )


# -------------------------------------------------------------------- PhysicalPartitionsOfTable


def group_cuts(tuples: Sequence[Cut], count: int) -> list[Cut]:
    """The first tuple of each group but the first, for at most `count` groups of sorted `tuples`."""
    groups = max(1, min(count, len(tuples)))
    return [tuples[(len(tuples) * i) // groups] for i in range(1, groups)]


def _lexicographic(keys: Sequence[Key], cut: Cut, *, below: bool) -> str:
    """keys < cut (below) or keys >= cut, compared as tuples."""
    ors = []
    for j, (key, value) in enumerate(zip(keys, cut, strict=True)):
        equal = [f"{k.sql} = {v.sql}" for k, v in zip(keys[:j], cut[:j], strict=True)]
        last = j == len(keys) - 1
        op = "<" if below else (">=" if last else ">")
        ors.append(" AND ".join([*equal, f"{key.sql} {op} {value.sql}"]))
    return " OR ".join(f"({term})" for term in ors) if len(ors) > 1 else ors[0]


def key_partitions(keys: Sequence[Key], tuples: Sequence[Cut], count: int) -> list[Partition]:
    """At most `count` contiguous groups of the sorted key `tuples` (rows with a NULL key: the first)."""
    nulls = " OR ".join(f"{k.sql} IS NULL" for k in keys)
    not_null = " AND ".join(f"{k.sql} IS NOT NULL" for k in keys)
    return split_at(
        group_cuts(tuples, count),
        below=lambda b: _lexicographic(keys, b, below=True),
        at_or_above=lambda b: f"{not_null} AND ({_lexicographic(keys, b, below=False)})",
        nulls=nulls,
        names=[k.name for k in keys],
    )


# ------------------------------------------------------------------------------------- common


def split_at(
    cuts: Sequence[Cut],
    *,
    below: Callable[[Cut], str],
    at_or_above: Callable[[Cut], str],
    nulls: str,
    names: Sequence[str],
) -> list[Partition]:
    """The partitions between consecutive cuts: the first with the NULLs, open below; the last open above."""
    if not cuts:
        return [Partition(index=0, predicate=ALL_ROWS, label="all rows")]
    shown = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
    out = [
        Partition(
            index=0, predicate=f"{nulls} OR ({below(cuts[0])})", label=f"{shown} < {_text(cuts[0])} or NULL"
        )
    ]
    for i in range(1, len(cuts)):
        out.append(
            Partition(
                index=i,
                predicate=f"({at_or_above(cuts[i - 1])}) AND ({below(cuts[i])})",
                label=f"{_text(cuts[i - 1])} <= {shown} < {_text(cuts[i])}",
            )
        )
    out.append(
        Partition(index=len(cuts), predicate=at_or_above(cuts[-1]), label=f"{shown} >= {_text(cuts[-1])}")
    )
    return [p.model_copy(update={"label": _cut(p.label or "")}) for p in out]


def _text(cut: Cut) -> str:
    return cut[0].text if len(cut) == 1 else "(" + ", ".join(v.text for v in cut) + ")"


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 3] + "..."


__all__ = [
    "Key",
    "Literal",
    "cut_points",
    "from_units",
    "group_cuts",
    "key_partitions",
    "literal",
    "range_partitions",
    "split_at",
    "to_units",
]
