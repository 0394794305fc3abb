"""status.watermark of an incremental CopyActivity, decided without I/O (controller/copy/watermark.py).

In:  CopyActivity manifests with and without source.incremental, the status last written, the
     attempts seen (from Jobs with their run summaries, or recorded in status.lastRun), the
     impalacopy.io/reset-watermark annotation, the clock.
Out: status.watermark and handledResetWatermark, the Events, the low watermark a new run's plan gets,
     and the plan digest (which leaves the low watermark out).
Faked: nothing (pure functions).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from impala_copy.api.activities import CopyActivity
from impala_copy.api.incremental import IncrementalPlan, Watermark
from impala_copy.api.kinds import parse_resource
from impala_copy.api.plan import CopyPlan, ImpalaConnection, SinkPlan, SourcePlan
from impala_copy.api.summary import RunSummary
from impala_copy.controller.copy.watermark import watermark_state
from impala_copy.controller.core.job import plan_digest
from impala_copy.controller.core.outcome import FAILED, RUNNING, SUCCEEDED, AttemptOutcome
from impala_copy.controller.core.records import Meta
from impala_copy.controller.core.runs import Attempt
from impala_copy.controller.core.status import EventSpec

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RESET = "impalacopy.io/reset-watermark"


def body(incremental: dict[str, Any] | None = None, **annotations: str) -> dict[str, Any]:
    source: dict[str, Any] = {"type": "ImpalaSource"}
    if incremental is not None:
        source["incremental"] = incremental
    return {
        "apiVersion": "impalacopy.io/v1alpha1",
        "kind": "CopyActivity",
        "metadata": {"name": "orders", "namespace": "ns", "uid": "u1", "annotations": annotations},
        "spec": {
            "inputs": [{"referenceName": "orders"}],
            "outputs": [{"referenceName": "out", "kind": "ParquetDataset"}],
            "source": source,
            "sink": {"type": "ParquetSink"},
        },
    }


BY_ID = {"column": "id", "initialValue": "0"}


def state(obj: dict[str, Any], old: dict[str, Any], attempts: list[Attempt]) -> Any:
    activity = parse_resource(obj)
    assert isinstance(activity, CopyActivity)
    return watermark_state(activity, Meta.of(obj), old, attempts, NOW)


def attempt(
    run: int, state: str, watermark: str | None = None, column: str = "id", attempt: int = 1
) -> Attempt:
    summary = RunSummary(
        status="Succeeded" if state == SUCCEEDED else "Failed",
        watermark=watermark,
        watermark_column=column if watermark else None,
    )
    outcome = AttemptOutcome(
        state=state, reason="", message="", summary=summary, completion_time=f"2026-12-03T11:0{run}:00Z"
    )
    return Attempt(run, attempt, 1, None, "runNow", f"job-{run}-{attempt}", outcome)


def stored(value: str, run: str | None, **extra: Any) -> dict[str, Any]:
    return {"watermark": {"value": value, "column": "id", "runId": run, **extra}}


def test_a_succeeded_run_sets_the_watermark() -> None:
    result = state(body(BY_ID), {}, [attempt(1, SUCCEEDED, "42")])
    assert result.status_fields() == {
        "watermark": {"value": "42", "column": "id", "runId": "1", "time": "2026-12-03T11:01:00Z"},
        "handledResetWatermark": None,
    }


def test_a_failed_or_running_run_leaves_it_and_a_newer_success_moves_it() -> None:
    old = stored("42", "1")
    assert state(body(BY_ID), old, [attempt(2, FAILED)]).watermark.value == "42"
    assert state(body(BY_ID), old, [attempt(2, RUNNING)]).watermark.value == "42"
    moved = state(body(BY_ID), old, [attempt(2, FAILED), attempt(2, SUCCEEDED, "50", attempt=2)])
    assert (moved.watermark.value, moved.watermark.run_id) == ("50", "2")


def test_a_run_that_found_nothing_new_keeps_the_watermark_and_its_run() -> None:
    result = state(body(BY_ID), stored("42", "1"), [attempt(2, SUCCEEDED, None)])
    assert (result.watermark.value, result.watermark.run_id) == ("42", "1")


def test_a_run_recorded_in_status_after_its_job_is_gone_counts_once() -> None:
    recorded = Attempt(
        3,
        1,
        1,
        None,
        "runNow",
        "job-3",
        AttemptOutcome(state=SUCCEEDED, reason="", message="", completion_time="2026-12-03T11:03:00Z"),
        recorded={"runId": "3", "status": SUCCEEDED, "watermark": "77", "watermarkColumn": "id"},
    )
    result = state(body(BY_ID), stored("42", "2"), [recorded])
    assert (result.watermark.value, result.watermark.run_id) == ("77", "3")
    # The same run seen again after a restart (its status written) changes nothing.
    again = state(body(BY_ID), result.status_fields(), [recorded])
    assert again.watermark == result.watermark


def test_a_watermark_of_another_column_is_forgotten() -> None:
    spec = {"column": "updated_at", "initialValue": "2026-01-01"}
    result = state(body(spec), stored("42", "1"), [attempt(1, SUCCEEDED, "42", column="id")])
    assert result.watermark is None


def test_without_incremental_there_is_no_watermark() -> None:
    assert state(body(), stored("42", "1"), []).status_fields()["watermark"] is None


def test_the_reset_annotation_is_applied_once_when_no_run_is_in_progress() -> None:
    obj = body(BY_ID, **{RESET: "10"})
    old = stored("42", "2")
    waiting = state(obj, old, [attempt(3, RUNNING)])
    assert (waiting.watermark.value, waiting.handled_reset, waiting.events) == ("42", None, ())
    done = state(obj, old, [attempt(3, SUCCEEDED, "60")])
    assert done.watermark == Watermark(
        value="10", column="id", run_id="3", time="2026-12-03T12:00:00Z", reset=True
    )
    assert done.handled_reset == "10"
    assert done.events == (
        EventSpec(
            "Normal",
            "WatermarkReset",
            "watermark of column 'id' set to '10': the next run copies the rows above it",
        ),
    )
    # Handled: the next reconciliation keeps it and posts nothing; the next run moves it again.
    after = state(obj, {**done.status_fields()}, [attempt(3, SUCCEEDED, "60")])
    assert (after.watermark.value, after.events) == ("10", ())
    moved = state(obj, {**done.status_fields()}, [attempt(4, SUCCEEDED, "61")])
    assert (moved.watermark.value, moved.handled_reset) == ("61", "10")


def test_an_invalid_reset_value_is_refused_once_with_a_warning() -> None:
    obj = body(BY_ID, **{RESET: "x' OR '1'='1"})
    result = state(obj, stored("42", "1"), [])
    assert (result.watermark.value, result.handled_reset) == ("42", "x' OR '1'='1")
    assert result.events == (
        EventSpec(
            "Warning",
            "InvalidWatermarkReset",
            "impalacopy.io/reset-watermark: watermark value \"x' OR '1'='1\" must be an integer (1000), a "
            "decimal (12.50), a date (2026-12-01) or a timestamp without a zone (2026-12-01 08:30:00); the "
            "watermark is unchanged",
        ),
    )
    assert state(obj, result.status_fields(), []).events == ()


def test_an_invalid_spec_keeps_the_status() -> None:
    obj = body(BY_ID)
    result = watermark_state(None, Meta.of(obj), {**stored("42", "1"), "handledResetWatermark": "5"}, [], NOW)
    assert (result.watermark.value, result.handled_reset) == ("42", "5")


def plan(low: str | None) -> CopyPlan:
    return CopyPlan(
        activity="orders",
        run_id="",
        impala=ImpalaConnection(host="impala"),
        source=SourcePlan(schema="demo", table="orders"),
        sink=SinkPlan(dataset_kind="ParquetDataset", dataset={}, sink={"type": "ParquetSink"}),
        incremental=IncrementalPlan(column="id", low=low, lookback="5"),
    )


def test_a_new_run_starts_above_the_stored_watermark_else_at_initial_value() -> None:
    fresh = state(body(BY_ID), {}, [])
    assert fresh.low(plan("0")).incremental == IncrementalPlan(column="id", low="0", lookback="5")
    kept = state(body(BY_ID), stored("42", "1"), [])
    assert kept.low(plan("0")).incremental == IncrementalPlan(column="id", low="42", lookback="5")


def test_the_plan_digest_leaves_the_run_id_and_the_low_watermark_out() -> None:
    base = plan("0")
    assert plan_digest(base) == plan_digest(base.model_copy(update={"run_id": "7"}))
    assert plan_digest(base) == plan_digest(plan("42"))
    other = base.model_copy(update={"incremental": IncrementalPlan(column="id", low="0", lookback="6")})
    assert plan_digest(base) != plan_digest(other)


def test_an_object_created_with_the_reset_annotation_starts_its_first_run_above_it() -> None:
    first = state(body(BY_ID, **{RESET: "1042"}), {}, [])
    assert (first.watermark.value, first.watermark.run_id, first.handled_reset) == ("1042", None, "1042")
    assert first.low(plan("0")).incremental == IncrementalPlan(column="id", low="1042", lookback="5")
