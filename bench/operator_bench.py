"""Operator benchmark (issue "Operator", section 7), on the Kubernetes API emulator (kmock).

Measured: the latency from a CopyActivity's creation to its Job's creation (p50, p95 over sequential
samples), the time to reconcile 1000 CopyActivities (each to a created Job and a written status),
and the operator's peak RSS. Targets: p50 < 1 s, peak RSS < 200 MB.

The operator runs in this process, the emulator and the load generator in a child process, which
observes the Jobs and statuses as they are written (bench/emulator.py). The operator runs with its
default settings, so its one ImpalaLinkedService gets a connection-test Job besides the copy Jobs:
"one Job per copy run" counts the Jobs of each kind.

    .venv/bin/python bench/operator_bench.py [--activities 1000] [--samples 50]
    .venv/bin/python bench/run.py --only operator_1000      # the same, inside `make bench`
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench.emulator import (  # noqa: E402
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

NS = "bench"
P50_TARGET_S = 1.0
RSS_TARGET_MB = 200.0


def _base_objects() -> list[dict[str, Any]]:
    from tests.operator import manifests

    return [o for o in manifests.standard_set("bench-password", namespace=NS) if o["kind"] != "CopyActivity"]


def _activity(name: str) -> dict[str, Any]:
    from tests.operator import manifests

    return manifests.copy_activity(name, namespace=NS)


def _jobs_by_kind(kmock: Any) -> dict[str, int]:
    """The Jobs in the emulator, by the kind of object whose run each is."""
    from impala_copy.controller.core.constants import LABEL_KIND

    jobs = kmock.resource("batch", "v1", "jobs")
    kinds: dict[str, int] = {}
    for key, obj in list(kmock.objects.items()):
        if key[0] == jobs:
            kind = obj.get("metadata", {}).get("labels", {}).get(LABEL_KIND, "")
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


async def _drive(ready_file: Path, out_file: Path, stop_file: Path, activities: int, samples: int) -> None:
    import kmock as kmock_lib

    from impala_copy.controller.core.job import job_name

    prepare_emulator()
    async with kmock_lib.KubernetesEmulator() as kmock, kmock_lib.Server(kmock):
        declare(kmock)
        ready_file.write_text(str(kmock.url).rstrip("/"))
        jobs = kmock.resource("batch", "v1", "jobs")
        acts = kmock.resource("impalacopy.io", "v1alpha1", "copyactivities")

        await wait_for_watches(kmock)

        for obj in _base_objects():
            await post_object(kmock, obj)
        await asyncio.sleep(0.5)

        # Latency: one activity at a time, from just before its creation to its Job's creation.
        latencies: list[float] = []
        for i in range(samples):
            obj = _activity(f"latency-{i}")
            key = (jobs, NS, job_name(obj["metadata"]["name"], obj["metadata"]["uid"], 1, 1))
            started = time.perf_counter()
            await post_object(kmock, obj)
            while key not in kmock.objects:
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)

        # Throughput: many activities at once, until each has its Job and a status with that run.
        bulk = [_activity(f"bulk-{i}") for i in range(activities)]
        wanted_jobs = {(jobs, NS, job_name(o["metadata"]["name"], o["metadata"]["uid"], 1, 1)) for o in bulk}
        started = time.perf_counter()
        await gathered(post_object(kmock, o) for o in bulk)
        created = time.perf_counter() - started
        pending_jobs = set(wanted_jobs)
        pending_status = {o["metadata"]["name"] for o in bulk}
        deadline = time.monotonic() + 600
        while pending_jobs or pending_status:
            pending_jobs = {k for k in pending_jobs if k not in kmock.objects}
            pending_status = {
                n
                for n in pending_status
                if not (kmock.objects[acts, NS, n].get("status") or {}).get("lastRun")
            }
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"not reconciled after 600 s: {len(pending_jobs)} Jobs, {len(pending_status)} statuses"
                )
            await asyncio.sleep(0.2)
        reconciled = time.perf_counter() - started
        job_posts = sum(1 for r in kmock if r.method.value == "POST" and r.resource == jobs)
        jobs_by_kind = _jobs_by_kind(kmock)

        ordered = sorted(latencies)
        out_file.write_text(
            json.dumps(
                {
                    "latency_samples": samples,
                    "latency_p50_s": round(statistics.median(ordered), 4),
                    "latency_p95_s": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 4),
                    "latency_max_s": round(ordered[-1], 4),
                    "activities": activities,
                    "create_requests_s": round(created, 2),
                    "reconciled_s": round(reconciled, 2),
                    "activities_per_s": round(activities / reconciled, 1),
                    "job_creations": job_posts,
                    "copy_jobs": jobs_by_kind.pop("CopyActivity", 0),
                    "connection_test_jobs": jobs_by_kind.pop("ImpalaLinkedService", 0),
                    "other_jobs": sum(jobs_by_kind.values()),
                    "expected_copy_jobs": activities + samples,
                }
            )
        )
        await serve_until(stop_file)


# ------------------------------------------------------------------ this process: the operator
def measure(activities: int = 1000, samples: int = 50) -> dict[str, Any]:
    """Run the operator here against a driver child process; the figures and the verdicts."""
    run = run_operator(Path(__file__).resolve(), ["--activities", str(activities), "--samples", str(samples)])
    result = run.result
    result["operator_peak_rss_mb"] = round(proc_status_mb("VmHWM"), 1)
    result["operator_cpu_s"] = round(run.cpu_seconds, 2)
    result["operator_cpu_ms_per_activity"] = round(run.cpu_seconds * 1000 / (activities + samples), 2)
    result["operator_rss_at_start_mb"] = round(run.rss_at_start_mb, 1)
    # One Job per CopyActivity run, and one connection-test Job for the one ImpalaLinkedService; every
    # Job created exists (none created twice, none deleted).
    one_per_run = (
        result["copy_jobs"] == result["expected_copy_jobs"]
        and result["connection_test_jobs"] == 1
        and result["other_jobs"] == 0
        and result["job_creations"] == result["copy_jobs"] + result["connection_test_jobs"]
    )
    result["checks"] = [
        check("create -> Job p50 (s)", result["latency_p50_s"], f"< {P50_TARGET_S}",
              result["latency_p50_s"] < P50_TARGET_S),
        check("operator peak RSS (MB)", result["operator_peak_rss_mb"], f"< {RSS_TARGET_MB:g}",
              result["operator_peak_rss_mb"] < RSS_TARGET_MB),
        check("one Job per copy run", result["copy_jobs"], f"= {result['expected_copy_jobs']}", one_per_run),
    ]  # fmt: skip
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"create -> Job latency over {result['latency_samples']} activities: p50 {result['latency_p50_s'] * 1000:.0f} ms, "
        f"p95 {result['latency_p95_s'] * 1000:.0f} ms, max {result['latency_max_s'] * 1000:.0f} ms",
        f"{result['activities']} activities reconciled (Job created, status written) in {result['reconciled_s']} s "
        f"({result['activities_per_s']}/s; creating them took {result['create_requests_s']} s)",
        f"Jobs created {result['job_creations']}: {result['copy_jobs']} copies, "
        f"{result['connection_test_jobs']} connection test, {result['other_jobs']} other",
        f"operator peak RSS {result['operator_peak_rss_mb']} MB (at start {result['operator_rss_at_start_mb']} MB); "
        f"operator CPU {result['operator_cpu_s']} s ({result['operator_cpu_ms_per_activity']} ms per activity)",
    ]
    return with_checks(lines, result)


# ------------------------------------------------------------------ make bench (bench/run.py)
self_measured_case(
    "operator_1000", "operator on kmock: 1000 CopyActivities (rows = activities)",
    lambda: measure(1000, 50), report, out="operator", rows="activities", rss_target_mb=RSS_TARGET_MB,
)  # fmt: skip


def main() -> int:
    return bench_main(
        __doc__ or "", {"activities": 1000, "samples": 50}, measure, report, out="operator", drive=_drive
    )


if __name__ == "__main__":
    sys.exit(main())
