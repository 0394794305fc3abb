"""Sink writers and the registry from sink dataset kind to writer: `create_sink(plan, secrets)`.

File datasets (Parquet, DelimitedText, Json) share one `FileSink` (rotation, naming, atomic commit)
and differ in their `FileFormat`; the file system comes from `engine.sinks.filesystems.open_filesystem`.
Other sinks live in their own module with a `create_sink(plan, secrets) -> SinkWriter` function
and are imported only when used (`OTHER_SINKS`), so their client libraries load lazily.

A partitioned copy: `create_partition_sink(plan, secrets, index)` is the writer of one index (it
stages, then seals), and `commit_partitions(plan, secrets)` the commit step that publishes them all
(file sinks: sinks/partitioned_files.py; other sinks: their module's `create_partition_sink` and
`commit_partitions`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from impala_copy.api.plan import CopyPlan, Partition, SinkPlan
from impala_copy.api.summary import RunSummary
from impala_copy.engine.errors import ConfigurationError
from impala_copy.engine.interfaces import PartitionSinkWriter, SinkWriter
from impala_copy.engine.sinks.delimited_text import DelimitedTextFormat
from impala_copy.engine.sinks.files import FileFormat, FileSink, Naming, check_partitioned_names
from impala_copy.engine.sinks.filesystems import file_location, invalid_dataset, open_filesystem
from impala_copy.engine.sinks.json_lines import JsonLinesFormat
from impala_copy.engine.sinks.parquet import ParquetFormat

# Sink dataset kind -> its file format.
FILE_FORMATS: dict[str, Callable[[SinkPlan], FileFormat]] = {
    "ParquetDataset": lambda sink: ParquetFormat.from_spec(sink.parquet()),
    "DelimitedTextDataset": lambda sink: DelimitedTextFormat.from_spec(sink.delimited_text()),
    "JsonDataset": lambda sink: JsonLinesFormat.from_spec(sink.json_()),
}

# Sink dataset kind -> module with `create_sink(plan, secrets) -> SinkWriter`.
OTHER_SINKS: dict[str, str] = {
    "PostgreSqlTableDataset": "impala_copy.engine.sinks.postgresql",
}


def file_format(sink: SinkPlan) -> FileFormat:
    try:
        return FILE_FORMATS[sink.dataset_kind](sink)
    except KeyError:
        raise ConfigurationError(f"{sink.dataset_kind} is not a file dataset") from None
    except ValidationError as exc:
        raise invalid_dataset(sink, exc) from None


def naming(sink: SinkPlan, fmt: FileFormat) -> Naming:
    settings = sink.format_settings
    return Naming(
        extension=fmt.extension,
        file_name=file_location(sink).file_name,
        prefix=settings.file_name_prefix,
        max_rows_per_file=settings.max_rows_per_file,
    )


def create_sink(plan: CopyPlan, secrets: Mapping[str, str]) -> SinkWriter:
    """The writer for the plan's sink dataset."""
    kind = plan.sink.dataset_kind
    if kind in FILE_FORMATS:
        fmt = file_format(plan.sink)
        fs, base = open_filesystem(plan.sink, secrets)
        return FileSink(fs, base, fmt, naming(plan.sink, fmt), plan.run_id)
    writer: SinkWriter = _other_sink(kind).create_sink(plan, secrets)
    return writer


def planned_partition(plan: CopyPlan, index: int) -> Partition:
    """The plan's partition of an index (the Indexed Job's completion index), checked."""
    count = len(plan.partitions)
    if not 0 <= index < count or plan.partitions[index].index != index:
        raise ConfigurationError(
            f"partition index {index} is not one of the plan's {count} partitions (0..{count - 1})"
        )
    return plan.partitions[index]


def create_partition_sink(plan: CopyPlan, secrets: Mapping[str, str], index: int) -> PartitionSinkWriter:
    """The writer of one index of a partitioned copy: it stages its output and publishes nothing."""
    partition = planned_partition(plan, index)
    kind = plan.sink.dataset_kind
    if kind in FILE_FORMATS:
        fmt = file_format(plan.sink)
        names = naming(plan.sink, fmt)
        check_partitioned_names(names, len(plan.partitions))
        fs, base = open_filesystem(plan.sink, secrets)
        return FileSink(fs, base, fmt, names, plan.run_id, partition)
    writer: PartitionSinkWriter = _other_sink(kind).create_partition_sink(plan, secrets, partition)
    return writer


def commit_partitions(plan: CopyPlan, secrets: Mapping[str, str]) -> RunSummary:
    """The commit step of a partitioned copy: publish every index's staged output at once."""
    kind = plan.sink.dataset_kind
    if kind in FILE_FORMATS:
        from impala_copy.engine.sinks.partitioned_files import commit_file_partitions

        fmt = file_format(plan.sink)
        return commit_file_partitions(plan, secrets, fmt, naming(plan.sink, fmt))
    summary: RunSummary = _other_sink(kind).commit_partitions(plan, secrets)
    return summary


def _other_sink(kind: str) -> Any:
    """The module of a sink that is not a file sink (imported on first use)."""
    if kind not in OTHER_SINKS:
        raise ConfigurationError(f"no sink writer for dataset kind {kind!r}")
    try:
        return importlib.import_module(OTHER_SINKS[kind])
    except ModuleNotFoundError as exc:
        if exc.name != OTHER_SINKS[kind]:
            raise
        raise ConfigurationError(f"{kind} sinks are not available in this engine build") from None
