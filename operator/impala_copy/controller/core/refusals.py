"""What the user sees when the API server refuses a request of the operator (pure).

A create (a run's Job) or a status write the API server refuses (403 by RBAC or an admission plugin,
422 by validation, 500, ...) is told in a condition and a Warning Event with the server's answer: the
reason is `Forbidden` (403), `Invalid` (422) or `ApiError` (anything else). The work queue retries
with backoff; the next status the object's controller writes replaces the condition.

Which condition carries it: `Running` (False) for the activities, `Connected` (Unknown) for an
ImpalaLinkedService whose connection-test Job was refused. The Job manifests and status patches the
operator sends carry no secret value, so the server's answer quotes none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from impala_copy.controller.core.constants import ConditionType, Reason
from impala_copy.controller.core.kube import ApiError
from impala_copy.controller.core.outcome import PENDING
from impala_copy.controller.core.status import EventSpec, condition, merge_conditions, old_conditions

# The condition (type, status) that tells a refused create, by kind; the activities' by default.
REFUSAL_CONDITION: dict[str, tuple[str, str]] = {"ImpalaLinkedService": (ConditionType.CONNECTED, "Unknown")}
RUNNING_REFUSAL = (ConditionType.RUNNING, "False")


def refusal_reason(exc: ApiError) -> str:
    if exc.status == 403:
        return Reason.FORBIDDEN
    if exc.status == 422:
        return Reason.INVALID
    return Reason.API_ERROR


def refusal_message(what: str, exc: ApiError) -> str:
    """The API server's answer to `what` (e.g. "create Job x"), as the user reads it."""
    answer = " ".join(f"{exc.status} {exc.reason}: {exc.message}".split())
    return f"the API server refused to {what}: {answer} (the operator tries again)"


def refusal_event(what: str, exc: ApiError) -> EventSpec:
    return EventSpec("Warning", refusal_reason(exc), refusal_message(what, exc))


def refused_status(
    kind: str, old: Mapping[str, Any], what: str, exc: ApiError, generation: int, now: datetime
) -> dict[str, Any]:
    """The status after the API server refused to create `what`: the refusal's condition, the rest as it was.

    An activity shows phase Pending with the refusal as its reason (unless Ready is False, which
    explains the phase first).
    """
    type_, cond_status = REFUSAL_CONDITION.get(kind, RUNNING_REFUSAL)
    conds = old_conditions(old)
    reason, message = refusal_reason(exc), refusal_message(what, exc)
    refused = condition(conds, type_, cond_status, reason, message, generation, now)
    status = {**dict(old), "conditions": merge_conditions(conds, [refused])}
    if type_ == ConditionType.RUNNING:
        ready = next((c for c in conds if c.get("type") == ConditionType.READY), {})
        status["phase"] = PENDING
        status["reason"] = ready["reason"] if ready.get("status") == "False" else reason
    return status


__all__ = ["refusal_event", "refusal_message", "refusal_reason", "refused_status"]
