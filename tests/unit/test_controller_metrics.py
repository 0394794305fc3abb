"""The operator's metrics, counted from status transitions (controller/core/metrics.py).

In:  CopyActivity status written by the pure planner step after step (scenarios.Scenario: a Job
     created, its pod running, then terminated with the engine's run summary), LookupActivity
     status before and after each write, connection test results, and a Metrics serving /metrics.
Out: counter and gauge values read from the registry: one start and one finish per attempt (also of
     the three step Jobs of a partitioned copy) however often the same finished run is reconciled,
     also by a restarted operator; rows and bytes from the run summary; active runs; labels never carrying free text; the text scraped
     over HTTP.
Faked: nothing; pure planning over a dict-backed cluster view.
"""

from __future__ import annotations

import copy
import socket
import urllib.request
from typing import Any

import pytest
from tests.operator import manifests
from tests.operator.scenarios import Scenario

from impala_copy.controller.core.metrics import (
    FAILED,
    SUCCEEDED,
    Metrics,
    MetricsServerError,
    label_code,
    run_change,
)
from impala_copy.controller.core.timeutil import format_time

NS = manifests.NS
NAME = "copy-orders"
COPY = {"namespace": NS, "kind": "CopyActivity", "name": NAME}


def value(metrics: Metrics, metric: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(metric, labels)
    return 0.0 if found is None else found


def step(s: Scenario, metrics: Metrics, seconds: float = 1.0) -> None:
    """One reconciliation, counted as the reconciler counts it: status before, status after."""
    old = copy.deepcopy(s.activity.get("status") or {})
    s.step(seconds)
    metrics.status_changed("CopyActivity", NS, NAME, old, s.activity.get("status") or {})


def succeed(s: Scenario, metrics: Metrics, rows: int) -> None:
    s.set_pod(manifests.terminated(0, manifests.summary(rows=rows).to_termination_message()))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    step(s, metrics)


def started(metrics: Metrics, trigger: str = "create") -> float:
    return value(metrics, "impala_copy_runs_started_total", **COPY, trigger=trigger)


def finished(metrics: Metrics, outcome: str, reason: str) -> float:
    return value(metrics, "impala_copy_runs_finished_total", **COPY, outcome=outcome, reason=reason)


def active(metrics: Metrics, kind: str = "CopyActivity") -> float:
    return value(metrics, "impala_copy_active_runs", namespace=NS, kind=kind)


def test_a_finished_copy_reconciled_again_counts_once() -> None:
    metrics = Metrics()
    s = Scenario(manifests.standard_set("pw"))
    step(s, metrics)
    assert started(metrics) == 1
    assert active(metrics) == 1
    s.set_pod(manifests.running())
    step(s, metrics)
    assert s.activity["status"]["phase"] == "Running"
    assert started(metrics) == 1

    succeed(s, metrics, rows=5000)
    assert s.activity["status"]["phase"] == "Succeeded"
    for _ in range(4):
        step(s, metrics)
    assert started(metrics) == 1
    assert finished(metrics, SUCCEEDED, "RunSucceeded") == 1
    assert value(metrics, "impala_copy_rows_copied_total", **COPY, outcome=SUCCEEDED) == 5000
    assert value(metrics, "impala_copy_bytes_written_total", **COPY, outcome=SUCCEEDED) == 5000 * 12
    assert active(metrics) == 0


def test_a_restarted_operator_does_not_count_a_run_that_finished_before() -> None:
    s = Scenario(manifests.standard_set("pw"))
    first = Metrics()
    step(s, first)
    succeed(s, first, rows=10)
    assert finished(first, SUCCEEDED, "RunSucceeded") == 1

    restarted = Metrics()  # a new process: its old status is what the object shows
    for _ in range(3):
        step(s, restarted)
    assert started(restarted) == 0
    assert finished(restarted, SUCCEEDED, "RunSucceeded") == 0
    assert value(restarted, "impala_copy_rows_copied_total", **COPY, outcome=SUCCEEDED) == 0


def test_a_restarted_operator_counts_a_run_that_finished_while_it_was_away() -> None:
    s = Scenario(manifests.standard_set("pw"))
    first = Metrics()
    step(s, first)
    s.set_pod(manifests.running())
    step(s, first)
    assert active(first) == 1

    restarted = Metrics()
    step(s, restarted)  # still running: nothing new, but the run is in progress
    assert (started(restarted), active(restarted)) == (0, 1)
    succeed(s, restarted, rows=7)
    step(s, restarted)
    assert finished(restarted, SUCCEEDED, "RunSucceeded") == 1
    assert value(restarted, "impala_copy_rows_copied_total", **COPY, outcome=SUCCEEDED) == 7
    assert active(restarted) == 0


def test_each_failed_attempt_and_its_retry_count_once() -> None:
    activity = manifests.standard_set("pw")
    ca = next(o for o in activity if o["kind"] == "CopyActivity")
    ca["spec"]["policy"] = {"retry": 1, "retryIntervalInSeconds": 30}
    metrics = Metrics()
    s = Scenario(activity)
    step(s, metrics)
    failure = manifests.failed_summary("Unreachable", "connection refused by impala:21050")
    s.set_pod(manifests.terminated(1, failure.to_termination_message()))
    s.set_job_status(manifests.job_failed("BackoffLimitExceeded", "", format_time(s.now)))
    step(s, metrics)
    step(s, metrics)
    assert finished(metrics, FAILED, "Unreachable") == 1
    step(s, metrics, seconds=40)  # the retry starts
    assert started(metrics, "retry") == 1
    assert len([o for o in s.objects if o["kind"] == "Job"]) == 2
    succeed(s, metrics, rows=3)
    step(s, metrics)
    assert (started(metrics, "create"), started(metrics, "retry")) == (1, 1)
    assert finished(metrics, FAILED, "Unreachable") == 1
    assert finished(metrics, SUCCEEDED, "RunSucceeded") == 1


def test_copy_change_of_unchanged_or_empty_status_is_nothing() -> None:
    final = {"lastRun": {"jobName": "j-1", "status": "Succeeded", "rowsCopied": 4, "trigger": "create"}}
    assert run_change(final, final).started is None
    assert run_change(final, final).finished is None
    assert run_change({}, {}).started is None
    # A Job deleted before it finished: recorded Running, now Failed with reason JobDeleted.
    running = {"lastRun": {"jobName": "j-1", "status": "Running", "trigger": "create"}}
    deleted = {"lastRun": {"jobName": "j-1", "status": "Failed", "reason": "JobDeleted"}}
    change = run_change(running, deleted)
    assert (change.started, change.finished, change.active) == (None, (FAILED, "JobDeleted"), False)


def test_labels_take_codes_only() -> None:
    assert label_code("Unreachable") == "Unreachable"
    assert label_code("password=hunter2 was refused") == "Other"
    assert label_code(None) == "Other"
    metrics = Metrics()
    old = {"lastRun": {"jobName": "j-1", "status": "Running"}}
    new = {"lastRun": {"jobName": "j-1", "status": "Failed", "reason": "token s3cr3t expired!"}}
    metrics.status_changed("CopyActivity", NS, NAME, old, new)
    assert finished(metrics, FAILED, "Other") == 1
    scraped = metrics_text(metrics)
    assert "s3cr3t" not in scraped


def lookup_written(metrics: Metrics, old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    new = {**old, **patch}
    metrics.status_changed("LookupActivity", NS, "max-id", old, new)
    return new


def test_lookup_attempts_count_once_each() -> None:
    metrics = Metrics()
    labels = {"namespace": NS, "kind": "LookupActivity", "name": "max-id"}
    run = {"runId": "1", "trigger": "create", "attempt": 1, "jobName": "max-id-abc-1-1"}
    status = lookup_written(metrics, {}, {"phase": "Running", "lastRun": {**run, "status": "Running"}})
    assert active(metrics, "LookupActivity") == 1
    end = {**run, "status": "Failed", "reason": "Unreachable", "message": "refused"}
    status = lookup_written(metrics, status, {"phase": "Pending", "lastRun": end})
    status = lookup_written(metrics, status, {"conditions": []})  # an unrelated write
    retry = {**run, "trigger": "retry", "attempt": 2, "jobName": "max-id-abc-1-2", "status": "Pending"}
    status = lookup_written(metrics, status, {"phase": "Pending", "lastRun": retry})
    done = {**retry, "status": "Succeeded", "rowsReturned": 1}
    status = lookup_written(metrics, status, {"phase": "Succeeded", "lastRun": done})
    lookup_written(metrics, status, {"phase": "Succeeded"})
    assert value(metrics, "impala_copy_runs_started_total", **labels, trigger="create") == 1
    assert value(metrics, "impala_copy_runs_started_total", **labels, trigger="retry") == 1
    assert (
        value(metrics, "impala_copy_runs_finished_total", **labels, outcome=FAILED, reason="Unreachable") == 1
    )
    assert (
        value(metrics, "impala_copy_runs_finished_total", **labels, outcome=SUCCEEDED, reason="RunSucceeded")
        == 1
    )
    assert active(metrics, "LookupActivity") == 0
    assert run_change(status, status).finished is None


def test_connection_tests_and_forgotten_objects() -> None:
    metrics = Metrics()
    metrics.connection_tested(NS, "impala", "connected", "Connected")
    metrics.connection_tested(NS, "impala", "failed", "AuthenticationFailed")
    metrics.connection_tested(NS, "impala", "failed", "AuthenticationFailed")
    labels = {"namespace": NS, "kind": "ImpalaLinkedService", "name": "impala"}
    tests = "impala_copy_connection_tests_total"
    assert value(metrics, tests, **labels, result="connected", reason="Connected") == 1
    assert value(metrics, tests, **labels, result="failed", reason="AuthenticationFailed") == 2

    running = {"lastRun": {"jobName": "j-1", "status": "Running", "trigger": "create"}}
    metrics.status_changed("CopyActivity", NS, NAME, {}, running)
    metrics.status_changed("CopyActivity", NS, "other", {}, running)
    assert active(metrics) == 2
    metrics.forget("CopyActivity", NS, NAME)
    assert active(metrics) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metrics_text(metrics: Metrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_metrics_are_served_over_http_and_a_busy_port_is_named() -> None:
    metrics = Metrics()
    port = free_port()
    metrics.serve(port, address="127.0.0.1")
    try:
        s = Scenario(manifests.standard_set("pw"))
        step(s, metrics)
        succeed(s, metrics, rows=42)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert (
            f'impala_copy_rows_copied_total{{kind="CopyActivity",name="{NAME}",namespace="{NS}",'
            f'outcome="succeeded"}} 42.0' in text
        )
        assert "process_cpu_seconds_total" in text
        other = Metrics()
        with pytest.raises(
            MetricsServerError, match=f"IMPALA_COPY_METRICS_PORT: cannot serve metrics on port {port}"
        ):
            other.serve(port, address="127.0.0.1")
    finally:
        metrics.stop()
    assert not metrics.serving


def test_a_partitioned_attempt_of_three_step_jobs_counts_once() -> None:
    metrics = Metrics()
    s = Scenario(manifests.partitioned_set("pw", 3))
    step(s, metrics)
    s.set_pod(manifests.terminated(0, manifests.plan_summary(3)))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    step(s, metrics)  # the copy step starts
    s.set_job_status(manifests.indexed_job_status(3, range(3), when=format_time(s.now)))
    step(s, metrics)  # the commit step starts
    assert [o["metadata"]["labels"]["impalacopy.io/step"] for o in s.objects if o["kind"] == "Job"] == [
        "plan", "copy", "commit",
    ]  # fmt: skip
    assert (started(metrics), active(metrics)) == (1, 1)
    succeed(s, metrics, rows=30)
    step(s, metrics)
    assert started(metrics) == 1
    assert finished(metrics, SUCCEEDED, "RunSucceeded") == 1
    assert value(metrics, "impala_copy_rows_copied_total", **COPY, outcome=SUCCEEDED) == 30
    assert active(metrics) == 0
