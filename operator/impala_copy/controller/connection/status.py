"""An ImpalaLinkedService's status: Ready (references), and Connected from its newest connection test.

Pure. `Connected` is True or False with the test's reason (Connected, AuthenticationFailed,
TLSVerificationFailed, Unreachable, Timeout, ServerError) once a test has finished; Unknown while a
test cannot run (ReferencesNotResolved, or SecretNotFound / SecretKeyNotFound reported by the test
pod; Forbidden / Invalid / ApiError while the API server refuses the test's Job, then RunInProgress
once it exists); while a test runs, the previous result stays. Events follow changes of Connected only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from impala_copy.api.summary import ConnectionTestSummary, read_summary
from impala_copy.controller.core.constants import ConditionType, EventReason, Reason
from impala_copy.controller.core.outcome import PENDING
from impala_copy.controller.core.readiness import Readiness
from impala_copy.controller.core.runs import Attempt, RunDecision
from impala_copy.controller.core.status import (
    EventSpec,
    attempt_fields,
    condition,
    effective_readiness,
    merge_conditions,
    old_conditions,
    ready_status,
)
from impala_copy.controller.core.timeutil import format_time

CONNECTED = ConditionType.CONNECTED
# Pod states that mean "the test cannot run yet", shown as Connected=Unknown.
NOT_RUNNABLE = frozenset(
    {
        Reason.SECRET_NOT_FOUND,
        Reason.SECRET_KEY_NOT_FOUND,
        Reason.CONFIG_MAP_NOT_FOUND,
        Reason.CONFIG_MAP_KEY_NOT_FOUND,
    }
)


# Connected=Unknown with one of these: the API server refused the test's Job (core/refusals.py).
REFUSALS = frozenset({Reason.FORBIDDEN, Reason.INVALID, Reason.API_ERROR})


def summary_of(text: str) -> ConnectionTestSummary | None:
    """The connection test's summary from a termination message, or None."""
    return read_summary(text, ConnectionTestSummary)


def _record(attempt: Attempt) -> dict[str, Any]:
    """status.connectionTest: the newest test's Job, so a restart knows it once the Job is gone."""
    return dict(attempt.recorded) if attempt.recorded is not None else attempt_fields(attempt)


def _result(attempt: Attempt, now: datetime) -> tuple[str, str, str, dict[str, Any]] | None:
    """(status, reason, message, extra status fields) of the Connected condition, or None: keep it."""
    outcome = attempt.outcome
    if attempt.recorded is not None:
        return None
    if outcome.state == PENDING and outcome.reason in NOT_RUNNABLE:
        return "Unknown", outcome.reason, f"not tested: {outcome.message}", {}
    if not outcome.finished:
        return None
    summary = summary_of(outcome.termination_message)
    if summary is None:
        unreported: dict[str, Any] = {"lastProbeTime": outcome.completion_time or format_time(now)}
        return "False", outcome.reason, f"the connection test did not report: {outcome.message}", unreported
    fields: dict[str, Any] = {
        "lastProbeTime": summary.probed_at,
        "probeDurationMilliseconds": round(summary.duration_milliseconds, 1),
    }
    if summary.connected and summary.round_trip_milliseconds is not None:
        fields["roundTripMilliseconds"] = summary.round_trip_milliseconds
    return ("True" if summary.connected else "False"), summary.reason, summary.message, fields


def connection_status(
    old: Mapping[str, Any], readiness: Readiness, decision: RunDecision, generation: int, now: datetime
) -> dict[str, Any]:
    """The whole status: Ready from the references, Connected from the newest test."""
    latest = decision.latest
    status = {**dict(old), **ready_status(old, effective_readiness(readiness, latest), generation, now)}
    conds = old_conditions(status)
    if latest is not None:
        status["connectionTest"] = _record(latest)
        if latest.run_now is not None:
            status["handledRunNow"] = latest.run_now
    found = _result(latest, now) if latest is not None else None
    if found is None and latest is not None and _connected(old).get("reason") in REFUSALS:
        # The test's Job the API server refused exists now: the refusal is over, the result to come.
        found = ("Unknown", Reason.RUN_IN_PROGRESS, f"the connection test runs (Job {latest.job_name})", {})
    if found is None and not readiness.ready:
        found = ("Unknown", Reason.REFERENCES_NOT_RESOLVED, f"not tested: {readiness.message}", {})
    if found is None:
        return status
    cond_status, reason, message, fields = found
    connected = condition(conds, CONNECTED, cond_status, reason, message, generation, now)
    status.update(fields)
    status["conditions"] = merge_conditions(conds, [connected])
    return status


def _connected(status: Mapping[str, Any]) -> dict[str, Any]:
    return next((c for c in old_conditions(status) if c.get("type") == CONNECTED), {})


def connection_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[EventSpec]:
    """ConnectionSucceeded / ConnectionFailed when the outcome changes (not on every periodic test)."""
    before, after = _connected(old), _connected(new)
    if not after or after.get("status") == "Unknown":
        return []
    if (before.get("status"), before.get("reason")) == (after.get("status"), after.get("reason")):
        return []
    message = str(after.get("message", ""))
    if after.get("status") == "True":
        return [EventSpec("Normal", EventReason.CONNECTION_SUCCEEDED, message)]
    return [EventSpec("Warning", EventReason.CONNECTION_FAILED, f"{after.get('reason')}: {message}")]


__all__ = ["CONNECTED", "connection_events", "connection_status", "summary_of"]
