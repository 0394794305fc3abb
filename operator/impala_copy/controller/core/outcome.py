"""How one attempt (one Job) is doing, from the Job's and its pods' status: pure and level-based.

A failure gets the most specific reason available, in this order: the engine's own error (from the
run summary in the termination message), the container killed for memory (OOMKilled), the pod
evicted, the Job's deadline (policy.timeout), a configuration error exit code, the engine's last log
lines, and finally the Job's own condition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import ValidationError

from impala_copy.api.pod_contract import EXIT_CONFIGURATION
from impala_copy.api.summary import RunSummary, aggregate
from impala_copy.controller.core.constants import STUCK_WAITING_REASONS, Reason
from impala_copy.controller.core.records import JobRecord, PodRecord

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"

MESSAGE_LIMIT = 1024


@dataclass(frozen=True)
class AttemptOutcome:
    """The state of one attempt, with the reason and message its conditions and Events show."""

    state: str
    reason: str
    message: str
    summary: RunSummary | None = None
    exit_code: int | None = None
    start_time: str | None = None
    completion_time: str | None = None
    retryable: bool = True
    summary_missing: bool = False
    termination_message: str = ""  # the newest finished pod's, whatever the task
    pod_name: str | None = None  # the newest pod
    # A partitioned copy (core/steps.py): the step running (planning, copying, committing) and how
    # many partitions are done ("3/8 partitions").
    step: str | None = None
    progress: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in (SUCCEEDED, FAILED)


def parse_summary(text: str) -> RunSummary | None:
    """The engine's run summary from a termination message, or None when it is not one."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return RunSummary.model_validate(data)
    except ValidationError:
        # A newer engine may add fields: keep what this version knows.
        known = {f.alias or name for name, f in RunSummary.model_fields.items()}
        try:
            return RunSummary.model_validate({k: v for k, v in data.items() if k in known})
        except ValidationError:
            return None


# How the kubelet words a missing Secret/ConfigMap or key in CreateContainerConfigError.
_MISSING_OBJECT = re.compile(r'^(secret|configmap) "([^"]{1,253})" not found$')
_MISSING_KEY = re.compile(
    r"^couldn't find key (\S{1,253}) in (Secret|ConfigMap) ([^/\s]{1,253})/(\S{1,253})$"
)


def missing_reference(message: str) -> tuple[str, str] | None:
    """(reason, message) for a kubelet message about a missing Secret/ConfigMap or key, else None."""
    text = " ".join(message.split())
    found = _MISSING_OBJECT.match(text)
    if found:
        is_secret = found.group(1) == "secret"
        kind = "Secret" if is_secret else "ConfigMap"
        reason = Reason.SECRET_NOT_FOUND if is_secret else Reason.CONFIG_MAP_NOT_FOUND
        return reason, f"{kind} {found.group(2)!r} was not found (the run starts once it exists)"
    found = _MISSING_KEY.match(text)
    if found:
        key, kind, name = found.group(1), found.group(2), found.group(4)
        reason = Reason.SECRET_KEY_NOT_FOUND if kind == "Secret" else Reason.CONFIG_MAP_KEY_NOT_FOUND
        return reason, f"{kind} {name!r} has no key {key!r} (the run starts once it exists)"
    return None


# What a run's pod reports when a Secret/ConfigMap it needs is missing (the kubelet names it): the
# object is not Ready, for the same reasons the operator gives when it sees a reference missing.
MISSING_REFERENCE_REASONS = frozenset(
    {
        Reason.SECRET_NOT_FOUND,
        Reason.SECRET_KEY_NOT_FOUND,
        Reason.CONFIG_MAP_NOT_FOUND,
        Reason.CONFIG_MAP_KEY_NOT_FOUND,
    }
)


def waiting_for_reference(outcome: AttemptOutcome) -> bool:
    """The attempt's pod cannot start until a Secret/ConfigMap (or key) exists."""
    return outcome.state == PENDING and outcome.reason in MISSING_REFERENCE_REASONS


def _shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _by_age(pods: Sequence[PodRecord]) -> list[PodRecord]:
    return sorted(pods, key=lambda p: (p.created or "", p.name))


def attempt_outcome(job: JobRecord, pods: Sequence[PodRecord]) -> AttemptOutcome:
    """The state of the attempt that `job` runs, judged from the Job and its pods."""
    ordered = _by_age(pods)
    newest = ordered[-1] if ordered else None
    terminated = [p for p in ordered if p.container.state == "terminated"]
    summaries = [s for s in (parse_summary(p.container.message) for p in terminated) if s is not None]
    started = job.start_time or job.created
    last_message = terminated[-1].container.message if terminated else ""
    pod_name = newest.name if newest is not None else None
    outcome = _attempt_outcome(job, newest, terminated, summaries, started)
    return replace(outcome, termination_message=last_message, pod_name=pod_name)


def _attempt_outcome(
    job: JobRecord,
    newest: PodRecord | None,
    terminated: Sequence[PodRecord],
    summaries: Sequence[RunSummary],
    started: str | None,
) -> AttemptOutcome:
    complete = job.condition("Complete") or job.condition("SuccessCriteriaMet")
    if complete is not None:
        return _succeeded(job, complete.time, terminated, started)
    failed = job.condition("Failed") or job.condition("FailureTarget")
    if failed is not None:
        last = terminated[-1] if terminated else newest
        exit_code = last.container.exit_code if last is not None else None
        summary = summaries[-1] if summaries else None
        reason, message = _failure_reason(job, failed.reason, failed.message, last, summary)
        return AttemptOutcome(
            state=FAILED,
            reason=reason,
            message=message,
            summary=summary,
            exit_code=exit_code,
            completion_time=failed.time or job.completion_time,
            retryable=exit_code != EXIT_CONFIGURATION and failed.reason != "PodFailurePolicy",
            start_time=started,
        )
    found = _pod_state(job, newest) if newest is not None else None
    state, reason, message = found or (
        PENDING,
        Reason.JOB_PENDING,
        f"Job {job.name} is waiting for its pod to start",
    )
    return AttemptOutcome(state=state, reason=reason, message=message, start_time=started)


def _succeeded(
    job: JobRecord, when: str | None, terminated: Sequence[PodRecord], started: str | None
) -> AttemptOutcome:
    succeeded = [p for p in terminated if p.container.exit_code == 0]
    summary = _combine([s for s in (parse_summary(p.container.message) for p in succeeded) if s is not None])
    message = (
        f"copied {summary.rows_copied} rows in {summary.copy_duration:.1f}s"
        if summary is not None
        else "the Job completed"
    )
    return AttemptOutcome(
        state=SUCCEEDED,
        reason=Reason.RUN_SUCCEEDED,
        message=message,
        summary=summary,
        exit_code=0,
        completion_time=job.completion_time or when,
        summary_missing=summary is None,
        start_time=started,
    )


def _pod_state(job: JobRecord, pod: PodRecord) -> tuple[str, str, str] | None:
    """(state, reason, message) of an attempt whose Job has not ended, from its newest pod; None: pending."""
    container = pod.container
    missing = missing_reference(container.message) if container.state == "waiting" else None
    if missing is not None and container.reason == Reason.CREATE_CONTAINER_CONFIG_ERROR:
        return PENDING, missing[0], missing[1]
    if container.state == "terminated" or pod.phase in ("Succeeded", "Failed"):
        # The pod has ended and the Job controller has not said so yet: finishing, never pending again.
        return RUNNING, Reason.JOB_RUNNING, f"Job {job.name} is finishing (its pod has ended)"
    if container.state == "waiting" and container.reason in STUCK_WAITING_REASONS:
        return PENDING, container.reason, _shorten(f"pod {pod.name}: {container.message or container.reason}")
    if pod.unschedulable:
        return PENDING, Reason.UNSCHEDULABLE, _shorten(f"pod {pod.name}: {pod.unschedulable}")
    if pod.phase == "Running" or container.state == "running":
        return RUNNING, Reason.JOB_RUNNING, f"Job {job.name} is running"
    return None


def _combine(summaries: list[RunSummary]) -> RunSummary | None:
    return aggregate(summaries) if summaries else None


def _failure_reason(
    job: JobRecord,
    job_reason: str,
    job_message: str,
    pod: PodRecord | None,
    summary: RunSummary | None,
) -> tuple[str, str]:
    if summary is not None and summary.errors:
        error = summary.errors[0]
        return error.code, _shorten(error.message)
    container = pod.container if pod is not None else None
    if container is not None and container.reason == "OOMKilled":
        return Reason.OOM_KILLED, (
            f"pod {pod.name if pod else ''}: the engine was killed for using more memory than its limit; "
            "raise job.resources.limits.memory"
        )
    if pod is not None and pod.reason == "Evicted":
        return Reason.EVICTED, _shorten(f"pod {pod.name} was evicted: {pod.message or 'node pressure'}")
    if job_reason == "DeadlineExceeded":
        return Reason.DEADLINE_EXCEEDED, _shorten(
            "the run took longer than policy.timeout and was stopped "
            f"({job_message or 'Job deadline exceeded'})"
        )
    if container is not None and container.exit_code == EXIT_CONFIGURATION:
        detail = f": {_shorten(container.message, 512)}" if container.message else ""
        return (
            Reason.CONFIGURATION_ERROR,
            f"the engine stopped on a configuration error (exit code 2){detail}",
        )
    if container is not None and container.state == "terminated" and container.exit_code not in (None, 0):
        detail = f"; last output: {_shorten(container.message, 512)}" if container.message else ""
        reason = container.reason if container.reason not in ("", "Error") else ""
        return (
            Reason.ENGINE_FAILED,
            f"the engine exited with code {container.exit_code}{f' ({reason})' if reason else ''}{detail}",
        )
    if pod is not None and pod.container.state == "waiting" and pod.container.reason in STUCK_WAITING_REASONS:
        return pod.container.reason, _shorten(
            f"pod {pod.name}: {pod.container.message or pod.container.reason}"
        )
    detail = ": ".join(x for x in (job_reason, job_message) if x)
    return Reason.JOB_FAILED, _shorten(f"Job {job.name} failed" + (f" ({detail})" if detail else ""))
