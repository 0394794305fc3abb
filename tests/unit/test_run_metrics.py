"""Metrics of the copy pods' runs, as the operator exports them from run summaries in status.

In:  a CopyActivity with tumbling windows planned step by step (scenarios.Scenario, the Actions the
     reconciler applies: status and the window attempts it starts or ends), two windows finishing in
     one reconciliation; a copy whose engine summary carries per-partition counts; lastRun records
     with per-partition counts (40 partitions, crafted values); a failed run after a succeeded one;
     a deleted activity; a replica that stops leading; a cron activity's missedRuns; an
     ImpalaLinkedService's Connected condition; docs/operator.md.
Out: counter and gauge values read from the registry: every window's run counted once (rows, bytes,
     files, durations), none again on a reconcile or after a restart, which restores the last-run
     gauges; at most 32 partition series with the index as label, from the summary through status;
     one outcome series per activity; no series left of a deleted activity nor on a standby; missed
     schedules and connection state; the metrics table of docs/operator.md names exactly the
     exported series.
Faked: nothing; pure planning over a dict-backed cluster view.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.operator import manifests
from tests.operator.scenarios import NOW, Scenario

from impala_copy.controller.core.metrics import PARTITION_LABELS, Metrics, exported_names
from impala_copy.controller.core.timeutil import format_time

NS = manifests.NS
ROOT = Path(__file__).resolve().parents[2]


def value(metrics: Metrics, metric: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(metric, labels)


def series(metrics: Metrics, name: str) -> list[dict[str, str]]:
    """The label sets of every sample of one metric."""
    return [
        dict(sample.labels)
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == name
    ]


def step(s: Scenario, metrics: Metrics, seconds: float = 0.0) -> None:
    """One reconciliation, counted as the reconciler counts it (core/reconcile.py)."""
    old = copy.deepcopy(s.activity.get("status") or {})
    s.step(seconds)
    assert s.actions is not None
    assert s.actions.status is not None
    name = s.activity["metadata"]["name"]
    metrics.status_changed("CopyActivity", NS, name, old, s.actions.status, s.actions.runs)


def windowed() -> Scenario:
    objects = manifests.standard_set("scenario-password-not-used")
    window = {
        "startTime": format_time(NOW - timedelta(hours=2)),
        "frequency": "Hour",
        "interval": 1,
        "maxConcurrency": 2,
    }
    objects[-1]["spec"]["schedule"] = {"window": window}
    objects[-2]["spec"]["location"]["folderPath"] = "orders/{windowStart:yyyy-MM-dd-HH}"
    return Scenario(objects)


def test_every_window_run_counts_once_even_when_two_end_in_one_reconciliation() -> None:
    metrics = Metrics()
    s = windowed()
    name = s.activity["metadata"]["name"]
    labels = {"namespace": NS, "kind": "CopyActivity", "name": name}
    step(s, metrics)
    step(s, metrics)
    jobs = [o for o in s.objects if o["kind"] == "Job"]
    assert len(jobs) == 2
    assert value(metrics, "impala_copy_runs_started_total", **labels, trigger="window") == 2
    for index, rows in ((0, 12), (1, 30)):
        s.set_pod(manifests.terminated(0, manifests.summary(rows=rows).to_termination_message()), index)
        s.set_job_status(manifests.job_succeeded(format_time(s.now)), index)
    step(s, metrics)
    for _ in range(3):
        step(s, metrics, seconds=1)
    done = {**labels, "outcome": "succeeded"}
    assert value(metrics, "impala_copy_runs_finished_total", **done, reason="RunSucceeded") == 2
    assert value(metrics, "impala_copy_rows_copied_total", **done) == 42
    assert value(metrics, "impala_copy_rows_read_total", **done) == 42
    assert value(metrics, "impala_copy_bytes_read_total", **done) == 42 * 40
    assert value(metrics, "impala_copy_bytes_written_total", **done) == 42 * 12
    assert value(metrics, "impala_copy_files_written_total", **done) == 2
    assert value(metrics, "impala_copy_run_duration_seconds_total", **done) == 5.0
    assert value(metrics, "impala_copy_last_run_duration_seconds", **done) == 2.5
    assert value(metrics, "impala_copy_last_run_rows_copied", **done) in (12, 30)

    restarted = Metrics()  # a new process reads the final status from the object
    step(s, restarted, seconds=1)
    assert value(restarted, "impala_copy_runs_finished_total", **done, reason="RunSucceeded") is None
    assert value(restarted, "impala_copy_last_run_rows_copied", **done) in (12, 30)


def finished_run(status: str, rows: int, partitions: int = 0, **more: Any) -> dict[str, Any]:
    return {
        "jobName": f"copy-{status}-{rows}",
        "trigger": "runNow",
        "status": status,
        "startTime": "2026-12-03T12:00:00Z",
        "completionTime": "2026-12-03T12:00:10Z",
        "rowsRead": rows,
        "rowsCopied": rows,
        "partitions": [
            {"index": i, "rowsCopied": i * 10, "copyDuration": float(i)} for i in range(partitions)
        ],
        **more,
    }


def test_partitions_are_exported_by_index_up_to_32_and_one_outcome_per_activity() -> None:
    metrics = Metrics()
    key = ("CopyActivity", NS, "parts")
    labels = {"namespace": NS, "kind": "CopyActivity", "name": "parts"}
    first = {"lastRun": finished_run("Succeeded", 400, partitions=40)}
    metrics.status_changed(*key, {}, first)
    rows = series(metrics, "impala_copy_last_run_partition_rows_copied")
    assert sorted(int(r["partition"]) for r in rows) == list(range(PARTITION_LABELS))
    assert value(metrics, "impala_copy_last_run_partition_rows_copied", **labels, partition="31") == 310
    assert value(metrics, "impala_copy_last_run_partition_duration_seconds", **labels, partition="7") == 7
    assert value(metrics, "impala_copy_last_run_partitions", **labels, outcome="succeeded") == 40
    # No copyDuration in the summary: the attempt's start and end times tell it.
    assert value(metrics, "impala_copy_last_run_duration_seconds", **labels, outcome="succeeded") == 10
    end = value(metrics, "impala_copy_last_run_timestamp_seconds", **labels, outcome="succeeded")
    assert end == 1796299210.0  # 2026-12-03T12:00:10Z

    second = {"lastRun": finished_run("Failed", 3, reason="Unreachable", copyDuration="NaN")}
    metrics.status_changed(*key, first, second)
    assert series(metrics, "impala_copy_last_run_partition_rows_copied") == []
    assert [r["outcome"] for r in series(metrics, "impala_copy_last_run_rows_copied")] == ["failed"]
    assert value(metrics, "impala_copy_last_run_rows_copied", **labels, outcome="failed") == 3
    assert value(metrics, "impala_copy_runs_finished_total", **labels, outcome="failed", reason="Unreachable")

    metrics.set_leader(False)  # a replica that stops leading exports no object's series
    left = [
        sample
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.labels.get("name") == "parts"
    ]
    assert left == []


def test_missed_schedules_count_from_zero_and_connection_state_is_a_gauge() -> None:
    metrics = Metrics()
    labels = {"namespace": NS, "kind": "CopyActivity", "name": "nightly"}
    metrics.status_changed("CopyActivity", NS, "nightly", {}, {"missedRuns": 0})
    assert value(metrics, "impala_copy_missed_runs_total", **labels) == 0
    metrics.status_changed("CopyActivity", NS, "nightly", {"missedRuns": 0}, {"missedRuns": 3})
    metrics.status_changed("CopyActivity", NS, "nightly", {"missedRuns": 3}, {"missedRuns": 3})
    assert value(metrics, "impala_copy_missed_runs_total", **labels) == 3

    ls = {"namespace": NS, "kind": "ImpalaLinkedService", "name": "impala"}
    failed = {"conditions": [{"type": "Connected", "status": "False", "reason": "Unreachable"}]}
    metrics.status_changed("ImpalaLinkedService", NS, "impala", failed, failed)  # a restarted operator
    assert value(metrics, "impala_copy_connected", **ls) == 0
    ok = {"conditions": [{"type": "Connected", "status": "True", "reason": "Connected"}]}
    metrics.status_changed("ImpalaLinkedService", NS, "impala", failed, ok)
    assert value(metrics, "impala_copy_connected", **ls) == 1
    unknown = {"conditions": [{"type": "Connected", "status": "Unknown", "reason": "SecretNotFound"}]}
    metrics.status_changed("ImpalaLinkedService", NS, "impala", ok, unknown)
    assert value(metrics, "impala_copy_connected", **ls) is None


def test_the_metrics_table_of_the_docs_names_exactly_the_exported_series() -> None:
    text = (ROOT / "docs" / "operator.md").read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(impala_copy_\w+)` \|", section, flags=re.MULTILINE))
    assert documented == set(exported_names())


def test_a_deleted_activity_leaves_no_series() -> None:
    metrics = Metrics()
    key = ("CopyActivity", NS, "gone")
    metrics.status_changed(*key, {}, {"lastRun": finished_run("Succeeded", 5, partitions=2), "missedRuns": 1})
    assert value(metrics, "impala_copy_rows_copied_total", namespace=NS, kind="CopyActivity", name="gone",
                 outcome="succeeded") == 5  # fmt: skip
    metrics.forget(*key)
    names = [s.labels.get("name") for f in metrics.registry.collect() for s in f.samples]
    assert "gone" not in names


def test_a_partitioned_summary_reaches_the_partition_series_through_status() -> None:
    from impala_copy.api.summary import PartitionCount

    metrics = Metrics()
    s = Scenario(manifests.standard_set("scenario-password-not-used"))
    step(s, metrics)
    parts = [PartitionCount(index=i, rows_copied=100 + i, copy_duration=1.5 + i) for i in range(3)]
    summary = manifests.summary(rows=303, partitions=parts)
    s.set_pod(manifests.terminated(0, summary.to_termination_message()))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    step(s, metrics, seconds=1)
    labels = {"namespace": NS, "kind": "CopyActivity", "name": s.activity["metadata"]["name"]}
    assert value(metrics, "impala_copy_last_run_partitions", **labels, outcome="succeeded") == 3
    for i in range(3):
        rows = value(metrics, "impala_copy_last_run_partition_rows_copied", **labels, partition=str(i))
        seconds = value(
            metrics, "impala_copy_last_run_partition_duration_seconds", **labels, partition=str(i)
        )
        assert (rows, seconds) == (100 + i, 1.5 + i)
