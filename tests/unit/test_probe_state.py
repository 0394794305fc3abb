"""Connection-test decisions and status, pure: when a linked service is tested, what status says.

In: fingerprints, the last probe time, the clock, a ProbeResult. Out: the decision, the status merge
patch (Connected condition beside an existing Ready), the Event on a change of outcome. No I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from impala_copy.controller import probe_state as ps
from impala_copy.engine.probe import ProbeResult

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SPEC = {"host": "impala", "port": 21050, "authenticationType": "UsernameAndPassword", "username": "alice",
        "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}},
        "trustedCert": {"configMapKeyRef": {"name": "impala-ca", "key": "ca.pem"}}}  # fmt: skip


def decide(**kw: object) -> ps.ProbeDecision:
    args: dict[str, object] = {
        "spec_print": "A",
        "tested_spec_print": "A",
        "references_changed": False,
        "last_probe_time": "2026-01-02T03:00:00Z",
        "interval_seconds": 300,
        "now": NOW,
        "in_flight": False,
    }
    args.update(kw)
    return ps.decide_probe(**args)  # type: ignore[arg-type]


def ok(ms: float = 4.2) -> ProbeResult:
    return ProbeResult(connected=True, reason="Connected", message="Connected to impala:21050 as alice",
                       probed_at=NOW, duration_milliseconds=35.0, round_trip_milliseconds=ms)  # fmt: skip


def failed(reason: str = "AuthenticationFailed") -> ProbeResult:
    return ProbeResult(connected=False, reason=reason, message="login rejected for user alice",
                       probed_at=NOW, duration_milliseconds=12.0)  # fmt: skip


def test_first_sight_spec_change_and_reference_change_each_trigger_a_test() -> None:
    assert decide(tested_spec_print=None).trigger == "first"
    assert decide(spec_print="B").trigger == "specChange"
    assert decide(references_changed=True).trigger == "referenceChange"


def test_interval_makes_a_test_due_and_zero_disables_it() -> None:
    early = decide()
    assert (early.probe, early.wake_at) == (False, datetime(2026, 1, 2, 3, 5, 0, tzinfo=UTC))
    assert decide(now=NOW + timedelta(seconds=56)).trigger == "interval"
    assert not decide(interval_seconds=0, now=NOW + timedelta(days=3)).probe


def test_never_two_tests_of_one_linked_service_at_once() -> None:
    assert not decide(tested_spec_print=None, in_flight=True).probe


def test_probe_interval_is_not_part_of_the_spec_fingerprint() -> None:
    assert ps.spec_fingerprint(SPEC) == ps.spec_fingerprint({**SPEC, "probeIntervalSeconds": 60})
    assert ps.spec_fingerprint(SPEC) != ps.spec_fingerprint({**SPEC, "port": 21051})


def test_references_are_read_from_the_spec() -> None:
    assert ps.referenced_secrets(SPEC) == {"impala-login"}
    assert ps.referenced_config_maps(SPEC) == {"impala-ca"}


def test_secret_fingerprints_change_with_the_data_and_do_not_contain_it() -> None:
    a = ps.data_fingerprint({"password": "c2VjcmV0"})
    assert a == ps.data_fingerprint({"password": "c2VjcmV0"})
    assert a != ps.data_fingerprint({"password": "b3RoZXI="})
    assert "c2VjcmV0" not in a


def test_status_after_a_successful_test_keeps_the_ready_condition() -> None:
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "Resolved",
        "message": "",
        "lastTransitionTime": "x",
    }
    status = ps.probe_status({"conditions": [ready]}, ok(), 4)
    assert status["conditions"][0] == ready
    connected = status["conditions"][1]
    assert {k: connected[k] for k in ("type", "status", "reason", "observedGeneration")} == {
        "type": "Connected", "status": "True", "reason": "Connected", "observedGeneration": 4}  # fmt: skip
    assert status["lastProbeTime"] == "2026-01-02T03:04:05Z"
    assert status["roundTripMilliseconds"] == 4.2
    assert status["probeDurationMilliseconds"] == 35.0


def test_status_after_a_failed_test_keeps_the_last_round_trip() -> None:
    status = ps.probe_status({}, failed("Timeout"), 1)
    assert "roundTripMilliseconds" not in status  # a merge patch: the last successful value stays
    cond = status["conditions"][0]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "Timeout",
        "login rejected for user alice",
    )


def test_missing_references_make_connected_unknown() -> None:
    status = ps.not_tested_status({}, "SecretNotFound", "Secret 'x' was not found", NOW, 1)
    assert status["conditions"][0]["status"] == "Unknown"
    assert status["conditions"][0]["message"] == "not tested: Secret 'x' was not found"


def test_events_are_posted_only_when_the_outcome_changes() -> None:
    assert ps.transition_event(None, ok()) == ("Normal", "ConnectionSucceeded", ok().message)
    same = ps.probe_status({}, ok(), 1)["conditions"][0]
    assert ps.transition_event(same, ok(9.9)) is None
    assert ps.transition_event(same, failed()) == (
        "Warning", "ConnectionFailed", "AuthenticationFailed: login rejected for user alice")  # fmt: skip


def test_reflects_tells_whether_status_shows_a_result() -> None:
    status = ps.probe_status({}, ok(), 1)
    assert ps.reflects(status, ok())
    assert not ps.reflects({}, ok())
    assert not ps.reflects(status, failed())
