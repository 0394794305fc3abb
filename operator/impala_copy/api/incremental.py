"""Incremental copies: `source.incremental` of a CopyActivity (ADF's delta copy with a watermark).

Each run reads the high mark (MAX of `column`) when it starts and copies the rows with
`low < column <= high`, where `low` is the watermark the last succeeded run stored (or `initialValue`)
minus `lookback`. The new watermark is stored only after the sink has committed.

Values are written as text and typed by the column when the run reads it (the operator does not know
column types): an integer (`1000`), a decimal (`12.50`), a date (`2026-12-01`) or a timestamp
(`2026-12-01 08:30:00`, `2026-12-01T08:30:00.250`, no zone: Impala timestamps have none).
`lookback` is a number for BIGINT/INT/DECIMAL columns and an ADF timespan `[D.]HH:MM:SS` for TIMESTAMP
and DATE columns (whole days for DATE).
"""

from __future__ import annotations

import re

from pydantic import Field

from impala_copy.api.durations import TIMESPAN_PATTERN
from impala_copy.api.model import ApiModel

# The placeholder a source query must contain: the engine renders it as the run's range predicate.
INCREMENTAL_RANGE = "{incrementalRange}"

# A watermark value as text: an integer, a decimal, a date or a timestamp without a zone.
WATERMARK_VALUE_PATTERN = (
    r"^(-?[0-9]{1,38}(\.[0-9]{1,38})?"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?)?)$"
)
_WATERMARK_VALUE = re.compile(WATERMARK_VALUE_PATTERN)
WATERMARK_VALUE_MESSAGE = (
    "must be an integer (1000), a decimal (12.50), a date (2026-12-01) or a timestamp without a zone "
    "(2026-12-01 08:30:00)"
)
# A column name the engine can quote: no backtick, no control character.
COLUMN_PATTERN = r"^[^`\x00-\x1f\x7f]+$"
# A number (numeric columns) or an ADF timespan [D.]HH:MM:SS (TIMESTAMP and DATE columns).
LOOKBACK_PATTERN = r"^([0-9]{1,38}(\.[0-9]{1,38})?|" + TIMESPAN_PATTERN[1:-1] + r")$"


def watermark_text_problem(value: str) -> str | None:
    """Why `value` cannot be a watermark (None when its form is right; its type is checked at run time)."""
    if _WATERMARK_VALUE.match(value):
        return None
    shown = value if len(value) <= 64 else value[:64] + "..."
    return f"watermark value {shown!r} {WATERMARK_VALUE_MESSAGE}"


class IncrementalSource(ApiModel):
    """Copy only the rows added since the last succeeded run (ADF: delta copy with a watermark)."""

    column: str = Field(
        min_length=1,
        max_length=128,
        pattern=COLUMN_PATTERN,
        description="A column that only grows (BIGINT, INT, SMALLINT, TINYINT, DECIMAL, TIMESTAMP or DATE). "
        "Each run copies the rows with watermark < column <= MAX(column) read at its start.",
    )
    initial_value: str | None = Field(
        default=None,
        max_length=80,
        pattern=WATERMARK_VALUE_PATTERN,
        description="The watermark before the first run (rows above it are copied), as text: 1000, "
        "12.50, 2026-12-01 or 2026-12-01 08:30:00. Also the value used when status.watermark is lost. "
        "Default: the first run copies every row.",
    )
    lookback: str | None = Field(
        default=None,
        max_length=80,
        pattern=LOOKBACK_PATTERN,
        description="Read this far below the watermark again, for rows that arrive late: a number for "
        "numeric columns (e.g. 100), a timespan [D.]HH:MM:SS for TIMESTAMP and DATE columns (e.g. "
        "0.02:00:00; whole days for DATE). Rows read again are copied again: use a PostgreSqlSink with "
        "upsert. Default: none.",
    )


class IncrementalPlan(ApiModel):
    """What the engine needs of an incremental copy: the column, the run's low watermark, the lookback."""

    column: str
    low: str | None = Field(
        default=None,
        description="The watermark this run starts above (before lookback): the stored one, else "
        "initialValue; None: from the first row. A per-run value, outside the plan digest.",
    )
    lookback: str | None = None


class Watermark(ApiModel):
    """The stored watermark of an incremental CopyActivity."""

    value: str = Field(description="Rows up to this value of the column have been copied.")
    column: str = Field(description="The column the value is of (spec.source.incremental.column).")
    run_id: str | None = Field(
        default=None, description="The run that set it (after a reset: the newest run at that time)."
    )
    time: str | None = Field(default=None, description="RFC 3339 time it was set.")
    reset: bool | None = Field(
        default=None, description="True when set by the impalacopy.io/reset-watermark annotation."
    )


__all__ = [
    "COLUMN_PATTERN",
    "INCREMENTAL_RANGE",
    "LOOKBACK_PATTERN",
    "WATERMARK_VALUE_PATTERN",
    "IncrementalPlan",
    "IncrementalSource",
    "Watermark",
    "watermark_text_problem",
]
