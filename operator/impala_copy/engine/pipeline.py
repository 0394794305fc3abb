"""The streaming part of a copy: batches from a BatchSource into a SinkWriter, with bounded memory.

A fetch thread pulls batches from the source into a queue of `QUEUE_BATCHES`; the calling thread
adds the additionalColumns and writes into the sink, so fetching and writing overlap and at most
`QUEUE_BATCHES` + 2 batches are alive at once. The run's deadline (policy.timeout) is checked while
waiting for the next batch, so a stalled fetch cannot hold the run past it.

`transfer` is the whole sink lifecycle: open(schema) -> write(batch)* -> commit(verify) -> SinkResult,
or abort() on any failure (then nothing new is visible and the previous output is untouched).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from impala_copy.engine.errors import ConfigurationError, ConsistencyCheckFailed, Timeout
from impala_copy.engine.interfaces import BatchSource, SinkResult, SinkWriter

QUEUE_BATCHES = 2
POLL_SECONDS = 0.25
# ADF's reserved value of an additional column that duplicates a source column.
COLUMN_REFERENCE = "$$COLUMN:"


@dataclass(frozen=True)
class Progress:
    """A snapshot of a running copy, passed to the progress callback after every batch."""

    rows_read: int
    rows_written: int
    data_read: int
    elapsed_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


@dataclass
class Counters:
    rows_read: int = 0
    rows_written: int = 0
    data_read: int = 0


class AdditionalColumns:
    """ADF additionalColumns: constant string columns, or `$$COLUMN:<name>` copies of a source column."""

    def __init__(self, columns: list[tuple[str, str]], schema: pa.Schema) -> None:
        existing = {n.lower() for n in schema.names}
        self._sources: list[tuple[str | None, str]] = []
        fields = list(schema)
        for name, value in columns:
            if name.lower() in existing:
                raise ConfigurationError(f"additionalColumns: {name!r} is already a column of the source")
            existing.add(name.lower())
            if value.startswith(COLUMN_REFERENCE):
                column = value[len(COLUMN_REFERENCE) :]
                if column not in schema.names:
                    raise ConfigurationError(
                        f"additionalColumns: {name!r} copies column {column!r}, missing from the source"
                    )
                fields.append(pa.field(name, schema.field(column).type))
                self._sources.append((column, ""))
            else:
                fields.append(pa.field(name, pa.string(), nullable=False))
                self._sources.append((None, value))
        self.schema = pa.schema(fields, metadata=schema.metadata)

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self._sources:
            return batch
        arrays = list(batch.columns)
        for column, value in self._sources:
            arrays.append(batch.column(column) if column is not None else pa.repeat(value, batch.num_rows))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class _End:
    pass


@dataclass
class _Failed:
    error: BaseException


class _Fetcher:
    """Pulls the source's batches into a bounded queue in a thread of its own."""

    def __init__(self, source: BatchSource) -> None:
        self._source = source
        self._queue: queue.Queue[pa.RecordBatch | _End | _Failed] = queue.Queue(maxsize=QUEUE_BATCHES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="impala-copy-fetch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Empty):  # unblock a put() waiting for room
            while True:
                self._queue.get_nowait()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def get(self, timeout: float) -> pa.RecordBatch | _End | _Failed | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _put(self, item: pa.RecordBatch | _End | _Failed) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in self._source.batches():
                if not self._put(batch):
                    return
            self._put(_End())
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread, which raises it
            self._put(_Failed(exc))


def copy_batches(
    source: BatchSource,
    sink: SinkWriter,
    columns: AdditionalColumns,
    *,
    deadline: float,
    counters: Counters,
    progress: ProgressCallback | None = None,
    started: float | None = None,
) -> None:
    """Stream every batch of `source` into `sink` (already open) until the end, an error or the deadline."""
    started = time.monotonic() if started is None else started
    fetcher = _Fetcher(source)
    fetcher.start()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(
                    f"the copy did not finish within policy.timeout ({deadline - started:.0f} s); "
                    f"{counters.rows_written} rows had been written, none were published"
                )
            item = fetcher.get(timeout=min(remaining, POLL_SECONDS * 4))
            if item is None:
                continue
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            counters.rows_read += item.num_rows
            counters.data_read += item.nbytes
            sink.write(columns.apply(item))
            counters.rows_written += item.num_rows
            if progress is not None:
                progress(
                    Progress(
                        counters.rows_read,
                        counters.rows_written,
                        counters.data_read,
                        time.monotonic() - started,
                    )
                )
    finally:
        fetcher.stop()


def transfer(
    source: BatchSource,
    sink: SinkWriter,
    additional_columns: list[tuple[str, str]],
    *,
    deadline: float,
    counters: Counters,
    verify: bool = False,
    progress: ProgressCallback | None = None,
    started: float | None = None,
) -> SinkResult:
    """open -> copy_batches -> commit(verify); abort() on any failure. The source is not closed here."""
    columns = AdditionalColumns(additional_columns, source.schema)
    sink.open(columns.schema)
    try:
        copy_batches(
            source, sink, columns, deadline=deadline, counters=counters, progress=progress, started=started
        )
        if verify and counters.rows_read != counters.rows_written:
            raise ConsistencyCheckFailed(
                f"validateDataConsistency: {counters.rows_read} rows read but {counters.rows_written} written"
            )
        return sink.commit(verify=verify)
    except BaseException:
        sink.abort()
        raise
