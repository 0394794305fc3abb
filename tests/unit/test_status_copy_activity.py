"""Status and Events from observations: conditions, phase, lastRun, times, secureOutput, patches.

In:  old statuses, Ready checks, run decisions and attempts (built by the scenarios' step-by-step
     planning, or by hand for edge cases).
Out: the status the operator writes (wire form), the Events a change deserves, the merge patch.
Faked: nothing; pure functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.operator import manifests
from tests.operator.scenarios import BUILDERS, Scenario, scenarios, shape

from impala_copy.controller.core.constants import CONDITION_REASONS, EVENT_REASONS
from impala_copy.controller.core.readiness import Readiness
from impala_copy.controller.core.status import (
    HIDDEN,
    condition,
    merge_conditions,
    merge_patch,
    ready_events,
    ready_status,
    status_events,
)

NOW = datetime(2026, 2, 2, 10, 0, 0, tzinfo=UTC)


def test_last_transition_time_moves_only_when_the_status_changes() -> None:
    first = condition([], "Ready", "False", "SecretNotFound", "a", 1, NOW)
    assert first["lastTransitionTime"] == "2026-02-02T10:00:00Z"
    same = condition([first], "Ready", "False", "SecretKeyNotFound", "b", 2, NOW + timedelta(minutes=1))
    assert same["lastTransitionTime"] == "2026-02-02T10:00:00Z"
    assert (same["reason"], same["message"], same["observedGeneration"]) == ("SecretKeyNotFound", "b", 2)
    flipped = condition([same], "Ready", "True", "Resolved", "", 2, NOW + timedelta(minutes=2))
    assert flipped["lastTransitionTime"] == "2026-02-02T10:02:00Z"


def test_conditions_of_others_are_kept_in_place() -> None:
    old = [{"type": "Ready", "status": "False"}, {"type": "Connected", "status": "True", "reason": "Probed"}]
    merged = merge_conditions(old, [{"type": "Ready", "status": "True"}])
    assert merged == [
        {"type": "Ready", "status": "True"},
        {"type": "Connected", "status": "True", "reason": "Probed"},
    ]


def test_ready_status_of_a_linked_service_leaves_other_fields() -> None:
    old = {
        "conditions": [{"type": "Connected", "status": "True", "reason": "Probed"}],
        "roundTripMilliseconds": 3.2,
    }
    new = ready_status(old, Readiness(False, "SecretNotFound", "Secret 's' was not found"), 4, NOW)
    assert new["observedGeneration"] == 4
    assert [c["type"] for c in new["conditions"]] == ["Connected", "Ready"]
    assert "roundTripMilliseconds" not in new  # the patch only carries our fields
    events = ready_events(old, new)
    assert [(e.type, e.reason) for e in events] == [("Warning", "SecretNotFound")]
    fixed = ready_status(new, Readiness(True, "Resolved", "ok"), 4, NOW)
    assert [(e.type, e.reason) for e in ready_events(new, fixed)] == [("Normal", "Resolved")]
    assert ready_events(fixed, ready_status(fixed, Readiness(True, "Resolved", "ok"), 4, NOW)) == []


def test_scenario_shapes() -> None:
    shapes = {name: shape(obj.get("status") or {}) for name, obj in scenarios().items()}
    assert shapes["no-status"] == {"phase": None, "conditions": {}}
    assert shapes["pending"]["phase"] == "Pending"
    assert shapes["running"] == {
        "phase": "Running",
        "conditions": {
            "Ready": ("True", "Resolved"),
            "Running": ("True", "JobRunning"),
            "Succeeded": ("Unknown", "RunInProgress"),
            "Failed": ("Unknown", "RunInProgress"),
        },
    }
    assert shapes["succeeded"]["conditions"]["Succeeded"] == ("True", "RunSucceeded")
    assert shapes["failed-engine-error"]["conditions"]["Failed"] == ("True", "AuthenticationFailed")
    assert shapes["failed-oom-killed"]["conditions"]["Failed"] == ("True", "OOMKilled")
    assert shapes["failed-deadline-exceeded"]["conditions"]["Failed"] == ("True", "DeadlineExceeded")
    assert shapes["failed-evicted"]["conditions"]["Failed"] == ("True", "Evicted")
    assert shapes["retry-scheduled"]["conditions"]["Running"] == ("False", "RetryScheduled")
    assert shapes["image-pull-backoff"]["conditions"]["Running"] == ("False", "ImagePullBackOff")
    assert shapes["secret-not-found"]["conditions"]["Ready"] == ("False", "SecretNotFound")
    assert shapes["secret-key-not-found"]["conditions"]["Ready"] == ("False", "SecretKeyNotFound")
    assert shapes["reference-not-found"]["conditions"]["Ready"] == ("False", "ReferenceNotFound")
    assert shapes["invalid-spec"]["conditions"]["Ready"] == ("False", "InvalidSpec")
    for name in ("failed-engine-error", "failed-oom-killed", "failed-deadline-exceeded", "failed-evicted"):
        assert shapes[name]["phase"] == "Failed", name
    stale = scenarios()["stale"]
    assert stale["metadata"]["generation"] == 2
    assert stale["status"]["observedGeneration"] == 1


def test_every_reason_in_the_scenarios_is_declared() -> None:
    for name, obj in scenarios().items():
        for cond in (obj.get("status") or {}).get("conditions", []):
            assert cond["reason"] in CONDITION_REASONS, (name, cond)


def test_succeeded_status_fields() -> None:
    status = scenarios()["succeeded"]["status"]
    last = status["lastRun"]
    assert last["status"] == "Succeeded"
    assert (last["rowsRead"], last["rowsCopied"], last["filesWritten"]) == (5000, 5000, 1)
    assert (last["dataRead"], last["dataWritten"], last["copyDuration"]) == (200000, 60000, 2.5)
    assert last["throughput"] == 2000.0
    assert last["errors"] == []
    assert (last["runId"], last["attempt"], last["trigger"], last["generation"]) == ("1", 1, "create", 1)
    assert last["jobName"].startswith("copy-orders-")
    assert last["exitCode"] == 0
    assert last["startTime"]
    assert last["completionTime"]
    assert status["lastSuccessfulTime"] == last["completionTime"]
    assert "lastFailureTime" not in status
    assert status["observedGeneration"] == 1
    for cond in status["conditions"]:
        assert cond["observedGeneration"] == 1
        assert cond["lastTransitionTime"]


def test_failed_status_fields() -> None:
    status = scenarios()["failed-engine-error"]["status"]
    assert status["lastRun"]["reason"] == "AuthenticationFailed"
    assert status["lastRun"]["errors"] == [
        {"code": "AuthenticationFailed", "message": "user 'alice' was rejected by the server"}
    ]
    assert status["lastRun"]["exitCode"] == 2
    assert status["lastFailureTime"] == status["lastRun"]["completionTime"]
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["message"] == "run 1 attempt 1: user 'alice' was rejected by the server"


def test_secure_output_hides_paths_and_messages() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.activity["spec"]["policy"] = {"secureOutput": True}
    s.step()
    s.step()
    s.set_pod(manifests.terminated(0, manifests.summary(rows=9).to_termination_message()))
    s.set_job_status(manifests.job_succeeded())
    s.step()
    last = s.activity["status"]["lastRun"]
    assert last["rowsCopied"] == 9
    assert last["outputPaths"] == []
    s2 = BUILDERS["failed-engine-error"]()
    s2.activity["spec"]["policy"] = {"secureOutput": True}
    s2.activity["status"] = {}
    s2.step()
    status = s2.activity["status"]
    assert status["lastRun"]["errors"] == [{"code": "AuthenticationFailed", "message": HIDDEN}]
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert "alice" not in failed["message"]
    assert HIDDEN in failed["message"]
    assert failed["reason"] == "AuthenticationFailed"


def test_events_follow_status_changes_once() -> None:
    s = Scenario(manifests.standard_set("pw"))
    s.step()
    started = s.activity["status"]
    events = status_events({}, started)
    assert [(e.type, e.reason) for e in events] == [("Normal", "RunStarted")]
    assert "run 1 attempt 1 started (create): Job copy-orders-" in events[0].message
    s.set_pod(manifests.terminated(0, manifests.summary(rows=42).to_termination_message()))
    s.set_job_status(manifests.job_succeeded())
    s.step()
    done = s.activity["status"]
    events = status_events(started, done)
    assert [(e.type, e.reason) for e in events] == [("Normal", "RunSucceeded")]
    assert "42 rows copied" in events[0].message
    assert status_events(done, done) == []
    for e in [*status_events({}, started), *status_events(started, done)]:
        assert e.reason in EVENT_REASONS


def test_failure_and_reference_events() -> None:
    failed = scenarios()["failed-oom-killed"]["status"]
    pending = scenarios()["pending"]["status"]
    events = status_events(pending, failed)
    assert [(e.type, e.reason) for e in events] == [("Warning", "RunFailed")]
    assert "OOMKilled" in events[0].message
    # A missing Secret is reported by the run's pod (the kubelet names it).
    missing = scenarios()["secret-not-found"]["status"]
    events = status_events(pending, missing)
    assert [(e.type, e.reason) for e in events] == [("Warning", "SecretNotFound")]
    assert events[0].message == "Secret 'impala-credentials' was not found (the run starts once it exists)"
    stuck = scenarios()["image-pull-backoff"]["status"]
    events = status_events(pending, stuck)
    assert [(e.type, e.reason) for e in events] == [("Warning", "PodNotStarting")]


def test_merge_patch() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1], "gone": True}
    new = {"a": 1, "b": {"c": 2, "d": 4}, "e": [1, 2], "f": "x"}
    assert merge_patch(old, new) == {"b": {"d": 4}, "e": [1, 2], "f": "x", "gone": None}
    assert merge_patch(new, new) == {}
    assert merge_patch({"b": {"c": 1}}, {"b": {}}) == {"b": {"c": None}}


def test_run_failed_event_says_it_once_and_whether_a_retry_follows() -> None:
    pending = scenarios()["pending"]["status"]
    failed = scenarios()["failed-engine-error"]["status"]
    events = status_events(pending, failed)
    assert [e.message for e in events if e.reason == "RunFailed"] == [
        "run 1 attempt 1 failed: AuthenticationFailed: user 'alice' was rejected by the server "
        "(a configuration error: no retry follows)"
    ]


def test_the_reason_column_explains_the_phase() -> None:
    expected = {
        "pending": "JobPending",
        "running": "JobRunning",
        "succeeded": "RunSucceeded",
        "failed-engine-error": "AuthenticationFailed",
        "failed-oom-killed": "OOMKilled",
        "retry-scheduled": "RetryScheduled",
        "image-pull-backoff": "ImagePullBackOff",
        "secret-not-found": "SecretNotFound",
        "reference-not-found": "ReferenceNotFound",
        "invalid-spec": "InvalidSpec",
    }
    all_scenarios = scenarios()
    assert {name: all_scenarios[name]["status"]["reason"] for name in expected} == expected
