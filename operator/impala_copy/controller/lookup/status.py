"""A LookupActivity's status: what every running kind shows, plus the output and the newest run. Pure.

The attempt's outcome comes from the pod's LookupSummary (termination message): its error code
becomes the reason, its counts the message. Once a run's output is stored (status or ConfigMap) it is
carried from the old status, so the pod log is read once per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from impala_copy.api.summary import LookupSummary, read_summary, visible_failure
from impala_copy.controller.core.constants import EventReason, Reason
from impala_copy.controller.core.outcome import FAILED, SUCCEEDED, AttemptOutcome
from impala_copy.controller.core.runs import Attempt
from impala_copy.controller.core.status import (
    RunEventWords,
    RunView,
    attempt_fields,
    condition,
    merge_conditions,
    old_conditions,
    run_status,
)
from impala_copy.controller.core.timeutil import format_time
from impala_copy.controller.lookup.output import Placement, result_config_map_name

MAX_ROWS = 5000
LOOKUP_EVENTS = RunEventWords(
    started=EventReason.LOOKUP_STARTED,
    succeeded=EventReason.LOOKUP_SUCCEEDED,
    failed=EventReason.LOOKUP_FAILED,
    truncated=EventReason.LOOKUP_TRUNCATED,
)
# Fields of status that describe a stored output.
OUTPUT_FIELDS = ("output", "resultConfigMap", "rowsReturned", "truncated")


def lookup_summary(text: str) -> LookupSummary | None:
    """The lookup's summary from a termination message, or None."""
    return read_summary(text, LookupSummary)


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def describe(attempt: Attempt, *, secure_input: bool) -> Attempt:
    """The attempt with the reason and message of the lookup's own summary, when the pod left one."""
    outcome = attempt.outcome
    if not outcome.finished or attempt.recorded is not None:
        return attempt
    summary = lookup_summary(outcome.termination_message)
    if summary is None:
        return attempt
    if summary.succeeded:
        message = f"{_rows(summary.rows)}, {summary.size_bytes} bytes of JSON"
        if summary.truncated:
            message += f"; truncated: the query returned more than {MAX_ROWS} rows"
        return replace(attempt, outcome=replace(outcome, message=message))
    error = summary.error
    reason = error.code if error is not None else outcome.reason
    message = error.message if error is not None else outcome.message
    reason, message = visible_failure(reason, message, secure_input=secure_input)
    return replace(attempt, outcome=replace(outcome, state=FAILED, reason=reason, message=message))


def fail(attempt: Attempt, reason: str, message: str) -> Attempt:
    """The attempt as failed by the operator (its output could not be read or stored)."""
    outcome = attempt.outcome
    failed = AttemptOutcome(
        state=FAILED,
        reason=reason,
        message=message,
        exit_code=outcome.exit_code,
        start_time=outcome.start_time,
        completion_time=outcome.completion_time,
        retryable=False,
        termination_message=outcome.termination_message,
        pod_name=outcome.pod_name,
    )
    return replace(attempt, outcome=failed)


@dataclass(frozen=True)
class StoredResult:
    """The newest successful run's output as status shows it."""

    placement: Placement | None  # None: carried over from the old status
    output: Any = None
    rows: int = 0
    truncated: bool = False
    size_bytes: int = 0


def _last_run(attempt: Attempt, summary: LookupSummary | None) -> dict[str, Any]:
    if attempt.recorded is not None:
        return dict(attempt.recorded)
    outcome = attempt.outcome
    run = attempt_fields(attempt)
    if outcome.finished:
        run["message"] = outcome.message
    if summary is not None and outcome.state == SUCCEEDED:
        run.update(
            durationSeconds=round(summary.duration_seconds, 3),
            rowsReturned=summary.rows,
            resultBytes=summary.size_bytes,
        )
    return run


def _output_fields(name: str, old: Mapping[str, Any], result: StoredResult | None) -> dict[str, Any]:
    if result is None or result.placement is None:  # nothing new stored: the old output stays
        return {k: old[k] for k in OUTPUT_FIELDS if k in old}
    in_status = result.placement.in_status
    return {
        "output": result.output if in_status else None,
        "resultConfigMap": None if in_status else result_config_map_name(name),
        "rowsReturned": result.rows,
        "truncated": result.truncated,
    }


def _truncated_condition(
    old_conds: list[dict[str, Any]], truncated: Any, generation: int, now: datetime
) -> list[dict[str, Any]]:
    if not isinstance(truncated, bool):
        return []
    if truncated:
        message = f"the query returned more than {MAX_ROWS} rows; the output holds the first {MAX_ROWS}"
        return [
            condition(old_conds, "Truncated", "True", Reason.ROW_LIMIT_EXCEEDED, message, generation, now)
        ]
    message = f"at most {MAX_ROWS} rows returned"
    return [condition(old_conds, "Truncated", "False", Reason.WITHIN_ROW_LIMIT, message, generation, now)]


def lookup_status(v: RunView, name: str, result: StoredResult | None) -> dict[str, Any]:
    """The whole status of a LookupActivity (wire form)."""
    fields = run_status(v)
    latest = v.decision.latest
    summary = lookup_summary(latest.outcome.termination_message) if latest is not None else None
    fields["lastRun"] = _last_run(latest, summary) if latest is not None else None
    fields.update(_output_fields(name, v.old, result))
    next_at = v.decision.wake_at
    fields["nextRunTime"] = format_time(next_at) if next_at is not None else None
    conds = fields["conditions"]
    extra = _truncated_condition(old_conditions(v.old), fields.get("truncated"), v.generation, v.now)
    fields["conditions"] = merge_conditions(conds, extra)
    return {k: val for k, val in fields.items() if val is not None}


def hold(attempt: Attempt, message: str) -> Attempt:
    """A finished attempt shown as still running while the operator reads or stores its output."""
    outcome = attempt.outcome
    held = AttemptOutcome(
        state="Running",
        reason=Reason.JOB_RUNNING,
        message=message,
        start_time=outcome.start_time,
        termination_message=outcome.termination_message,
        pod_name=outcome.pod_name,
    )
    return replace(attempt, outcome=held)


__all__ = [
    "LOOKUP_EVENTS",
    "OUTPUT_FIELDS",
    "StoredResult",
    "describe",
    "fail",
    "hold",
    "lookup_status",
    "lookup_summary",
]
