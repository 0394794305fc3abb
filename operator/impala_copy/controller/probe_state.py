"""ImpalaLinkedService connection tests, pure: when to test, and what status says afterwards.

A test runs when the operator first sees a linked service, when its spec changes, when a Secret or
ConfigMap it refers to changes, and every `spec.probeIntervalSeconds` (0: never on a timer). The
result is the condition `Connected` (True, or False with AuthenticationFailed, TLSVerificationFailed,
Unreachable, Timeout or ServerError; Unknown, ReferencesNotResolved, while a Secret or ConfigMap it
needs is missing), plus
`status.lastProbeTime`, `status.roundTripMilliseconds` and `status.probeDurationMilliseconds`.
Other conditions on the object (Ready) are kept as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from impala_copy.controller.core.constants import EventReason, Reason
from impala_copy.controller.core.timeutil import parse_time
from impala_copy.controller.lookup_state import rfc3339, set_condition
from impala_copy.engine.probe import CONNECTED, ProbeResult

CONDITION_CONNECTED = "Connected"
REASON_NOT_TESTED = Reason.REFERENCES_NOT_RESOLVED
# Event reasons, posted only when the outcome changes (not on every periodic test).
EVENT_CONNECTION_SUCCEEDED = EventReason.CONNECTION_SUCCEEDED
EVENT_CONNECTION_FAILED = EventReason.CONNECTION_FAILED

TRIGGER_FIRST = "first"
TRIGGER_SPEC_CHANGE = "specChange"
TRIGGER_REFERENCE_CHANGE = "referenceChange"
TRIGGER_INTERVAL = "interval"

# Fingerprints of Secret data are kept in the operator's memory only, keyed with a per-process
# random key: they tell "this Secret changed" without being a hash anyone could test passwords against.
_FINGERPRINT_KEY = os.urandom(32)


def spec_fingerprint(spec: Mapping[str, Any]) -> str:
    """Identity of a linked service's spec (probeIntervalSeconds does not change what is tested)."""
    relevant = {k: v for k, v in spec.items() if k != "probeIntervalSeconds"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def data_fingerprint(data: Mapping[str, Any] | None) -> str:
    """Keyed digest of a Secret's or ConfigMap's data, for change detection in memory only."""
    text = json.dumps(data or {}, sort_keys=True, default=str).encode()
    return hmac.new(_FINGERPRINT_KEY, text, hashlib.sha256).hexdigest()


def referenced_secrets(spec: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets a linked service spec refers to (password, trusted certificate)."""
    names: set[str] = set()
    password = (spec.get("password") or {}).get("secretKeyRef") or {}
    if isinstance(password, Mapping) and password.get("name"):
        names.add(str(password["name"]))
    cert = (spec.get("trustedCert") or {}).get("secretKeyRef") or {}
    if isinstance(cert, Mapping) and cert.get("name"):
        names.add(str(cert["name"]))
    return names


def referenced_config_maps(spec: Mapping[str, Any]) -> set[str]:
    cert = (spec.get("trustedCert") or {}).get("configMapKeyRef") or {}
    return {str(cert["name"])} if isinstance(cert, Mapping) and cert.get("name") else set()


@dataclass(frozen=True)
class ProbeDecision:
    """Test now (with why), or not; `wake_at`: when the interval makes the next one due."""

    probe: bool
    trigger: str | None = None
    wake_at: datetime | None = None


def decide_probe(
    *,
    spec_print: str,
    tested_spec_print: str | None,
    references_changed: bool,
    last_probe_time: str | None,
    interval_seconds: int,
    now: datetime,
    in_flight: bool,
) -> ProbeDecision:
    """Whether a connection test is due. `tested_spec_print`: the spec this operator last tested (memory)."""
    if in_flight:
        return ProbeDecision(probe=False)
    if tested_spec_print is None:
        return ProbeDecision(probe=True, trigger=TRIGGER_FIRST)
    if tested_spec_print != spec_print:
        return ProbeDecision(probe=True, trigger=TRIGGER_SPEC_CHANGE)
    if references_changed:
        return ProbeDecision(probe=True, trigger=TRIGGER_REFERENCE_CHANGE)
    if interval_seconds <= 0:
        return ProbeDecision(probe=False)
    last = parse_time(last_probe_time)
    if last is None:
        return ProbeDecision(probe=True, trigger=TRIGGER_INTERVAL)
    due = last + timedelta(seconds=interval_seconds)
    if now >= due:
        return ProbeDecision(probe=True, trigger=TRIGGER_INTERVAL)
    return ProbeDecision(probe=False, wake_at=due)


def _conditions(raw_status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    conds = (raw_status or {}).get("conditions")
    return [dict(c) for c in conds if isinstance(c, Mapping)] if isinstance(conds, list) else []


def probe_status(
    raw_status: Mapping[str, Any] | None, result: ProbeResult, generation: int
) -> dict[str, Any]:
    """The status merge patch after a test: Connected (other conditions kept), times, round trip."""
    conds = set_condition(
        _conditions(raw_status),
        CONDITION_CONNECTED,
        "True" if result.connected else "False",
        result.reason,
        result.message,
        result.probed_at,
        generation,
    )
    status: dict[str, Any] = {
        "conditions": conds,
        "lastProbeTime": rfc3339(result.probed_at),
        "probeDurationMilliseconds": round(result.duration_milliseconds, 1),
    }
    if result.connected and result.round_trip_milliseconds is not None:
        status["roundTripMilliseconds"] = result.round_trip_milliseconds
    return status


def not_tested_status(
    raw_status: Mapping[str, Any] | None, reason: str, message: str, now: datetime, generation: int
) -> dict[str, Any]:
    """Connected=Unknown: the test cannot run because a Secret, key or ConfigMap it needs is missing."""
    conds = set_condition(
        _conditions(raw_status),
        CONDITION_CONNECTED,
        "Unknown",
        reason,
        f"not tested: {message}",
        now,
        generation,
    )
    # The attempt counts as a test for probeIntervalSeconds; a change of the references tests again at once.
    return {"conditions": conds, "lastProbeTime": rfc3339(now)}


def connected_condition(raw_status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return next((c for c in _conditions(raw_status) if c.get("type") == CONDITION_CONNECTED), None)


def reflects(raw_status: Mapping[str, Any] | None, result: ProbeResult) -> bool:
    """Whether the object's status already shows this result (else it was overwritten: write it again)."""
    cond = connected_condition(raw_status)
    if cond is None:
        return False
    return (
        cond.get("status") == ("True" if result.connected else "False")
        and cond.get("reason") == result.reason
        and (raw_status or {}).get("lastProbeTime") == rfc3339(result.probed_at)
    )


def transition_event(previous: Mapping[str, Any] | None, result: ProbeResult) -> tuple[str, str, str] | None:
    """(type, reason, message) of the Event to post, only when the outcome changed since last time."""
    status = "True" if result.connected else "False"
    if previous is not None and previous.get("status") == status and previous.get("reason") == result.reason:
        return None
    if result.connected:
        return "Normal", EVENT_CONNECTION_SUCCEEDED, result.message
    return "Warning", EVENT_CONNECTION_FAILED, f"{result.reason}: {result.message}"


__all__ = [
    "CONDITION_CONNECTED",
    "CONNECTED",
    "EVENT_CONNECTION_FAILED",
    "EVENT_CONNECTION_SUCCEEDED",
    "REASON_NOT_TESTED",
    "ProbeDecision",
    "connected_condition",
    "data_fingerprint",
    "decide_probe",
    "not_tested_status",
    "probe_status",
    "referenced_config_maps",
    "referenced_secrets",
    "reflects",
    "rfc3339",
    "spec_fingerprint",
    "transition_event",
]
