"""Operator benchmark (issue "Operator", section 7), on the Kubernetes API emulator (kmock).

Measured: the latency from a CopyActivity's creation to its Job's creation (p50, p95 over sequential
samples), the time to reconcile 1000 CopyActivities (each to a created Job and a written status),
and the operator's peak RSS. Targets: p50 < 1 s, peak RSS < 200 MB.

The operator runs in this process (kopf and every handler, as `impala-copy operator` runs them), so
the peak RSS of the process is the operator's. The API emulator and the load generator run in a
child process, which observes the Jobs and statuses as they are written.

The emulator re-matches its whole request history on every request and scans every stored object to
read one (quadratic in all); the load generator makes both lookups constant-time (same answers for
the emulator's own routes), so the figures measure the operator rather than the emulator.

    .venv/bin/python bench/operator_bench.py [--activities 1000] [--samples 50]
    .venv/bin/python bench/run.py --only operator_1000      # the same, inside `make bench`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench.framework import OUT, Context, SetupContext, case, rss_limit, table_setup  # noqa: E402

NS = "bench"
P50_TARGET_S = 1.0
RSS_TARGET_MB = 200.0


# ------------------------------------------------------------------ the child: emulator and load
def _declare(kmock: Any) -> None:
    from impala_copy.api.kinds import KINDS

    def info(kind: str, subresources: list[str], namespaced: bool = True) -> dict[str, Any]:
        verbs = ["list", "watch", "get", "patch", "create", "delete"]
        return {
            "kind": kind,
            "singular": kind.lower(),
            "namespaced": namespaced,
            "verbs": verbs,
            "shortnames": [],
            "categories": [],
            "subresources": subresources,
        }

    for kind, cls in KINDS.items():
        kmock.resources[f"impalacopy.io/v1alpha1/{cls.KIND_INFO.plural}"] = info(kind, ["status"])
    for res, kind, sub in [
        ("batch/v1/jobs", "Job", ["status"]),
        ("v1/pods", "Pod", ["status"]),
        ("v1/secrets", "Secret", []),
        ("v1/configmaps", "ConfigMap", []),
        ("v1/persistentvolumeclaims", "PersistentVolumeClaim", ["status"]),
        ("v1/events", "Event", []),
    ]:
        kmock.resources[res] = info(kind, sub)
    kmock.resources["v1/namespaces"] = info("Namespace", [], namespaced=False)


def _base_objects() -> list[dict[str, Any]]:
    from tests.operator import manifests

    return [o for o in manifests.standard_set("bench-password", namespace=NS) if o["kind"] != "CopyActivity"]


def _activity(name: str) -> dict[str, Any]:
    from tests.operator import manifests

    return manifests.copy_activity(name, namespace=NS)


def _linear_time_matching() -> None:
    """A request always belongs to the emulator that received it: check a route's filters only."""
    from kmock._internal import dsl, rendering

    original = dsl.View.__contains__

    def contains(self: Any, item: Any) -> bool:
        if isinstance(item, rendering.Request):
            node = self
            while isinstance(node, (dsl.Filter, dsl.Priority)):
                if isinstance(node, dsl.Filter) and not node.criteria(item):
                    return False
                node = node._source
            if isinstance(node, dsl.Root):
                return True
        return bool(original(self, item))

    dsl.View.__contains__ = contains  # type: ignore[method-assign]

    # Reading one object by name scans every stored object: look it up by key first.
    from kmock._internal import k8s

    scan = k8s.KubernetesEmulator._KubernetesEmulator__get_objs  # type: ignore[attr-defined]

    def get_objs(self: Any, request: Any, strict: bool) -> Any:
        if request.name is not None and request.resource is not None and request.namespace is not None:
            key = (request.resource, request.namespace, request.name)
            if key in self._objects:
                return [self._objects[key]]
        return scan(self, request, strict)

    k8s.KubernetesEmulator._KubernetesEmulator__get_objs = get_objs  # type: ignore[attr-defined]


async def wait_for_watches(kmock: Any) -> None:
    """Until the operator watches CopyActivities and Jobs (objects created earlier would replay). It
    watches no Secret: it never reads one."""
    deadline = time.monotonic() + 120
    while {"copyactivities", "jobs"} - {
        r.resource.plural for r in kmock if r.resource is not None and r.params.get("watch")
    }:
        if time.monotonic() > deadline:
            raise SystemExit("the operator did not open its watches within 120 s")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


async def post_object(kmock: Any, obj: dict[str, Any]) -> None:
    """Create an object in the benchmark's namespace, as kubectl would."""
    group = obj["apiVersion"]
    base = f"/apis/{group}" if "/" in group else f"/api/{group}"
    async with kmock.post(f"{base}/namespaces/{NS}/{_plural(obj['kind'])}", json=obj) as response:
        if response.status >= 400:
            raise SystemExit(f"creating {obj['kind']} failed: {response.status} {await response.text()}")


async def _drive(activities: int, samples: int, ready_file: Path, out_file: Path, stop_file: Path) -> None:
    import kmock as kmock_lib

    from impala_copy.controller.core.job import job_name

    _linear_time_matching()
    async with kmock_lib.KubernetesEmulator() as kmock, kmock_lib.Server(kmock):
        _declare(kmock)
        ready_file.write_text(str(kmock.url).rstrip("/"))
        jobs = kmock.resource("batch", "v1", "jobs")
        acts = kmock.resource("impalacopy.io", "v1alpha1", "copyactivities")

        await wait_for_watches(kmock)

        async def post(obj: dict[str, Any]) -> None:
            await post_object(kmock, obj)

        for obj in _base_objects():
            await post(obj)
        await asyncio.sleep(0.5)

        # Latency: one activity at a time, from just before its creation to its Job's creation.
        latencies: list[float] = []
        for i in range(samples):
            obj = _activity(f"latency-{i}")
            key = (jobs, NS, job_name(obj["metadata"]["name"], obj["metadata"]["uid"], 1, 1))
            started = time.perf_counter()
            await post(obj)
            while key not in kmock.objects:
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)

        # Throughput: many activities at once, until each has its Job and a status with that run.
        bulk = [_activity(f"bulk-{i}") for i in range(activities)]
        wanted_jobs = {(jobs, NS, job_name(o["metadata"]["name"], o["metadata"]["uid"], 1, 1)) for o in bulk}
        gate = asyncio.Semaphore(16)

        async def create(obj: dict[str, Any]) -> None:
            async with gate:
                await post(obj)

        started = time.perf_counter()
        await asyncio.gather(*(create(o) for o in bulk))
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
        job_objects = sum(1 for key in kmock.objects if key[0] == jobs)

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
                    "jobs": job_objects,
                    "expected_job_creations": activities + samples,
                }
            )
        )
        # Serve until the operator has stopped (it would log lost watches otherwise).
        while not stop_file.exists():
            await asyncio.sleep(0.05)


def _plural(kind: str) -> str:
    from impala_copy.api.kinds import KINDS

    if kind in KINDS:
        return KINDS[kind].KIND_INFO.plural
    return {
        "Secret": "secrets",
        "ConfigMap": "configmaps",
        "PersistentVolumeClaim": "persistentvolumeclaims",
    }[kind]


# ------------------------------------------------------------------ this process: the operator
def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def operator_against_driver(script: Path, driver_args: list[str]) -> tuple[dict[str, Any], float, float]:
    """Run the operator here against a driver child process (`script --driver READY OUT STOP ...`,
    which serves the emulator and writes its figures to OUT); its figures, the operator's CPU seconds
    and its RSS at start (MB)."""
    import kopf

    from impala_copy.controller import main as operator_main
    from impala_copy.controller.core.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="operator-bench-"))
    ready, out, stopped = work / "url", work / "result.json", work / "stopped"
    log = (work / "driver.log").open("w")
    driver = subprocess.Popen(
        [sys.executable, str(script), "--driver", str(ready), str(out), str(stopped), *driver_args],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not ready.exists() or not ready.read_text():
        if driver.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start: {(work / 'driver.log').read_text()[-2000:]}")
        time.sleep(0.05)
    url = ready.read_text()

    settings = Settings(liveness_endpoint=None, resync_seconds=0, log_level="WARNING")
    operator_main.configure_logging(settings)
    registry, _ = operator_main.build(
        settings, login=lambda **_: kopf.ConnectionInfo(server=url, insecure=True)
    )
    stop = threading.Event()
    baseline = _peak_rss_mb()

    def wait_for_driver() -> None:
        while not out.exists() and driver.poll() is None:
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=wait_for_driver, daemon=True).start()
    started = time.process_time()
    asyncio.run(operator_main.serve(settings, registry, stop_flag=stop))
    cpu = time.process_time() - started
    stopped.write_text("stopped")
    driver.wait(60)
    log.close()
    if driver.returncode != 0 or not out.exists():
        raise RuntimeError(f"the load driver failed: {(work / 'driver.log').read_text()[-3000:]}")
    return json.loads(out.read_text()), cpu, baseline


def measure(activities: int = 1000, samples: int = 50) -> dict[str, Any]:
    """Run the operator here against a driver child process; the figures and the verdicts."""
    result, cpu, baseline = operator_against_driver(
        Path(__file__).resolve(), ["--activities", str(activities), "--samples", str(samples)]
    )
    result["operator_peak_rss_mb"] = round(_peak_rss_mb(), 1)
    result["operator_cpu_s"] = round(cpu, 2)
    result["operator_cpu_ms_per_activity"] = round(cpu * 1000 / (activities + samples), 2)
    result["operator_rss_at_start_mb"] = round(baseline, 1)
    result["checks"] = [
        {"check": "create -> Job p50 (s)", "value": result["latency_p50_s"], "target": f"< {P50_TARGET_S}",
         "met": result["latency_p50_s"] < P50_TARGET_S},
        {"check": "operator peak RSS (MB)", "value": result["operator_peak_rss_mb"], "target": f"< {RSS_TARGET_MB:g}",
         "met": result["operator_peak_rss_mb"] < RSS_TARGET_MB},
        {"check": "one Job per run", "value": result["job_creations"], "target": f"= {result['expected_job_creations']}",
         "met": result["job_creations"] == result["jobs"] == result["expected_job_creations"]},
    ]  # fmt: skip
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"create -> Job latency over {result['latency_samples']} activities: p50 {result['latency_p50_s'] * 1000:.0f} ms, "
        f"p95 {result['latency_p95_s'] * 1000:.0f} ms, max {result['latency_max_s'] * 1000:.0f} ms",
        f"{result['activities']} activities reconciled (Job created, status written) in {result['reconciled_s']} s "
        f"({result['activities_per_s']}/s; creating them took {result['create_requests_s']} s)",
        f"operator peak RSS {result['operator_peak_rss_mb']} MB (at start {result['operator_rss_at_start_mb']} MB); "
        f"operator CPU {result['operator_cpu_s']} s ({result['operator_cpu_ms_per_activity']} ms per activity)",
        "",
    ]
    lines += [
        f"{c['check']:<28} {c['value']!s:>8} {c['target']:>8}  {'met' if c['met'] else 'MISSED'}"
        for c in result["checks"]
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ make bench (bench/run.py)
@table_setup("operator_none")
def _no_table(ctx: SetupContext) -> int:
    return 0


@case("operator_1000", "operator on kmock: 1000 CopyActivities (rows = activities)", table="operator_none")
def operator_1000(ctx: Context) -> int:
    result = measure(1000, 50)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "operator.json").write_text(json.dumps(result, indent=2))
    print(report(result), file=sys.stderr)
    return int(result["activities"])


rss_limit("operator_1000", RSS_TARGET_MB)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--driver", nargs=3, metavar=("READY", "OUT", "STOP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        asyncio.run(_drive(args.activities, args.samples, *(Path(p) for p in args.driver)))
        return 0
    result = measure(args.activities, args.samples)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "operator.json").write_text(json.dumps(result, indent=2))
    print(report(result))
    return 0 if all(c["met"] for c in result["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
