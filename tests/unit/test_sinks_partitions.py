"""A partitioned copy into files: each index stages its parts, one commit step publishes the run.

In:  CopyPlans of a Parquet / Json dataset on a local volume with 1-4 partitions; each index fed
     by an in-memory table through `create_partition_sink` + `transfer` + `seal` (as engine.run does
     for one index), in any order, some killed mid-write (open and write, no commit), retried,
     missing, or with a tampered marker; then `engine.commit_run.commit_run`, once or twice, and
     `impala-copy engine --task commit`.
Out: the published files (names, rows read back), the run's RunSummary (totals, per-partition
     counts, output paths), the exact error of a refused commit, the previous output byte for byte,
     what is left under `_temporary`.
Faked: the source (an in-memory Arrow table). The file system is the real local one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest
from tests.unit.arrow_samples import MemorySource

from impala_copy.api.activities import CopySink
from impala_copy.api.plan import (
    PLAN_ENV,
    CopyPlan,
    ImpalaConnection,
    Partition,
    SinkPlan,
    SourcePlan,
)
from impala_copy.api.summary import (
    PARTITION_COUNTS_LISTED,
    TERMINATION_MESSAGE_LIMIT,
    PartitionCount,
    RunSummary,
)
from impala_copy.engine.commit_run import commit_run
from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK, ConfigurationError
from impala_copy.engine.main import TERMINATION_LOG_ENV
from impala_copy.engine.main import run as engine_run
from impala_copy.engine.pipeline import AdditionalColumns, Counters, copy_batches, transfer
from impala_copy.engine.sinks import create_partition_sink
from impala_copy.engine.sinks.commit import COMMIT_MANIFEST, STAGING_DIR
from impala_copy.engine.sinks.partition_staging import marker_name


def table(first: int, rows: int) -> pa.Table:
    return pa.table({"n": pa.array(range(first, first + rows), pa.int64())})


def make_plan(
    volume: Path,
    partitions: int,
    *,
    run_id: str = "run-1",
    kind: str = "ParquetDataset",
    location: dict[str, Any] | None = None,
    formats: dict[str, Any] | None = None,
) -> CopyPlan:
    sink_type = {"ParquetDataset": "ParquetSink", "JsonDataset": "JsonSink"}[kind]
    return CopyPlan(
        activity="copy",
        run_id=run_id,
        impala=ImpalaConnection(host="impala.example"),
        source=SourcePlan(schema="s", table="t"),
        sink=SinkPlan(
            dataset_kind=kind,
            dataset={
                "location": {"type": "PersistentVolumeClaimLocation", "claimName": "out", **(location or {})}
            },
            sink=CopySink.model_validate(
                {"type": sink_type, **({"formatSettings": formats} if formats else {})}
            ),
            volume_path=str(volume),
        ),
        validate_data_consistency=True,
        partitions=[
            Partition(index=i, predicate=f'"n" >= {i * 100}', label=f"n >= {i * 100}")
            for i in range(partitions)
        ],
    )


def stage(
    plan: CopyPlan, index: int, rows: pa.Table, *, secrets: dict[str, str] | None = None, batch_rows: int = 2
) -> RunSummary:
    """One index pod: stage its rows, then seal (engine.run.execute with partition=index, source faked)."""
    sink = create_partition_sink(plan, secrets or {}, index)
    counters = Counters()
    result = transfer(
        MemorySource(rows, batch_rows=batch_rows), sink, [], deadline=time.monotonic() + 60, counters=counters,
        verify=plan.validate_data_consistency,
    )  # fmt: skip
    summary = RunSummary(
        rows_read=counters.rows_read, rows_copied=result.rows_written, rows_skipped=result.rows_skipped,
        skipped_rows_log=result.skipped_rows, data_read=counters.data_read,
        data_written=result.bytes_written, files_written=result.files_written, copy_duration=1.0 + index,
        partition=index, output_paths=result.output_paths,
    )  # fmt: skip
    sink.seal(summary)
    return summary


def killed(plan: CopyPlan, index: int, rows: pa.Table, secrets: dict[str, str] | None = None) -> None:
    """An index pod killed mid-write: its parts are on disk, it never committed, aborted nor sealed."""
    sink = create_partition_sink(plan, secrets or {}, index)
    sink.open(rows.schema)
    copy_batches(
        MemorySource(rows, batch_rows=2), sink, AdditionalColumns([], rows.schema),
        deadline=time.monotonic() + 60, counters=Counters(),
    )  # fmt: skip


def output(volume: Path) -> dict[str, list[int]]:
    return {p.name: pq.read_table(p).column("n").to_pylist() for p in sorted(volume.glob("*.parquet"))}


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_indexes_staged_out_of_order_are_published_once_in_index_order(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 3, formats={"maxRowsPerFile": 3})
    stage(plan, 2, table(200, 2))
    stage(plan, 0, table(0, 4))  # two parts: 3 + 1 rows
    stage(plan, 1, table(100, 3))
    assert not output(tmp_path)  # nothing published by the indexes
    outcome = commit_run(plan, {})
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    assert output(tmp_path) == {
        "part_00000.parquet": [0, 1, 2],
        "part_00001.parquet": [3],
        "part_00002.parquet": [100, 101, 102],
        "part_00003.parquet": [200, 201],
    }
    s = outcome.summary
    assert (s.status, s.rows_read, s.rows_copied, s.files_written, s.consistency_verified) == (
        "Succeeded", 9, 9, 4, True,
    )  # fmt: skip
    assert s.data_written == sum(p.stat().st_size for p in tmp_path.glob("*.parquet"))
    assert s.output_paths == [str(tmp_path / f"part_0000{i}.parquet") for i in range(4)]
    assert s.partition is None
    assert s.copy_duration == 3.0  # the slowest index
    assert [(c.index, c.rows_copied, c.files_written) for c in s.partitions] == [
        (0, 4, 2),
        (1, 3, 1),
        (2, 2, 1),
    ]
    # only the commit's receipt is left in the staging area
    assert files_under(tmp_path / STAGING_DIR) == [f"part_NNNNN.parquet/run-1/{COMMIT_MANIFEST}"]


def test_a_retried_index_counts_once_and_a_killed_attempt_is_never_published(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 2, formats={"maxRowsPerFile": 2})
    killed(plan, 1, table(100, 5))  # first attempt of index 1: three parts left behind
    stage(plan, 0, table(0, 2))
    stage(plan, 1, table(100, 3))  # the retry
    attempts = sorted(
        p.name for p in (tmp_path / STAGING_DIR / "part_NNNNN.parquet" / "run-1").glob("p00001-*")
    )
    assert len(attempts) == 2
    outcome = commit_run(plan, {})
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    rows = [v for values in output(tmp_path).values() for v in values]
    assert rows == [0, 1, 100, 101, 102]
    assert outcome.summary.rows_copied == 5


def test_an_attempt_after_a_sealed_one_withdraws_its_marker(tmp_path: Path) -> None:
    """A new attempt of an index replaces the earlier one: if it is killed, the index is unfinished."""
    plan = make_plan(tmp_path, 2)
    stage(plan, 0, table(0, 2))
    stage(plan, 1, table(100, 2))
    killed(plan, 1, table(100, 4))
    outcome = commit_run(plan, {})
    assert outcome.exit_code == EXIT_CONFIGURATION
    assert [e.code for e in outcome.summary.errors] == ["PartitionsIncomplete"]
    assert "(index 1 did not finish" in outcome.summary.errors[0].message


def test_a_missing_index_publishes_nothing_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    previous = make_plan(tmp_path, 1, run_id="run-0")
    stage(previous, 0, table(0, 3))
    assert commit_run(previous, {}).exit_code == EXIT_OK
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.parquet")}
    plan = make_plan(tmp_path, 4)
    stage(plan, 0, table(10, 1))
    stage(plan, 2, table(30, 1))
    outcome = commit_run(plan, {})
    assert outcome.exit_code == EXIT_CONFIGURATION
    run_dir = tmp_path / STAGING_DIR / "part_NNNNN.parquet" / "run-1"
    assert outcome.summary.errors[0].message == (
        f"2 of 4 partitions have no staged output in {run_dir} (index 1, 3 did not finish, or failed for "
        "good): nothing was published, the previous output is unchanged"
    )
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.parquet")} == before
    assert run_dir.is_dir()  # the staging stays for the next run to remove
    # the next run of the same output (another run id) removes the failed run's staging
    following = make_plan(tmp_path, 2, run_id="run-2")
    stage(following, 0, table(0, 1))
    stage(following, 1, table(1, 1))
    assert commit_run(following, {}).exit_code == EXIT_OK
    assert output(tmp_path) == {"part_00000.parquet": [0], "part_00001.parquet": [1]}
    assert files_under(tmp_path / STAGING_DIR) == [f"part_NNNNN.parquet/run-2/{COMMIT_MANIFEST}"]


def test_the_commit_step_run_twice_publishes_once_and_reports_the_same_summary(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 2)
    stage(plan, 0, table(0, 2))
    stage(plan, 1, table(2, 2))
    first = commit_run(plan, {})
    published = {p.name: p.read_bytes() for p in tmp_path.glob("*.parquet")}
    (tmp_path / "part_00001.parquet").unlink()  # even a file removed since is not written again
    second = commit_run(plan, {})
    assert second.exit_code == EXIT_OK
    assert second.summary == first.summary
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.parquet")} == {
        "part_00000.parquet": published["part_00000.parquet"]
    }


def test_a_commit_killed_while_publishing_is_finished_by_its_restart(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 2)
    stage(plan, 0, table(0, 2))
    stage(plan, 1, table(2, 2))
    first = commit_run(plan, {})
    run_dir = tmp_path / STAGING_DIR / "part_NNNNN.parquet" / "run-1"
    manifest = json.loads((run_dir / COMMIT_MANIFEST).read_text())
    # as if the process had died after the manifest and the first move: put the second part back
    staged, final = manifest["moves"][1]
    (run_dir / staged).parent.mkdir(parents=True)
    (tmp_path / final).rename(run_dir / staged)
    again = commit_run(plan, {})
    assert again.summary == first.summary
    assert output(tmp_path) == {"part_00000.parquet": [0, 1], "part_00001.parquet": [2, 3]}


def test_a_tampered_marker_fails_the_consistency_check(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 2)
    stage(plan, 0, table(0, 2))
    stage(plan, 1, table(2, 2))
    marker = tmp_path / STAGING_DIR / "part_NNNNN.parquet" / "run-1" / marker_name(1)
    data = json.loads(marker.read_text())
    data["summary"]["rowsCopied"] = 3
    marker.write_text(json.dumps(data))
    outcome = commit_run(plan, {})
    assert [e.code for e in outcome.summary.errors] == ["DataConsistencyCheckFailed"]
    assert outcome.summary.errors[0].message == (
        "validateDataConsistency: the 2 partitions copied 5 rows, but their staged files hold 4: "
        "nothing was published"
    )
    assert outcome.summary.consistency_verified is False
    assert not output(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"parts": [{"name": "../../escape.parquet", "rows": 2, "bytes": 1}]},
            "is not a valid partition marker",
        ),
        ({"attempt": ".."}, "is not a valid partition marker"),
        ({"predicate": '"n" >= 0'}, "was staged for another partition of index 1"),
        ({"runId": "other"}, "belongs to run 'other' index 1, not to run 'run-1' index 1"),
    ],
)
def test_a_hostile_marker_is_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    plan = make_plan(tmp_path, 2)
    stage(plan, 0, table(0, 2))
    stage(plan, 1, table(2, 2))
    marker = tmp_path / STAGING_DIR / "part_NNNNN.parquet" / "run-1" / marker_name(1)
    marker.write_text(json.dumps({**json.loads(marker.read_text()), **change}))
    outcome = commit_run(plan, {})
    assert [e.code for e in outcome.summary.errors] == ["PartitionsIncomplete"]
    assert message in outcome.summary.errors[0].message
    assert not output(tmp_path)
    assert not (tmp_path.parent / "escape.parquet").exists()


def test_empty_indexes_publish_no_file_unless_the_whole_run_is_empty(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 3, kind="JsonDataset")
    stage(plan, 0, table(0, 0))
    stage(plan, 1, table(5, 2))
    stage(plan, 2, table(0, 0))
    outcome = commit_run(plan, {})
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["part_00000.jsonl"]
    assert pajson.read_json(tmp_path / "part_00000.jsonl").column("n").to_pylist() == [5, 6]
    assert outcome.summary.files_written == 1
    empty = make_plan(tmp_path, 2, kind="JsonDataset", run_id="run-2")
    stage(empty, 0, table(0, 0))
    stage(empty, 1, table(0, 0))
    assert commit_run(empty, {}).summary.files_written == 1
    assert [p.read_bytes() for p in tmp_path.glob("*.jsonl")] == [b""]


def test_file_name_is_one_file_only_with_one_partition(tmp_path: Path) -> None:
    single = make_plan(tmp_path, 1, location={"fileName": "orders.parquet"})
    stage(single, 0, table(0, 3))
    assert commit_run(single, {}).summary.output_paths == [str(tmp_path / "orders.parquet")]
    assert output(tmp_path) == {"orders.parquet": [0, 1, 2]}
    several = make_plan(tmp_path, 3, location={"fileName": "orders.parquet"}, run_id="run-2")
    with pytest.raises(ConfigurationError) as err:
        create_partition_sink(several, {}, 0)
    assert err.value.message == (
        "the sink dataset's fileName 'orders.parquet' names one file, but the partitioned copy has 3 "
        "partitions, each writing its own file: remove fileName (files are named part_NNNNN), or set "
        "formatSettings.fileNamePrefix or maxRowsPerFile"
    )
    with pytest.raises(ConfigurationError, match="is not one of the plan's 3 partitions"):
        create_partition_sink(make_plan(tmp_path, 3), {}, 3)


def test_the_engine_commit_task_reports_the_run_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    plan = make_plan(volume, 2)
    stage(plan, 0, table(0, 2))
    stage(plan, 1, table(2, 1))
    environ = {PLAN_ENV: plan.model_dump_json(by_alias=True), TERMINATION_LOG_ENV: str(tmp_path / "log")}
    assert engine_run(environ, "commit") == EXIT_OK
    message = json.loads((tmp_path / "log").read_text())
    assert capsys.readouterr().out.splitlines()[-1] == json.dumps(message, separators=(",", ":"))
    assert (message["status"], message["rowsCopied"], message["filesWritten"]) == ("Succeeded", 3, 2)
    assert [p["rowsCopied"] for p in message["partitions"]] == [2, 1]


def test_an_index_pod_touches_only_its_own_attempt(tmp_path: Path) -> None:
    """A dead run of the output and the other indexes stay as they are; a failed attempt removes itself."""
    dead = make_plan(tmp_path, 1, run_id="dead")
    killed(dead, 0, table(0, 3))
    plan = make_plan(tmp_path, 2)
    stage(plan, 0, table(0, 2))
    before = files_under(tmp_path / STAGING_DIR)
    sink = create_partition_sink(plan, {}, 1)
    with pytest.raises(RuntimeError, match="source broke"):
        transfer(
            MemorySource(table(100, 6), batch_rows=2, fail_after=2), sink, [],
            deadline=time.monotonic() + 60, counters=Counters(),
        )  # fmt: skip
    assert files_under(tmp_path / STAGING_DIR) == before
    assert any(name.startswith("part_NNNNN.parquet/dead/") for name in before)
    assert commit_run(plan, {}).summary.errors[0].code == "PartitionsIncomplete"
    assert not (tmp_path / STAGING_DIR / "part_NNNNN.parquet" / "dead").exists()  # the commit step cleans


def test_the_run_summary_of_many_partitions_fits_the_termination_message() -> None:
    counts = [
        PartitionCount(
            index=i, rows_read=31_250_000, rows_copied=31_250_000, data_read=3_125_000_000,
            data_written=312_500_000, files_written=10, copy_duration=1234.567,
        )
        for i in range(PARTITION_COUNTS_LISTED)
    ]  # fmt: skip
    summary = RunSummary(
        rows_read=10**9, rows_copied=10**9, files_written=320, partitions=counts,
        output_paths=[f"bucket/folder/part_{i:05d}.parquet" for i in range(320)],
    )  # fmt: skip
    message = summary.to_termination_message()
    assert len(message.encode()) <= TERMINATION_MESSAGE_LIMIT
    back = json.loads(message)
    assert (back["rowsCopied"], back["filesWritten"]) == (10**9, 320)
    assert 20 < len(back["partitions"]) < PARTITION_COUNTS_LISTED
    assert [p["index"] for p in back["partitions"]] == list(range(len(back["partitions"])))


def test_a_tampered_receipt_is_refused_with_what_to_do(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, 1)
    stage(plan, 0, table(0, 2))
    assert commit_run(plan, {}).exit_code == EXIT_OK
    manifest = tmp_path / STAGING_DIR / "part_NNNNN.parquet" / "run-1" / COMMIT_MANIFEST
    data = json.loads(manifest.read_text())
    data["summary"]["rowsCopied"] = "many"
    manifest.write_text(json.dumps(data))
    outcome = commit_run(plan, {})
    assert [e.code for e in outcome.summary.errors] == ["SinkWriteFailed"]
    assert outcome.summary.errors[0].message == (
        f"{manifest} holds no valid run summary (rowsCopied: Input should be a valid integer, unable to parse "
        "string as an integer): remove it to commit the run again"
    )
