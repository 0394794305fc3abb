"""Schedule benchmark (issue "Schedules", section 5), on the Kubernetes API emulator (kmock).

1000 CopyActivities on `* * * * *` schedules for 3 minutes. Measured: how late each due run's Job
appears after its due time (p50, p99, max; target p99 < 2 s), the operator's CPU per scheduled run,
its peak RSS (target < 200 MB), and that no due time got two Jobs. The load generator plays the Job
controller: each Job is marked succeeded 15 s after it appears (away from the burst of creations at
each due time, which it would slow down), so every due time can start a run (concurrencyPolicy
Forbid would wait otherwise).

The operator runs in this process, the emulator and the load generator in a child process (see
bench/emulator.py).

    .venv/bin/python bench/schedule_bench.py [--activities 1000] [--minutes 3]
    .venv/bin/python bench/run.py --only schedule_1000      # the same, inside `make bench`
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench.emulator import (  # noqa: E402
    call,
    declare,
    gathered,
    post_object,
    prepare_emulator,
    proc_status_mb,
    run_operator,
    serve_until,
    wait_for_watches,
)
from bench.framework import bench_main, check, self_measured_case, with_checks  # noqa: E402
from bench.operator_bench import NS, RSS_TARGET_MB, _base_objects  # noqa: E402

LAG_P99_TARGET_S = 2.0
SUCCEED_AFTER_S = 15.0  # a Job "runs" this long
SCHEDULED = "impalacopy.io/scheduled-time"


def _activity(name: str) -> dict[str, Any]:
    from tests.operator import manifests

    return manifests.copy_activity(name, namespace=NS, schedule={"cron": "* * * * *"})


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.5) - 1))] if ordered else 0.0


class JobWatch:
    """The Jobs as they appear in the emulator: when each was first seen, and for which due time."""

    def __init__(self, kmock: Any) -> None:
        self.kmock = kmock
        self.jobs = kmock.resource("batch", "v1", "jobs")
        self.lags: list[float] = []
        self.runs: dict[tuple[str, str], int] = {}  # (activity, due time) -> Jobs
        self._seen: set[Any] = set()

    def new_jobs(self) -> list[dict[str, Any]]:
        now = time.time()
        fresh = []
        for key in list(self.kmock.objects):
            if key[0] != self.jobs or key in self._seen:
                continue
            self._seen.add(key)
            body = dict(self.kmock.objects[key].raw)
            due = body["metadata"].get("annotations", {}).get(SCHEDULED)
            if due is not None:
                moment = datetime.fromisoformat(due.replace("Z", "+00:00")).timestamp()
                self.lags.append(now - moment)
                owner = body["metadata"]["ownerReferences"][0]["name"]
                self.runs[owner, due] = self.runs.get((owner, due), 0) + 1
            fresh.append(body)
        return fresh


async def _succeed(kmock: Any, job: dict[str, Any]) -> None:
    """What the Job controller would write once the Job's pod succeeded."""
    from tests.operator import manifests

    url = f"/apis/batch/v1/namespaces/{NS}/jobs/{job['metadata']['name']}/status"
    await call(kmock, "PATCH", url, {"status": manifests.job_succeeded()})


async def _drive(ready_file: Path, out_file: Path, stop_file: Path, activities: int, minutes: float) -> None:
    import kmock as kmock_lib

    prepare_emulator()
    async with kmock_lib.KubernetesEmulator() as kmock, kmock_lib.Server(kmock):
        declare(kmock)
        ready_file.write_text(str(kmock.url).rstrip("/"))
        await wait_for_watches(kmock)
        for obj in _base_objects():
            await post_object(kmock, obj)
        started = time.perf_counter()
        await gathered(post_object(kmock, _activity(f"cron-{i}")) for i in range(activities))
        created = time.perf_counter() - started
        watch = JobWatch(kmock)
        running: list[tuple[float, dict[str, Any]]] = []
        end = time.monotonic() + minutes * 60
        while time.monotonic() < end:
            now = time.monotonic()
            running += [(now + SUCCEED_AFTER_S, job) for job in watch.new_jobs()]
            done = [job for at, job in running if at <= now]
            running = [(at, job) for at, job in running if at > now]
            await gathered(_succeed(kmock, job) for job in done)
            await asyncio.sleep(0.05)
        acts = kmock.resource("impalacopy.io", "v1alpha1", "copyactivities")
        missed = sum(
            int((kmock.objects[acts, NS, f"cron-{i}"].get("status") or {}).get("missedRuns") or 0)
            for i in range(activities)
        )
        ordered = sorted(watch.lags)
        out_file.write_text(
            json.dumps(
                {
                    "activities": activities,
                    "minutes": minutes,
                    "create_requests_s": round(created, 2),
                    "scheduled_runs": len(ordered),
                    "lag_p50_s": round(_percentile(ordered, 0.5), 3),
                    "lag_p99_s": round(_percentile(ordered, 0.99), 3),
                    "lag_max_s": round(ordered[-1], 3) if ordered else 0.0,
                    "duplicate_runs": sum(n - 1 for n in watch.runs.values() if n > 1),
                    "missed_runs": missed,
                    "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        await serve_until(stop_file)


def measure(activities: int = 1000, minutes: float = 3.0) -> dict[str, Any]:
    """Run the operator here against the schedule driver; the figures and the verdicts."""
    run = run_operator(Path(__file__).resolve(), ["--activities", str(activities), "--minutes", str(minutes)])
    result = run.result
    runs = max(1, int(result["scheduled_runs"]))
    result["operator_peak_rss_mb"] = round(proc_status_mb("VmHWM"), 1)
    result["operator_rss_at_start_mb"] = round(run.rss_at_start_mb, 1)
    result["operator_cpu_s"] = round(run.cpu_seconds, 2)
    result["operator_cpu_ms_per_scheduled_run"] = round(run.cpu_seconds * 1000 / runs, 2)
    result["checks"] = [
        check("due -> Job lag p99 (s)", result["lag_p99_s"], f"< {LAG_P99_TARGET_S:g}",
              result["lag_p99_s"] < LAG_P99_TARGET_S),
        check("operator peak RSS (MB)", result["operator_peak_rss_mb"], f"< {RSS_TARGET_MB:g}",
              result["operator_peak_rss_mb"] < RSS_TARGET_MB),
        check("one Job per due time", result["duplicate_runs"], "= 0", result["duplicate_runs"] == 0),
    ]  # fmt: skip
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['activities']} CopyActivities on '* * * * *' for {result['minutes']:g} min: "
        f"{result['scheduled_runs']} scheduled runs, {result['missed_runs']} missed",
        f"due time -> Job: p50 {result['lag_p50_s'] * 1000:.0f} ms, p99 {result['lag_p99_s'] * 1000:.0f} ms, "
        f"max {result['lag_max_s'] * 1000:.0f} ms",
        f"operator peak RSS {result['operator_peak_rss_mb']} MB (at start {result['operator_rss_at_start_mb']} MB); "
        f"operator CPU {result['operator_cpu_s']} s ({result['operator_cpu_ms_per_scheduled_run']} ms per "
        "scheduled run, creating the activities included)",
    ]
    return with_checks(lines, result)


self_measured_case(
    "schedule_1000", "operator on kmock: 1000 '* * * * *' CopyActivities, 3 min (rows = runs)",
    lambda: measure(1000, 3.0), report, out="schedule", rows="scheduled_runs", rss_target_mb=RSS_TARGET_MB,
)  # fmt: skip


def main() -> int:
    return bench_main(
        __doc__ or "", {"activities": 1000, "minutes": 3.0}, measure, report, out="schedule", drive=_drive
    )


if __name__ == "__main__":
    sys.exit(main())
