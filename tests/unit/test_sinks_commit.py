"""The file sinks' commit protocol and the streaming pipeline, on the local file system.

In:  runs of `FileSink` / `pipeline.transfer` fed by an in-memory BatchSource that can fail after
     N batches or stall; dead runs left behind on disk as a killed process leaves them (staged parts,
     or a commit manifest with half of its moves done).
Out: what a reader of the output folder sees: only complete output of one run, the previous output
     untouched by a failed run, stale output of the same pattern replaced, other files left alone,
     no `_temporary` left after a run; counters, additionalColumns and the errors raised.
Faked: the source (an in-memory Arrow table). The file system is the real local one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from tests.unit.arrow_samples import MemorySource, numbered_table

from impala_copy.engine.errors import (
    ConfigurationError,
    ConsistencyCheckFailed,
    QueryFailed,
    SinkError,
    Timeout,
)
from impala_copy.engine.pipeline import Counters, Progress, transfer
from impala_copy.engine.sinks.commit import COMMIT_MANIFEST, STAGING_DIR, Staging
from impala_copy.engine.sinks.files import FileSink, Naming
from impala_copy.engine.sinks.json_lines import JsonLinesFormat
from impala_copy.engine.sinks.parquet import ParquetFormat

FOREVER = float("inf")


def parquet_sink(
    folder: Path, run_id: str, max_rows: int | None = 3, fs: pafs.FileSystem | None = None
) -> FileSink:
    naming = Naming(".parquet", max_rows_per_file=max_rows)
    return FileSink(fs or pafs.LocalFileSystem(), str(folder), ParquetFormat(), naming, run_id)


def run(
    folder: Path,
    run_id: str,
    rows: int,
    *,
    max_rows: int | None = 3,
    fs: pafs.FileSystem | None = None,
    **source_options: object,
) -> list[str]:
    counters = Counters()
    result = transfer(
        MemorySource(numbered_table(rows), **source_options),  # type: ignore[arg-type]
        parquet_sink(folder, run_id, max_rows, fs),
        [],
        deadline=time.monotonic() + 60,
        counters=counters,
        verify=True,
    )
    assert counters.rows_read == counters.rows_written == result.rows_written == rows
    return [Path(p).name for p in result.output_paths]


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def values(folder: Path) -> list[int]:
    return sorted(
        v for p in sorted(folder.glob("part_*.parquet")) for v in pq.read_table(p).column("n").to_pylist()
    )


def test_rerun_replaces_the_previous_output_and_leaves_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "other_00000.parquet").write_text("another prefix")
    assert run(tmp_path, "r1", 10) == [f"part_0000{i}.parquet" for i in range(4)]
    assert run(tmp_path, "r2", 5) == ["part_00000.parquet", "part_00001.parquet"]
    assert listing(tmp_path) == [
        "notes.txt",
        "other_00000.parquet",
        "part_00000.parquet",
        "part_00001.parquet",
    ]
    assert values(tmp_path) == list(range(5))


def test_failing_source_leaves_previous_output_intact_and_nothing_staged(tmp_path: Path) -> None:
    run(tmp_path, "good", 7)
    before = {p: (tmp_path / p).read_bytes() for p in listing(tmp_path)}
    with pytest.raises(QueryFailed, match="lost the query"):
        run(tmp_path, "bad", 100, batch_rows=2, fail_after=4, error=QueryFailed("lost the query"))
    assert {p: (tmp_path / p).read_bytes() for p in listing(tmp_path)} == before
    assert not (tmp_path / STAGING_DIR).exists()


def test_staged_parts_of_a_dead_run_are_hidden_and_removed_by_the_next_run(tmp_path: Path) -> None:
    run(tmp_path, "good", 4)
    dead = parquet_sink(tmp_path, "dead")
    dead.open(numbered_table(0).schema)
    for batch in numbered_table(8).to_batches(max_chunksize=4):
        dead.write(batch)
    # The process dies here: no commit, no abort.
    visible = [p for p in listing(tmp_path) if not p.startswith("_")]
    assert visible == ["part_00000.parquet", "part_00001.parquet"]
    assert any(p.startswith(f"{STAGING_DIR}/part_NNNNN.parquet/dead/") for p in listing(tmp_path))
    assert values(tmp_path) == list(range(4))

    run(tmp_path, "next", 2)
    assert listing(tmp_path) == ["part_00000.parquet"]
    assert values(tmp_path) == [0, 1]


def test_a_run_killed_while_publishing_is_rolled_forward_by_the_next_run(tmp_path: Path) -> None:
    run(tmp_path, "old", 9)  # parts 0..2 with 0..8
    fs = pafs.LocalFileSystem()
    staging = Staging(fs, str(tmp_path), "part_NNNNN.parquet", "new")
    sink = parquet_sink(tmp_path, "new")
    sink.open(numbered_table(0).schema)
    sink.write(numbered_table(4).to_batches()[0].slice(0, 4))
    sink._close_part()  # the parts are complete, the manifest is written, one move is done: then a kill
    names = ["part_00000.parquet", "part_00001.parquet"]
    (Path(staging.run_dir) / COMMIT_MANIFEST).write_text(
        json.dumps({"moves": names, "deletes": ["part_00002.parquet"]})
    )
    fs.move(staging.part_path(names[0]), staging.final_path(names[0]))

    # A later run that fails still finishes the committed one first: the folder holds run "new" only.
    with pytest.raises(RuntimeError):
        run(tmp_path, "later", 10, fail_after=1)
    assert listing(tmp_path) == names
    assert values(tmp_path) == [0, 1, 2, 3]


class FailingMoves(pafs.FSSpecHandler):
    """The local disk, except that the n-th move fails (a store that goes away while publishing)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(fsspec.filesystem("file"))
        self.moves = 0
        self.fail_at = fail_at

    def move(self, src: str, dest: str) -> None:
        self.moves += 1
        if self.moves == self.fail_at:
            raise OSError("the store went away")
        super().move(src, dest)


def test_a_publish_that_fails_half_way_is_finished_by_the_next_run(tmp_path: Path) -> None:
    run(tmp_path, "old", 9)  # parts 0..2 hold 0..8
    flaky = pafs.PyFileSystem(FailingMoves(fail_at=2))
    with pytest.raises(SinkError, match="the store went away"):
        run(tmp_path, "new", 4, fs=flaky)  # parts 0..1 hold 0..3; part 2 of the old run is stale
    # The failed publish kept its manifest (abort does not discard a committed run) ...
    assert any(p.endswith(COMMIT_MANIFEST) for p in listing(tmp_path))
    # ... and the next run finishes it before doing anything else, even when that run fails.
    with pytest.raises(RuntimeError):
        run(tmp_path, "later", 10, fail_after=1)
    assert listing(tmp_path) == ["part_00000.parquet", "part_00001.parquet"]
    assert values(tmp_path) == [0, 1, 2, 3]


def test_runs_of_other_naming_patterns_in_the_same_folder_are_not_touched(tmp_path: Path) -> None:
    other = FileSink(pafs.LocalFileSystem(), str(tmp_path), JsonLinesFormat(), Naming(".jsonl"), "live")
    other.open(numbered_table(0).schema)
    other.write(numbered_table(3).to_batches()[0])
    run(tmp_path, "parquet-run", 2)
    result = other.commit(verify=True)
    assert result.rows_verified == 3
    assert listing(tmp_path) == ["part_00000.jsonl", "part_00000.parquet"]


def test_consistency_check_counts_the_staged_files_before_publishing(tmp_path: Path) -> None:
    run(tmp_path, "good", 3)
    sink = FileSink(pafs.LocalFileSystem(), str(tmp_path), JsonLinesFormat(), Naming(".jsonl"), "r")
    sink.open(numbered_table(0).schema)
    sink.write(numbered_table(3).to_batches()[0])
    sink._close_part()
    staged = Path(sink._staging.part_path("part_00000.jsonl"))
    staged.write_bytes(staged.read_bytes() + b'{"n":99,"s":"extra"}\n')  # the storage holds a row too many
    with pytest.raises(ConsistencyCheckFailed, match="3 rows written, but the files hold 4"):
        sink.commit(verify=True)
    sink.abort()
    assert listing(tmp_path) == ["part_00000.parquet"]


# ------------------------------------------------------------------------------------------ pipeline


def test_additional_columns_constant_and_column_copy(tmp_path: Path) -> None:
    progress: list[Progress] = []
    sink = parquet_sink(tmp_path, "r", max_rows=None)
    counters = Counters()
    transfer(
        MemorySource(numbered_table(5), batch_rows=2),
        sink,
        [("source_system", "impala-prod"), ("n_copy", "$$COLUMN:n")],
        deadline=time.monotonic() + 60,
        counters=counters,
        progress=progress.append,
    )
    table = pq.read_table(tmp_path / "part_00000.parquet")
    assert table.schema.names == ["n", "s", "source_system", "n_copy"]
    assert table.schema.field("source_system").type == pa.string()
    assert table.schema.field("n_copy").type == pa.int64()
    assert table.column("source_system").to_pylist() == ["impala-prod"] * 5
    assert table.column("n_copy").to_pylist() == list(range(5))
    assert [p.rows_written for p in progress] == [2, 4, 5]
    assert counters.data_read == numbered_table(5).nbytes


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ([("N", "x")], "'N' is already a column of the source"),
        ([("a", "x"), ("A", "y")], "'A' is already a column"),
        ([("a", "$$COLUMN:missing")], "copies column 'missing', missing from the source"),
    ],
)
def test_additional_columns_errors(tmp_path: Path, columns: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        transfer(
            MemorySource(numbered_table(1)),
            parquet_sink(tmp_path, "r"),
            columns,
            deadline=FOREVER,
            counters=Counters(),
        )
    assert listing(tmp_path) == []


def test_overall_timeout_aborts_a_stalled_copy(tmp_path: Path) -> None:
    run(tmp_path, "good", 2)
    with pytest.raises(Timeout, match=r"policy\.timeout"):
        transfer(
            MemorySource(numbered_table(100), batch_rows=1, delay=0.2),
            parquet_sink(tmp_path, "slow"),
            [],
            deadline=time.monotonic() + 0.5,
            counters=Counters(),
        )
    assert listing(tmp_path) == ["part_00000.parquet"]
    assert values(tmp_path) == [0, 1]
