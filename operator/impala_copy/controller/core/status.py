"""Status from what is observed (level-based): conditions, phase, lastRun; and the Events of a change.

Pure functions. `copy_activity_status` turns the Ready check, the run decision and the newest
attempt into a CopyActivity's status; `status_events` compares the old status with the new one and
tells which Events to post, so Events follow status changes (an operator restart posts none again).
Conditions keep their lastTransitionTime while their status stays the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from impala_copy.api.activities import CopyActivityStatus, LastRun
from impala_copy.api.common import Condition
from impala_copy.api.summary import RunError
from impala_copy.controller.core.constants import STUCK_WAITING_REASONS, ConditionType, EventReason, Reason
from impala_copy.controller.core.outcome import FAILED, PENDING, RUNNING, SUCCEEDED
from impala_copy.controller.core.readiness import Readiness
from impala_copy.controller.core.records import as_dict, as_list, as_str
from impala_copy.controller.core.runs import Attempt, RunDecision
from impala_copy.controller.core.timeutil import format_time, parse_time

HIDDEN = "hidden by policy.secureOutput"


# ------------------------------------------------------------------ conditions
def old_conditions(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for c in map(as_dict, as_list(status.get("conditions"))) if isinstance(c.get("type"), str)]


def condition(
    old: Sequence[Mapping[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
) -> dict[str, Any]:
    """A condition; lastTransitionTime moves only when `status` changes."""
    previous = next((c for c in old if c.get("type") == type_), None)
    since = format_time(now)
    if (
        previous is not None
        and previous.get("status") == status
        and isinstance(previous.get("lastTransitionTime"), str)
    ):
        since = previous["lastTransitionTime"]
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    ).to_wire()


def merge_conditions(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Ours replace the same types; conditions of other types (set by others) stay, in their place."""
    ours = {c["type"]: dict(c) for c in new}
    merged = [ours.pop(c["type"]) if c["type"] in ours else dict(c) for c in old]
    merged.extend(ours.values())
    return merged


def ready_status(
    old_status: Mapping[str, Any], readiness: Readiness, generation: int, now: datetime
) -> dict[str, Any]:
    """observedGeneration and the Ready condition of a linked service or dataset; other fields untouched."""
    old = old_conditions(old_status)
    ready = condition(
        old,
        ConditionType.READY,
        "True" if readiness.ready else "False",
        readiness.reason,
        readiness.message,
        generation,
        now,
    )
    return {"observedGeneration": generation, "conditions": merge_conditions(old, [ready])}


# ------------------------------------------------------------------ CopyActivity
def last_run(attempt: Attempt, secure_output: bool) -> dict[str, Any]:
    """status.lastRun of an attempt: its Job, times, outcome and the engine's summary."""
    if attempt.recorded is not None and attempt.outcome.reason != Reason.JOB_DELETED:
        return dict(attempt.recorded)
    outcome = attempt.outcome
    summary = outcome.summary
    fields: dict[str, Any] = summary.model_dump() if summary is not None else {}
    if secure_output:
        fields["output_paths"] = []
        fields["skipped_rows_log"] = []
        fields["errors"] = [
            RunError(code=e.code, message=HIDDEN) for e in (summary.errors if summary else [])
        ]
    fields.update(
        status=outcome.state,
        job_name=attempt.job_name,
        run_id=str(attempt.run_number),
        trigger=attempt.trigger,
        attempt=attempt.attempt,
        generation=attempt.generation,
        start_time=outcome.start_time,
        completion_time=outcome.completion_time if outcome.finished else None,
        reason=outcome.reason if outcome.state == FAILED else None,
        exit_code=outcome.exit_code if outcome.finished else None,
    )
    if summary is None:
        fields["errors"] = []
    return LastRun.model_validate(fields).to_wire()


def _later(old: Any, candidates: Sequence[str | None]) -> str | None:
    best = old if isinstance(old, str) and parse_time(old) else None
    for value in candidates:
        moment = parse_time(value)
        if moment is not None and (best is None or moment > parse_time(best)):  # type: ignore[operator]
            best = format_time(moment)
    return best


@dataclass(frozen=True)
class CopyStatusInputs:
    old: Mapping[str, Any]
    generation: int
    readiness: Readiness
    decision: RunDecision
    attempts: Sequence[Attempt]
    secure_output: bool
    now: datetime


def _failure_message(attempt: Attempt, secure_output: bool) -> str:
    outcome = attempt.outcome
    message = outcome.message if not secure_output or outcome.summary is None else HIDDEN
    return (
        f"run {attempt.run_number} attempt {attempt.attempt}: {message}"
        if message
        else f"run {attempt.run_number}"
    )


def copy_activity_status(inputs: CopyStatusInputs) -> dict[str, Any]:
    """The whole status of a CopyActivity (wire form), from what is observed now."""
    old = inputs.old
    gen, now = inputs.generation, inputs.now
    decision = inputs.decision
    latest = decision.latest
    old_conds = old_conditions(old)

    def cond(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return condition(old_conds, type_, status, reason, message, gen, now)

    readiness = inputs.readiness
    ready = cond(
        ConditionType.READY, "True" if readiness.ready else "False", readiness.reason, readiness.message
    )

    state = latest.outcome.state if latest is not None else None
    retrying = decision.retry_at is not None
    # Running
    if state in (PENDING, RUNNING) and latest is not None:
        running = cond(
            ConditionType.RUNNING,
            "True" if state == RUNNING else "False",
            latest.outcome.reason,
            latest.outcome.message,
        )
    elif retrying and latest is not None:
        running = cond(
            ConditionType.RUNNING,
            "False",
            Reason.RETRY_SCHEDULED,
            f"{_failure_message(latest, inputs.secure_output)}; attempt {latest.attempt + 1} of "
            f"{decision.attempts_total} starts at {format_time(decision.retry_at)}",  # type: ignore[arg-type]
        )
    elif decision.blocked_by == "references":
        running = cond(
            ConditionType.RUNNING,
            "False",
            Reason.NOT_READY,
            "a run is due and starts once Ready is True (see the Ready condition)",
        )
    else:
        running = cond(ConditionType.RUNNING, "False", Reason.IDLE, "no run in progress")

    # Succeeded / Failed: the newest run's outcome.
    final = latest is not None and latest.outcome.finished and not retrying
    if latest is None:
        done = [
            cond(ConditionType.SUCCEEDED, "Unknown", Reason.NOT_STARTED, "no run yet"),
            cond(ConditionType.FAILED, "Unknown", Reason.NOT_STARTED, "no run yet"),
        ]
    elif final and state == SUCCEEDED:
        message = f"run {latest.run_number}: {latest.outcome.message}"
        done = [
            cond(ConditionType.SUCCEEDED, "True", Reason.RUN_SUCCEEDED, message),
            cond(ConditionType.FAILED, "False", Reason.RUN_SUCCEEDED, message),
        ]
    elif final and state == FAILED:
        message = _failure_message(latest, inputs.secure_output)
        done = [
            cond(ConditionType.SUCCEEDED, "False", latest.outcome.reason, message),
            cond(ConditionType.FAILED, "True", latest.outcome.reason, message),
        ]
    else:
        message = f"run {latest.run_number} attempt {latest.attempt} is in progress"
        done = [
            cond(ConditionType.SUCCEEDED, "Unknown", Reason.RUN_IN_PROGRESS, message),
            cond(ConditionType.FAILED, "Unknown", Reason.RUN_IN_PROGRESS, message),
        ]

    if latest is None or decision.blocked_by == "references" or state == PENDING or retrying:
        phase = "Pending"
    elif state == RUNNING:
        phase = "Running"
    else:
        phase = "Succeeded" if state == SUCCEEDED else "Failed"

    succeeded_times = [a.outcome.completion_time for a in inputs.attempts if a.outcome.state == SUCCEEDED]
    failed_times = [a.outcome.completion_time for a in inputs.attempts if a.outcome.state == FAILED]
    status = CopyActivityStatus.model_validate(
        {
            "phase": phase,
            "observed_generation": gen,
            "conditions": [],
            "last_run": last_run(latest, inputs.secure_output) if latest is not None else None,
            "last_successful_time": _later(old.get("lastSuccessfulTime"), succeeded_times),
            "last_failure_time": _later(old.get("lastFailureTime"), failed_times),
            "next_retry_time": format_time(decision.retry_at) if decision.retry_at else None,
            "handled_run_now": latest.run_now if latest is not None else as_str(old.get("handledRunNow")),
        }
    ).to_wire()
    status["conditions"] = merge_conditions(old_conds, [ready, running, *done])
    return status


# ------------------------------------------------------------------ Events
@dataclass(frozen=True)
class EventSpec:
    type: str  # Normal or Warning
    reason: str
    message: str


def _cond(status: Mapping[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in old_conditions(status) if c.get("type") == type_), {})


def status_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[EventSpec]:
    """The Events a status change deserves: references broken or fixed, run started/succeeded/failed."""
    events: list[EventSpec] = []
    old_ready, new_ready = _cond(old, ConditionType.READY), _cond(new, ConditionType.READY)
    if new_ready.get("status") == "False" and (
        old_ready.get("status") != "False"
        or old_ready.get("reason") != new_ready.get("reason")
        or old_ready.get("message") != new_ready.get("message")
    ):
        events.append(EventSpec("Warning", str(new_ready.get("reason")), str(new_ready.get("message", ""))))
    elif new_ready.get("status") == "True" and old_ready.get("status") == "False":
        events.append(EventSpec("Normal", EventReason.RESOLVED, str(new_ready.get("message", ""))))

    old_run, new_run = as_dict(old.get("lastRun")), as_dict(new.get("lastRun"))
    if new_run:
        job = new_run.get("jobName")
        same = old_run.get("jobName") == job
        label = f"run {new_run.get('runId')} attempt {new_run.get('attempt')}"
        if not same:
            events.append(
                EventSpec(
                    "Normal",
                    EventReason.RUN_STARTED,
                    f"{label} started ({new_run.get('trigger')}): Job {job}",
                )
            )
        if new_run.get("status") == SUCCEEDED and (not same or old_run.get("status") != SUCCEEDED):
            events.append(
                EventSpec(
                    "Normal",
                    EventReason.RUN_SUCCEEDED,
                    f"{label} succeeded: {new_run.get('rowsCopied', 0)} rows copied "
                    f"({new_run.get('dataWritten', 0)} bytes written) by Job {job}",
                )
            )
        if new_run.get("status") == FAILED and (not same or old_run.get("status") != FAILED):
            failed = _cond(new, ConditionType.FAILED)
            running = _cond(new, ConditionType.RUNNING)
            detail = failed.get("message") if failed.get("status") == "True" else running.get("message")
            events.append(
                EventSpec(
                    "Warning", EventReason.RUN_FAILED, f"{label} failed: {new_run.get('reason')}: {detail}"
                )
            )
    old_running, new_running = _cond(old, ConditionType.RUNNING), _cond(new, ConditionType.RUNNING)
    if new_running.get("reason") in STUCK_WAITING_REASONS | {Reason.UNSCHEDULABLE} and (
        old_running.get("reason") != new_running.get("reason")
    ):
        events.append(EventSpec("Warning", EventReason.POD_STUCK, str(new_running.get("message", ""))))
    return events


def ready_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[EventSpec]:
    """Events of a linked service or dataset: only its Ready condition changes."""
    return list(status_events({"conditions": old.get("conditions")}, {"conditions": new.get("conditions")}))


# ------------------------------------------------------------------ patches
def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`; empty when they are equal."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            inner = merge_patch(before, value)
            if inner:
                patch[key] = inner
        elif key not in old or before != value:
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch
