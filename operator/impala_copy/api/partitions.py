"""Partitioned copies: one run split over several Job pods (ADF: parallelCopies, partitionOption).

A CopyActivity with `source.partitionOption` other than None runs as an Indexed Job: each index reads
one partition of the source and stages its output; once every index has succeeded, one commit step
publishes the whole run at once (docs/partitioned-copies.md).

- `DynamicRange`: `parallelCopies` ranges over `partitionSettings.partitionColumnName` (an integer,
  decimal, date or timestamp column) between `partitionLowerBound` and `partitionUpperBound` (found
  with one MIN/MAX query when not given). The first range is open below and the last open above, so
  every row is read by exactly one index whatever the bounds; NULLs of the column go to the first.
  With a source query, `?AdfDynamicRangePartitionCondition` marks where each index's predicate goes.
- `PhysicalPartitionsOfTable`: the table's own partitions (SHOW PARTITIONS), grouped into at most
  `parallelCopies` contiguous groups of partition keys (the first open below, the last open above).

Values are written as text, as ADF writes them; their type comes from the column when the run plans.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from impala_copy.api.incremental import COLUMN_PATTERN, WATERMARK_VALUE_PATTERN
from impala_copy.api.rules import Rule, RuledModel

if TYPE_CHECKING:
    from impala_copy.api.activities import ImpalaSource

# ADF's marker in a source query: where a DynamicRange partition's predicate goes.
PARTITION_CONDITION = "?AdfDynamicRangePartitionCondition"
# The largest parallelCopies the CRD accepts; the operator's setting `job.maxParallelCopies` (Helm
# value) may set a lower cap, checked when the activity is reconciled.
MAX_PARALLEL_COPIES = 256
# parallelCopies when a partitioned copy does not say.
DEFAULT_PARALLEL_COPIES = 4
# The environment variable Kubernetes sets in each pod of an Indexed Job: the pod's index.
PARTITION_INDEX_ENV = "JOB_COMPLETION_INDEX"


class PartitionOption(StrEnum):
    NONE = "None"
    DYNAMIC_RANGE = "DynamicRange"
    PHYSICAL_PARTITIONS_OF_TABLE = "PhysicalPartitionsOfTable"


# Bounds compared by the rules (the engine compares them again, typed by the column, when it plans):
# two numbers as numbers; two dates or timestamps as text when their date-time separators agree.
_NUMBER = "^-?[0-9]+([.][0-9]+)?$"
_DATE = "^[0-9]{4}-"
_T_SEPARATED = "^.{10}T"


def bounds_in_order(lower: str | None, upper: str | None) -> bool:
    """False only when both bounds are numbers, or both dates/timestamps, and lower is above upper."""
    if lower is None or upper is None:
        return True
    if re.search(_NUMBER, lower) and re.search(_NUMBER, upper):
        return float(lower) <= float(upper)  # as CEL's double() compares them
    if re.search(_DATE, lower) and re.search(_DATE, upper):
        if bool(re.search(_T_SEPARATED, lower)) != bool(re.search(_T_SEPARATED, upper)):
            return True
        return lower <= upper
    return True


_LOW, _HIGH = "self.partitionLowerBound", "self.partitionUpperBound"
BOUNDS_RULE = Rule(
    cel=f"!has({_LOW}) || !has({_HIGH}) || "
    f"(({_LOW}.matches('{_NUMBER}') && {_HIGH}.matches('{_NUMBER}')) ? double({_LOW}) <= double({_HIGH}) : "
    f"(({_LOW}.matches('{_DATE}') && {_HIGH}.matches('{_DATE}') && "
    f"{_LOW}.matches('{_T_SEPARATED}') == {_HIGH}.matches('{_T_SEPARATED}')) ? {_LOW} <= {_HIGH} : true))",
    message="partitionSettings.partitionLowerBound must not be above partitionUpperBound",
    check=lambda m: bounds_in_order(m.partition_lower_bound, m.partition_upper_bound),
)


class PartitionSettings(RuledModel):
    """ADF's partitionSettings of a SQL source (DynamicRange)."""

    RULES: ClassVar[tuple[Rule, ...]] = (BOUNDS_RULE,)

    partition_column_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=COLUMN_PATTERN,
        description="DynamicRange: the column the ranges are over (an integer, DECIMAL, DATE or TIMESTAMP "
        "column of the result).",
    )
    partition_lower_bound: str | None = Field(
        default=None,
        max_length=80,
        pattern=WATERMARK_VALUE_PATTERN,
        description="DynamicRange: the low end of the ranges, as text (1000, 12.50, 2026-12-01, "
        "2026-12-01 08:30:00). Rows below it are still copied (by the first range). Default: MIN of the "
        "column, read when the run starts.",
    )
    partition_upper_bound: str | None = Field(
        default=None,
        max_length=80,
        pattern=WATERMARK_VALUE_PATTERN,
        description="DynamicRange: the high end of the ranges, as text. Rows above it are still copied (by "
        "the last range). Default: MAX of the column, read when the run starts.",
    )


def _option(m: ImpalaSource) -> PartitionOption:
    return m.partition_option or PartitionOption.NONE


_OPTION = "has(self.partitionOption) && self.partitionOption"
# The rules of `source` (ImpalaSource) about partitioned copies.
SOURCE_RULES: tuple[Rule, ...] = (
    Rule(
        cel=f"!has(self.partitionSettings) || ({_OPTION} == 'DynamicRange')",
        message="source.partitionSettings apply to partitionOption DynamicRange only",
        check=lambda m: m.partition_settings is None or _option(m) == PartitionOption.DYNAMIC_RANGE,
    ),
    Rule(
        cel=f"!({_OPTION} == 'DynamicRange') || "
        "(has(self.partitionSettings) && has(self.partitionSettings.partitionColumnName))",
        message="partitionOption DynamicRange requires partitionSettings.partitionColumnName",
        check=lambda m: (
            _option(m) != PartitionOption.DYNAMIC_RANGE
            or (m.partition_settings is not None and m.partition_settings.partition_column_name is not None)
        ),
    ),
    Rule(
        cel=f"!({_OPTION} == 'DynamicRange') || !has(self.query) || "
        f"self.query.contains('{PARTITION_CONDITION}')",
        message=f"source.query of a DynamicRange copy must contain {PARTITION_CONDITION} where each "
        f"partition's predicate goes, e.g. SELECT * FROM sales.orders WHERE {PARTITION_CONDITION}",
        check=lambda m: (
            _option(m) != PartitionOption.DYNAMIC_RANGE or m.query is None or PARTITION_CONDITION in m.query
        ),
    ),
    Rule(
        cel=f"!has(self.query) || !self.query.contains('{PARTITION_CONDITION}') || "
        f"({_OPTION} == 'DynamicRange')",
        message=f"source.query contains {PARTITION_CONDITION} but source.partitionOption is not DynamicRange",
        check=lambda m: (
            m.query is None
            or PARTITION_CONDITION not in m.query
            or _option(m) == PartitionOption.DYNAMIC_RANGE
        ),
    ),
    Rule(
        cel=f"!({_OPTION} == 'PhysicalPartitionsOfTable') || !has(self.query)",
        message="partitionOption PhysicalPartitionsOfTable reads the dataset's table: it takes no "
        "source.query",
        check=lambda m: _option(m) != PartitionOption.PHYSICAL_PARTITIONS_OF_TABLE or m.query is None,
    ),
    Rule(
        cel="!has(self.incremental) || !has(self.partitionOption) || self.partitionOption == 'None'",
        message="source.incremental and a partitionOption cannot both be set: a partitioned copy reads "
        "the whole source (incremental partitioned copies are not built)",
        check=lambda m: m.incremental is None or _option(m) == PartitionOption.NONE,
    ),
)


def partitioned(m: ImpalaSource) -> bool:
    """Whether `source` asks for a partitioned copy."""
    return _option(m) != PartitionOption.NONE


__all__ = [
    "BOUNDS_RULE",
    "DEFAULT_PARALLEL_COPIES",
    "MAX_PARALLEL_COPIES",
    "PARTITION_CONDITION",
    "PARTITION_INDEX_ENV",
    "SOURCE_RULES",
    "PartitionOption",
    "PartitionSettings",
    "bounds_in_order",
    "partitioned",
]
