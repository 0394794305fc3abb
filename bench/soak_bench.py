"""Soak benchmark (issue 13, section 3): 10 minutes of spec changes and run-nows at a fixed rate, on kmock.

The objects of `--namespaces` namespaces of bench/population.py (100 each) are created and reconciled,
and their first runs completed. Then, for `--minutes`, the load generator sends at fixed rates:

- spec changes (`--changes-per-s`): a CopyActivity's source.queryTimeout or a LookupActivity's query,
  with the generation bump the API server makes; each asks for a new run;
- run-nows (`--run-nows-per-s`): the impalacopy.io/run-now annotation set to a new value on a
  CopyActivity, a LookupActivity or an ImpalaLinkedService (a connection test on demand);

cycling through the objects in a fixed shuffled order, while it plays the Job controller and the
kubelet (each Job's pod terminates with its task's summary `--job-seconds` after the Job appears, the
Job completes; the pods of Jobs deleted by the history limits go). Then it stops changing anything
and waits until the status of every object has converged: each status is for the object's
generation and last run-now value, each activity's last run succeeded, each linked service is
Connected.

Reported: the operator's RSS at the start of the churn, every `--sample-seconds` during it and at its
end (target: growth under 10 %), its CPU time, the rates achieved, the time to converge, the
requests it sent by verb and resource, the WARNING and ERROR lines it logged (target: none), and that
each activity's Jobs are exactly its runs (no duplicate Job). The operator runs with its default
settings (8 workers, resync every 300 s, connection tests on).

    .venv/bin/python bench/soak_bench.py [--minutes 10] [--namespaces 5]
    .venv/bin/python bench/soak_bench.py --minutes 1          # the quick check
    .venv/bin/python bench/run.py --only soak_10min           # the same, inside `make bench`
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench.emulator import (  # noqa: E402
    JobController,
    RequestTally,
    api_path,
    call,
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
from bench.load_bench import Key, completed, reconciled, until_all  # noqa: E402
from bench.population import ACTIVITY_KINDS, Population  # noqa: E402

RSS_GROWTH_TARGET = 0.10
RUN_NOW = "impalacopy.io/run-now"


def stored(kmock: Any, key: Key) -> dict[str, Any]:
    from tests.operator.harness import ALL

    kind, namespace, name = key
    ref = ALL[kind]
    return dict(kmock.objects[kmock.resource(ref.group, ref.version, ref.plural), namespace, name].raw)


def spec_change(kind: str, n: int) -> dict[str, Any]:
    """A change of an activity's spec that asks for a new run (the n-th change of the soak)."""
    if kind == "LookupActivity":
        return {"source": {"query": f"SELECT max(id) AS max_id FROM demo.table_0 WHERE {n} = {n}"}}
    return {"source": {"type": "ImpalaSource", "queryTimeout": f"00:{10 + n % 50:02d}:00"}}


class Churn:
    """Spec changes and run-nows at fixed rates, cycling through the objects in a shuffled order."""

    def __init__(self, kmock: Any, activities: list[Key], run_now_targets: list[Key]) -> None:
        self.kmock = kmock
        self.activities = random.Random(13).sample(activities, len(activities))
        self.run_now_targets = random.Random(31).sample(run_now_targets, len(run_now_targets))
        self.changes = 0
        self.run_nows = 0

    async def change(self) -> None:
        key = self.activities[self.changes % len(self.activities)]
        self.changes += 1
        generation = int(stored(self.kmock, key)["metadata"].get("generation", 1)) + 1
        body = {"spec": spec_change(key[0], self.changes), "metadata": {"generation": generation}}
        await call(self.kmock, "PATCH", api_path(key[0], key[1], key[2]), body)

    async def run_now(self) -> None:
        key = self.run_now_targets[self.run_nows % len(self.run_now_targets)]
        self.run_nows += 1
        body = {"metadata": {"annotations": {RUN_NOW: f"soak-{self.run_nows}"}}}
        await call(self.kmock, "PATCH", api_path(key[0], key[1], key[2]), body)


def converged(kmock: Any, key: Key) -> bool:
    """The object's status is for its generation and its last run-now value, and its last run (if it
    runs anything) is done and succeeded."""
    obj = stored(kmock, key)
    status = status_of(kmock, *key)
    run_now = obj["metadata"].get("annotations", {}).get(RUN_NOW)
    if status.get("observedGeneration") != obj["metadata"].get("generation", 1):
        return False
    if run_now is not None and status.get("handledRunNow") != run_now:
        return False
    return completed(kmock, key)


async def _churn(
    kmock: Any, churn: Churn, controller: JobController, seconds: float, changes: float, run_nows: float
) -> float:
    """Send changes and run-nows on schedule for `seconds`; the seconds it took."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        due = [churn.change() for _ in range(int(elapsed * changes) - churn.changes)]
        due += [churn.run_now() for _ in range(int(elapsed * run_nows) - churn.run_nows)]
        await gathered(due)
        await controller.step()
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def runs_and_jobs(kmock: Any, tally: RequestTally, activities: list[Key]) -> tuple[int, int, int]:
    """Runs the activities' status counts (lastRun.runId), Jobs created for them, activities whose Jobs
    outnumber their runs."""
    runs = jobs = over = 0
    for key in activities:
        run_id = int((status_of(kmock, *key).get("lastRun") or {}).get("runId") or 0)
        runs += run_id
        jobs += tally.job_owners[key]
        over += tally.job_owners[key] > run_id
    return runs, jobs, over


async def _drive(
    ready_file: Path, out_file: Path, stop_file: Path, *, minutes: float, namespaces: int,
    changes_per_s: float, run_nows_per_s: float, job_seconds: float, sample_seconds: float,
) -> None:  # fmt: skip
    import kmock as kmock_lib

    prepare_emulator()
    async with kmock_lib.KubernetesEmulator() as kmock, kmock_lib.Server(kmock):
        declare(kmock)
        ready_file.write_text(str(kmock.url).rstrip("/"))
        await wait_for_watches(kmock)
        tally = RequestTally(kmock)
        objects = Population(namespaces).objects()
        ours = Population.ours(objects)
        activities = [k for k in ours if k[0] in ACTIVITY_KINDS]
        runners = [k for k in ours if k[0] in (*ACTIVITY_KINDS, "ImpalaLinkedService")]
        await gathered(post_object(kmock, obj) for obj in objects)
        controller = JobController(kmock, tally, run_seconds=job_seconds)
        await until_all(ours, lambda k: reconciled(kmock, tally, k), "reconcile", tally.update)
        await until_all(runners, lambda k: completed(kmock, k), "first runs", controller.step)
        tally.take()
        mark(out_file, "churn-start")
        churn = Churn(kmock, activities, runners)
        churned = await _churn(kmock, churn, controller, minutes * 60, changes_per_s, run_nows_per_s)
        mark(out_file, "churn-end")
        converge_s = await until_all(ours, lambda k: converged(kmock, k), "converge", controller.step)
        mark(out_file, "converged")
        await asyncio.sleep(2.0)
        runs, jobs, over = runs_and_jobs(kmock, tally, activities)
        result = {
            "namespaces": namespaces,
            "objects": len(objects),
            "minutes": minutes,
            "churn_s": round(churned, 1),
            "spec_changes": churn.changes,
            "run_nows": churn.run_nows,
            "changes_per_s": round(churn.changes / churned, 2),
            "run_nows_per_s": round(churn.run_nows / churned, 2),
            "job_seconds": job_seconds,
            "jobs_created": sum(tally.job_owners.values()),
            "jobs_finished": controller.finished,
            "jobs_per_s": round(sum(tally.job_owners.values()) / (churned + converge_s), 2),
            "converge_s": round(converge_s, 1),
            "activity_runs": runs,
            "activity_jobs": jobs,
            "activities_with_extra_jobs": over,
            "jobs_deleted": len(tally.job_deletions),
            "job_deletes_repeated": sum(n - 1 for n in tally.job_deletions.values()),
            "requests": tally.take(),
        }
        out_file.write_text(json.dumps(result))
        await serve_until(stop_file)


OPTIONS: dict[str, int | float] = {
    "minutes": 10.0,
    "namespaces": 5,
    "changes_per_s": 2.0,
    "run_nows_per_s": 2.0,
    "job_seconds": 5.0,
    "sample_seconds": 10.0,
}


def measure(**options: Any) -> dict[str, Any]:
    """Run the operator here against the soak driver; the figures and the verdicts."""
    values = {**OPTIONS, **options}
    args = [f"--{name.replace('_', '-')}={value}" for name, value in values.items()]
    run = run_operator(Path(__file__).resolve(), args, sample_seconds=float(values["sample_seconds"]),
                       resync_seconds=300)  # fmt: skip
    result = run.result
    start, end = run.marks["churn-start"], run.marks["churn-end"]
    during = [(t - start["at"], mb) for t, mb in run.rss_samples if start["at"] <= t <= end["at"]]
    growth = (end["rss_mb"] - start["rss_mb"]) / start["rss_mb"]
    total = sum(result["requests"].values())
    result |= {
        "operator_rss_churn_start_mb": round(start["rss_mb"], 1),
        "operator_rss_churn_end_mb": round(end["rss_mb"], 1),
        "operator_rss_converged_mb": round(run.marks["converged"]["rss_mb"], 1),
        "operator_rss_growth": round(growth, 4),
        "operator_rss_during_churn": [(round(t), round(mb, 1)) for t, mb in during],
        "operator_peak_rss_mb": round(run.peak_rss_mb, 1),
        "operator_cpu_s": round(run.cpu_seconds, 2),
        "reconciliations": int(run.marks["converged"]["reconciliations"] - start["reconciliations"]),
        "requests_total": total,
        "operator_log_problems": run.log_problems,
        "operator_first_problems": run.first_problems,
    }
    problems = sum(run.log_problems.values())
    result["checks"] = [
        check("operator RSS growth over the churn (%)", round(growth * 100, 1), f"< {RSS_GROWTH_TARGET * 100:g}",
              growth < RSS_GROWTH_TARGET),
        check("WARNING/ERROR lines in the operator log", problems, "= 0", problems == 0),
        check("DELETE requests repeated for one Job", result["job_deletes_repeated"], "= 0",
              result["job_deletes_repeated"] == 0),
        check("Jobs of the activities = their runs", result["activity_jobs"], f"= {result['activity_runs']}",
              result["activity_jobs"] == result["activity_runs"] and result["activities_with_extra_jobs"] == 0),
    ]  # fmt: skip
    return result


def report(result: dict[str, Any]) -> str:
    series = ", ".join(f"{mb:.0f}" for _, mb in result["operator_rss_during_churn"])
    lines = [
        f"{result['objects']} objects in {result['namespaces']} namespaces; {result['churn_s']} s of churn: "
        f"{result['spec_changes']} spec changes ({result['changes_per_s']}/s), {result['run_nows']} run-nows "
        f"({result['run_nows_per_s']}/s); {result['jobs_created']} Jobs ({result['jobs_per_s']}/s), "
        f"each running {result['job_seconds']:g} s",
        f"converged {result['converge_s']} s after the churn stopped; activity runs {result['activity_runs']}, "
        f"their Jobs {result['activity_jobs']}; Jobs deleted (history limits) {result['jobs_deleted']}, "
        f"DELETE requests for a Job already deleted {result['job_deletes_repeated']}",
        f"operator RSS: churn start {result['operator_rss_churn_start_mb']} MB, end "
        f"{result['operator_rss_churn_end_mb']} MB ({result['operator_rss_growth'] * 100:+.1f} %), converged "
        f"{result['operator_rss_converged_mb']} MB, peak {result['operator_peak_rss_mb']} MB",
        f"RSS during the churn (MB): {series}",
        f"operator CPU {result['operator_cpu_s']} s; {result['reconciliations']} reconciliations; "
        f"{result['requests_total']} requests",
        f"operator log: {result['operator_log_problems'] or 'no WARNING or ERROR line'}",
        *result["operator_first_problems"][:5],
        *[f"    {n:>7}  {what}" for what, n in result["requests"].items()],
    ]
    return with_checks(lines, result)


self_measured_case(
    "soak_10min", "operator on kmock: 10 min of spec changes and run-nows (rows = Jobs)",
    measure, report, out="soak", rows="jobs_created", timeout=2400,
)  # fmt: skip


def main() -> int:
    return bench_main(__doc__ or "", OPTIONS, measure, report, out="soak", drive=_drive)


if __name__ == "__main__":
    sys.exit(main())
