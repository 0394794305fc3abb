"""The ImpalaLinkedService controller: connection tests as Jobs, and the Connected condition.

In:  the standard ImpalaLinkedService (tests/operator/manifests.py) reconciled by its controller; the
     test plays the Job controller and the kubelet (test pods ending with a ConnectionTestSummary, a
     pod waiting for a missing Secret).
Out: the test Job (task, password by reference), Connected with the pod's reason, lastProbeTime,
     roundTripMilliseconds, when the next test runs (interval, spec change, run-now), the Events.
Faked: nothing; pure planning (tests/operator/scenarios.py).
"""

from __future__ import annotations

import json
from typing import Any

from tests.operator import manifests
from tests.operator.scenarios import (
    KUBELET_SECRET_NOT_FOUND,
    PASSWORD,
    Scenario,
    connection_summary,
    waiting_for_secret,
)

from impala_copy.controller.connection.status import connection_events
from impala_copy.controller.core.kube import ApiError
from impala_copy.controller.core.refusals import refused_status
from impala_copy.controller.core.timeutil import format_time

KIND = "ImpalaLinkedService"


def scenario(**spec: Any) -> Scenario:
    s = Scenario(manifests.standard_set(PASSWORD), kind=KIND)
    s.activity["spec"].update(spec)
    s.step()
    return s


def report(s: Scenario, connected: bool, reason: str, message: str) -> None:
    s.set_pod(manifests.terminated(0 if connected else 1, connection_summary(connected, reason, message)))
    end = (
        manifests.job_succeeded
        if connected
        else (lambda when: manifests.job_failed("BackoffLimitExceeded", "", when))
    )
    s.set_job_status(end(format_time(s.now)))
    s.step()


def jobs(s: Scenario) -> list[dict[str, Any]]:
    return [o for o in s.objects if o["kind"] == "Job"]


def connected(s: Scenario) -> dict[str, Any]:
    return next(c for c in s.activity["status"]["conditions"] if c["type"] == "Connected")


def test_a_test_is_a_job_with_the_password_by_reference() -> None:
    s = scenario()
    (job,) = jobs(s)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["engine", "--task", "connection-test"]
    assert job["metadata"]["labels"]["impalacopy.io/kind"] == KIND
    assert job["spec"]["activeDeadlineSeconds"] == 600
    assert PASSWORD not in json.dumps(job)
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_pods_summary_becomes_connected() -> None:
    s = scenario()
    report(s, True, "Connected", "Connected to impala:21050 as alice")
    cond = connected(s)
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True",
        "Connected",
        "Connected to impala:21050 as alice",
    )
    status = s.activity["status"]
    assert status["roundTripMilliseconds"] == 4.2
    assert status["connectionTest"]["status"] == "Succeeded"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


def test_a_failed_login_is_connected_false_with_the_reason() -> None:
    s = scenario()
    report(s, False, "AuthenticationFailed", "the server rejected the login of user 'alice'")
    cond = connected(s)
    assert (cond["status"], cond["reason"]) == ("False", "AuthenticationFailed")


def test_the_interval_repeats_the_test_and_run_now_tests_at_once() -> None:
    s = scenario(probeIntervalSeconds=600)
    report(s, True, "Connected", "ok")
    s.step(300)
    assert len(jobs(s)) == 1
    s.step(301)
    assert len(jobs(s)) == 2
    assert jobs(s)[-1]["metadata"]["annotations"]["impalacopy.io/trigger"] == "interval"
    report(s, True, "Connected", "ok")
    s.activity["metadata"]["annotations"] = {"impalacopy.io/run-now": "now"}
    s.step()
    assert jobs(s)[-1]["metadata"]["annotations"]["impalacopy.io/trigger"] == "runNow"


def test_zero_interval_tests_only_on_changes() -> None:
    s = scenario(probeIntervalSeconds=0)
    report(s, True, "Connected", "ok")
    s.step(86400)
    assert len(jobs(s)) == 1
    s.activity["metadata"]["generation"] = 2
    s.activity["spec"]["port"] = 21051
    s.step()
    assert len(jobs(s)) == 2
    assert jobs(s)[-1]["metadata"]["annotations"]["impalacopy.io/trigger"] == "specChange"


def test_a_missing_secret_is_reported_by_the_test_pod() -> None:
    s = Scenario(manifests.standard_set(PASSWORD), kind=KIND)
    s.objects.remove(s.find("Secret", "impala-credentials"))
    waiting_for_secret(s, KUBELET_SECRET_NOT_FOUND)
    cond = connected(s)
    assert (cond["status"], cond["reason"]) == ("Unknown", "SecretNotFound")
    assert (
        cond["message"]
        == "not tested: Secret 'impala-credentials' was not found (the run starts once it exists)"
    )


def test_events_only_when_the_outcome_changes() -> None:
    ok = {"conditions": [{"type": "Connected", "status": "True", "reason": "Connected", "message": "ok"}]}
    bad = {"conditions": [{"type": "Connected", "status": "False", "reason": "Unreachable", "message": "x"}]}
    assert [e.reason for e in connection_events({}, ok)] == ["ConnectionSucceeded"]
    assert connection_events(ok, ok) == []
    assert [(e.reason, e.message) for e in connection_events(ok, bad)] == [
        ("ConnectionFailed", "Unreachable: x")
    ]


def test_connection_tests_can_be_turned_off() -> None:
    import dataclasses

    from impala_copy.controller.core.settings import Settings

    off = dataclasses.replace(Settings(summary_grace_seconds=0), connection_tests=False)
    s = Scenario(manifests.standard_set(PASSWORD), off, kind=KIND)
    s.step()
    assert jobs(s) == []
    assert [c["type"] for c in s.activity["status"]["conditions"]] == ["Ready"]


def test_a_refused_test_job_clears_from_connected_once_the_job_exists() -> None:
    s = Scenario(manifests.standard_set(PASSWORD), kind=KIND)
    refused = ApiError(403, "Forbidden", "cannot set blockOwnerDeletion ...")
    s.activity["status"] = refused_status(KIND, {}, "create Job impala-t1", refused, 1, s.now)
    assert connected(s)["reason"] == "Forbidden"
    s.step()  # the create goes through this time
    (job,) = jobs(s)
    cond = connected(s)
    assert (cond["status"], cond["reason"]) == ("Unknown", "RunInProgress")
    assert cond["message"] == f"the connection test runs (Job {job['metadata']['name']})"
    report(s, True, "Connected", "Connected to impala:21050 as alice")
    assert (connected(s)["status"], connected(s)["reason"]) == ("True", "Connected")
