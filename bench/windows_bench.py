"""Tumbling-window benchmark (issue "Schedules, tumbling windows", section 5): planning a backfill.

A CopyActivity with 1000 hourly windows due (startTime 1000 hours ago) and maxConcurrency 10 is
reconciled by the operator's own CopyActivity controller (pure planning, `tests/operator/scenarios.py`
plays the cluster: the Jobs it creates, the status it writes, the Jobs it deletes); whenever a
reconciliation creates no Job (maxConcurrency reached), every running Job succeeds, until the backfill
has caught up. Measured: the time of each
reconciliation (building the cluster view from the objects and planning), the total, and the size of
status.windows and of the whole status. Target: status far under the API server's object size limit
(1.5 MiB): under 64 KiB.

    .venv/bin/python bench/windows_bench.py [--windows 1000] [--concurrency 10]
    .venv/bin/python bench/run.py --only windows_backfill_1000   # the same, inside `make bench`
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench.framework import bench_main, check, self_measured_case, with_checks  # noqa: E402

STATUS_TARGET_BYTES = 64 * 1024


def _scenario(windows: int, concurrency: int) -> Any:
    from tests.operator import manifests
    from tests.operator.scenarios import NOW, Scenario

    from impala_copy.controller.core.timeutil import format_time

    objects = manifests.standard_set("bench-password-not-used")
    # Windows that run at once must write apart: one folder per window.
    [dataset] = [o for o in objects if o["kind"] == "ParquetDataset"]
    dataset["spec"]["location"]["folderPath"] = "orders/{windowStart:yyyy-MM-dd-HH}"
    objects[-1]["spec"]["schedule"] = {
        "window": {
            "startTime": format_time(NOW - timedelta(hours=windows)),
            "frequency": "Hour",
            "interval": 1,
            "maxConcurrency": concurrency,
        }
    }
    return Scenario(objects)


def _collect_pods(scenario: Any) -> None:
    """The garbage collector: pods of Jobs the operator deleted go with them."""
    jobs = {o["metadata"]["name"] for o in scenario.objects if o["kind"] == "Job"}
    scenario.objects = [
        o for o in scenario.objects
        if o["kind"] != "Pod" or o["metadata"]["ownerReferences"][0]["name"] in jobs
    ]  # fmt: skip


def _running(scenario: Any) -> int:
    return sum(1 for o in scenario.objects if o["kind"] == "Job" and not o.get("status"))


def _finish_running(scenario: Any) -> None:
    from tests.operator import manifests

    for index, job in enumerate(o for o in scenario.objects if o["kind"] == "Job"):
        if not job.get("status"):
            scenario.set_pod(
                manifests.terminated(0, manifests.summary(rows=10).to_termination_message()), index
            )
            scenario.set_job_status(manifests.job_succeeded(), index)


def measure(windows: int = 1000, concurrency: int = 10) -> dict[str, Any]:
    _scenario(2, 1).step(seconds=0)  # imports and first-use caches, not measured
    scenario = _scenario(windows, concurrency)
    times: list[float] = []
    sizes: list[int] = []
    window_sizes: list[int] = []
    while len(times) < 20 * windows:
        running_before = _running(scenario)
        started = time.perf_counter()
        scenario.step(seconds=0)
        times.append(time.perf_counter() - started)
        status = scenario.activity.get("status") or {}
        sizes.append(len(json.dumps(status)))
        window_sizes.append(len(json.dumps(status.get("windows") or {})))
        if (status.get("windows") or {}).get("succeededCount") == windows:
            break
        _collect_pods(scenario)
        if _running(scenario) <= running_before:
            _finish_running(scenario)  # no Job created: maxConcurrency reached; the running ones end
    jobs = [o for o in scenario.objects if o["kind"] == "Job"]
    record = scenario.activity["status"]["windows"]
    ordered = sorted(times)
    result = {
        "windows": windows,
        "max_concurrency": concurrency,
        "reconciliations": len(times),
        "plan_total_s": round(sum(times), 2),
        "plan_p50_ms": round(statistics.median(times) * 1000, 2),
        "plan_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "plan_max_ms": round(ordered[-1] * 1000, 2),
        "status_max_bytes": max(sizes),
        "windows_status_max_bytes": max(window_sizes),
        "succeeded": record.get("succeededCount"),
        "last_run_id": record.get("lastRunId"),
        "jobs_left": len(jobs),
    }
    result["checks"] = [
        check("every window once", result["last_run_id"], f"= {windows}",
              result["last_run_id"] == str(windows) and result["succeeded"] == windows),
        check("status size (bytes)", result["status_max_bytes"], f"< {STATUS_TARGET_BYTES}",
              result["status_max_bytes"] < STATUS_TARGET_BYTES),
    ]  # fmt: skip
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['windows']} hourly windows, maxConcurrency {result['max_concurrency']}: "
        f"{result['reconciliations']} reconciliations in {result['plan_total_s']} s "
        f"(p50 {result['plan_p50_ms']} ms, p99 {result['plan_p99_ms']} ms, max {result['plan_max_ms']} ms)",
        f"status at most {result['status_max_bytes']} bytes (status.windows {result['windows_status_max_bytes']})",
    ]
    return with_checks(lines, result)


self_measured_case(
    "windows_backfill_1000", "tumbling windows: plan a backfill of 1000 (rows = windows)",
    lambda: measure(1000, 10), report, out="windows", rows="windows",
)  # fmt: skip


def main() -> int:
    return bench_main(__doc__ or "", {"windows": 1000, "concurrency": 10}, measure, report, out="windows")


if __name__ == "__main__":
    sys.exit(main())
