"""attempt_outcome and parse_summary: how one Job attempt is doing, and why it failed.

In:  Job and pod bodies as the Job controller and kubelet write them (conditions, container states,
     termination messages: the engine's JSON summary or the last log lines).
Out: state (Pending/Running/Succeeded/Failed), a specific reason and message, the parsed summary,
     whether a retry can help.
Faked: nothing; pure functions over records built from raw bodies.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.operator import manifests
from tests.operator.scenarios import Scenario

from impala_copy.controller.core import records
from impala_copy.controller.core.outcome import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    attempt_outcome,
    parse_summary,
)


def job_and_pod(
    job_status: dict[str, Any] | None, pod_status: dict[str, Any] | None
) -> tuple[Any, list[Any]]:
    scenario = Scenario(manifests.standard_set("pw"))
    scenario.step()
    job = scenario.job()
    if job_status is not None:
        job["status"] = job_status
    pods = []
    if pod_status is not None:
        pod = manifests.pod_for(job)
        pod["status"] = pod_status
        pods.append(records.pod_record(pod))
    record = records.job_record(job)
    assert record is not None
    return record, pods


def test_parse_summary_reads_the_engine_message() -> None:
    text = manifests.summary(rows=12).to_termination_message()
    summary = parse_summary(text)
    assert summary is not None
    assert summary.rows_copied == 12
    assert summary.files_written == 1


def test_parse_summary_keeps_known_fields_of_a_newer_engine() -> None:
    summary = parse_summary('{"status":"Succeeded","rowsCopied":3,"someFutureCounter":9}')
    assert summary is not None
    assert summary.rows_copied == 3


@pytest.mark.parametrize(
    "text", ["", "Traceback (most recent call last):", "[1,2]", "{not json", '{"rowsCopied":"x"}']
)
def test_parse_summary_rejects_what_is_not_a_summary(text: str) -> None:
    assert parse_summary(text) is None


def test_pending_until_the_pod_runs() -> None:
    job, pods = job_and_pod(manifests.job_active(), None)
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (PENDING, "JobPending")
    job, pods = job_and_pod(manifests.job_active(), manifests.running())
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (RUNNING, "JobRunning")


@pytest.mark.parametrize(
    "reason", ["ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"]
)
def test_a_pod_that_cannot_start_says_why(reason: str) -> None:
    job, pods = job_and_pod(manifests.job_active(), manifests.waiting(reason, "details of " + reason))
    outcome = attempt_outcome(job, pods)
    assert outcome.state == PENDING
    assert outcome.reason == reason
    assert "details of " + reason in outcome.message


def test_unschedulable_pod() -> None:
    status = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available",
            }
        ],
    }
    job, pods = job_and_pod(manifests.job_active(), status)
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (PENDING, "Unschedulable")
    assert "0/3 nodes are available" in outcome.message


def test_success_with_the_summary() -> None:
    job, pods = job_and_pod(
        manifests.job_succeeded("2026-01-01T00:00:10Z"),
        manifests.terminated(0, manifests.summary(rows=77).to_termination_message()),
    )
    outcome = attempt_outcome(job, pods)
    assert outcome.state == SUCCEEDED
    assert outcome.reason == "RunSucceeded"
    assert outcome.summary is not None
    assert outcome.summary.rows_copied == 77
    assert outcome.completion_time == "2026-01-01T00:00:10Z"
    assert outcome.message == "copied 77 rows in 2.5s"
    assert not outcome.summary_missing


def test_success_before_the_pod_is_seen() -> None:
    job, pods = job_and_pod(manifests.job_succeeded(), None)
    outcome = attempt_outcome(job, pods)
    assert outcome.state == SUCCEEDED
    assert outcome.summary is None
    assert outcome.summary_missing


def test_engine_error_from_the_summary_is_not_retryable_on_exit_code_2() -> None:
    summary = manifests.failed_summary("TableNotFound", "table demo.nope does not exist")
    job, pods = job_and_pod(
        manifests.job_failed("PodFailurePolicy", "Container engine exited with 2"),
        manifests.terminated(2, summary.to_termination_message()),
    )
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (FAILED, "TableNotFound")
    assert outcome.message == "table demo.nope does not exist"
    assert outcome.exit_code == 2
    assert outcome.retryable is False


def test_transient_engine_error_is_retryable() -> None:
    summary = manifests.failed_summary("Unreachable", "connection refused")
    job, pods = job_and_pod(
        manifests.job_failed("BackoffLimitExceeded"),
        manifests.terminated(1, summary.to_termination_message()),
    )
    outcome = attempt_outcome(job, pods)
    assert (outcome.reason, outcome.retryable) == ("Unreachable", True)


def test_oom_killed() -> None:
    job, pods = job_and_pod(
        manifests.job_failed("BackoffLimitExceeded"), manifests.terminated(137, "", "OOMKilled")
    )
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (FAILED, "OOMKilled")
    assert "memory" in outcome.message
    assert outcome.retryable


def test_deadline_exceeded() -> None:
    job, pods = job_and_pod(
        manifests.job_failed("DeadlineExceeded", "Job was active longer than specified deadline"),
        manifests.running(),
    )
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (FAILED, "DeadlineExceeded")
    assert "policy.timeout" in outcome.message


def test_evicted() -> None:
    status = {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: ephemeral-storage.",
    }
    job, pods = job_and_pod(manifests.job_failed("BackoffLimitExceeded"), status)
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (FAILED, "Evicted")
    assert "ephemeral-storage" in outcome.message


def test_crash_without_a_summary_shows_the_last_log_lines() -> None:
    job, pods = job_and_pod(
        manifests.job_failed("BackoffLimitExceeded"),
        manifests.terminated(1, "Traceback (most recent call last):\n  ...\nRuntimeError: boom"),
    )
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (FAILED, "EngineFailed")
    assert "exited with code 1" in outcome.message
    assert "RuntimeError: boom" in outcome.message


def test_configuration_exit_code_without_summary() -> None:
    job, pods = job_and_pod(manifests.job_failed("PodFailurePolicy"), manifests.terminated(2, "bad plan"))
    outcome = attempt_outcome(job, pods)
    assert (outcome.reason, outcome.retryable) == ("ConfigurationError", False)


def test_job_failure_without_any_pod() -> None:
    job, pods = job_and_pod(manifests.job_failed("BackoffLimitExceeded", "backoff limit"), None)
    outcome = attempt_outcome(job, pods)
    assert (outcome.state, outcome.reason) == (FAILED, "JobFailed")
    assert "BackoffLimitExceeded" in outcome.message


def test_a_terminated_pod_before_the_job_says_so_is_finishing_never_pending() -> None:
    summary = manifests.summary(rows=5).to_termination_message()
    for pod_status in (manifests.terminated(0, summary), manifests.terminated(1, "boom")):
        job, pods = job_and_pod(manifests.job_active(), pod_status)
        outcome = attempt_outcome(job, pods)
        assert (outcome.state, outcome.reason) == (RUNNING, "JobRunning")
        assert outcome.message.endswith("is finishing (its pod has ended)")


def test_the_phase_of_a_run_never_goes_back_whatever_the_order_of_pod_and_job_events() -> None:
    """Pending -> Running -> Succeeded/Failed over each order in which the pod and the Job report."""
    order = {"Pending": 0, "Running": 1, "Succeeded": 2, "Failed": 2}
    summary = manifests.summary(rows=5).to_termination_message()
    ends = [
        (manifests.terminated(0, summary), manifests.job_succeeded()),
        (manifests.terminated(1, "boom"), manifests.job_failed("BackoffLimitExceeded", "")),
    ]
    for pod_end, job_end in ends:
        steps = [
            (manifests.job_active(), None),
            (manifests.job_active(), manifests.waiting("ContainerCreating", "")),
            (manifests.job_active(), manifests.running()),
            (manifests.job_active(), pod_end),  # the pod ended; the Job controller has not caught up
            (job_end, pod_end),
        ]
        phases = [attempt_outcome(*job_and_pod(job, pod)).state for job, pod in steps]
        assert [order[p] for p in phases] == sorted(order[p] for p in phases), phases


def test_a_missing_secret_reported_by_the_kubelet_names_it() -> None:
    cases = {
        'secret "impala-credentials" not found': (
            "SecretNotFound",
            "Secret 'impala-credentials' was not found (the run starts once it exists)",
        ),
        "couldn't find key passwd in Secret default/impala-credentials": (
            "SecretKeyNotFound",
            "Secret 'impala-credentials' has no key 'passwd' (the run starts once it exists)",
        ),
        'configmap "impala-ca" not found': (
            "ConfigMapNotFound",
            "ConfigMap 'impala-ca' was not found (the run starts once it exists)",
        ),
    }
    for kubelet, (reason, message) in cases.items():
        job, pods = job_and_pod(
            manifests.job_active(), manifests.waiting("CreateContainerConfigError", kubelet)
        )
        outcome = attempt_outcome(job, pods)
        assert (outcome.state, outcome.reason, outcome.message) == (PENDING, reason, message)
