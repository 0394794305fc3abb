"""The file sink: one format (Parquet, DelimitedText, Json), part files, rotation, atomic commit.

A `FileFormat` knows how to write one part file and how to count the rows in it; `FileSink` does
everything else the same way for every format: naming (`Naming`), rotation after maxRowsPerFile,
staging and publishing (`commit.Staging`), counters.

Naming:
- `location.fileName` without maxRowsPerFile: exactly one file with that name.
- otherwise: `<prefix>_<NNNNN><ext>`, numbered from 00000; prefix = `fileNamePrefix`, else the
  stem of `fileName`, else `part`. `ext` comes from the format (`.parquet`, `.csv`, `.jsonl`, plus
  `.gz` when gzip-compressed).
- An empty result still writes one file (Parquet: the schema and no rows; DelimitedText: the
  header line, if any; Json: an empty file), so a re-run with no rows replaces the old output.

One index of a partitioned copy (`partition` given) stages its parts the same way into its own
attempt folder, publishes nothing, and `seal()` writes its marker (sinks/partition_staging.py); the
commit step (sinks/partitioned_files.py) numbers the parts of all indexes and publishes them. A
`fileName` (one file) with more than one partition is refused: the run makes one file per index.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.fs as pafs

from impala_copy.api.paths import STAGING_DIR, unsafe_segment
from impala_copy.api.plan import Partition
from impala_copy.api.summary import RunSummary
from impala_copy.engine.errors import ConfigurationError, ConsistencyCheckFailed, CopyError, SinkError
from impala_copy.engine.interfaces import SinkResult
from impala_copy.engine.sinks.commit import Staging
from impala_copy.engine.sinks.partition_staging import IndexStaging, PartitionMarker, StagedPart

DEFAULT_PREFIX = "part"
STREAM_BUFFER_BYTES = 1 << 20


class PartWriter(Protocol):
    """Writes one part file to an open output stream; close() finishes the file and the stream."""

    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


class FileFormat(Protocol):
    """One file format: extension, part writer, and rows counted back from a written file."""

    @property
    def extension(self) -> str: ...

    def open_part(self, stream: pa.NativeFile, schema: pa.Schema) -> PartWriter: ...

    def count_rows(self, fs: pafs.FileSystem, path: str, schema: pa.Schema) -> int: ...


@dataclass(frozen=True)
class Naming:
    """How the output files of a dataset are named (see the module docstring)."""

    extension: str
    file_name: str | None = None
    prefix: str | None = None
    max_rows_per_file: int | None = None

    @property
    def single_file(self) -> bool:
        return self.file_name is not None and self.max_rows_per_file is None

    @property
    def effective_prefix(self) -> str:
        if self.prefix:
            return self.prefix
        if self.file_name:
            return self.file_name.split(".", 1)[0] or DEFAULT_PREFIX
        return DEFAULT_PREFIX

    def name(self, index: int) -> str:
        if self.single_file:
            assert self.file_name is not None
            return self.file_name
        return f"{self.effective_prefix}_{index:05d}{self.extension}"

    @property
    def slot(self) -> str:
        """The pattern as one path segment (the staging slot)."""
        return (
            self.file_name
            if self.single_file and self.file_name
            else f"{self.effective_prefix}_NNNNN{self.extension}"
        )

    def matches(self, name: str) -> bool:
        """True for a file name this naming produces (a previous run's output)."""
        if self.single_file:
            return name == self.file_name
        pattern = rf"{re.escape(self.effective_prefix)}_[0-9]{{5,}}{re.escape(self.extension)}"
        return re.fullmatch(pattern, name) is not None


def check_names(naming: Naming) -> None:
    """Every name the sink writes in its folder is one plain segment (the models say so; a plan made
    elsewhere is checked again here)."""
    for name in (naming.name(0), naming.slot):
        why = unsafe_segment(name) or ("is the staging folder's name" if name == STAGING_DIR else None)
        if why:
            raise ConfigurationError(f"output file name {name!r} {why}: refused")


def check_partitioned_names(naming: Naming, partitions: int) -> None:
    """One fileName cannot hold the files of several partitions."""
    if naming.single_file and partitions > 1:
        raise ConfigurationError(
            f"the sink dataset's fileName {naming.file_name!r} names one file, but the partitioned copy has "
            f"{partitions} partitions, each writing its own file: remove fileName (files are named "
            "part_NNNNN), or set formatSettings.fileNamePrefix or maxRowsPerFile"
        )


@contextlib.contextmanager
def sink_errors(action: str) -> Iterator[None]:
    """Turn storage errors into SinkError with what was being done."""
    try:
        yield
    except CopyError:
        raise
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise SinkError(f"{action}: {exc}") from exc


class FileSink:
    """SinkWriter for files: parts staged under `_temporary`, rotated, published on commit."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        base: str,
        fmt: FileFormat,
        naming: Naming,
        run_id: str,
        partition: Partition | None = None,
    ) -> None:
        check_names(naming)
        self._fs = fs
        self._format = fmt
        self._naming = naming
        self._run_id = run_id
        self._partition = partition
        self._staging: Staging | IndexStaging = (
            Staging(fs, base, naming.slot, run_id)
            if partition is None
            else IndexStaging(fs, base, naming.slot, run_id, partition.index)
        )
        self._schema: pa.Schema | None = None
        self._names: list[str] = []
        self._part_rows: list[int] = []
        self._sizes: list[int] = []
        self._part: PartWriter | None = None
        self._rows_in_part = 0
        self._rows_written = 0

    @property
    def base(self) -> str:
        return self._staging.base

    def open(self, schema: pa.Schema) -> None:
        self._schema = schema
        with sink_errors(f"preparing {self._staging.run_dir}"):
            self._staging.prepare()
        self._open_part()

    def write(self, batch: pa.RecordBatch) -> None:
        limit = self._naming.max_rows_per_file
        offset = 0
        while offset < batch.num_rows:
            if limit is not None and self._rows_in_part >= limit:
                self._close_part()
                self._open_part()
            room = (
                batch.num_rows - offset
                if limit is None
                else min(limit - self._rows_in_part, batch.num_rows - offset)
            )
            piece = batch if room == batch.num_rows else batch.slice(offset, room)
            assert self._part is not None, "write() before open()"
            with sink_errors(f"writing {self._current_path}"):
                self._part.write(piece)
            self._rows_in_part += room
            self._part_rows[-1] += room
            self._rows_written += room
            offset += room

    def commit(self, verify: bool = False) -> SinkResult:
        self._close_part()
        assert self._schema is not None, "commit() before open()"
        paths = [self._staging.part_path(n) for n in self._names]
        with sink_errors(f"reading back {self._staging.run_dir}"):
            sizes = [int(info.size or 0) for info in self._fs.get_file_info(paths)]
            verified = (
                sum(self._format.count_rows(self._fs, p, self._schema) for p in paths) if verify else None
            )
        if verified is not None and verified != self._rows_written:
            raise ConsistencyCheckFailed(
                f"validateDataConsistency: {self._rows_written} rows written, but the files hold {verified}"
            )
        self._sizes = sizes
        published: list[str] = []
        if isinstance(self._staging, Staging):
            with sink_errors(f"publishing into {self.base}"):
                published = self._staging.publish(self._names, self._naming.matches)
        return SinkResult(
            rows_written=self._rows_written,
            bytes_written=sum(sizes),
            files_written=len(self._names),
            output_paths=published,
            rows_verified=verified,
        )

    def seal(self, summary: RunSummary) -> None:
        """An index of a partitioned copy: record its staged parts and summary (the marker, written last)."""
        staging, partition = self._staging, self._partition
        assert isinstance(staging, IndexStaging), "seal() of an unpartitioned sink"
        assert partition is not None
        assert self._schema is not None, "seal() before open()"
        marker = PartitionMarker(
            run_id=self._run_id,
            index=partition.index,
            predicate=partition.predicate,
            attempt=staging.attempt,
            columns=list(self._schema.names),
            parts=[
                StagedPart(name=n, rows=r, bytes=b)
                for n, r, b in zip(self._names, self._part_rows, self._sizes, strict=True)
            ],
            summary=summary,
        )
        with sink_errors(f"writing the marker of partition {partition.index} into {staging.run_dir}"):
            staging.seal(marker)

    def abort(self) -> None:
        if self._part is not None:
            with contextlib.suppress(Exception):
                self._part.close()
            self._part = None
        with contextlib.suppress(Exception):
            self._staging.discard()

    # ------------------------------------------------------------------------------- internals

    @property
    def _current_path(self) -> str:
        return self._staging.part_path(self._names[-1]) if self._names else self._staging.run_dir

    def _open_part(self) -> None:
        assert self._schema is not None
        self._names.append(self._naming.name(len(self._names)))
        self._part_rows.append(0)
        with sink_errors(f"creating {self._current_path}"):
            stream = self._fs.open_output_stream(
                self._current_path, compression=None, buffer_size=STREAM_BUFFER_BYTES
            )
            self._part = self._format.open_part(stream, self._schema)
        self._rows_in_part = 0

    def _close_part(self) -> None:
        if self._part is None:
            return
        part, self._part = self._part, None
        with sink_errors(f"finishing {self._current_path}"):
            part.close()
