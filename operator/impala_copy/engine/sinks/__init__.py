"""Sink writers and the registry from sink dataset kind to writer: `create_sink(plan, secrets)`.

File datasets (Parquet, DelimitedText, Json) share one `FileSink` (rotation, naming, atomic commit)
and differ in their `FileFormat`; the file system comes from `engine.sinks.filesystems.open_filesystem`.
Other sinks live in their own module with a `create_sink(plan, secrets) -> SinkWriter` function
and are imported only when used (`OTHER_SINKS`), so their client libraries load lazily.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from impala_copy.api.plan import CopyPlan, SinkPlan
from impala_copy.engine.errors import ConfigurationError
from impala_copy.engine.interfaces import SinkWriter
from impala_copy.engine.sinks.delimited_text import DelimitedTextFormat
from impala_copy.engine.sinks.files import FileFormat, FileSink, Naming
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
    if kind in OTHER_SINKS:
        try:
            module: Any = importlib.import_module(OTHER_SINKS[kind])
        except ModuleNotFoundError as exc:
            if exc.name != OTHER_SINKS[kind]:
                raise
            raise ConfigurationError(f"{kind} sinks are not available in this engine build") from None
        writer: SinkWriter = module.create_sink(plan, secrets)
        return writer
    raise ConfigurationError(f"no sink writer for dataset kind {kind!r}")
