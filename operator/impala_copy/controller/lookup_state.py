"""LookupActivity, pure: which run should exist now, where its result lives, what status says.

Nothing here talks to the API server or to Impala: the handlers feed in the object as observed and
the clock, and send what comes out (see controller/lookups.py).

Run triggers, in order: the first run (create), a new metadata.generation (specChange), a new value
of the `impalacopy.io/run-now` annotation (runNow), a run left Running by an operator that stopped
(restart), a retry of a failure that may pass on retry (retry, after policy.retryIntervalInSeconds,
at most policy.retry times), and `spec.refreshInterval` after the last run ended (refresh).

Where the output goes: into `status.output` when its JSON is at most `STATUS_OUTPUT_LIMIT` bytes
(and policy.secureOutput is false); otherwise into a ConfigMap owned by the activity, as the key
`output.json`, or gzip-compressed as binaryData `output.json.gz` when the JSON is larger than
`CONFIG_MAP_TEXT_LIMIT`. The engine refuses outputs over 4 MiB (ADF's limit); a compressed output that
still does not fit a ConfigMap fails the run with ResultTooLarge.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from impala_copy.api.activities import (
    LookupActivity,
    LookupActivityStatus,
    LookupRun,
    duration_seconds,
)
from impala_copy.controller.core.constants import ANNOTATION_RUN_NOW, EventReason, Reason
from impala_copy.controller.core.status import condition, merge_conditions
from impala_copy.controller.core.timeutil import format_time, parse_time
from impala_copy.engine import errors as engine_errors
from impala_copy.engine.lookup import HARD_LIMIT_BYTES, MAX_ROWS, LookupResult, ResultTooLarge

RUN_NOW_ANNOTATION = ANNOTATION_RUN_NOW
ConditionStatus = Literal["True", "False", "Unknown"]

# status.output holds at most this many bytes of JSON. An object must stay well under the API
# server's 1.5 MiB request limit (etcd), be cheap to watch and list (every watcher receives the whole
# object on each change) and readable with `kubectl get -o yaml`; 16 KiB is about a hundred small rows.
STATUS_OUTPUT_LIMIT = 16 * 1024
# A ConfigMap holds at most 1 MiB (data and binaryData together); keep room for metadata.
CONFIG_MAP_TEXT_LIMIT = 900 * 1024
CONFIG_MAP_OUTPUT_KEY = "output.json"
CONFIG_MAP_GZIP_KEY = "output.json.gz"

TRIGGER_CREATE = "create"
TRIGGER_SPEC_CHANGE = "specChange"
TRIGGER_RUN_NOW = "runNow"
TRIGGER_RESTART = "restart"
TRIGGER_RETRY = "retry"
TRIGGER_REFRESH = "refresh"

PHASE_PENDING = "Pending"
PHASE_RUNNING = "Running"
PHASE_SUCCEEDED = "Succeeded"
PHASE_FAILED = "Failed"

# Engine error codes and whether a retry may help (AuthenticationFailed: no; Unreachable: yes).
_RETRYABLE: dict[str, bool] = {}


def _collect_retryable(cls: type[engine_errors.CopyError]) -> None:
    _RETRYABLE[cls.code] = cls.retryable
    for sub in cls.__subclasses__():
        _collect_retryable(sub)


_collect_retryable(engine_errors.CopyError)
_RETRYABLE[ResultTooLarge.code] = False
# The output could not be written to its ConfigMap (lookups.ResultNotStored): a fix is needed first.
_RETRYABLE[Reason.RESULT_NOT_STORED] = False


def retryable(reason: str | None) -> bool:
    """Whether a failure with this reason may pass on retry (unknown reasons: yes, as ADF retries all)."""
    return _RETRYABLE.get(reason or "", True)


# RFC 3339 times as the rest of the operator writes them.
rfc3339 = format_time


# ------------------------------------------------------------------------------------- run decision


@dataclass(frozen=True)
class Observed:
    """A LookupActivity as observed: what the run decision reads."""

    generation: int
    run_now: str | None
    status: LookupActivityStatus
    refresh_seconds: int | None
    retries: int
    retry_interval_seconds: int

    @classmethod
    def of(
        cls, activity: LookupActivity, raw_status: dict[str, Any] | None, generation: int | None = None
    ) -> Observed:
        annotations = activity.metadata.annotations or {}
        spec = activity.spec
        return cls(
            generation=generation if generation is not None else activity.metadata.generation or 1,
            run_now=annotations.get(RUN_NOW_ANNOTATION) or None,
            status=read_status(raw_status),
            refresh_seconds=duration_seconds(spec.refresh_interval) if spec.refresh_interval else None,
            retries=spec.policy.retry,
            retry_interval_seconds=spec.policy.retry_interval_in_seconds,
        )


def read_status(raw: dict[str, Any] | None) -> LookupActivityStatus:
    """The status as written by the operator; whatever cannot be read counts as not written."""
    if not raw:
        return LookupActivityStatus()
    known = {k: v for k, v in raw.items() if k in _STATUS_ALIASES}
    try:
        return LookupActivityStatus.model_validate(known)
    except ValueError:
        return LookupActivityStatus()


_STATUS_ALIASES = {f.alias or name for name, f in LookupActivityStatus.model_fields.items()}


@dataclass(frozen=True)
class Decision:
    """Start a run now (trigger, attempt, run id), or not; `wake_at`: when to look again (None: on change)."""

    start: bool
    trigger: str | None = None
    attempt: int = 1
    run_id: str | None = None
    wake_at: datetime | None = None


def new_run_id(activity: str, generation: int, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    digest = hashlib.sha256(f"{activity}/{generation}/{stamp}".encode()).hexdigest()[:6]
    return f"{stamp[:14]}-{digest}"


def decide(name: str, observed: Observed, now: datetime, *, in_flight: bool) -> Decision:
    """Which run should exist now. A run already in flight in this operator is never started twice."""
    if in_flight:
        return Decision(start=False)
    status = observed.status
    last = status.last_run

    def fresh(trigger: str) -> Decision:
        return Decision(
            start=True, trigger=trigger, attempt=1, run_id=new_run_id(name, observed.generation, now)
        )

    if last is None or last.start_time is None:
        return fresh(TRIGGER_CREATE)
    if last.generation is not None and last.generation != observed.generation:
        return fresh(TRIGGER_SPEC_CHANGE)
    if observed.run_now is not None and observed.run_now != status.handled_run_now:
        return fresh(TRIGGER_RUN_NOW)
    if last.completion_time is None:
        # Started but never finished: the operator that ran it stopped. Run the same attempt again.
        return Decision(start=True, trigger=TRIGGER_RESTART, attempt=last.attempt, run_id=last.run_id)
    due = parse_time(status.next_run_time)
    if due is None:
        return Decision(start=False)
    if now < due:
        return Decision(start=False, wake_at=due)
    if status.phase != PHASE_SUCCEEDED and retryable(last.reason) and last.attempt <= observed.retries:
        return Decision(start=True, trigger=TRIGGER_RETRY, attempt=last.attempt + 1, run_id=last.run_id)
    return fresh(TRIGGER_REFRESH)


def next_run_time(
    observed: Observed, finished: datetime, *, failed_reason: str | None, attempt: int
) -> datetime | None:
    """When the run after this one starts: a retry of a failure, else the refresh interval, else never."""
    if failed_reason is not None and retryable(failed_reason) and attempt <= observed.retries:
        return finished + timedelta(seconds=observed.retry_interval_seconds)
    if observed.refresh_seconds:
        return finished + timedelta(seconds=observed.refresh_seconds)
    return None


def apply_merge_patch(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`base` with a JSON merge patch applied (RFC 7386: None removes, objects merge, the rest replaces)."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = apply_merge_patch(out[key], value)
        elif isinstance(value, dict):
            out[key] = apply_merge_patch({}, value)
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------------- conditions


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> list[dict[str, Any]]:
    """The conditions with one type set (others kept in place); lastTransitionTime moves only when the
    status changes (the reconciler's own `status.condition` and `merge_conditions`)."""
    old = [c for c in conditions if isinstance(c.get("type"), str)]
    return merge_conditions(old, [condition(old, type_, status, reason, message, generation, now)])


def _conditions(raw_status: dict[str, Any] | None) -> list[dict[str, Any]]:
    conds = (raw_status or {}).get("conditions")
    return [dict(c) for c in conds if isinstance(c, dict)] if isinstance(conds, list) else []


def same_conditions(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal apart from lastTransitionTime (used to skip patches that change nothing)."""

    def key(conds: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (c.get("type"), c.get("status"), c.get("reason"), c.get("message"), c.get("observedGeneration"))
            for c in conds
        )

    return key(a) == key(b)


# ------------------------------------------------------------------------------------- status patches


@dataclass
class StatusPatch:
    """A merge patch of status (None removes a field) and the Event to post, if any."""

    status: dict[str, Any] = field(default_factory=dict)
    event_type: str | None = None
    event_reason: str | None = None
    event_message: str | None = None


def not_ready_patch(
    raw_status: dict[str, Any] | None, reason: str, message: str, generation: int, now: datetime
) -> StatusPatch:
    """References do not resolve (a missing dataset, Secret...): nothing runs until they do."""
    conds = set_condition(_conditions(raw_status), "Ready", "False", reason, message, now, generation)
    status: dict[str, Any] = {"observedGeneration": generation, "conditions": conds}
    if not (raw_status or {}).get("phase") or (raw_status or {}).get("phase") == PHASE_RUNNING:
        status["phase"] = PHASE_PENDING
    return StatusPatch(status=status, event_type="Warning", event_reason=reason, event_message=message)


def queued_patch(
    raw_status: dict[str, Any] | None, generation: int, now: datetime, workers: int
) -> StatusPatch:
    conds = set_condition(
        _conditions(raw_status), "Ready", "True", Reason.RESOLVED, "references resolved", now, generation
    )
    conds = set_condition(
        conds, "Running", "False", Reason.QUEUED,
        f"waiting for one of the operator's {workers} lookup workers",
        now, generation,
    )  # fmt: skip
    return StatusPatch(status={"phase": PHASE_PENDING, "observedGeneration": generation, "conditions": conds})


def started_patch(
    raw_status: dict[str, Any] | None, decision: Decision, generation: int, run_now: str | None, now: datetime
) -> StatusPatch:
    """The run has started in a worker."""
    conds = set_condition(
        _conditions(raw_status), "Ready", "True", Reason.RESOLVED, "references resolved", now, generation
    )
    message = f"attempt {decision.attempt} of run {decision.run_id} started ({decision.trigger})"
    conds = set_condition(conds, "Running", "True", Reason.LOOKUP_RUNNING, message, now, generation)
    run = LookupRun(
        run_id=decision.run_id,
        trigger=decision.trigger,
        attempt=decision.attempt,
        generation=generation,
        start_time=rfc3339(now),
    )
    status: dict[str, Any] = {
        "phase": PHASE_RUNNING,
        "observedGeneration": generation,
        "conditions": conds,
        # The whole lastRun is replaced: fields of the previous run must not linger.
        "lastRun": {**dict.fromkeys(_LAST_RUN_KEYS), **run.to_wire()},
        "nextRunTime": None,
    }
    if run_now is not None:
        # Any run that starts consumes a pending run-now request.
        status["handledRunNow"] = run_now
    return StatusPatch(
        status=status, event_type="Normal", event_reason=EventReason.LOOKUP_STARTED, event_message=message
    )


_LAST_RUN_KEYS = [f.alias or n for n, f in LookupRun.model_fields.items()]


@dataclass(frozen=True)
class Placement:
    """Where a successful output goes: status (`in_status`) or the ConfigMap `data`/`binary_data`."""

    in_status: bool
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None
    stored_bytes: int = 0


def place_result(result: LookupResult, *, secure_output: bool) -> Placement:
    """Status when small (and not secureOutput), else a ConfigMap; ResultTooLarge if gzip does not fit."""
    text = result.to_json()
    size = len(text.encode())
    if size <= STATUS_OUTPUT_LIMIT and not secure_output:
        return Placement(in_status=True, stored_bytes=size)
    if size <= CONFIG_MAP_TEXT_LIMIT:
        return Placement(in_status=False, data={CONFIG_MAP_OUTPUT_KEY: text}, stored_bytes=size)
    packed = gzip.compress(text.encode(), compresslevel=6, mtime=0)
    if len(packed) > CONFIG_MAP_TEXT_LIMIT:
        raise ResultTooLarge(
            f"the lookup output is {size} bytes of JSON, {len(packed)} bytes compressed: more than the "
            f"{CONFIG_MAP_TEXT_LIMIT // 1024} KiB a result ConfigMap holds; select fewer columns or rows"
        )
    return Placement(
        in_status=False,
        binary_data={CONFIG_MAP_GZIP_KEY: base64.b64encode(packed).decode("ascii")},
        stored_bytes=len(packed),
    )


def result_config_map_name(activity: str) -> str:
    """`<activity>-lookup-result`, shortened with a hash when the name would be too long."""
    suffix = "-lookup-result"
    name = f"{activity}{suffix}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(activity.encode()).hexdigest()[:8]
    return f"{activity[: 253 - len(suffix) - 9]}-{digest}{suffix}"


def result_config_map(
    activity: LookupActivity, uid: str | None, placement: Placement, result: LookupResult, run_id: str | None
) -> dict[str, Any]:
    """The ConfigMap holding a large output, owned by the activity (deleted with it)."""
    meta: dict[str, Any] = {
        "name": result_config_map_name(activity.name),
        "namespace": activity.namespace,
        "labels": {
            "app.kubernetes.io/managed-by": "impala-copy-operator",
            "app.kubernetes.io/component": "lookup-result",
            "impalacopy.io/activity": activity.name[:63].rstrip("-_."),
        },
        "annotations": {
            "impalacopy.io/run-id": run_id or "",
            "impalacopy.io/rows": str(result.rows),
            "impalacopy.io/truncated": "true" if result.truncated else "false",
            "impalacopy.io/output-bytes": str(result.size_bytes),
            "impalacopy.io/encoding": "gzip" if placement.binary_data else "none",
        },
    }
    if uid:
        meta["ownerReferences"] = [
            {
                "apiVersion": activity.api_version,
                "kind": activity.kind,
                "name": activity.name,
                "uid": uid,
                "controller": True,
            }
        ]
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if placement.data is not None:
        body["data"] = placement.data
    if placement.binary_data is not None:
        body["binaryData"] = placement.binary_data
    return body


def _where(placement: Placement, activity: str) -> str:
    if placement.in_status:
        return "in status.output"
    encoding = " (gzip)" if placement.binary_data else ""
    return f"in ConfigMap {result_config_map_name(activity)}{encoding}"


def succeeded_patch(
    raw_status: dict[str, Any] | None,
    observed: Observed,
    activity: str,
    run: Decision,
    result: LookupResult,
    placement: Placement,
    now: datetime,
) -> StatusPatch:
    generation = observed.generation
    rows = f"{result.rows} row{'s' if result.rows != 1 else ''}"
    message = f"{rows}, {result.size_bytes} bytes of JSON {_where(placement, activity)}"
    if result.truncated:
        message += f"; truncated: the query returned more than {MAX_ROWS} rows"
    conds = _conditions(raw_status)
    conds = set_condition(conds, "Running", "False", Reason.LOOKUP_COMPLETED, message, now, generation)
    conds = set_condition(conds, "Succeeded", "True", Reason.LOOKUP_SUCCEEDED, message, now, generation)
    conds = set_condition(conds, "Failed", "False", Reason.LOOKUP_SUCCEEDED, "", now, generation)
    if result.truncated:
        conds = set_condition(
            conds, "Truncated", "True", Reason.ROW_LIMIT_EXCEEDED,
            f"the query returned more than {MAX_ROWS} rows; the output holds the first {MAX_ROWS}",
            now, generation,
        )  # fmt: skip
    else:
        conds = set_condition(
            conds,
            "Truncated",
            "False",
            Reason.WITHIN_ROW_LIMIT,
            f"at most {MAX_ROWS} rows returned",
            now,
            generation,
        )
    upcoming = next_run_time(observed, now, failed_reason=None, attempt=run.attempt)
    status: dict[str, Any] = {
        "phase": PHASE_SUCCEEDED,
        "observedGeneration": generation,
        "conditions": conds,
        "lastRun": {
            "completionTime": rfc3339(now),
            "durationSeconds": round(result.duration_seconds, 3),
            "rowsReturned": result.rows,
            "resultBytes": result.size_bytes,
            "reason": None,
            "message": message,
        },
        "output": result.output if placement.in_status else None,
        "resultConfigMap": None if placement.in_status else result_config_map_name(activity),
        "rowsReturned": result.rows,
        "truncated": result.truncated,
        "lastSuccessfulTime": rfc3339(now),
        "nextRunTime": rfc3339(upcoming) if upcoming else None,
    }
    if result.truncated:
        return StatusPatch(
            status=status,
            event_type="Warning",
            event_reason=EventReason.LOOKUP_TRUNCATED,
            event_message=message,
        )
    return StatusPatch(
        status=status, event_type="Normal", event_reason=EventReason.LOOKUP_SUCCEEDED, event_message=message
    )


# Failures whose message is the server's, which may quote the SQL (hidden with policy.secureInput).
QUERY_ECHOING_REASONS = frozenset({"QueryFailed", "TableNotFound"})


def visible_failure(reason: str, message: str, *, secure_input: bool) -> tuple[str, str]:
    """The failure as status, Events and logs show it: with secureInput, no server text quoting the query."""
    if secure_input and reason in QUERY_ECHOING_REASONS:
        return reason, "the server rejected the query (its message is hidden by policy.secureInput)"
    return reason, message


def failed_patch(
    raw_status: dict[str, Any] | None,
    observed: Observed,
    run: Decision,
    reason: str,
    message: str,
    now: datetime,
) -> StatusPatch:
    """A failed attempt: Pending with a retry time while retries remain, else Failed."""
    generation = observed.generation
    upcoming = next_run_time(observed, now, failed_reason=reason, attempt=run.attempt)
    will_retry = upcoming is not None and retryable(reason) and run.attempt <= observed.retries
    conds = _conditions(raw_status)
    if will_retry:
        assert upcoming is not None
        text = (
            f"attempt {run.attempt} failed ({reason}: {message}); "
            f"attempt {run.attempt + 1} of {observed.retries + 1} at {rfc3339(upcoming)}"
        )
        conds = set_condition(conds, "Running", "False", Reason.RETRY_SCHEDULED, text, now, generation)
        phase = PHASE_PENDING
    else:
        text = f"{reason}: {message}"
        conds = set_condition(conds, "Running", "False", Reason.LOOKUP_COMPLETED, text, now, generation)
        conds = set_condition(conds, "Succeeded", "False", reason, text, now, generation)
        conds = set_condition(conds, "Failed", "True", reason, message, now, generation)
        phase = PHASE_FAILED
    status: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": generation,
        "conditions": conds,
        "lastRun": {"completionTime": rfc3339(now), "reason": reason, "message": message},
        "lastFailureTime": rfc3339(now),
        "nextRunTime": rfc3339(upcoming) if upcoming else None,
    }
    return StatusPatch(
        status=status, event_type="Warning", event_reason=EventReason.LOOKUP_FAILED, event_message=text
    )


__all__ = [
    "CONFIG_MAP_GZIP_KEY",
    "CONFIG_MAP_OUTPUT_KEY",
    "CONFIG_MAP_TEXT_LIMIT",
    "HARD_LIMIT_BYTES",
    "RUN_NOW_ANNOTATION",
    "STATUS_OUTPUT_LIMIT",
    "Decision",
    "Observed",
    "Placement",
    "StatusPatch",
    "apply_merge_patch",
    "decide",
    "failed_patch",
    "next_run_time",
    "not_ready_patch",
    "place_result",
    "queued_patch",
    "read_status",
    "result_config_map",
    "result_config_map_name",
    "retryable",
    "same_conditions",
    "set_condition",
    "started_patch",
    "succeeded_patch",
    "visible_failure",
]
