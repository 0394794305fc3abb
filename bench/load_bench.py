"""Load benchmark (issue 13, section 3): 5000 objects across 50 namespaces, on kmock.

Each namespace holds the 100 objects of bench/population.py (Secrets, a volume, linked services,
datasets, 50 CopyActivities, 6 LookupActivities). They are all created at once (16 requests in
flight, as a `kubectl apply` of many folders would), then measured:

1. reconcile: until every object of ours has status for its generation with Ready True, every activity
   has its Job and `status.lastRun`, and every ImpalaLinkedService has its connection-test Job;
2. complete: the load generator then plays the Job controller and the kubelet (each Job's pod
   terminates with its task's summary, the Job completes), until every activity's phase is
   Succeeded and every ImpalaLinkedService is Connected.

Reported: the time of each phase, the operator's peak RSS (target < 300 MB), its CPU time, the
reconciliations it ran, and every request it sent to the API server, by verb and resource, per phase
(counted at the emulator). Checked too: one Job per run, and no WARNING or ERROR line in its log.

The operator runs with its default settings (8 workers, connection tests on) except for the resync,
which is off so that each figure is the response to the load alone.

    .venv/bin/python bench/load_bench.py [--namespaces 50]     # 50 x 100 objects
    .venv/bin/python bench/load_bench.py --namespaces 5        # the quick check: 500 objects
    .venv/bin/python bench/run.py --only load_5000             # the same, inside `make bench`
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench.emulator import (  # noqa: E402
    JobController,
    RequestTally,
    condition_status,
    declare,
    gathered,
    mark,
    post_object,
    prepare_emulator,
    run_operator,
    serve_until,
    status_of,
    wait_for_watches,
)
from bench.framework import bench_main, check, self_measured_case, with_checks  # noqa: E402
from bench.population import ACTIVITY_KINDS, Population  # noqa: E402

RSS_TARGET_MB = 300.0
PHASE_TIMEOUT_S = 1800.0

Key = tuple[str, str, str]  # (kind, namespace, name)


def reconciled(kmock: Any, tally: RequestTally, key: Key) -> bool:
    """The object's status is for its generation and Ready; an activity also has its Job and lastRun;
    an ImpalaLinkedService its connection-test Job."""
    kind, namespace, name = key
    status = status_of(kmock, kind, namespace, name)
    if status.get("observedGeneration") != 1 or condition_status(status, "Ready") != "True":
        return False
    if kind in ACTIVITY_KINDS:
        return bool(status.get("lastRun")) and tally.job_owners[key] > 0
    return kind != "ImpalaLinkedService" or tally.job_owners[key] > 0


def completed(kmock: Any, key: Key) -> bool:
    """An activity's run succeeded; an ImpalaLinkedService is Connected; other kinds have no run."""
    kind, namespace, name = key
    status = status_of(kmock, kind, namespace, name)
    if kind in ACTIVITY_KINDS:
        return bool(status.get("phase") == "Succeeded")
    return kind != "ImpalaLinkedService" or condition_status(status, "Connected") == "True"


async def until_all(
    keys: list[Key], done: Callable[[Key], bool], what: str, step: Callable[[], Any] | None = None
) -> float:
    """Seconds until `done` holds for every key (checked twice a second); SystemExit after the timeout."""
    started = time.perf_counter()
    pending = list(keys)
    while pending:
        if step is not None and asyncio.iscoroutine(stepped := step()):
            await stepped
        pending = [k for k in pending if not done(k)]
        if time.perf_counter() - started > PHASE_TIMEOUT_S:
            raise SystemExit(f"{what}: {len(pending)} objects still pending, e.g. {pending[:5]}")
        print(f"{time.perf_counter() - started:7.1f} s  {what}: {len(pending)} pending", flush=True)
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


def request_figures(counts: dict[str, int], items: int, unit: str) -> dict[str, Any]:
    """The requests of a phase: in all, per `unit` (`items` of them) and by verb and resource."""
    total = sum(counts.values())
    return {"total": total, f"per_{unit}": round(total / max(1, items), 2), "by_verb_resource": counts}


async def _drive(ready_file: Path, out_file: Path, stop_file: Path, namespaces: int) -> None:
    import kmock as kmock_lib

    prepare_emulator()
    async with kmock_lib.KubernetesEmulator() as kmock, kmock_lib.Server(kmock):
        declare(kmock)
        ready_file.write_text(str(kmock.url).rstrip("/"))
        await wait_for_watches(kmock)
        tally = RequestTally(kmock)
        startup = tally.take()
        objects = Population(namespaces).objects()
        ours = Population.ours(objects)
        mark(out_file, "start")
        started = time.perf_counter()
        await gathered(post_object(kmock, obj) for obj in objects)
        created_s = time.perf_counter() - started

        reconcile_s = await until_all(ours, lambda k: reconciled(kmock, tally, k), "reconcile", tally.update)
        reconcile_s += created_s
        mark(out_file, "reconciled")
        reconcile_requests = tally.take()
        jobs_after_reconcile = sum(tally.job_owners.values())

        controller = JobController(kmock, tally, run_seconds=0.0)
        running = [k for k in ours if k[0] in (*ACTIVITY_KINDS, "ImpalaLinkedService")]
        complete_s = await until_all(running, lambda k: completed(kmock, k), "complete", controller.step)
        mark(out_file, "completed")
        await asyncio.sleep(2.0)  # anything the operator still sends after the last status
        complete_requests = tally.take()
        kinds = {kind: sum(1 for k in ours if k[0] == kind) for kind in dict.fromkeys(k[0] for k in ours)}
        result = {
            "namespaces": namespaces,
            "objects": len(objects),
            "objects_reconciled": len(ours),
            "kinds": kinds,
            "create_requests_s": round(created_s, 2),
            "reconcile_s": round(reconcile_s, 2),
            "complete_s": round(complete_s, 2),
            "runs_expected": len(running),
            "jobs_created": sum(tally.job_owners.values()),
            "jobs_created_while_reconciling": jobs_after_reconcile,
            "objects_with_two_jobs": sum(1 for n in tally.job_owners.values() if n > 1),
            "jobs_finished": controller.finished,
            "requests_at_startup": startup,
            "requests_reconcile": request_figures(reconcile_requests, len(ours), "object"),
            "requests_complete": request_figures(complete_requests, len(running), "run"),
        }
        out_file.write_text(json.dumps(result))
        await serve_until(stop_file)


def measure(namespaces: int = 50) -> dict[str, Any]:
    """Run the operator here against the load driver; the figures and the verdicts."""
    run = run_operator(Path(__file__).resolve(), ["--namespaces", str(namespaces)], sample_seconds=1.0)
    result = run.result
    marks = run.marks
    reconciliations = {
        "reconcile": int(marks["reconciled"]["reconciliations"] - marks["start"]["reconciliations"]),
        "complete": int(marks["completed"]["reconciliations"] - marks["reconciled"]["reconciliations"]),
    }
    for phase, count in reconciliations.items():
        figures = result[f"requests_{phase}"]
        figures["reconciliations"] = count
        figures["per_reconciliation"] = round(figures["total"] / max(1, count), 2)
    result |= {
        "operator_peak_rss_mb": round(run.peak_rss_mb, 1),
        "operator_rss_at_start_mb": round(run.rss_at_start_mb, 1),
        "operator_rss_reconciled_mb": round(marks["reconciled"]["rss_mb"], 1),
        "operator_rss_completed_mb": round(marks["completed"]["rss_mb"], 1),
        "operator_cpu_s": round(run.cpu_seconds, 2),
        "operator_log_problems": run.log_problems,
        "operator_first_problems": run.first_problems,
        "rss_samples": [(round(t, 1), round(mb, 1)) for t, mb in run.rss_samples],
    }
    problems = sum(run.log_problems.values())
    result["checks"] = [
        check("operator peak RSS (MB)", result["operator_peak_rss_mb"], f"< {RSS_TARGET_MB:g}",
              result["operator_peak_rss_mb"] < RSS_TARGET_MB),
        check("one Job per run", result["jobs_created"], f"= {result['runs_expected']}",
              result["jobs_created"] == result["runs_expected"] and result["objects_with_two_jobs"] == 0),
        check("WARNING/ERROR lines in the operator log", problems, "= 0", problems == 0),
    ]  # fmt: skip
    return result


def _requests_lines(phase: str, figures: dict[str, Any], unit: str) -> list[str]:
    lines = [
        f"requests while {phase}: {figures['total']} ({figures[f'per_{unit}']} per {unit}, "
        f"{figures['per_reconciliation']} per reconciliation; {figures['reconciliations']} reconciliations)"
    ]
    lines += [f"    {n:>7}  {what}" for what, n in figures["by_verb_resource"].items()]
    return lines


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['objects']} objects in {result['namespaces']} namespaces ({result['objects_reconciled']} "
        f"reconciled by the operator): created in {result['create_requests_s']} s",
        f"reconciled (Ready, every run's Job and status) {result['reconcile_s']} s after the first create; "
        f"every run completed {result['complete_s']} s later",
        f"Jobs created {result['jobs_created']} for {result['runs_expected']} runs "
        f"({result['objects_with_two_jobs']} objects with two)",
        f"operator RSS at start {result['operator_rss_at_start_mb']} MB, reconciled "
        f"{result['operator_rss_reconciled_mb']} MB, completed {result['operator_rss_completed_mb']} MB, "
        f"peak {result['operator_peak_rss_mb']} MB; CPU {result['operator_cpu_s']} s",
        f"operator log: {result['operator_log_problems'] or 'no WARNING or ERROR line'}",
        *result["operator_first_problems"][:5],
        *_requests_lines("reconciling", result["requests_reconcile"], "object"),
        *_requests_lines("completing the runs", result["requests_complete"], "run"),
    ]
    return with_checks(lines, result)


self_measured_case(
    "load_5000", "operator on kmock: 5000 objects in 50 namespaces (rows = objects)",
    lambda: measure(50), report, out="load", rows="objects", rss_target_mb=RSS_TARGET_MB, timeout=2400,
)  # fmt: skip


def main() -> int:
    return bench_main(__doc__ or "", {"namespaces": 50}, measure, report, out="load", drive=_drive)


if __name__ == "__main__":
    sys.exit(main())
