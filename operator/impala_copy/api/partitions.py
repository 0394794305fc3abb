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

from enum import StrEnum

from pydantic import Field

from impala_copy.api.incremental import COLUMN_PATTERN, WATERMARK_VALUE_PATTERN
from impala_copy.api.model import ApiModel

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


class PartitionSettings(ApiModel):
    """ADF's partitionSettings of a SQL source (DynamicRange)."""

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


__all__ = [
    "DEFAULT_PARALLEL_COPIES",
    "MAX_PARALLEL_COPIES",
    "PARTITION_CONDITION",
    "PARTITION_INDEX_ENV",
    "PartitionOption",
    "PartitionSettings",
]
