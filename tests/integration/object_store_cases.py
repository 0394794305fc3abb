"""The file-sink checks every object store must pass, written once for S3 (moto) and Azure Blob (Azurite).

Each check takes an `ObjectStore`: how to write the manifests of a file dataset on that store, and
how to list and read the store's objects with the store's own SDK (boto3, azure-storage-blob), so
what the engine wrote is read back independently of the engine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.integration.sink_cases import activity, impala_docs, plan_from, run_sink
from tests.unit.arrow_samples import (
    ROWS,
    SCHEMA,
    MemorySource,
    assert_rows_equal,
    numbered_table,
    sample_table,
)
from tests.unit.test_sinks import csv_rows, jsonl_rows
from tests.unit.test_sinks_partitions import killed, stage

from impala_copy.api.plan import Partition
from impala_copy.engine.commit_run import commit_run
from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK
from impala_copy.engine.pipeline import AdditionalColumns, Counters, copy_batches
from impala_copy.engine.sinks import create_sink
from impala_copy.engine.sinks.delimited_text import DelimitedTextFormat
from impala_copy.engine.sinks.filesystems import open_filesystem

SINK_OF_KIND = {
    "ParquetDataset": "ParquetSink",
    "DelimitedTextDataset": "DelimitedTextSink",
    "JsonDataset": "JsonSink",
}


class ObjectStore(Protocol):
    name: str  # bucket or container

    def docs(self, kind: str, **options: Any) -> list[dict[str, Any]]:
        """Linked service, Secret and dataset `target` of `kind` on this store (folder `out`)."""

    def keys(self, prefix: str = "") -> list[str]:
        """Every object name under the prefix, sorted."""

    def read(self, key: str) -> bytes: ...


def plan(
    tmp_path: Path,
    store: ObjectStore,
    kind: str,
    sink: dict[str, Any] | None = None,
    *,
    run_id: str = "run-1",
    spec: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[Any, dict[str, str]]:
    """The plan of a CopyActivity into a `kind` dataset on the store (store options go to store.docs)."""
    sink_spec = {"type": SINK_OF_KIND[kind], **(sink or {})}
    docs = [*impala_docs(), *store.docs(kind, **options), activity(kind, sink_spec, **(spec or {}))]
    return plan_from(tmp_path / f"{kind}-{run_id}-{time.monotonic_ns()}", docs, run_id=run_id)


def data_keys(store: ObjectStore, prefix: str = "out/") -> list[str]:
    """Objects that hold data: directory markers (empty `x/` objects) left out."""
    return [k for k in store.keys(prefix) if not k.endswith("/")]


def download(store: ObjectStore, keys: list[str], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for key in keys:
        path = folder / key.replace("/", "__")
        path.write_bytes(store.read(key))
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------------ checks


def check_every_format_round_trips(tmp_path: Path, store: ObjectStore, kind: str) -> None:
    p, secrets = plan(tmp_path, store, kind, spec={"validateDataConsistency": True})
    result = run_sink(p, secrets, sample_table())
    assert result.rows_verified == len(ROWS)
    ext = {"ParquetDataset": ".parquet", "DelimitedTextDataset": ".csv", "JsonDataset": ".jsonl"}[kind]
    assert data_keys(store) == [f"out/part_00000{ext}"]
    assert result.output_paths == [f"{store.name}/out/part_00000{ext}"]
    assert result.files_written == 1
    [path] = download(store, data_keys(store), tmp_path / "back")
    assert result.bytes_written == path.stat().st_size
    if kind == "ParquetDataset":
        back = pq.read_table(path)
        assert back.schema.equals(SCHEMA)
        assert_rows_equal(ROWS, back.to_pylist())
    elif kind == "DelimitedTextDataset":
        assert_rows_equal(ROWS, csv_rows(DelimitedTextFormat(), [path], SCHEMA))
    else:
        assert_rows_equal(ROWS, jsonl_rows([path], SCHEMA))


def check_rotation_and_rerun_replaces(tmp_path: Path, store: ObjectStore) -> None:
    sink = {"formatSettings": {"maxRowsPerFile": 4, "fileNamePrefix": "rows"}}
    p, secrets = plan(tmp_path, store, "ParquetDataset", sink, run_id="first")
    result = run_sink(p, secrets, numbered_table(10), batch_rows=3)
    assert data_keys(store) == ["out/rows_00000.parquet", "out/rows_00001.parquet", "out/rows_00002.parquet"]
    assert result.files_written == 3
    paths = download(store, data_keys(store), tmp_path / "first")
    assert [pq.read_metadata(x).num_rows for x in paths] == [4, 4, 2]
    assert pa.concat_tables([pq.read_table(x) for x in paths]).equals(numbered_table(10))
    # a re-run writes 5 rows: two files, and the third file of the first run is gone (never mixed)
    p, secrets = plan(tmp_path, store, "ParquetDataset", sink, run_id="second")
    run_sink(p, secrets, numbered_table(5), batch_rows=3)
    assert data_keys(store) == ["out/rows_00000.parquet", "out/rows_00001.parquet"]
    paths = download(store, data_keys(store), tmp_path / "second")
    assert pa.concat_tables([pq.read_table(x) for x in paths]).equals(numbered_table(5))


def check_failed_run_publishes_nothing(tmp_path: Path, store: ObjectStore) -> None:
    sink = {"formatSettings": {"maxRowsPerFile": 2}}
    p, secrets = plan(tmp_path, store, "DelimitedTextDataset", sink, run_id="good")
    run_sink(p, secrets, numbered_table(3), batch_rows=2)
    before = {k: store.read(k) for k in data_keys(store)}
    assert list(before) == ["out/part_00000.csv", "out/part_00001.csv"]
    p, secrets = plan(tmp_path, store, "DelimitedTextDataset", sink, run_id="bad")
    with pytest.raises(RuntimeError, match="source broke"):
        run_sink(p, secrets, numbered_table(10), batch_rows=2, fail_after=3)  # 3 parts written, then failure
    assert {k: store.read(k) for k in data_keys(store)} == before  # the previous output, untouched
    assert not [k for k in store.keys("out/") if "_temporary" in k]  # and no staged part left


def check_killed_run_is_cleaned_by_the_next(tmp_path: Path, store: ObjectStore) -> None:
    """A process that dies mid-run (no abort) leaves parts under _temporary only; the next run removes them."""
    p, secrets = plan(
        tmp_path, store, "JsonDataset", {"formatSettings": {"maxRowsPerFile": 2}}, run_id="killed"
    )
    sink = create_sink(p, secrets)
    table = numbered_table(6)
    columns = AdditionalColumns([], table.schema)
    sink.open(table.schema)
    copy_batches(
        MemorySource(table, batch_rows=2), sink, columns, deadline=time.monotonic() + 60, counters=Counters()
    )
    # ... and the process dies here: no commit, no abort.
    assert data_keys(store)
    assert all("/_temporary/" in k for k in data_keys(store))
    assert not [k for k in data_keys(store) if not k.startswith("out/_")]  # nothing looks like output
    p, secrets = plan(
        tmp_path, store, "JsonDataset", {"formatSettings": {"maxRowsPerFile": 2}}, run_id="next"
    )
    run_sink(p, secrets, numbered_table(3), batch_rows=2)
    assert data_keys(store) == ["out/part_00000.jsonl", "out/part_00001.jsonl"]
    assert b"".join(store.read(k) for k in data_keys(store)).count(b"\n") == 3


def check_large_part_is_uploaded_in_parts(tmp_path: Path, store: ObjectStore) -> pa.Table:
    """A ~24 MB part file streams up in several parts and reads back identical."""
    rows = 400_000
    table = pa.table(
        {"n": pa.array(range(rows), pa.int64()), "s": pa.array([f"{i:060d}" for i in range(rows)])}
    )
    p, secrets = plan(tmp_path, store, "DelimitedTextDataset", {}, run_id="big")
    result = run_sink(p, secrets, table, batch_rows=50_000)
    [key] = data_keys(store)
    assert result.bytes_written > 20 << 20
    data = store.read(key)
    assert len(data) == result.bytes_written
    assert data.count(b"\n") == rows
    return table


def stream_through_store_fs(
    tmp_path: Path, store: ObjectStore, key: str, chunks: int = 3, chunk_mb: int = 8
) -> bytes:
    """Write `chunks` pieces through the file system the engine opens for the store; returns the bytes."""
    p, secrets = plan(tmp_path, store, "ParquetDataset")
    fs, base = open_filesystem(p.sink, secrets)
    payload = b"".join(bytes([i]) * (chunk_mb << 20) for i in range(chunks))
    with fs.open_output_stream(f"{base}/{key}") as out:
        for i in range(chunks):
            out.write(payload[i * (chunk_mb << 20) : (i + 1) * (chunk_mb << 20)])
    return payload


def check_retry_of_the_same_run_replaces_a_killed_attempt(tmp_path: Path, store: ObjectStore) -> None:
    """A retried attempt has the killed attempt's run id: its extra staged parts are never published."""
    sink = {"formatSettings": {"maxRowsPerFile": 2}}
    p, secrets = plan(tmp_path, store, "ParquetDataset", sink, run_id="run-7")
    killed = create_sink(p, secrets)
    table = numbered_table(10)
    killed.open(table.schema)
    copy_batches(
        MemorySource(table, batch_rows=2), killed, AdditionalColumns([], table.schema),
        deadline=time.monotonic() + 60, counters=Counters(),
    )  # fmt: skip
    # five parts written (the last one still an unfinished upload), then the pod was killed;
    # the retry (same run id) writes three parts
    assert len([k for k in data_keys(store) if "/_temporary/" in k]) >= 4
    p, secrets = plan(tmp_path, store, "ParquetDataset", sink, run_id="run-7")
    run_sink(p, secrets, numbered_table(5), batch_rows=2)
    assert data_keys(store) == [f"out/part_0000{i}.parquet" for i in range(3)]
    paths = download(store, data_keys(store), tmp_path / "retried")
    assert pa.concat_tables([pq.read_table(x) for x in paths]).equals(numbered_table(5))


# ------------------------------------------------------------------------------ partitioned copies


def partitioned_plan(
    tmp_path: Path, store: ObjectStore, count: int, run_id: str, sink: dict[str, Any] | None = None
) -> tuple[Any, dict[str, str]]:
    """A plan of `count` partitions into Parquet on the store (validateDataConsistency on)."""
    p, secrets = plan(
        tmp_path, store, "ParquetDataset", sink, run_id=run_id, spec={"validateDataConsistency": True}
    )
    parts = [Partition(index=i, predicate=f'"n" >= {i * 100}') for i in range(count)]
    return p.model_copy(update={"partitions": parts}), secrets


def parquet_rows(store: ObjectStore, tmp_path: Path) -> list[int]:
    paths = download(store, data_keys(store, "out/part_"), tmp_path)
    return [v for x in paths for v in pq.read_table(x).column("n").to_pylist()]


def check_partitioned_run_is_published_once(tmp_path: Path, store: ObjectStore) -> None:
    """Indexes staged out of order, one of them retried after a kill mid-write, then one commit (twice)."""
    sink = {"formatSettings": {"maxRowsPerFile": 2}}
    p, secrets = partitioned_plan(tmp_path, store, 3, "parted", sink)
    stage(p, 2, numbered_table(3).slice(2, 1), secrets=secrets)  # n = 2
    killed(p, 1, numbered_table(6), secrets)  # a first attempt of index 1, killed mid-write
    stage(p, 0, numbered_table(2), secrets=secrets)  # n = 0, 1
    stage(p, 1, numbered_table(0), secrets=secrets)  # the retry of index 1: no rows
    assert not data_keys(store, "out/part_")  # nothing published yet
    first = commit_run(p, secrets)
    assert first.exit_code == EXIT_OK, first.summary.errors
    assert data_keys(store, "out/part_") == ["out/part_00000.parquet", "out/part_00001.parquet"]
    assert parquet_rows(store, tmp_path / "first") == [0, 1, 2]
    assert (first.summary.rows_copied, first.summary.files_written, first.summary.consistency_verified) == (
        3, 2, True,
    )  # fmt: skip
    assert first.summary.output_paths == [f"{store.name}/out/part_0000{i}.parquet" for i in range(2)]
    # the step restarted: the same summary, nothing published again
    assert commit_run(p, secrets).summary == first.summary
    assert [k for k in data_keys(store) if "/_temporary/" in k] == [
        "out/_temporary/part_NNNNN.parquet/parted/_COMMIT.json"
    ]


def check_partitioned_run_missing_an_index_publishes_nothing(tmp_path: Path, store: ObjectStore) -> None:
    p, secrets = partitioned_plan(tmp_path, store, 1, "before")
    stage(p, 0, numbered_table(4), secrets=secrets)
    assert commit_run(p, secrets).exit_code == EXIT_OK
    before = {k: store.read(k) for k in data_keys(store, "out/part_")}
    p, secrets = partitioned_plan(tmp_path, store, 2, "failed")
    stage(p, 1, numbered_table(1), secrets=secrets)
    outcome = commit_run(p, secrets)
    assert outcome.exit_code == EXIT_CONFIGURATION
    assert "1 of 2 partitions have no staged output" in outcome.summary.errors[0].message
    assert "(index 0 did not finish" in outcome.summary.errors[0].message
    assert {k: store.read(k) for k in data_keys(store, "out/part_")} == before
    # the next run (unpartitioned here) removes the failed run's staging and the receipt of the first
    p, secrets = plan(tmp_path, store, "ParquetDataset", run_id="next")
    run_sink(p, secrets, numbered_table(2))
    assert data_keys(store) == ["out/part_00000.parquet"]
