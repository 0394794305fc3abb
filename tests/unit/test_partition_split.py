"""The partitions of a partitioned copy, planned from typed bounds and partition keys (no server).

In: DynamicRange bounds of each column kind (integer, DECIMAL, DATE, TIMESTAMP) and counts; partition
key tuples as SHOW PARTITIONS lists them (the Hive/Spark and the Impala forms); the read of one
partition (build_select with a predicate, the query hook); the index a copy pod is given; plans too
large for the termination message.
Out: the exact predicates and labels; that the predicates of a plan select every row exactly once
(integers and key tuples, NULLs included, evaluated by SQLite on rows the plan never saw); the SQL of
a partition's read; the errors' exact text and exit codes.
Faked: nothing. SQLite stands in for Impala only to evaluate predicates of integers and text.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal

import pytest

from impala_copy.api.partitions import PARTITION_CONDITION, PartitionOption
from impala_copy.api.plan import CopyPlan, Partition, PartitioningPlan, SourcePlan
from impala_copy.api.summary import TERMINATION_MESSAGE_LIMIT
from impala_copy.engine.errors import ConfigurationError, QueryFailed
from impala_copy.engine.main import PlanError, partition_index
from impala_copy.engine.partition_plan import column_type, key_kind, partition_specs
from impala_copy.engine.partition_split import (
    Key,
    Literal,
    cut_points,
    key_partitions,
    range_partitions,
)
from impala_copy.engine.partition_task import fitted
from impala_copy.engine.run import chosen_partition
from impala_copy.engine.source.sql import build_select
from impala_copy.engine.source.watermark import WatermarkKind

ID = Key("`id`", "id")


def predicates(partitions: list[Partition]) -> list[str | None]:
    return [p.predicate for p in partitions]


def test_integer_ranges_are_open_at_both_ends_with_nulls_first() -> None:
    parts = range_partitions(ID, WatermarkKind.INTEGER, 0, 99, 3)
    assert [(p.index, p.predicate, p.label) for p in parts] == [
        (0, "`id` IS NULL OR (`id` < 33)", "id < 33 or NULL"),
        (1, "(`id` >= 33) AND (`id` < 66)", "33 <= id < 66"),
        (2, "`id` >= 66", "id >= 66"),
    ]


def test_fewer_ranges_than_asked_when_there_are_fewer_values() -> None:
    assert predicates(range_partitions(ID, WatermarkKind.INTEGER, 7, 9, 8)) == [
        "`id` IS NULL OR (`id` < 8)",
        "(`id` >= 8) AND (`id` < 9)",
        "`id` >= 9",
    ]
    assert predicates(range_partitions(ID, WatermarkKind.INTEGER, 5, 5, 8)) == ["1 = 1"]
    assert cut_points(-10, 10, 4) == [-5, 0, 5]
    assert cut_points(0, 10**30, 2) == [5 * 10**29 + 0]


def test_decimal_date_and_timestamp_ranges_use_typed_literals() -> None:
    amount = Key("`amount`", "amount")
    decimal = range_partitions(amount, WatermarkKind.DECIMAL, Decimal("1.00"), Decimal("2.00"), 2, scale=2)
    assert predicates(decimal) == ["`amount` IS NULL OR (`amount` < 1.50)", "`amount` >= 1.50"]
    day = Key("`day`", "day")
    dates = range_partitions(day, WatermarkKind.DATE, dt.date(2026, 12, 1), dt.date(2026, 12, 4), 2)
    assert predicates(dates) == [
        "`day` IS NULL OR (`day` < CAST('2026-12-03' AS DATE))",
        "`day` >= CAST('2026-12-03' AS DATE)",
    ]
    ts = Key("`ts`", "ts")
    start, end = dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 1, 0, 0, 1)
    times = range_partitions(ts, WatermarkKind.TIMESTAMP, start, end, 4)
    assert [p.label for p in times] == [
        "ts < 2026-12-01 00:00:00.250000 or NULL",
        "2026-12-01 00:00:00.250000 <= ts < 2026-12-01 00:00:00.500000",
        "2026-12-01 00:00:00.500000 <= ts < 2026-12-01 00:00:00.750000",
        "ts >= 2026-12-01 00:00:00.750000",
    ]
    assert times[1].predicate == (
        "(`ts` >= CAST('2026-12-01 00:00:00.250000' AS TIMESTAMP)) AND "
        "(`ts` < CAST('2026-12-01 00:00:00.500000' AS TIMESTAMP))"
    )


def _matches(partitions: list[Partition], columns: str, rows: list[tuple[object, ...]]) -> list[int]:
    """How many partitions select each row, evaluated by SQLite."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE t ({columns})")
    db.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(rows[0]))})", rows)
    counts = dict.fromkeys(range(len(rows)), 0)
    for p in partitions:
        for (rowid,) in db.execute(f"SELECT rowid - 1 FROM t WHERE ({p.predicate})"):
            counts[rowid] += 1
    return list(counts.values())


@pytest.mark.parametrize("count", [1, 2, 3, 8, 50])
def test_every_integer_row_is_read_by_exactly_one_range(count: int) -> None:
    parts = range_partitions(ID, WatermarkKind.INTEGER, 10, 40, count)
    # Rows below and above the planned bounds, and NULLs, as if the data changed after planning.
    rows: list[tuple[object, ...]] = [(v,) for v in range(-5, 60)] + [(None,), (None,)]
    assert _matches(parts, "id INTEGER", rows) == [1] * len(rows)
    assert len(parts) == min(count, 31)


def _text(value: str) -> Literal:
    return Literal(f"'{value}'", value)


def _int(value: int) -> Literal:
    return Literal(str(value), str(value))


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_every_row_is_read_by_exactly_one_group_of_partition_keys(count: int) -> None:
    keys = [Key("`year`", "year"), Key("`region`", "region")]
    listed = [(_int(y), _text(r)) for y in (2024, 2025, 2026) for r in ("AP", "EU", "US")]
    parts = key_partitions(keys, listed, count)
    assert len(parts) == min(count, 9)
    rows: list[tuple[object, ...]] = [
        (y, r) for y in (2023, 2024, 2025, 2026, 2027) for r in ("AA", "AP", "EU", "FR", "US", "ZZ")
    ]
    rows += [(None, "EU"), (2025, None), (None, None)]
    assert _matches(parts, "year INTEGER, region TEXT", rows) == [1] * len(rows)


def test_key_groups_compare_tuples_and_keep_null_keys_in_the_first() -> None:
    keys = [Key("`year`", "year"), Key("`region`", "region")]
    listed = [(_int(2025), _text("EU")), (_int(2025), _text("US")), (_int(2026), _text("EU"))]
    parts = key_partitions(keys, listed, 2)
    assert [(p.predicate, p.label) for p in parts] == [
        (
            "`year` IS NULL OR `region` IS NULL OR ((`year` < 2025) OR (`year` = 2025 AND `region` < 'US'))",
            "(year, region) < (2025, US) or NULL",
        ),
        (
            "`year` IS NOT NULL AND `region` IS NOT NULL AND "
            "((`year` > 2025) OR (`year` = 2025 AND `region` >= 'US'))",
            "(year, region) >= (2025, US)",
        ),
    ]


def test_show_partitions_is_read_in_the_hive_and_the_impala_forms() -> None:
    hive = partition_specs(
        ["partition"],
        [
            ["year=2026/region=EU"],
            ["year=2026/region=a%2Fb%3Dc"],
            ["year=__HIVE_DEFAULT_PARTITION__/region=US"],
        ],
    )
    assert hive == [
        {"year": "2026", "region": "EU"},
        {"year": "2026", "region": "a/b=c"},
        {"year": None, "region": "US"},
    ]
    impala = partition_specs(
        ["year", "region", "#Rows", "#Files", "Size"],
        [[2026, "EU", 10, 1, "1KB"], [2026, "NULL", 3, 1, "1KB"], ["Total", "", 13, 2, "2KB"]],
    )
    assert impala == [{"year": "2026", "region": "EU"}, {"year": "2026", "region": None}]
    with pytest.raises(QueryFailed) as err:
        partition_specs(["partition"], [["year=2026/garbage"]])
    assert err.value.message == "SHOW PARTITIONS listed 'year=2026/garbage', which is not key=value/..."


def test_a_key_or_column_that_is_not_in_the_result_is_named() -> None:
    with pytest.raises(ConfigurationError) as err:
        column_type({"id": "INT", "name": "STRING"}, "amount", "partition column")
    assert err.value.message == (
        "partition column 'amount' is not a column of the source's result (its columns: id, name)"
    )
    assert err.value.exit_code == 2
    assert column_type({"id": "INT"}, "ID", "partition column") == "INT"
    with pytest.raises(ConfigurationError) as err:
        key_kind("ratio", "DOUBLE")
    assert err.value.message == (
        "partition key 'ratio' is of type DOUBLE; a partition key of PhysicalPartitionsOfTable (or text) "
        "must be BIGINT, INT, SMALLINT, TINYINT, DECIMAL, TIMESTAMP or DATE"
    )
    assert key_kind("region", "VARCHAR(10)").kind is None


TABLE = SourcePlan(schema="sales", table="orders")


def test_a_partition_is_read_with_its_predicate() -> None:
    assert build_select(TABLE, predicate="`id` >= 3") == ("SELECT * FROM `sales`.`orders` WHERE `id` >= 3")
    assert build_select(TABLE, predicate="1 = 1") == "SELECT * FROM `sales`.`orders` WHERE 1 = 1"
    bare = SourcePlan(query=f"SELECT * FROM sales.orders WHERE {PARTITION_CONDITION}")
    assert build_select(bare, {}, predicate="1 = 1") == "SELECT * FROM sales.orders WHERE (1 = 1)"
    query = SourcePlan(query=f"SELECT * FROM sales.orders WHERE region = 'EU' AND {PARTITION_CONDITION};")
    assert build_select(query, {}, predicate="`id` >= 3") == (
        "SELECT * FROM sales.orders WHERE region = 'EU' AND (`id` >= 3)"
    )


def test_the_hook_outside_sql_code_or_without_a_partition_is_refused() -> None:
    quoted = SourcePlan(query=f"SELECT '{PARTITION_CONDITION}' FROM t WHERE {PARTITION_CONDITION}")
    with pytest.raises(ConfigurationError) as err:
        build_select(quoted, {}, predicate="TRUE")
    assert err.value.message.startswith(f"{PARTITION_CONDITION} is SQL built by the engine: write it in SQL")
    with pytest.raises(ConfigurationError) as err:
        build_select(SourcePlan(query=f"SELECT * FROM t WHERE {PARTITION_CONDITION}"), {})
    assert err.value.message == (
        f"'{PARTITION_CONDITION}' in source.query has no value: only a DynamicRange partitioned copy "
        "(source.partitionOption) has a partition predicate"
    )


def _plan(partitions: list[Partition], partitioned: bool = True) -> CopyPlan:
    return CopyPlan.model_validate(
        {
            "namespace": "ns",
            "activity": "copy",
            "runId": "r1",
            "impala": {"host": "impala"},
            "source": {"schema": "s", "table": "t"},
            "sink": {"datasetKind": "ParquetDataset", "dataset": {}, "sink": {"type": "ParquetSink"}},
            "partitions": [p.to_wire() for p in partitions],
            "partitioning": (
                PartitioningPlan(option=PartitionOption.DYNAMIC_RANGE, count=3, parallelism=3, column="id")
                if partitioned
                else None
            ),
        }
    )


def test_a_pod_reads_the_partition_of_its_index() -> None:
    parts = range_partitions(ID, WatermarkKind.INTEGER, 0, 99, 3)
    plan = _plan(parts)
    assert chosen_partition(plan, 2) == parts[2]
    with pytest.raises(ConfigurationError) as err:
        chosen_partition(plan, 3)
    assert err.value.message == "partition 3 is not in the plan, which has 3 (0 to 2)"
    with pytest.raises(ConfigurationError) as err:
        chosen_partition(plan, None)
    assert err.value.message == (
        "a partitioned copy reads one partition per process: JOB_COMPLETION_INDEX must hold its index"
    )
    assert chosen_partition(_plan([Partition()], partitioned=False), None) is None
    assert partition_index({"JOB_COMPLETION_INDEX": "7"}) == 7
    assert partition_index({}) is None
    with pytest.raises(PlanError, match=r"JOB_COMPLETION_INDEX '-1; rm' is not a partition index"):
        partition_index({"JOB_COMPLETION_INDEX": "-1; rm"})


def test_a_plan_too_large_for_the_termination_message_loses_labels_then_fails() -> None:
    ts = Key("`ts`", "ts")
    start, end = dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1)
    some = range_partitions(ts, WatermarkKind.TIMESTAMP, start, end, 8)
    summary, code = fitted(some)
    assert (code, summary.partitions[0]["label"]) == (0, "ts < 2026-02-15 15:00:00 or NULL")
    summary, code = fitted(some, labels=False)  # policy.secureOutput: labels show data values
    assert (code, [p.get("label") for p in summary.partitions]) == (0, [None] * 8)
    assert summary.partitions[0]["predicate"] == some[0].predicate
    many = range_partitions(ts, WatermarkKind.TIMESTAMP, start, end, 24)
    summary, code = fitted(many)
    assert code == 0
    assert [p.get("label") for p in summary.partitions] == [None] * 24
    assert len(summary.to_termination_message()) <= TERMINATION_MESSAGE_LIMIT
    summary, code = fitted(range_partitions(ts, WatermarkKind.TIMESTAMP, start, end, 200))
    assert (code, summary.status, summary.partitions) == (2, "Failed", [])
    assert summary.error is not None
    assert summary.error.code == "PartitionPlanTooLarge"
    assert json.loads(summary.to_termination_message())["error"]["message"] == (
        "the 200 partitions' predicates do not fit the 4096-byte termination message: lower parallelCopies"
    )
