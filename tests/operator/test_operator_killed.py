"""The operator SIGKILLed at each step of a run: after a restart, one Job per run and the true status.

In:  the standard objects (one CopyActivity); the operator as a process of its own (`impala-copy
     operator`, operator_process.py), SIGKILLed at one point of the run, then started again:
     - before the Job is created: the emulator holds the Job's create (admission.Hold), unstored;
     - after the create, before the status write: the create is stored, the status write that
       follows it is held, unstored;
     - during the run: the Job's pod runs and the status says Running; the run ends while no
       operator runs;
     - after the Job finished, before the status is written: the write of the Succeeded status held;
     - during each step of a partitioned run (plan, Indexed copy and commit Jobs): the step's Job
       active and the status at that step (for the commit: the plan and every index done, the
       commit Job's pod running); the step ends while no operator runs, the restarted operator
       creates the steps still to come.
     A held request is dropped unanswered once the process is dead, as a killed client's would be.
Out: exactly one Job of the run (three for the partitioned run: one per step), all of run 1 attempt
     1, the Job creates the emulator saw (two when the first one was held: the same Job asked for
     again), what was stored when the process died (phase, Jobs, Events), the status converged to
     the run's truth (phase Succeeded, the summary's rows, the final Job's name, attempt 1, run 1,
     the Job's completion time, observedGeneration 1, Ready True), RunStarted and RunSucceeded
     posted once each, the killed process's exit by SIGKILL and no traceback from the restarted one.
Faked: the API server (kmock with admission.py); the Job controller and kubelet (pod and Job status
written by the test).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from impala_copy.api.summary import RunSummary
from impala_copy.controller.core.constants import LABEL_ATTEMPT, LABEL_RUN
from impala_copy.controller.core.kube import JOBS, OURS
from tests.operator import manifests
from tests.operator.admission import Hold
from tests.operator.harness import Cluster, settle, until
from tests.operator.operator_process import OperatorProcess
from tests.operator.test_partitioned_operator import (
    commit_summary,
    index_summary,
    last_run,
    plan_done,
    wait_step,
)

CA = "copy-orders"
ROWS = 321
DONE = "2026-01-15T08:10:00Z"
PARTITIONS = 3
STATUS = OURS["CopyActivity"].path(manifests.NS, CA, "status")


def writes_phase(phase: str) -> Callable[[Any], bool]:
    """A status write that sets `phase`."""
    return lambda request: (
        isinstance(request.data, dict) and ((request.data.get("status") or {}).get("phase") == phase)
    )


def finished(job: dict[str, Any]) -> bool:
    return any(c.get("type") == "Complete" for c in (job.get("status") or {}).get("conditions") or [])


@dataclass(frozen=True)
class RunShape:
    """What one run is made of: the objects applied, the Job whose end is the run's end, the run's
    summary, how the Job in progress ends (no operator needed), and how the restarted operator's run
    is taken to its end (each Job still to come, once the operator created it, ends)."""

    objects: Callable[[], list[dict[str, Any]]]
    final_job: Callable[[Cluster], Awaitable[dict[str, Any]]]
    summary: Callable[[], RunSummary]  # the run's summary, in the final Job's termination message
    jobs: int  # the Jobs of the run (all of run 1, attempt 1)
    end_current: Callable[[Cluster], Awaitable[None]]
    drive: Callable[[Cluster], Awaitable[None]]


async def first_job(cluster: Cluster) -> dict[str, Any]:
    job: dict[str, Any] = await until(lambda: cluster.jobs() and cluster.jobs()[0], what="the run's Job")
    return job


async def commit_job(cluster: Cluster) -> dict[str, Any]:
    return await wait_step(cluster, "commit")


async def end_the_job(cluster: Cluster) -> None:
    await cluster.finish(await first_job(cluster), manifests.summary(rows=ROWS), when=DONE)


async def drive_the_job(cluster: Cluster) -> None:
    if not finished(await first_job(cluster)):
        await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Pending", what="Pending")
        await end_the_job(cluster)


STEP_ENDS: dict[str, Callable[[Cluster, dict[str, Any]], Awaitable[None]]] = {
    "plan": lambda cluster, job: cluster.finish_with(job, manifests.plan_summary(PARTITIONS)),
    "copy": lambda cluster, job: cluster.indexes_done(job, {i: index_summary(i) for i in range(PARTITIONS)}),
    "commit": lambda cluster, job: cluster.finish(job, commit_summary(PARTITIONS), when=DONE),
}


async def end_step(cluster: Cluster, step: str) -> None:
    job = await wait_step(cluster, step)
    if not finished(job):
        await STEP_ENDS[step](cluster, job)


async def end_current_step(cluster: Cluster) -> None:
    """The newest step's Job ends (the steps after it wait for an operator to create them)."""
    step = next(s for s in ("commit", "copy", "plan") if cluster.step_job(CA, s))
    await end_step(cluster, step)


async def drive_the_steps(cluster: Cluster) -> None:
    for step in STEP_ENDS:
        await end_step(cluster, step)


ONE_JOB = RunShape(
    lambda: manifests.standard_set(manifests.random_password()),
    first_job,
    lambda: manifests.summary(rows=ROWS),
    jobs=1,
    end_current=end_the_job,
    drive=drive_the_job,
)
PARTITIONED = RunShape(
    lambda: manifests.partitioned_set(manifests.random_password(), PARTITIONS),
    commit_job,
    lambda: commit_summary(PARTITIONS),
    jobs=3,  # plan, copy (Indexed), commit
    end_current=end_current_step,
    drive=drive_the_steps,
)


async def held(hold: Hold) -> Hold:
    """`hold` once the emulator holds the request it waits for."""
    await asyncio.wait_for(hold.reached.wait(), 30)
    return hold


async def before_the_create(cluster: Cluster) -> Hold | None:
    return await held(cluster.kmock.hold("POST", JOBS.path(manifests.NS)))


async def after_the_create(cluster: Cluster) -> Hold | None:
    hold = cluster.kmock.hold("PATCH", STATUS, when=lambda request: bool(cluster.jobs()))
    await held(hold)
    assert len(cluster.jobs()) == 1  # stored before the write was sent
    return hold


async def during_the_run(cluster: Cluster) -> Hold | None:
    job = await first_job(cluster)
    await cluster.pod(job, manifests.running())
    await cluster.job_status(job, manifests.job_active())
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Running", what="Running")
    await settle(cluster)
    return None


async def after_the_job_finished(cluster: Cluster) -> Hold | None:
    await during_the_run(cluster)
    hold = cluster.kmock.hold("PATCH", STATUS, when=writes_phase("Succeeded"))
    await ONE_JOB.end_current(cluster)
    return await held(hold)


async def during_the_plan(cluster: Cluster) -> Hold | None:
    plan = await wait_step(cluster, "plan")
    await cluster.pod(plan, manifests.running())
    await cluster.job_status(plan, manifests.job_active())
    await until(lambda: last_run(cluster).get("step") == "planning", what="the plan step")
    await settle(cluster)
    return None


async def during_the_copy(cluster: Cluster) -> Hold | None:
    copy = await plan_done(cluster, PARTITIONS)
    await cluster.job_status(copy, manifests.job_active())
    await until(lambda: last_run(cluster).get("step") == "copying", what="the copy step")
    await settle(cluster)
    return None


async def during_the_commit(cluster: Cluster) -> Hold | None:
    copy = await plan_done(cluster, PARTITIONS)
    await cluster.indexes_done(copy, {i: index_summary(i) for i in range(PARTITIONS)})
    commit = await commit_job(cluster)
    await cluster.pod(commit, manifests.running())
    await cluster.job_status(commit, manifests.job_active())
    await until(lambda: last_run(cluster).get("step") == "committing", what="the commit step")
    await settle(cluster)
    return None


@dataclass(frozen=True)
class KillPoint:
    """Where in a run the operator is killed: how the test takes the run there (returning the request
    the emulator holds at that point, if any), and what the emulator sees over the whole case."""

    reach: Callable[[Cluster], Awaitable[Hold | None]]
    stored_at_kill: tuple[str | None, int, list[str]]  # the phase, the Jobs and the Events stored then
    creates: int  # Job creates the emulator receives (a held, dropped one counts)
    ends_while_down: bool = False  # the run's Job finishes while no operator runs
    run: RunShape = ONE_JOB


STARTED = ["RunStarted"]
KILL_POINTS = {
    "before the Job is created": KillPoint(before_the_create, (None, 0, []), creates=2),
    "after the create, before the status write": KillPoint(after_the_create, (None, 1, []), creates=1),
    "during the run": KillPoint(during_the_run, ("Running", 1, STARTED), creates=1, ends_while_down=True),
    "after the Job finished, before the status write": KillPoint(
        after_the_job_finished, ("Running", 1, STARTED), creates=1
    ),
    "during the plan step of a partitioned run": KillPoint(
        during_the_plan, ("Running", 1, STARTED), creates=3, ends_while_down=True, run=PARTITIONED
    ),
    "during the copy step of a partitioned run": KillPoint(
        during_the_copy, ("Running", 2, STARTED), creates=3, ends_while_down=True, run=PARTITIONED
    ),
    "during the commit step of a partitioned run": KillPoint(
        during_the_commit, ("Running", 3, STARTED), creates=3, ends_while_down=True, run=PARTITIONED
    ),
}


async def restart_and_converge(cluster: Cluster, tmp_path: Path, run: RunShape) -> OperatorProcess:
    """Start the operator again, let the run end (if it has not), wait for the status to say so."""
    second = await OperatorProcess(cluster.kmock, tmp_path, "operator-2").start()
    await run.drive(cluster)
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="Succeeded")
    await settle(cluster)
    return second


async def assert_the_truth(cluster: Cluster, run: RunShape) -> str:
    """The run's Jobs, each once, of run 1 attempt 1, and the status of its success; returns the name
    of the Job that ended it."""
    jobs = cluster.jobs()
    assert len(jobs) == run.jobs
    for job in jobs:
        assert (job["metadata"]["labels"][LABEL_RUN], job["metadata"]["labels"][LABEL_ATTEMPT]) == ("1", "1")
    name = (await run.final_job(cluster))["metadata"]["name"]
    status = cluster.status("CopyActivity", CA)
    last = status["lastRun"]
    assert (status["phase"], status["observedGeneration"]) == ("Succeeded", 1)
    assert (last["rowsCopied"], last["jobName"], last["attempt"], last["runId"]) == (
        run.summary().rows_copied,
        name,
        1,
        "1",
    )
    assert (last["completionTime"], status["lastSuccessfulTime"]) == (DONE, DONE)
    assert cluster.condition("CopyActivity", CA, "Ready")["status"] == "True"
    assert cluster.event_reasons(CA) == ["RunStarted", "RunSucceeded"]
    return name


@pytest.mark.parametrize("where", list(KILL_POINTS))
async def test_the_operator_killed_at_each_step_converges_to_one_job_and_the_true_status(
    kmock: Any, cluster: Cluster, tmp_path: Path, where: str
) -> None:
    point = KILL_POINTS[where]
    first = await OperatorProcess(kmock, tmp_path, "operator-1").start()
    await cluster.apply(*point.run.objects())
    hold = await point.reach(cluster)

    assert await first.kill() == -signal.SIGKILL
    stored = (cluster.status("CopyActivity", CA).get("phase"), len(cluster.jobs()), cluster.event_reasons(CA))
    assert stored == point.stored_at_kill
    if hold is not None:
        hold.release()  # the killed client's request: dropped, never stored
    if point.ends_while_down:
        await point.run.end_current(cluster)
    second = await restart_and_converge(cluster, tmp_path, point.run)
    assert await second.stop() == 0, second.log[-3000:]

    assert len(cluster.job_creations()) == point.creates
    name = await assert_the_truth(cluster, point.run)
    if hold is not None and hold.method == "POST":
        assert hold.request.data["metadata"]["name"] == name  # the same Job was asked for again
    assert "Traceback" not in second.log
