"""LookupActivity decisions and status, pure: which run should exist now, where the output lives.

In: a LookupActivity object (as the API server holds it), its status, the clock. Out: the run
decision, status merge patches, the result ConfigMap. Nothing is faked: these functions do no I/O.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from impala_copy.api.activities import LookupActivity
from impala_copy.api.kinds import parse_resource
from impala_copy.controller import lookup_state as ls
from impala_copy.engine.lookup import LookupResult, ResultTooLarge, dumps

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def activity(**spec: Any) -> LookupActivity:
    meta = {"name": "max-id", "namespace": "team-a", "generation": 1, "uid": "uid-1"}
    meta.update(spec.pop("meta", {}))
    obj = parse_resource(
        {
            "apiVersion": "impalacopy.io/v1alpha1",
            "kind": "LookupActivity",
            "metadata": meta,
            "spec": {"dataset": {"referenceName": "orders"}, **spec},
        }
    )
    assert isinstance(obj, LookupActivity)
    return obj


def observed(status: dict[str, Any] | None = None, **spec: Any) -> ls.Observed:
    return ls.Observed.of(activity(**spec), status)


def result(rows: int = 1, *, truncated: bool = False, value: str = "x") -> LookupResult:
    output = {"count": rows, "value": [{"v": value} for _ in range(rows)]}
    return LookupResult(output=output, rows=rows, truncated=truncated, size_bytes=len(dumps(output).encode()),
                        duration_seconds=0.25)  # fmt: skip


def apply(status: dict[str, Any], patch: ls.StatusPatch) -> dict[str, Any]:
    """A JSON merge patch, as the API server applies it (None removes)."""

    def merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in change.items():
            if value is None:
                out.pop(key, None)
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out

    return merge(status, patch.status)


def run_once(
    status: dict[str, Any], obs: ls.Observed, when: datetime, outcome: LookupResult | str
) -> dict[str, Any]:
    decision = ls.decide("max-id", obs, when, in_flight=False)
    assert decision.start
    status = apply(status, ls.started_patch(status, decision, obs.generation, obs.run_now, when))
    end = when + timedelta(seconds=1)
    if isinstance(outcome, str):
        return apply(status, ls.failed_patch(status, obs, decision, outcome, "server down", end))
    placement = ls.place_result(outcome, secure_output=False)
    return apply(status, ls.succeeded_patch(status, obs, "max-id", decision, outcome, placement, end))


def test_first_sight_starts_a_run() -> None:
    decision = ls.decide("max-id", observed(), NOW, in_flight=False)
    assert (decision.start, decision.trigger, decision.attempt) == (True, "create", 1)
    assert decision.run_id


def test_a_run_in_flight_is_never_started_twice() -> None:
    assert not ls.decide("max-id", observed(), NOW, in_flight=True).start


def test_after_success_nothing_runs_until_something_changes() -> None:
    status = run_once({}, observed(), NOW, result())
    assert status["phase"] == "Succeeded"
    assert ls.decide(
        "max-id", ls.Observed.of(activity(), status), NOW + timedelta(days=9), in_flight=False
    ) == (ls.Decision(start=False))


def test_spec_change_runs_again() -> None:
    status = run_once({}, observed(), NOW, result())
    changed = ls.Observed.of(activity(meta={"generation": 2}), status)
    decision = ls.decide("max-id", changed, NOW, in_flight=False)
    assert (decision.start, decision.trigger) == (True, "specChange")


def test_run_now_annotation_runs_once_per_value() -> None:
    status = run_once({}, observed(), NOW, result())
    marked = ls.Observed.of(activity(meta={"annotations": {"impalacopy.io/run-now": "a"}}), status)
    decision = ls.decide("max-id", marked, NOW, in_flight=False)
    assert decision.trigger == "runNow"
    status = run_once(status, marked, NOW, result())
    assert status["handledRunNow"] == "a"
    again = ls.Observed.of(activity(meta={"annotations": {"impalacopy.io/run-now": "a"}}), status)
    assert not ls.decide("max-id", again, NOW, in_flight=False).start


def test_run_now_present_at_creation_is_consumed_by_the_first_run() -> None:
    obs = ls.Observed.of(activity(meta={"annotations": {"impalacopy.io/run-now": "x"}}), {})
    status = run_once({}, obs, NOW, result())
    after = ls.Observed.of(activity(meta={"annotations": {"impalacopy.io/run-now": "x"}}), status)
    assert not ls.decide("max-id", after, NOW, in_flight=False).start


def test_a_run_left_running_by_a_stopped_operator_is_run_again_as_the_same_attempt() -> None:
    obs = observed()
    decision = ls.decide("max-id", obs, NOW, in_flight=False)
    status = apply({}, ls.started_patch({}, decision, 1, None, NOW))
    restarted = ls.decide("max-id", ls.Observed.of(activity(), status), NOW, in_flight=False)
    assert (restarted.trigger, restarted.run_id, restarted.attempt) == ("restart", decision.run_id, 1)


def test_refresh_interval_runs_again_after_the_last_run_ended() -> None:
    obs = observed(refreshInterval="15m")
    status = run_once({}, obs, NOW, result())
    assert status["nextRunTime"] == "2026-01-02T03:19:06Z"
    later = ls.Observed.of(activity(refreshInterval="15m"), status)
    early = ls.decide("max-id", later, NOW + timedelta(minutes=10), in_flight=False)
    assert (early.start, early.wake_at) == (False, datetime(2026, 1, 2, 3, 19, 6, tzinfo=UTC))
    due = ls.decide("max-id", later, NOW + timedelta(minutes=16), in_flight=False)
    assert (due.start, due.trigger, due.attempt) == (True, "refresh", 1)


def test_retryable_failure_is_retried_after_the_interval_then_fails() -> None:
    spec = {"policy": {"retry": 1, "retryIntervalInSeconds": 60}}
    obs = observed(**spec)
    status = run_once({}, obs, NOW, "Unreachable")
    assert status["phase"] == "Pending"
    running = next(c for c in status["conditions"] if c["type"] == "Running")
    assert running["reason"] == "RetryScheduled"
    assert "attempt 2 of 2 at 2026-01-02T03:05:06Z" in running["message"]
    obs = ls.Observed.of(activity(**spec), status)
    assert not ls.decide("max-id", obs, NOW + timedelta(seconds=30), in_flight=False).start
    retry = ls.decide("max-id", obs, NOW + timedelta(seconds=61), in_flight=False)
    assert (retry.trigger, retry.attempt, retry.run_id) == ("retry", 2, status["lastRun"]["runId"])
    status = run_once(status, obs, NOW + timedelta(seconds=61), "Unreachable")
    assert status["phase"] == "Failed"
    assert status["lastRun"]["attempt"] == 2
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "Unreachable")
    assert "nextRunTime" not in status
    assert not ls.decide("max-id", ls.Observed.of(activity(**spec), status), NOW + timedelta(days=1),
                         in_flight=False).start  # fmt: skip


def test_a_failure_that_cannot_pass_on_retry_is_not_retried() -> None:
    spec = {"policy": {"retry": 3}}
    status = run_once({}, observed(**spec), NOW, "AuthenticationFailed")
    assert status["phase"] == "Failed"
    assert "nextRunTime" not in status


def test_status_output_keeps_small_results_and_the_config_map_takes_large_ones() -> None:
    small = result(3)
    assert ls.place_result(small, secure_output=False).in_status
    status = run_once({}, observed(), NOW, small)
    assert status["output"] == small.output
    assert (status["rowsReturned"], status["truncated"]) == (3, False)
    assert "resultConfigMap" not in status

    large = result(1000, value="y" * 40)  # about 50 KB
    placement = ls.place_result(large, secure_output=False)
    assert not placement.in_status
    assert placement.data == {"output.json": large.to_json()}
    status = run_once(status, ls.Observed.of(activity(meta={"generation": 2}), status), NOW, large)
    assert "output" not in status  # the previous small output is removed
    assert status["resultConfigMap"] == "max-id-lookup-result"
    assert "in ConfigMap max-id-lookup-result" in status["lastRun"]["message"]


def test_secure_output_never_puts_the_output_in_status() -> None:
    assert not ls.place_result(result(1), secure_output=True).in_status


def test_outputs_over_900_kib_are_gzipped_and_incompressible_ones_fail() -> None:
    rows = 5000
    compressible = result(rows, value="z" * 300)  # about 1.6 MB of JSON
    placement = ls.place_result(compressible, secure_output=False)
    assert placement.data is None
    assert placement.binary_data is not None
    packed = base64.b64decode(placement.binary_data["output.json.gz"])
    assert json.loads(gzip.decompress(packed)) == compressible.output

    import random

    rnd = random.Random(7)
    noise = [
        {"v": "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(400))}
        for _ in range(rows)
    ]
    output = {"count": rows, "value": noise}
    incompressible = LookupResult(output=output, rows=rows, truncated=False,
                                  size_bytes=len(dumps(output).encode()), duration_seconds=1.0)  # fmt: skip
    with pytest.raises(ResultTooLarge, match=r"more than the 900 KiB a result ConfigMap holds"):
        ls.place_result(incompressible, secure_output=False)


def test_truncated_result_sets_the_truncated_condition_and_a_warning() -> None:
    obs = observed(firstRowOnly=False)
    decision = ls.decide("max-id", obs, NOW, in_flight=False)
    res = result(5000, truncated=True)
    patch = ls.succeeded_patch(
        {}, obs, "max-id", decision, res, ls.place_result(res, secure_output=False), NOW
    )
    truncated = next(c for c in patch.status["conditions"] if c["type"] == "Truncated")
    assert (truncated["status"], truncated["reason"]) == ("True", "RowLimitExceeded")
    assert (patch.event_type, patch.event_reason) == ("Warning", "LookupTruncated")
    assert patch.status["truncated"] is True


def test_result_config_map_is_owned_by_the_activity_and_labelled() -> None:
    act = activity()
    res = result(1000, value="y" * 40)
    placement = ls.place_result(res, secure_output=False)
    cm = ls.result_config_map(act, "uid-1", placement, res, "run-1")
    assert cm["metadata"]["name"] == "max-id-lookup-result"
    assert cm["metadata"]["namespace"] == "team-a"
    assert cm["metadata"]["ownerReferences"] == [
        {"apiVersion": "impalacopy.io/v1alpha1", "kind": "LookupActivity", "name": "max-id", "uid": "uid-1",
         "controller": True}
    ]  # fmt: skip
    assert cm["metadata"]["annotations"]["impalacopy.io/rows"] == "1000"
    assert json.loads(cm["data"]["output.json"]) == res.output


def test_config_map_name_of_a_very_long_activity_name_stays_valid() -> None:
    name = ls.result_config_map_name("a" * 253)
    assert len(name) <= 253
    assert name.endswith("-lookup-result")


def test_set_condition_keeps_other_types_and_the_transition_time_when_status_is_unchanged() -> None:
    conds = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Resolved",
            "lastTransitionTime": "2020-01-01T00:00:00Z",
        }
    ]
    out = ls.set_condition(conds, "Ready", "True", "Resolved", "again", NOW, 3)
    assert out[0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    out = ls.set_condition(out, "Running", "True", "LookupRunning", "", NOW, 3)
    assert [c["type"] for c in out] == ["Ready", "Running"]
    out = ls.set_condition(out, "Ready", "False", "SecretNotFound", "x", NOW, 3)
    assert out[0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"


def test_secure_input_hides_server_messages_that_may_quote_the_query() -> None:
    message = "[UNRESOLVED_COLUMN] `no_such` cannot be resolved; SELECT no_such FROM demo.orders"
    assert ls.visible_failure("QueryFailed", message, secure_input=False) == ("QueryFailed", message)
    hidden = ls.visible_failure("QueryFailed", message, secure_input=True)
    assert hidden == (
        "QueryFailed",
        "the server rejected the query (its message is hidden by policy.secureInput)",
    )
    assert (
        ls.visible_failure("Unreachable", "impala:21050 refused", secure_input=True)[1]
        == "impala:21050 refused"
    )
