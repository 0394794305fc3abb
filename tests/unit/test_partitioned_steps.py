"""A partitioned CopyActivity's attempt as three step Jobs, planned by the CopyActivity controller (pure).

In:  the standard objects with source.partitionOption DynamicRange and parallelCopies, reconciled step
     by step (tests/operator/scenarios.Scenario); between steps the test writes what the Job controller
     and the kubelet would: the plan step's PartitionPlanSummary, Indexed Job status (completedIndexes,
     failedIndexes) and per-index pods, the commit step's RunSummary.
Out: the plan, copy and commit Jobs (names, labels, task, Indexed fields, the plan each pod gets),
     which Job exists when, status.lastRun (step, progress, reason, counts per partition), the Jobs the
     history limits delete, the retry's new attempt, the cap of parallelCopies; index lists read from
     hostile text; plan summaries that are no usable list of partitions, and an altered plan in the
     plan Job, failing the attempt with PartitionPlanLost and what was wrong.
Faked: the Job controller and kubelet (status written by hand); no server involved.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.operator import manifests
from tests.operator.scenarios import PASSWORD, Scenario

from impala_copy.api.plan import PLAN_ENV, CopyPlan
from impala_copy.api.summary import PartitionCount
from impala_copy.controller.core.records import index_set
from impala_copy.controller.core.settings import JobDefaults, Settings
from impala_copy.controller.core.timeutil import format_time


def partitioned(parallel: int = 3, **spec: Any) -> Scenario:
    return Scenario(manifests.partitioned_set(PASSWORD, parallel, **spec))


def step_jobs(s: Scenario) -> dict[str, dict[str, Any]]:
    """The Jobs present, by their step label."""
    jobs = [o for o in s.objects if o["kind"] == "Job"]
    return {j["metadata"]["labels"]["impalacopy.io/step"]: j for j in jobs}


def plan_of(job: dict[str, Any]) -> CopyPlan:
    [container] = job["spec"]["template"]["spec"]["containers"]
    value = next(e["value"] for e in container["env"] if e["name"] == PLAN_ENV)
    return CopyPlan.model_validate_json(value)


def last_run(s: Scenario) -> dict[str, Any]:
    return dict(s.activity["status"]["lastRun"])


def planned(s: Scenario, count: int = 3) -> None:
    """The plan step's pod lists `count` partitions and its Job completes; the copy step follows."""
    s.set_pod(manifests.terminated(0, manifests.plan_summary(count)))
    s.set_job_status(manifests.job_succeeded())
    s.step()


def copied(s: Scenario, count: int = 3) -> None:
    """Every index succeeds; the commit step follows."""
    for index in range(count):
        s.set_index_pod(
            manifests.terminated(0, manifests.summary(rows=10, partition=index).to_termination_message()),
            index,
        )
    s.set_job_status(manifests.indexed_job_status(count, range(count)))
    s.step()


def commit_summary(count: int = 3) -> str:
    counts = [PartitionCount(index=i, rows_read=10, rows_copied=10) for i in range(count)]
    return manifests.summary(rows=10 * count, partitions=counts).to_termination_message()


def test_the_plan_step_is_one_pod_planning_the_partitions() -> None:
    s = partitioned(3, policy={"retry": 2, "timeout": "01:00:00"})
    s.step()
    job = step_jobs(s)["plan"]
    assert job["metadata"]["name"].endswith("-1-1-plan")
    labels = job["metadata"]["labels"]
    assert (labels["impalacopy.io/run"], labels["impalacopy.io/attempt"], labels["impalacopy.io/step"]) == (
        "1", "1", "plan",
    )  # fmt: skip
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (
        "NonIndexed", 1, 1, 0,
    )  # fmt: skip
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["template"]["spec"]["containers"][0]["args"] == ["engine", "--task", "partition-plan"]
    plan = plan_of(job)
    assert plan.partitioning is not None
    assert plan.partitioning.model_dump() == {
        "option": "DynamicRange", "count": 3, "parallelism": 3, "column": "id",
        "lower_bound": None, "upper_bound": None,
    }  # fmt: skip
    assert [p.model_dump() for p in plan.partitions] == [{"index": 0, "predicate": None, "label": None}]
    s.set_pod(manifests.running())
    s.set_job_status(manifests.job_active())
    s.step()
    assert (last_run(s)["status"], last_run(s)["step"]) == ("Running", "planning")
    assert "progress" not in last_run(s)
    assert list(step_jobs(s)) == ["plan"]


def test_the_copy_step_is_an_indexed_job_with_the_planned_partitions() -> None:
    s = partitioned(3, policy={"retry": 2, "timeout": "01:00:00"})
    s.step()
    planned(s, 3)
    jobs = step_jobs(s)
    assert list(jobs) == ["plan", "copy"]
    job = jobs["copy"]
    assert job["metadata"]["name"] == jobs["plan"]["metadata"]["name"].removesuffix("-plan") + "-copy"
    spec = job["spec"]
    assert {k: spec[k] for k in ("completionMode", "completions", "parallelism")} == {
        "completionMode": "Indexed", "completions": 3, "parallelism": 3,
    }  # fmt: skip
    assert (spec["backoffLimitPerIndex"], spec["maxFailedIndexes"]) == (2, 0)
    assert "backoffLimit" not in spec  # per index only: a Job-wide limit would end it at the first failure
    assert spec["podFailurePolicy"]["rules"][0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "engine", "operator": "In", "values": [2]},
    }
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["template"]["spec"]["containers"][0]["args"] == ["engine"]
    plan, first = plan_of(job), plan_of(jobs["plan"])
    assert [p.model_dump(by_alias=True) for p in plan.partitions] == manifests.partition_wire(3)
    assert plan.model_copy(update={"partitions": first.partitions}) == first  # the same run, the same plan
    assert (last_run(s)["status"], last_run(s)["step"], last_run(s)["progress"]) == (
        "Running", "copying", "0/3 partitions",
    )  # fmt: skip


def test_fewer_partitions_than_parallel_copies_run_fewer_pods() -> None:
    s = partitioned(8)
    s.step()
    planned(s, 3)
    spec = step_jobs(s)["copy"]["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimitPerIndex"]) == (3, 3, 0)


def test_indexes_finishing_out_of_order_show_progress_and_the_commit_comes_once_after_the_last() -> None:
    s = partitioned(3)
    s.step()
    planned(s, 3)
    for done, progress in [({2}, "1/3"), ({0, 2}, "2/3")]:
        for index in done:
            s.set_index_pod(
                manifests.terminated(0, manifests.summary(rows=10).to_termination_message()), index
            )
        s.set_job_status(manifests.indexed_job_status(3, done, active=3 - len(done)))
        s.step()
        assert last_run(s)["progress"] == f"{progress} partitions"
        assert list(step_jobs(s)) == ["plan", "copy"]
    copied(s, 3)
    jobs = step_jobs(s)
    assert list(jobs) == ["plan", "copy", "commit"]
    commit = jobs["commit"]
    assert commit["metadata"]["name"].endswith("-1-1-commit")
    assert commit["spec"]["template"]["spec"]["containers"][0]["args"] == ["engine", "--task", "commit"]
    assert (commit["spec"]["completionMode"], commit["spec"]["completions"]) == ("NonIndexed", 1)
    assert plan_of(commit) == plan_of(jobs["copy"])
    assert (last_run(s)["step"], last_run(s)["progress"]) == ("committing", "3/3 partitions")
    for _ in range(3):
        s.step()
    assert len([o for o in s.objects if o["kind"] == "Job"]) == 3


def test_the_commit_summary_is_the_run_summary() -> None:
    s = partitioned(3)
    s.step()
    planned(s, 3)
    copied(s, 3)
    s.set_pod(manifests.terminated(0, commit_summary(3)))
    s.set_job_status(manifests.job_succeeded())
    s.step()
    status = s.activity["status"]
    assert status["phase"] == "Succeeded"
    last = last_run(s)
    assert (last["status"], last["rowsCopied"], last["progress"]) == ("Succeeded", 30, "3/3 partitions")
    assert "step" not in last
    assert [(p["index"], p["rowsCopied"]) for p in last["partitions"]] == [(0, 10), (1, 10), (2, 10)]
    assert last["jobName"].endswith("-commit")


def test_a_plan_step_failure_ends_the_attempt_with_its_error_and_a_retry_plans_again() -> None:
    s = partitioned(3, policy={"retry": 1, "retryIntervalInSeconds": 30})
    s.step()
    message = "column 'id' is not in the result of the source"
    s.set_pod(manifests.terminated(2, manifests.plan_failure("PartitionColumnNotFound", message)))
    s.set_job_status(manifests.job_failed("BackoffLimitExceeded"))
    s.step()
    last = last_run(s)
    assert (last["status"], last["reason"], last["step"]) == ("Failed", "PartitionColumnNotFound", "planning")
    failed = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Failed")
    assert message in failed["message"]
    assert list(step_jobs(s)) == ["plan"]


def test_a_lost_plan_summary_fails_the_attempt_and_the_retry_starts_from_the_plan_step() -> None:
    s = partitioned(3, policy={"retry": 1, "retryIntervalInSeconds": 30})
    s.step()
    s.set_pod(manifests.terminated(0, "the engine printed something else"))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()
    last = last_run(s)
    assert (last["status"], last["reason"]) == ("Failed", "PartitionPlanLost")
    running = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Running")
    assert running["reason"] == "RetryScheduled"
    assert "the plan step's summary (the list of partitions) was not found" in running["message"]
    assert list(step_jobs(s)) == ["plan"]
    s.step(seconds=31)
    names = sorted(o["metadata"]["name"] for o in s.objects if o["kind"] == "Job")
    assert [n.rsplit("-", 3)[1:] for n in names] == [["1", "1", "plan"], ["1", "2", "plan"]]
    assert last_run(s)["trigger"] == "retry"
    assert last_run(s)["step"] == "planning"


def test_an_index_failing_for_good_fails_the_attempt_without_a_commit() -> None:
    s = partitioned(3)
    s.step()
    planned(s, 3)
    s.set_index_pod(manifests.terminated(0, manifests.summary(rows=10).to_termination_message()), 0)
    failure = manifests.failed_summary("SourceUnreachable", "the server went away").to_termination_message()
    s.set_index_pod(manifests.terminated(1, failure), 1)
    s.step()
    # Index 2's pod failed too, later, and was retried: the attempt's reason stays index 1's.
    retried = manifests.failed_summary("Timeout", "a slow fetch").to_termination_message()
    s.set_index_pod(manifests.terminated(1, retried), 2)
    s.set_job_status(manifests.indexed_job_status(3, {0}, {1}))
    s.step()
    last = last_run(s)
    assert (last["status"], last["reason"], last["step"], last["progress"]) == (
        "Failed", "SourceUnreachable", "copying", "1/3 partitions",
    )  # fmt: skip
    failed = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Failed")
    assert "partition 1: the server went away" in failed["message"]
    s.step()
    assert list(step_jobs(s)) == ["plan", "copy"]


def test_history_limits_delete_every_step_job_of_an_attempt_together() -> None:
    s = partitioned(3, successfulJobsHistoryLimit=0)
    s.step()
    planned(s, 3)
    copied(s, 3)
    names = sorted(o["metadata"]["name"] for o in s.objects if o["kind"] == "Job")
    s.set_pod(manifests.terminated(0, commit_summary(3)))
    s.set_job_status(manifests.job_succeeded())
    s.step()
    assert [o for o in s.objects if o["kind"] == "Job"] == []
    assert len(names) == 3
    assert last_run(s)["status"] == "Succeeded"


def test_parallel_copies_above_the_cap_is_not_ready_and_starts_no_job() -> None:
    s = Scenario(
        manifests.partitioned_set(PASSWORD, 40), settings=Settings(job=JobDefaults(max_parallel_copies=32))
    )
    s.step()
    assert [o for o in s.objects if o["kind"] == "Job"] == []
    ready = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert ready["message"] == (
        "spec.parallelCopies 40 is above the operator's cap job.maxParallelCopies = 32: ask for 32 or fewer"
    )


def test_index_lists_from_any_text() -> None:
    assert index_set("0-2,5,7-8", 10) == {0, 1, 2, 5, 7, 8}
    assert index_set("1,3", 2) == {1}  # beyond completions: not counted
    assert index_set("0-99999999999", 4) == {0, 1, 2, 3}
    for hostile in ("", None, 3, "a-b", "-1", "5-2", ",,", "1-", json.dumps({"x": 1})):
        assert index_set(hostile, 4) <= {0, 1, 2, 3}
    assert index_set("5-2", 10) == set()


def test_an_index_retried_in_a_new_pod_does_not_fail_the_attempt() -> None:
    s = partitioned(3, policy={"retry": 1})
    s.step()
    planned(s, 3)
    failure = manifests.failed_summary("SourceUnreachable", "the server went away").to_termination_message()
    s.set_index_pod(manifests.terminated(1, failure), 1)  # the first pod of index 1 failed
    s.set_index_pod(manifests.terminated(0, manifests.summary(rows=10).to_termination_message()), 0)
    status = manifests.indexed_job_status(3, {0}, active=2)
    s.set_job_status({**status, "failed": 1})  # counted, not a failed index: it is retried
    s.step()
    last = last_run(s)
    assert (last["status"], last["step"], last["progress"]) == ("Running", "copying", "1/3 partitions")
    running = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Running")
    assert running["message"].endswith("is running: 1 of 3 partitions copied")
    copied(s, 3)
    assert list(step_jobs(s)) == ["plan", "copy", "commit"]


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("", "the plan step's summary (the list of partitions) was not found"),
        ('{"task": "partition-plan", "partitions": []}', "listed 0 partitions (expected 1 to 3)"),
        (manifests.plan_summary(4), "listed 4 partitions (expected 1 to 3)"),
        ('{"task": "partition-plan", "partitions": [{"index": 1}, {"index": 0}]}', "not numbered 0 to n-1"),
        ('{"task": "partition-plan", "partitions": [{"index": 0, "shell": "rm"}]}', "cannot be read"),
        ('{"task": "partition-plan", "partitions": [{"index": "zero"}]}', "cannot be read"),
        ('{"task": "copy", "partitions": [{"index": 0}]}', "summary (the list of partitions) was not found"),
        ("[1, 2, 3]", "summary (the list of partitions) was not found"),
    ],
)
def test_a_plan_step_summary_that_is_not_a_usable_list_fails_the_attempt(message: str, why: str) -> None:
    s = partitioned(3)
    s.step()
    s.set_pod(manifests.terminated(0, message))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()
    last = last_run(s)
    assert (last["status"], last["reason"]) == ("Failed", "PartitionPlanLost")
    failed = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Failed")
    assert why in failed["message"]
    assert list(step_jobs(s)) == ["plan"]


def test_a_plan_job_whose_plan_was_altered_fails_the_attempt() -> None:
    s = partitioned(3)
    s.step()
    [container] = s.job()["spec"]["template"]["spec"]["containers"]
    next(e for e in container["env"] if e["name"] == PLAN_ENV)["value"] = '{"not": "a plan"}'
    s.set_pod(manifests.terminated(0, manifests.plan_summary(3)))
    s.set_job_status(manifests.job_succeeded(format_time(s.now)))
    s.step()
    failed = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"].split(": ", 2)[-1]) == (
        "PartitionPlanLost", "its pod's plan cannot be read",
    )  # fmt: skip
    assert list(step_jobs(s)) == ["plan"]


@pytest.mark.parametrize("step", ["plan", "copy"])
def test_a_failed_step_shows_its_error_in_last_run_and_secure_output_hides_the_message(step: str) -> None:
    for secure in (False, True):
        s = partitioned(3, policy={"secureOutput": secure})
        s.step()
        message = "the server said: table demo.orders_secret_name is not readable"
        if step == "plan":
            s.set_pod(manifests.terminated(2, manifests.plan_failure("QueryFailed", message)))
            s.set_job_status(manifests.job_failed("PodFailurePolicy"))
        else:
            planned(s, 3)
            failure = manifests.failed_summary("QueryFailed", message).to_termination_message()
            s.set_index_pod(manifests.terminated(1, failure), 0)
            s.set_job_status(manifests.indexed_job_status(3, (), {0}))
        s.step()
        last = last_run(s)
        failed = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Failed")
        assert (last["reason"], last["rowsCopied"]) == ("QueryFailed", 0)
        if secure:
            assert last["errors"] == [{"code": "QueryFailed", "message": "hidden by policy.secureOutput"}]
            assert "orders_secret_name" not in json.dumps(s.activity["status"])
        else:
            assert last["errors"] == [{"code": "QueryFailed", "message": message}]
            assert message in failed["message"]
