"""Status from what is observed (level-based): conditions, phase, times; and the Events of a change.

Pure functions shared by every kind. `run_status` turns the Ready check, the run decision and the
attempts into the fields every running kind has (each kind adds its own: lastRun, output, ...);
`status_events` compares the old status with the new one and tells which Events to post, so Events
follow status changes (an operator restart posts none again). Conditions keep their
lastTransitionTime while their status stays the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from impala_copy.api.common import Condition
from impala_copy.api.pod_contract import EXIT_CONFIGURATION
from impala_copy.controller.core.constants import (
    STUCK_WAITING_REASONS,
    ConditionType,
    EventReason,
    Reason,
    Trigger,
)
from impala_copy.controller.core.outcome import FAILED, PENDING, RUNNING, SUCCEEDED, waiting_for_reference
from impala_copy.controller.core.readiness import Readiness
from impala_copy.controller.core.records import as_dict, as_int, as_list, as_str, same_attempt
from impala_copy.controller.core.runs import Attempt, RunDecision
from impala_copy.controller.core.schedule import CronTurn
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


# ------------------------------------------------------------------ runs (every running kind)
@dataclass(frozen=True)
class RunView:
    """What the status of a running kind is derived from."""

    old: Mapping[str, Any]
    generation: int
    readiness: Readiness
    decision: RunDecision
    attempts: Sequence[Attempt]
    hide_messages: bool  # policy.secureOutput: an engine message may quote data
    now: datetime


def attempt_fields(attempt: Attempt) -> dict[str, Any]:
    """What status records of any attempt (camelCase; fields without a value left out): its run, Job,
    trigger, state, times, and the reason and exit code of its end. A restart reads it back
    (runs.attempt_from_status) once the Job is gone."""
    outcome = attempt.outcome
    fields = {
        "runId": str(attempt.run_number),
        "attempt": attempt.attempt,
        "generation": attempt.generation,
        "trigger": str(attempt.trigger),
        "scheduledTime": format_time(attempt.scheduled_time) if attempt.scheduled_time else None,
        "jobName": attempt.job_name,
        "status": outcome.state,
        "startTime": outcome.start_time,
        "completionTime": outcome.completion_time if outcome.finished else None,
        "reason": outcome.reason if outcome.state == FAILED else None,
        "exitCode": outcome.exit_code if outcome.finished else None,
        "step": outcome.step if outcome.state != SUCCEEDED else None,
        "progress": outcome.progress,
    }
    return {k: v for k, v in fields.items() if v is not None}


def later(old: Any, candidates: Sequence[str | None]) -> str | None:
    """The latest of an old time and some new ones (RFC 3339), or None."""
    best = old if isinstance(old, str) and parse_time(old) else None
    for value in candidates:
        moment = parse_time(value)
        if moment is not None and (best is None or moment > parse_time(best)):  # type: ignore[operator]
            best = format_time(moment)
    return best


def failure_message(attempt: Attempt, hide: bool) -> str:
    outcome = attempt.outcome
    message = outcome.message if not hide or outcome.summary is None else HIDDEN
    if not message:
        return f"run {attempt.run_number}"
    return f"run {attempt.run_number} attempt {attempt.attempt}: {message}"


def _running_condition(v: RunView, cond: Callable[[str, str, str, str], dict[str, Any]]) -> dict[str, Any]:
    latest, decision = v.decision.latest, v.decision
    state = latest.outcome.state if latest is not None else None
    if state in (PENDING, RUNNING) and latest is not None:
        return cond(
            ConditionType.RUNNING, "True" if state == RUNNING else "False",
            latest.outcome.reason, latest.outcome.message,
        )  # fmt: skip
    if decision.retry_at is not None and latest is not None:
        return cond(
            ConditionType.RUNNING, "False", Reason.RETRY_SCHEDULED,
            f"{failure_message(latest, v.hide_messages)}; attempt {latest.attempt + 1} of "
            f"{decision.attempts_total} starts at {format_time(decision.retry_at)}",
        )  # fmt: skip
    if decision.blocked_by == "references":
        return cond(
            ConditionType.RUNNING, "False", Reason.NOT_READY,
            "a run is due and starts once Ready is True (see the Ready condition)",
        )  # fmt: skip
    upcoming = decision.cron.next_at if decision.cron is not None else None
    scheduled = f"; the next scheduled run is at {format_time(upcoming)}" if upcoming is not None else ""
    return cond(ConditionType.RUNNING, "False", Reason.IDLE, f"no run in progress{scheduled}")


def _outcome_conditions(
    v: RunView, cond: Callable[[str, str, str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    latest = v.decision.latest
    if latest is None:
        return [
            cond(ConditionType.SUCCEEDED, "Unknown", Reason.NOT_STARTED, "no run yet"),
            cond(ConditionType.FAILED, "Unknown", Reason.NOT_STARTED, "no run yet"),
        ]
    final = latest.outcome.finished and v.decision.retry_at is None
    if final and latest.outcome.state == SUCCEEDED:
        message = f"run {latest.run_number}: {latest.outcome.message}"
        return [
            cond(ConditionType.SUCCEEDED, "True", Reason.RUN_SUCCEEDED, message),
            cond(ConditionType.FAILED, "False", Reason.RUN_SUCCEEDED, message),
        ]
    if final:
        message = failure_message(latest, v.hide_messages)
        return [
            cond(ConditionType.SUCCEEDED, "False", latest.outcome.reason, message),
            cond(ConditionType.FAILED, "True", latest.outcome.reason, message),
        ]
    message = f"run {latest.run_number} attempt {latest.attempt} is in progress"
    return [
        cond(ConditionType.SUCCEEDED, "Unknown", Reason.RUN_IN_PROGRESS, message),
        cond(ConditionType.FAILED, "Unknown", Reason.RUN_IN_PROGRESS, message),
    ]


def run_phase(decision: RunDecision) -> str:
    latest = decision.latest
    state = latest.outcome.state if latest is not None else None
    if latest is None or decision.blocked_by == "references" or state == PENDING or decision.retry_at:
        return PENDING
    return state or PENDING


def effective_readiness(readiness: Readiness, latest: Attempt | None) -> Readiness:
    """Ready as the references say, or not Ready because the newest run's pod lacks a Secret or key."""
    if readiness.ready and latest is not None and waiting_for_reference(latest.outcome):
        return Readiness(False, latest.outcome.reason, latest.outcome.message)
    return readiness


def phase_reason(
    phase: str, ready: Mapping[str, Any], running: Mapping[str, Any], outcome: Sequence[Mapping[str, Any]]
) -> str:
    """The reason of the condition that explains the phase (printed in the REASON column)."""
    if phase in (SUCCEEDED, FAILED):
        return str(outcome[0]["reason"])
    if ready.get("status") == "False":
        return str(ready["reason"])
    return str(running["reason"])


def run_status(v: RunView) -> dict[str, Any]:
    """What every running kind's status holds: phase, conditions, times, the run-now handled."""
    old_conds = old_conditions(v.old)
    readiness = effective_readiness(v.readiness, v.decision.latest)

    def cond(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return condition(old_conds, type_, status, reason, message, v.generation, v.now)

    ready = cond(
        ConditionType.READY, "True" if readiness.ready else "False", readiness.reason, readiness.message
    )
    latest, decision = v.decision.latest, v.decision
    running, outcome = _running_condition(v, cond), _outcome_conditions(v, cond)
    phase = run_phase(decision)
    return {
        "phase": phase,
        "reason": phase_reason(phase, ready, running, outcome),
        "observedGeneration": v.generation,
        "conditions": merge_conditions(old_conds, [ready, running, *outcome]),
        "lastSuccessfulTime": later(
            v.old.get("lastSuccessfulTime"),
            [a.outcome.completion_time for a in v.attempts if a.outcome.state == SUCCEEDED],
        ),
        "lastFailureTime": later(
            v.old.get("lastFailureTime"),
            [a.outcome.completion_time for a in v.attempts if a.outcome.state == FAILED],
        ),
        "nextRetryTime": format_time(decision.retry_at) if decision.retry_at else None,
        "handledRunNow": latest.run_now if latest is not None else as_str(v.old.get("handledRunNow")),
        **schedule_fields(v.old, decision.cron),
    }


def schedule_fields(old: Mapping[str, Any], turn: CronTurn | None) -> dict[str, Any]:
    """lastScheduleTime, nextScheduleTime, missedRuns (cumulative) and suspended of a cron schedule."""
    if turn is None:
        return {}
    handled = [format_time(turn.handled)] if turn.handled is not None else []
    return {
        "lastScheduleTime": later(old.get("lastScheduleTime"), handled),
        "nextScheduleTime": format_time(turn.next_at) if turn.next_at is not None else None,
        "missedRuns": max(0, as_int(old.get("missedRuns")) or 0) + turn.missed,
        "suspended": turn.suspended,
    }


# ------------------------------------------------------------------ Events
@dataclass(frozen=True)
class EventSpec:
    type: str  # Normal or Warning
    reason: str
    message: str


def _cond(status: Mapping[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in old_conditions(status) if c.get("type") == type_), {})


@dataclass(frozen=True)
class RunEventWords:
    """The Event reasons of a kind's runs, and how a success is told."""

    started: str = EventReason.RUN_STARTED
    succeeded: str = EventReason.RUN_SUCCEEDED
    failed: str = EventReason.RUN_FAILED
    truncated: str | None = None  # a success that is only partial (lookups over the row limit)


COPY_EVENTS = RunEventWords()


def _success_text(run: Mapping[str, Any]) -> str:
    if "rowsCopied" in run or "dataWritten" in run:
        return f"{run.get('rowsCopied', 0)} rows copied ({run.get('dataWritten', 0)} bytes written)"
    return str(run.get("message") or "done")


def _run_events(old: Mapping[str, Any], new: Mapping[str, Any], words: RunEventWords) -> list[EventSpec]:
    old_run, new_run = as_dict(old.get("lastRun")), as_dict(new.get("lastRun"))
    if not new_run:
        return []
    events: list[EventSpec] = []
    job = new_run.get("jobName")
    same = same_attempt(old_run, new_run)
    label = f"run {new_run.get('runId')} attempt {new_run.get('attempt')}"
    if not same and new_run.get("trigger") == Trigger.SCHEDULE and new_run.get("attempt") == 1:
        started = f"scheduled run for {new_run.get('scheduledTime')} started: {label}, Job {job}"
        events.append(EventSpec("Normal", words.started, started))
    elif not same:
        started = f"{label} started ({new_run.get('trigger')}): Job {job}"
        events.append(EventSpec("Normal", words.started, started))
    if new_run.get("status") == SUCCEEDED and (not same or old_run.get("status") != SUCCEEDED):
        partial = words.truncated is not None and new.get("truncated") is True
        events.append(
            EventSpec(
                "Warning" if partial else "Normal",
                (words.truncated or words.succeeded) if partial else words.succeeded,
                f"{label} succeeded: {_success_text(new_run)} by Job {job}",
            )
        )
    if new_run.get("status") == FAILED and (not same or old_run.get("status") != FAILED):
        failed = _cond(new, ConditionType.FAILED)
        running = _cond(new, ConditionType.RUNNING)
        detail = str(failed.get("message") if failed.get("status") == "True" else running.get("message"))
        detail = detail.removeprefix(f"{label}: ")
        if new_run.get("exitCode") == EXIT_CONFIGURATION:
            detail += " (a configuration error: no retry follows)"
        text = f"{label} failed: {new_run.get('reason')}: {detail}"
        events.append(EventSpec("Warning", words.failed, text))
    return events


def status_events(
    old: Mapping[str, Any], new: Mapping[str, Any], words: RunEventWords = COPY_EVENTS
) -> list[EventSpec]:
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
    events.extend(_run_events(old, new, words))
    old_running, new_running = _cond(old, ConditionType.RUNNING), _cond(new, ConditionType.RUNNING)
    if new_running.get("reason") in STUCK_WAITING_REASONS | {Reason.UNSCHEDULABLE} and (
        old_running.get("reason") != new_running.get("reason")
    ):
        events.append(EventSpec("Warning", EventReason.POD_STUCK, str(new_running.get("message", ""))))
    return events


def schedule_events(decision: RunDecision) -> list[EventSpec]:
    """A Warning when due times of the schedule started no run: how many, and why."""
    turn = decision.cron
    if turn is None or turn.missed <= 0:
        return []
    runs = "run" if turn.missed == 1 else "runs"
    message = f"{turn.missed} scheduled {runs} missed ({turn.missed_reason or 'not started'})"
    if turn.next_at is not None:
        message += f"; the next due time is {format_time(turn.next_at)}"
    return [EventSpec("Warning", EventReason.MISSED_SCHEDULE, message)]


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
