"""A partitioned CopyActivity on the API emulator: plan Job, Indexed copy Job, commit Job, one attempt.

In:  the standard objects with source.partitionOption DynamicRange over `id` and parallelCopies 3 (and
     policy.retry where a test retries); the test plays the Job controller and the kubelet: the plan
     step's pod reports a PartitionPlanSummary, the copy step's pods end index by index in any order
     and its Job status lists completedIndexes / failedIndexes as Kubernetes writes them, the commit
     step's pod reports the run's RunSummary. Operators are stopped and started between steps. One
     test runs the copy step's pods through the kubelet stand-in (kubelet.run_indexed) with a small
     Python stand-in for the engine whose index 1 fails once.
Out: the Jobs the operator creates (each step once, in order, with its task and Indexed fields, none
     after a failed step), status.lastRun (step, progress, counts per partition, reason), phase, the
     Events, and the retry's new attempt starting from the plan step; an index retried alone in a new
     pod (per-index backoff) without failing the attempt; the cap of parallelCopies.
Faked: the Job controller and kubelet (pods and Job status written by the test; kmock runs no Job).
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from impala_copy.api.summary import PartitionCount
from impala_copy.controller.core.settings import JobDefaults
from impala_copy.controller.core.timeutil import format_time, utcnow
from tests.operator import harness, manifests
from tests.operator.harness import Cluster, OperatorThread, settle, start_operator, until

CA = "copy-orders"
ORDER = ("plan", "copy", "commit")


def last_run(cluster: Cluster) -> dict[str, Any]:
    return dict(cluster.status("CopyActivity", CA).get("lastRun") or {})


def steps(cluster: Cluster) -> list[tuple[str, str, str]]:
    """(run, attempt, step) of every Job, in order."""
    found = [
        (
            j["metadata"]["labels"]["impalacopy.io/run"],
            j["metadata"]["labels"]["impalacopy.io/attempt"],
            j["metadata"]["labels"]["impalacopy.io/step"],
        )
        for j in cluster.jobs_of("CopyActivity", CA)
    ]
    return sorted(found, key=lambda s: (int(s[0]), int(s[1]), ORDER.index(s[2])))


async def wait_step(cluster: Cluster, step: str, attempt: str = "1") -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        job = cluster.step_job(CA, step)
        return job if job and job["metadata"]["labels"]["impalacopy.io/attempt"] == attempt else None

    return dict(await until(found, what=f"the {step} Job of attempt {attempt}"))


async def plan_done(cluster: Cluster, count: int = 3, attempt: str = "1") -> dict[str, Any]:
    """The plan step's pod lists `count` partitions; its Job completes. Returns the copy Job."""
    plan = await wait_step(cluster, "plan", attempt)
    await cluster.finish_with(plan, manifests.plan_summary(count))
    return await wait_step(cluster, "copy", attempt)


def index_summary(index: int, rows: int = 10) -> Any:
    return manifests.summary(rows=rows, partition=index)


def commit_summary(count: int = 3) -> Any:
    counts = [PartitionCount(index=i, rows_read=10, rows_copied=10) for i in range(count)]
    return manifests.summary(rows=10 * count, partitions=counts)


async def test_the_three_steps_with_indexes_out_of_order_and_progress(
    cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(*manifests.partitioned_set(manifests.random_password(), 3))
    plan = await wait_step(cluster, "plan")
    assert plan["spec"]["template"]["spec"]["containers"][0]["args"] == ["engine", "--task", "partition-plan"]
    await cluster.pod(plan, manifests.running())
    await until(lambda: last_run(cluster).get("step") == "planning", what="step planning")

    copy = await plan_done(cluster, 3)
    spec = copy["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert (spec["backoffLimitPerIndex"], spec["maxFailedIndexes"]) == (0, 0)
    await until(lambda: last_run(cluster).get("progress") == "0/3 partitions", what="0/3")

    await cluster.indexes_done(copy, {2: index_summary(2)})
    await until(lambda: last_run(cluster).get("progress") == "1/3 partitions", what="1/3")
    await cluster.indexes_done(copy, {2: index_summary(2), 0: index_summary(0)})
    await until(lambda: last_run(cluster).get("progress") == "2/3 partitions", what="2/3")
    await settle(cluster)
    assert steps(cluster) == [("1", "1", "plan"), ("1", "1", "copy")]  # no commit before the last index
    assert (cluster.status("CopyActivity", CA)["phase"], last_run(cluster)["step"]) == ("Running", "copying")

    await cluster.indexes_done(copy, {i: index_summary(i) for i in range(3)})
    commit = await wait_step(cluster, "commit")
    assert commit["spec"]["template"]["spec"]["containers"][0]["args"] == ["engine", "--task", "commit"]
    await until(lambda: last_run(cluster).get("step") == "committing", what="step committing")
    await cluster.finish(commit, commit_summary(3))
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded", what="Succeeded")
    await settle(cluster)

    last = last_run(cluster)
    assert (last["rowsCopied"], last["progress"], last["jobName"]) == (
        30, "3/3 partitions", commit["metadata"]["name"],
    )  # fmt: skip
    assert [(p["index"], p["rowsCopied"]) for p in last["partitions"]] == [(0, 10), (1, 10), (2, 10)]
    assert "step" not in last
    assert len(cluster.job_creations()) == 3
    assert cluster.event_reasons(CA) == ["RunStarted", "RunSucceeded"]


async def test_a_restart_between_every_step_creates_each_step_once(kmock: Any, cluster: Cluster) -> None:
    operator = await start_operator(kmock)
    await cluster.apply(*manifests.partitioned_set(manifests.random_password(), 3))
    plan = await wait_step(cluster, "plan")
    await settle(cluster)
    await operator.stop()

    await cluster.finish_with(plan, manifests.plan_summary(3))  # the plan step ends while no operator runs
    operator = await start_operator(kmock)
    copy = await wait_step(cluster, "copy")
    await settle(cluster)
    await operator.stop()

    await cluster.indexes_done(copy, {i: index_summary(i) for i in (1, 0, 2)})
    operator = await start_operator(kmock)
    commit = await wait_step(cluster, "commit")
    await settle(cluster)
    await operator.stop()

    await cluster.finish(commit, commit_summary(3))
    for _ in range(2):
        operator = await start_operator(kmock)
        try:
            await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Succeeded")
            await settle(cluster)
        finally:
            await operator.stop()
    assert steps(cluster) == [("1", "1", "plan"), ("1", "1", "copy"), ("1", "1", "commit")]
    assert len(cluster.job_creations()) == 3
    assert last_run(cluster)["rowsCopied"] == 30
    assert cluster.event_reasons(CA) == ["RunStarted", "RunSucceeded"]


async def test_a_plan_step_failure_ends_the_attempt_without_a_copy(
    cluster: Cluster, operator: OperatorThread
) -> None:
    await cluster.apply(*manifests.partitioned_set(manifests.random_password(), 3))
    plan = await wait_step(cluster, "plan")
    message = "the partition column 'id' is not in the source's result"
    await cluster.fail(
        plan, manifests.terminated(2, manifests.plan_failure("PartitionColumnNotFound", message))
    )
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Failed", what="Failed")
    await settle(cluster)
    last = last_run(cluster)
    assert (last["reason"], last["step"]) == ("PartitionColumnNotFound", "planning")
    assert message in cluster.condition("CopyActivity", CA, "Failed")["message"]
    assert steps(cluster) == [("1", "1", "plan")]


async def test_an_index_failing_for_good_fails_the_attempt_and_the_retry_plans_again(
    cluster: Cluster, operator: OperatorThread
) -> None:
    objects = manifests.partitioned_set(
        manifests.random_password(), 3, policy={"retry": 1, "retryIntervalInSeconds": 30}
    )
    await cluster.apply(*objects)
    copy = await plan_done(cluster, 3)
    assert copy["spec"]["backoffLimitPerIndex"] == 1
    failure = manifests.failed_summary("Unreachable", "the server went away")
    # Index 2 failed for good five minutes ago: the retry interval has passed.
    ago = format_time(utcnow() - timedelta(minutes=5))
    await cluster.indexes_done(copy, {0: index_summary(0)}, failed={2: failure}, when=ago)
    retry = await wait_step(cluster, "plan", attempt="2")
    await settle(cluster)
    assert steps(cluster) == [("1", "1", "plan"), ("1", "1", "copy"), ("1", "2", "plan")]
    assert retry["metadata"]["annotations"]["impalacopy.io/trigger"] == "retry"
    assert (last_run(cluster)["attempt"], last_run(cluster)["step"]) == (2, "planning")
    started = [e["message"] for e in cluster.events(CA) if e["reason"] == "RunStarted"]
    assert [m.split(": Job ")[0] for m in started] == [
        "run 1 attempt 1 started (create)", "run 1 attempt 2 started (retry)",
    ]  # fmt: skip
    assert started[1].endswith("-1-2-plan")

    # The second attempt fails the same way, for good this time: no commit Job, ever.
    second = await plan_done(cluster, 3, attempt="2")
    await cluster.indexes_done(second, {}, failed={1: failure})
    await until(lambda: cluster.status("CopyActivity", CA).get("phase") == "Failed", what="Failed")
    await settle(cluster)
    last = last_run(cluster)
    assert (last["attempt"], last["reason"], last["step"], last["progress"]) == (
        2, "Unreachable", "copying", "0/3 partitions",
    )  # fmt: skip
    assert "partition 1: the server went away" in cluster.condition("CopyActivity", CA, "Failed")["message"]
    assert cluster.step_job(CA, "commit") is None
    assert len(cluster.job_creations()) == 4


async def test_parallel_copies_above_the_admin_cap_is_invalid(kmock: Any, cluster: Cluster) -> None:
    settings = harness.test_settings()
    operator = await start_operator(
        kmock, dataclasses.replace(settings, job=JobDefaults(max_parallel_copies=2))
    )
    try:
        await cluster.apply(*manifests.partitioned_set(manifests.random_password(), 3))
        await until(lambda: cluster.condition("CopyActivity", CA, "Ready").get("reason") == "InvalidSpec")
        await settle(cluster)
    finally:
        await operator.stop()
    ready = cluster.condition("CopyActivity", CA, "Ready")
    assert ready["status"] == "False"
    assert "job.maxParallelCopies = 2" in ready["message"]
    assert cluster.jobs() == []


# A pod stand-in for the copy step's indexes: index 1 fails the first time (killed mid-way), then succeeds.
FLAKY_INDEX = """
import json, os, pathlib, sys
index = int(os.environ["JOB_COMPLETION_INDEX"])
marker = pathlib.Path(sys.argv[1]) / f"index-{index}"
again = marker.exists()
marker.touch()
fail = index == 1 and not again
summary = (
    {"status": "Failed", "errors": [{"code": "Unreachable", "message": "killed mid-way"}]}
    if fail
    else {"status": "Succeeded", "rowsRead": 10, "rowsCopied": 10, "partition": index}
)
pathlib.Path(os.environ["IMPALA_COPY_TERMINATION_LOG"]).write_text(json.dumps(summary))
sys.exit(1 if fail else 0)
"""


async def test_an_index_failing_once_is_retried_alone_in_a_new_pod(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    objects = manifests.partitioned_set(manifests.random_password(), 3, policy={"retry": 1})
    await cluster.apply(*objects)
    copy = await plan_done(cluster, 3)
    assert copy["spec"]["backoffLimitPerIndex"] == 1
    container = copy["spec"]["template"]["spec"]["containers"][0]
    container["command"], container["args"] = [sys.executable, "-c", FLAKY_INDEX, str(tmp_path)], []
    results = await cluster.run_indexed(copy, tmp_path / "pods", order=[1, 0, 2])
    assert [(r.pod.rsplit("-", 2)[1:], r.exit_code) for r in results] == [
        (["1", "x1"], 1), (["1", "x2"], 0), (["0", "x1"], 0), (["2", "x1"], 0),
    ]  # fmt: skip
    job = cluster.get("Job", copy["metadata"]["name"])
    assert (job["status"]["completedIndexes"], job["status"]["failed"]) == ("0-2", 1)
    assert "failedIndexes" not in job["status"]
    await wait_step(cluster, "commit")
    await settle(cluster)
    last = last_run(cluster)
    assert (last["status"], last["step"], last["progress"], last["attempt"]) == (
        "Running", "committing", "3/3 partitions", 1,
    )  # fmt: skip
    assert len(cluster.job_creations()) == 3
