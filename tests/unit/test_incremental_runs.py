"""The CopyActivity controller running an incremental copy, step by step with a fixed clock.

In:  the standard objects with source.incremental (initialValue 0, one retry), the Job controller and
     kubelet played by the test (pods terminated with run summaries, Jobs succeeded or failed), the
     run-now annotation, finished Jobs deleted, an operator restart (the next step reads only the
     status and the Jobs left).
Out: the low watermark in each Job's plan (a retry keeps its run's), the plan digest annotation
     (the same for every run), status.watermark after each step.
Faked: the API server and the kubelet (tests/operator/scenarios.py: the controller's pure planning).
"""

from __future__ import annotations

import json
from typing import Any

from tests.operator import manifests
from tests.operator.scenarios import PASSWORD, Scenario, format_time

from impala_copy.api.plan import PLAN_ENV
from impala_copy.api.summary import RunError, RunSummary


def low_of(job: dict[str, Any]) -> str | None:
    [container] = job["spec"]["template"]["spec"]["containers"]
    plan = json.loads(next(v["value"] for v in container["env"] if v["name"] == PLAN_ENV))
    low: str | None = plan["incremental"]["low"]
    return low


def digest(job: dict[str, Any]) -> str:
    value: str = job["metadata"]["annotations"]["impalacopy.io/plan-digest"]
    return value


def incremental() -> Scenario:
    s = Scenario(manifests.standard_set(PASSWORD))
    s.activity["spec"]["source"]["incremental"] = {"column": "order_id", "initialValue": "0"}
    s.activity["spec"]["policy"] = {"retry": 1, "retryIntervalInSeconds": 30}
    s.step()
    s.step()
    return s


def ended(s: Scenario, exit_code: int, message: str) -> dict[str, Any]:
    """A terminated pod status, finished at the scenario's clock."""
    status = manifests.terminated(exit_code, message)
    status["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = format_time(s.now)
    return status


def succeed(s: Scenario, watermark: str | None) -> None:
    summary = manifests.summary(
        rows=10, watermark=watermark, watermark_column="order_id" if watermark else None
    )
    s.set_pod(ended(s, 0, summary.to_termination_message()))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()


def fail(s: Scenario) -> None:
    failed = RunSummary(
        status="Failed", rows_read=7, errors=[RunError(code="SinkWriteFailed", message="disk full")]
    )
    s.set_pod(ended(s, 1, failed.to_termination_message()))
    s.set_job_status(manifests.job_failed("BackoffLimitExceeded", "", format_time(s.now)))
    s.step()


def watermark(s: Scenario) -> tuple[str, str]:
    mark = s.activity["status"]["watermark"]
    return mark["value"], mark["runId"]


def run_now(s: Scenario, value: str) -> None:
    s.activity["metadata"].setdefault("annotations", {})["impalacopy.io/run-now"] = value
    s.step()


def test_runs_start_above_the_stored_watermark_and_a_retry_above_its_runs() -> None:
    s = incremental()
    first = s.job()
    assert low_of(first) == "0"
    succeed(s, "10")
    assert watermark(s) == ("10", "1")
    run_now(s, "a")
    second = s.job()
    assert low_of(second) == "10"
    assert digest(second) == digest(first)  # a new watermark is no change of what the run does
    fail(s)
    assert watermark(s) == ("10", "1")
    s.step(31)  # the retry of run 2, above the same watermark
    retry = s.job()
    assert (
        retry["metadata"]["labels"]["impalacopy.io/run"],
        retry["metadata"]["labels"]["impalacopy.io/attempt"],
    ) == ("2", "2")
    assert low_of(retry) == "10"
    succeed(s, "25")
    assert watermark(s) == ("25", "2")


def test_a_restart_after_the_jobs_are_gone_neither_repeats_nor_loses_the_watermark() -> None:
    s = incremental()
    succeed(s, "10")
    run_now(s, "a")
    succeed(s, "12")
    s.objects = [
        o for o in s.objects if o["kind"] not in ("Job", "Pod")
    ]  # history deleted, operator restarted
    s.step()
    s.step()
    assert watermark(s) == ("12", "2")
    assert s.activity["status"]["lastRun"]["watermark"] == "12"
    run_now(s, "b")
    assert low_of(s.job()) == "12"
    succeed(s, None)  # nothing new
    assert watermark(s) == ("12", "2")
