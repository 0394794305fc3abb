"""The contracts between the engine's parts: a batch source and a sink writer.

Source: an open query whose result arrives as Arrow record batches with a fixed schema.
Sink:   open(schema) -> write(batch)* -> commit() -> SinkResult, or abort() on any failure;
        nothing a sink writes looks complete until commit() returns.
One index of a partitioned copy: the same lifecycle, but commit() only stages (nothing is visible),
        then seal(summary) records the index as finished (its marker, written last); the commit step
        (engine/commit_run.py) publishes every index at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa

from impala_copy.api.summary import RunSummary


class BatchSource(Protocol):
    """A running query: its Arrow schema and its batches, streamed with bounded memory."""

    @property
    def schema(self) -> pa.Schema: ...

    def batches(self) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


@dataclass
class SinkResult:
    """What a sink reports after commit."""

    rows_written: int = 0
    rows_skipped: int = 0
    bytes_written: int = 0
    files_written: int = 0
    output_paths: list[str] = field(default_factory=list)
    # Rows counted back from the written output (e.g. Parquet footers, COUNT(*)); None when not checked.
    rows_verified: int | None = None
    # A bounded log of skipped incompatible rows ("row N: reason"), for the run summary.
    skipped_rows: list[str] = field(default_factory=list)


class SinkWriter(Protocol):
    """The lifecycle every sink follows."""

    def open(self, schema: pa.Schema) -> None: ...

    def write(self, batch: pa.RecordBatch) -> None: ...

    def commit(self, verify: bool = False) -> SinkResult: ...

    def abort(self) -> None: ...


@runtime_checkable
class PartitionSinkWriter(SinkWriter, Protocol):
    """The writer of one index of a partitioned copy: stages on commit(), then seal()."""

    def seal(self, summary: RunSummary) -> None: ...
