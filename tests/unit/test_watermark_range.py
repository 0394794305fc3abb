"""The range of an incremental copy: typed watermark values, SQL literals, predicates and statements.

In: column types as HiveServer2 names them, watermark texts (manifests, status, server replies as
Python values), lookbacks, table and query sources.
Out: the kind of each column or the exact ConfigurationError naming it, the canonical texts and
literals, the range predicate and the new watermark, the SQL statements sent.
Faked: nothing (pure functions; the server side is tests/integration/test_incremental_sts.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from impala_copy.api.plan import SourcePlan
from impala_copy.engine.errors import ConfigurationError
from impala_copy.engine.source.watermark import (
    IncrementalRange,
    WatermarkKind,
    high_mark_sql,
    lowered,
    make_range,
    parse_value,
    select_range,
    sql_literal,
    value_text,
    watermark_kind,
)

INTEGER, DECIMAL, TIMESTAMP, DATE = (
    WatermarkKind.INTEGER,
    WatermarkKind.DECIMAL,
    WatermarkKind.TIMESTAMP,
    WatermarkKind.DATE,
)
TABLE = SourcePlan(schema_="sales", table="orders", columns=["order_id", "amount"])
QUERY = SourcePlan(query="SELECT * FROM sales.orders WHERE {incrementalRange} AND region = 'EU';")


@pytest.mark.parametrize(
    ("hs2_type", "kind"),
    [
        ("BIGINT", INTEGER),
        ("INT", INTEGER),
        ("SMALLINT", INTEGER),
        ("TINYINT", INTEGER),
        ("DECIMAL(18,2)", DECIMAL),
        ("TIMESTAMP", TIMESTAMP),
        ("DATE", DATE),
    ],
)
def test_supported_column_types(hs2_type: str, kind: WatermarkKind) -> None:
    assert watermark_kind("c", hs2_type) is kind


@pytest.mark.parametrize("hs2_type", ["STRING", "DOUBLE", "VARCHAR(20)", "BOOLEAN"])
def test_an_unsupported_column_type_is_a_configuration_error_naming_it(hs2_type: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        watermark_kind("customer", hs2_type)
    assert caught.value.message == (
        f"incremental column 'customer' is of type {hs2_type}; a watermark column must be BIGINT, INT, "
        "SMALLINT, TINYINT, DECIMAL, TIMESTAMP or DATE"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("kind", "text", "value", "canonical", "literal"),
    [
        (INTEGER, "1000", 1000, "1000", "1000"),
        (INTEGER, "-5", -5, "-5", "-5"),
        (DECIMAL, "12.50", Decimal("12.50"), "12.50", "12.50"),
        (
            TIMESTAMP,
            "2026-12-01T08:30:00.25",
            dt.datetime(2026, 12, 1, 8, 30, 0, 250000),
            "2026-12-01 08:30:00.250000",
            "CAST('2026-12-01 08:30:00.250000' AS TIMESTAMP)",
        ),
        (
            TIMESTAMP,
            "2026-12-01 08:30:00",
            dt.datetime(2026, 12, 1, 8, 30),
            "2026-12-01 08:30:00",
            "CAST('2026-12-01 08:30:00' AS TIMESTAMP)",
        ),
        (DATE, "2026-12-01", dt.date(2026, 12, 1), "2026-12-01", "CAST('2026-12-01' AS DATE)"),
    ],
)
def test_values_parse_and_render_as_typed_literals(
    kind: WatermarkKind, text: str, value: object, canonical: str, literal: str
) -> None:
    parsed = parse_value(kind, text, "initialValue")
    assert parsed == value
    assert value_text(kind, parsed) == canonical
    assert sql_literal(kind, parsed) == literal


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (INTEGER, "12.5", "initialValue '12.5' is not a whole number (e.g. 1000) for an integer column"),
        (
            INTEGER,
            "1 OR 1=1",
            "initialValue '1 OR 1=1' is not a whole number (e.g. 1000) for an integer column",
        ),
        (DECIMAL, "1e9", "initialValue '1e9' is not a decimal number (e.g. 12.50) for a DECIMAL column"),
        (DECIMAL, "NaN", "initialValue 'NaN' is not a decimal number (e.g. 12.50) for a DECIMAL column"),
        (
            DATE,
            "2026-12-01 08:00:00",
            "initialValue '2026-12-01 08:00:00' is not a date (e.g. 2026-12-01) for a DATE column",
        ),
        (
            TIMESTAMP,
            "2026-12-01T08:00:00+01:00",
            "initialValue '2026-12-01T08:00:00+01:00' is not a timestamp without a zone (e.g. 2026-12-01 "
            "08:30:00) for a TIMESTAMP column",
        ),
        (
            TIMESTAMP,
            "2026-12-01'; DROP TABLE x; --",
            'initialValue "2026-12-01\'; DROP TABLE x; --" is not a timestamp without a zone (e.g. '
            "2026-12-01 08:30:00) for a TIMESTAMP column",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_by_name(kind: WatermarkKind, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_value(kind, text, "initialValue")
    assert caught.value.message == message


def test_lookback_per_kind() -> None:
    assert lowered(INTEGER, 1000, "100") == 900
    assert lowered(DECIMAL, Decimal("10.5"), "0.25") == Decimal("10.25")
    assert lowered(TIMESTAMP, dt.datetime(2026, 12, 1, 1, 0), "0.02:30:00") == dt.datetime(
        2026, 11, 30, 22, 30
    )
    assert lowered(DATE, dt.date(2026, 12, 3), "2.00:00:00") == dt.date(2026, 12, 1)
    assert lowered(INTEGER, 1000, None) == 1000


@pytest.mark.parametrize(
    ("kind", "value", "lookback", "message"),
    [
        (INTEGER, 1000, "01:00:00", "lookback '01:00:00' is a timespan; a numeric column takes a number"),
        (INTEGER, 1000, "1.5", "lookback '1.5' is not a whole number (e.g. 1000) for an integer column"),
        (
            TIMESTAMP,
            dt.datetime(2026, 12, 1),
            "3600",
            "lookback '3600' is a number; a TIMESTAMP column takes a timespan [D.]HH:MM:SS",
        ),
        (
            DATE,
            dt.date(2026, 12, 1),
            "0.12:00:00",
            "lookback '0.12:00:00' of a DATE column must be whole days (D.00:00:00)",
        ),
    ],
)
def test_a_lookback_that_does_not_fit_the_column_is_refused(
    kind: WatermarkKind, value: int | dt.date, lookback: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        lowered(kind, value, lookback)
    assert caught.value.message == message


def test_first_run_copies_everything_up_to_the_high_mark() -> None:
    rows = make_range(INTEGER, "order_id", None, None, 42)
    assert rows == IncrementalRange("`order_id` <= 42", "42", INTEGER)


def test_a_later_run_copies_above_the_low_mark() -> None:
    low = dt.datetime(2026, 12, 1, 8, 0)
    rows = make_range(TIMESTAMP, "updated at", low, low, dt.datetime(2026, 12, 1, 9, 0, 0, 5))
    assert rows.predicate == (
        "`updated at` > CAST('2026-12-01 08:00:00' AS TIMESTAMP) AND "
        "`updated at` <= CAST('2026-12-01 09:00:00.000005' AS TIMESTAMP)"
    )
    assert rows.new_watermark == "2026-12-01 09:00:00.000005"


def test_lookback_reads_lower_but_never_moves_the_watermark_back() -> None:
    # Only late rows below the stored mark arrived: the high mark is under it, the watermark stays.
    rows = make_range(INTEGER, "id", 100, 90, 95)
    assert rows.predicate == "`id` > 90 AND `id` <= 95"
    assert rows.new_watermark == "100"


def test_a_null_high_mark_copies_nothing_and_keeps_the_watermark() -> None:
    rows = make_range(DATE, "d", dt.date(2026, 1, 1), dt.date(2026, 1, 1), None)
    assert rows == IncrementalRange("FALSE", None, DATE)


def test_high_mark_of_a_table_and_of_a_query() -> None:
    assert high_mark_sql(TABLE, "order_id", None, {}) == "SELECT MAX(`order_id`) FROM `sales`.`orders`"
    assert high_mark_sql(TABLE, "order_id", "`order_id` > 7", {}) == (
        "SELECT MAX(`order_id`) FROM `sales`.`orders` WHERE `order_id` > 7"
    )
    assert high_mark_sql(QUERY, "order_id", None, {}) == (
        "SELECT MAX(`order_id`) FROM (SELECT * FROM sales.orders WHERE (TRUE) AND region = 'EU') "
        "impala_copy_incremental"
    )


def test_the_read_of_a_table_and_of_a_query() -> None:
    rows = make_range(INTEGER, "order_id", 7, 7, 9)
    assert select_range(TABLE, rows, {}) == (
        "SELECT `order_id`, `amount` FROM `sales`.`orders` WHERE `order_id` > 7 AND `order_id` <= 9"
    )
    assert select_range(QUERY, rows, {}) == (
        "SELECT * FROM sales.orders WHERE (`order_id` > 7 AND `order_id` <= 9) AND region = 'EU'"
    )


def test_the_range_placeholder_is_refused_inside_a_string_literal() -> None:
    quoted = QUERY.model_copy(update={"query": "SELECT * FROM t WHERE note = '{incrementalRange}'"})
    with pytest.raises(ConfigurationError, match="incrementalRange"):
        select_range(quoted, make_range(INTEGER, "order_id", 7, 7, 9), {})


def test_a_column_name_that_cannot_be_quoted_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_range(INTEGER, "id` OR 1=1 --", None, None, 1)
    assert caught.value.message == (
        "incremental column 'id` OR 1=1 --' contains a backtick, which cannot be quoted safely in SQL"
    )
