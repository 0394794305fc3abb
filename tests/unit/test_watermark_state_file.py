"""The CLI's watermark options: --watermark and --state-file (cli/watermark_state.py).

In:  plans with and without an incremental source, state files (missing, valid, of another column,
     not JSON, too large, with a bad value), --watermark values, run summaries.
Out: the low watermark the plan gets, the exact SetupError texts, the state file written (or not)
     and nothing else left in its folder.
Faked: nothing (files in a temporary folder; the copy itself is tests/integration/test_incremental_sts.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from impala_copy.api.incremental import IncrementalPlan
from impala_copy.api.plan import CopyPlan, ImpalaConnection, SinkPlan, SourcePlan
from impala_copy.api.summary import RunError, RunSummary
from impala_copy.cli.local import SetupError
from impala_copy.cli.watermark_state import WatermarkOptions, store_watermark, with_low_watermark


def plan(incremental: bool = True) -> CopyPlan:
    return CopyPlan(
        activity="orders",
        run_id="local-1",
        impala=ImpalaConnection(host="impala"),
        source=SourcePlan(schema="demo", table="orders"),
        sink=SinkPlan(dataset_kind="ParquetDataset", dataset={}, sink={"type": "ParquetSink"}),
        incremental=IncrementalPlan(column="id", low="0") if incremental else None,
    )


def low(options: WatermarkOptions) -> str | None:
    incremental = with_low_watermark(plan(), options).incremental
    assert incremental is not None
    return incremental.low


def test_the_low_watermark_comes_from_the_flag_else_the_file_else_initial_value(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert low(WatermarkOptions(state_file=state)) == "0"  # no file yet
    state.write_text(json.dumps({"column": "id", "watermark": "42"}))
    assert low(WatermarkOptions(state_file=state)) == "42"
    assert low(WatermarkOptions(watermark="7", state_file=state)) == "7"
    assert low(WatermarkOptions()) == "0"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not a JSON object"),
        ('{"column": "id", "watermark": 42}', 'holds no valid "watermark" text'),
        ('{"column": "id", "watermark": "1; DROP TABLE x"}', 'holds no valid "watermark" text'),
        (
            '{"column": "ts", "watermark": "42"}',
            "holds a watermark of column 'ts', not of 'id': pass --watermark, or name another state file",
        ),
        ("x" * 70_000, "is larger than 65536 bytes"),
    ],
)
def test_a_bad_state_file_is_refused_by_name(tmp_path: Path, content: str, message: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    with pytest.raises(SetupError) as caught:
        low(WatermarkOptions(state_file=state))
    assert (caught.value.code, caught.value.message) == (
        "InvalidArgument",
        f"--state-file {str(state)!r} {message}",
    )


def test_the_flags_need_an_incremental_copy() -> None:
    with pytest.raises(SetupError) as caught:
        with_low_watermark(plan(incremental=False), WatermarkOptions(watermark="1"))
    assert caught.value.message == (
        "--watermark and --state-file apply to an incremental copy; CopyActivity 'orders' has no "
        "source.incremental"
    )


def test_the_state_file_is_replaced_after_a_success_only(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    failed = RunSummary(status="Failed", errors=[RunError(code="SinkWriteFailed", message="disk full")])
    assert store_watermark(plan(), failed, state) is False
    assert store_watermark(plan(), RunSummary(watermark=None), state) is False
    assert not state.exists()
    assert store_watermark(plan(), RunSummary(watermark="99", watermark_column="id"), state) is True
    saved = json.loads(state.read_text())
    assert {k: saved[k] for k in ("activity", "column", "watermark", "runId")} == {
        "activity": "orders",
        "column": "id",
        "watermark": "99",
        "runId": "local-1",
    }
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_state_file_that_cannot_be_written_names_the_new_watermark(tmp_path: Path) -> None:
    with pytest.raises(SetupError) as caught:
        store_watermark(plan(), RunSummary(watermark="99"), tmp_path / "missing" / "state.json")
    assert caught.value.code == "StateFileNotWritten"
    assert caught.value.message == (
        f"the copy committed but --state-file {str(tmp_path / 'missing' / 'state.json')!r} could not be "
        "written (No such file or directory); the new watermark is 99"
    )
