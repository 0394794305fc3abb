"""`impala-copy engine --task copy|partition-plan|commit|lookup|connection-test`: the Job pods' entry point.

In:  the task's plan as JSON in the environment variable IMPALA_COPY_PLAN (CopyPlan, LookupPlan or
     ConnectionTestPlan, api/plan.py); a partitioned copy's copy task reads the partition whose index
     is in JOB_COMPLETION_INDEX (set by Kubernetes in each pod of an Indexed Job); each secret in the
     environment variable its SecretRef names (`valueFrom.secretKeyRef` in the Job); CA files at the
     paths its CertRefs name.
Out: the task's summary (RunSummary, PartitionPlanSummary, LookupSummary or ConnectionTestSummary) as
     compact JSON, written to the termination message file (`/dev/termination-log`, or the file named
     by IMPALA_COPY_TERMINATION_LOG; at most 4 KiB) and printed on stdout as the last line. A lookup
     output too large for the termination message is printed on stdout first, as frame lines
     (api/lookup_frames.py). Progress lines go to stderr.
The commit task (a partitioned copy's last step, engine/commit_run.py) takes the CopyPlan and reports
     the whole run's RunSummary, like a copy.
Exit codes: copy, commit and lookup 0 (succeeded), 1 (failed, a retry may help) or 2 (failed, retrying is
     pointless); connection test 0 (connected) or 1 (not connected); any task 2 for a missing or
     invalid plan (with a summary naming the problem).
SIGTERM (the Job or pod being deleted) aborts the task like a failure: nothing is published.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from impala_copy.api.partitions import PARTITION_INDEX_ENV
from impala_copy.api.plan import (
    PLAN_ENV,
    TASK_COMMIT,
    TASK_CONNECTION_TEST,
    TASK_COPY,
    TASK_LOOKUP,
    TASK_PARTITION_PLAN,
    TASKS,
    ConnectionTestPlan,
    CopyPlan,
    LookupPlan,
    SecretRef,
)
from impala_copy.api.pod_contract import TERMINATION_MESSAGE_PATH
from impala_copy.api.summary import (
    ConnectionTestSummary,
    LookupSummary,
    PartitionPlanSummary,
    RunError,
    RunSummary,
    visible_failure,
)
from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK, EXIT_TRANSIENT, CopyError
from impala_copy.engine.pipeline import Progress
from impala_copy.engine.probe import rfc3339

if TYPE_CHECKING:
    from impala_copy.engine.run import RunOutcome

TERMINATION_LOG_ENV = "IMPALA_COPY_TERMINATION_LOG"
DEFAULT_TERMINATION_LOG = TERMINATION_MESSAGE_PATH
PROGRESS_EVERY_SECONDS = 10.0
INVALID_CONFIGURATION = "InvalidConfiguration"

log = logging.getLogger("impala_copy.engine")

PlanT = TypeVar("PlanT", bound=BaseModel)


class Terminated(BaseException):
    """SIGTERM arrived: stop the run (sinks abort on BaseException)."""


class TaskTerminated(CopyError):
    """How a task stopped by SIGTERM is reported (a retry may help)."""

    code = "Terminated"


class PlanError(ValueError):
    """IMPALA_COPY_PLAN is missing or does not hold a valid plan of the task."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


class Summary(Protocol):
    def to_termination_message(self) -> str: ...


class HasSecrets(Protocol):
    def secret_refs(self) -> list[SecretRef]: ...


@dataclass(frozen=True)
class Report:
    """How a task ended: its summary, the exit code, and the lines printed on stdout before the summary."""

    summary: Summary
    exit_code: int
    lines: tuple[str, ...] = ()


def load_plan(environ: Mapping[str, str], model: type[PlanT]) -> PlanT:
    """The plan in IMPALA_COPY_PLAN; PlanError naming the variable, the plan kind and the first problem."""
    kind = model.__name__
    raw = environ.get(PLAN_ENV)
    if not raw:
        raise PlanError(f"environment variable {PLAN_ENV} is not set: it must hold the {kind} as JSON")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlanError(
            f"{PLAN_ENV} is not a valid {kind} ({exc.error_count()} errors; {where}: {first['msg']})"
        ) from None


def secrets_from(plan: HasSecrets, environ: Mapping[str, str]) -> dict[str, str]:
    """The plan's secrets found in the environment; a missing one fails later, naming its Secret and key."""
    return {ref.env: environ[ref.env] for ref in plan.secret_refs() if ref.env in environ}


class ProgressLog:
    """Logs a progress line at most every PROGRESS_EVERY_SECONDS."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_SECONDS:
            self._last = now
            log.info(
                "progress rows=%d rowsPerSecond=%.0f dataRead=%d",
                p.rows_written,
                p.rows_per_second,
                p.data_read,
            )


def write_termination_message(summary: Summary, environ: Mapping[str, str]) -> str:
    """Write the summary to the termination message file (every task); returns the text written."""
    message = summary.to_termination_message()
    path = environ.get(TERMINATION_LOG_ENV, DEFAULT_TERMINATION_LOG)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(message)
    except OSError as exc:
        log.warning("cannot write the termination message to %s: %s", path, exc)
    return message


def utc_now() -> str:
    """The current time as RFC 3339 UTC, to the second (as Kubernetes writes times)."""
    return rfc3339(datetime.now(UTC))


# ------------------------------------------------------------------------------------------ copy


def partition_index(environ: Mapping[str, str]) -> int | None:
    """The index in JOB_COMPLETION_INDEX (None when unset); PlanError when it is not a whole number."""
    raw = environ.get(PARTITION_INDEX_ENV)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise PlanError(f"{PARTITION_INDEX_ENV} {raw[:20]!r} is not a partition index (a whole number)")
    return int(raw)


def run_copy_task(environ: Mapping[str, str]) -> Report:
    from impala_copy.engine.run import execute  # imports the HiveServer2 client only when there is work

    plan = load_plan(environ, CopyPlan)
    index = partition_index(environ)
    where = f" (partition {index})" if index is not None else ""
    log.info("run %s of CopyActivity %s/%s started%s", plan.run_id, plan.namespace, plan.activity, where)
    secrets = secrets_from(plan, environ)
    return _run_report(plan, lambda: execute(plan, secrets, progress=ProgressLog(), partition=index))


def run_commit_task(environ: Mapping[str, str]) -> Report:
    from impala_copy.engine.commit_run import commit_run

    plan = load_plan(environ, CopyPlan)
    log.info("commit of run %s of CopyActivity %s/%s (%d partitions) started", plan.run_id, plan.namespace,
             plan.activity, len(plan.partitions))  # fmt: skip
    return _run_report(plan, lambda: commit_run(plan, secrets_from(plan, environ)), what="commit of run")


def _run_report(plan: CopyPlan, task: Callable[[], RunOutcome], what: str = "run") -> Report:
    """A copy's or a commit's outcome as a Report (a signal stops it as a failure)."""
    try:
        outcome = task()
        summary, code = outcome.summary, outcome.exit_code
    except (Terminated, KeyboardInterrupt):
        stopped = TaskTerminated(f"the {what.split()[0]} was stopped by a signal")
        summary = RunSummary(status="Failed", errors=[RunError(code=stopped.code, message=stopped.message)])
        code = stopped.exit_code
    if plan.secure_output:
        summary.output_paths = []
    log.info(
        "%s %s %s: rowsCopied=%d filesWritten=%d copyDuration=%.1fs",
        what, plan.run_id, summary.status, summary.rows_copied, summary.files_written, summary.copy_duration,
    )  # fmt: skip
    return Report(summary, code)


# -------------------------------------------------------------------------------- partition-plan


def run_partition_plan_task(environ: Mapping[str, str]) -> Report:
    from impala_copy.engine.partition_task import failed, partition_plan_summary

    plan = load_plan(environ, CopyPlan)
    log.info("partition plan %s of CopyActivity %s/%s started", plan.run_id, plan.namespace, plan.activity)
    try:
        summary, code = partition_plan_summary(plan, secrets_from(plan, environ))
    except (Terminated, KeyboardInterrupt):
        summary, code = failed(TaskTerminated("the planning was stopped by a signal"), secure_input=False)
    log.info("partition plan %s %s: partitions=%d", plan.run_id, summary.status, len(summary.partitions))
    return Report(summary, code)


# ---------------------------------------------------------------------------------------- lookup


def failed_lookup(error: CopyError, duration_seconds: float = 0.0, *, secure_input: bool = False) -> Report:
    code, message = visible_failure(error.code, error.message, secure_input=secure_input)
    summary = LookupSummary(
        status="Failed",
        error=RunError(code=code, message=message),
        duration_seconds=round(duration_seconds, 3),
    )
    return Report(summary, error.exit_code)


def run_lookup_task(environ: Mapping[str, str]) -> Report:
    from impala_copy.engine.lookup import lookup_summary, run_lookup

    plan = load_plan(environ, LookupPlan)
    log.info("lookup %s of LookupActivity %s/%s started", plan.run_id, plan.namespace, plan.activity)
    started = time.monotonic()
    try:
        succeeded, lines = lookup_summary(run_lookup(plan, secrets_from(plan, environ)))
        report = Report(succeeded, EXIT_OK, tuple(lines))
    except CopyError as exc:
        report = failed_lookup(exc, time.monotonic() - started, secure_input=plan.secure_input)
    except (Terminated, KeyboardInterrupt):
        report = failed_lookup(
            TaskTerminated("the lookup was stopped by a signal"), time.monotonic() - started
        )
    except Exception as exc:  # noqa: BLE001 - reported in the summary, never a bare traceback
        unexpected = CopyError(f"unexpected {type(exc).__name__} while running the lookup")
        report = failed_lookup(unexpected, time.monotonic() - started)
    summary = report.summary
    assert isinstance(summary, LookupSummary)
    log.info(
        "lookup %s %s: rows=%d truncated=%s sizeBytes=%d duration=%.1fs%s",
        plan.run_id, summary.status, summary.rows, summary.truncated, summary.size_bytes,
        summary.duration_seconds, f" frames={summary.frames.chunks}" if summary.frames else "",
    )  # fmt: skip
    return report


# ------------------------------------------------------------------------------- connection test


def run_connection_test_task(environ: Mapping[str, str]) -> Report:
    from impala_copy.engine.probe import probe_with_watchdog

    plan = load_plan(environ, ConnectionTestPlan)
    log.info("connection test %s of ImpalaLinkedService %s/%s started", plan.run_id, plan.namespace,
             plan.linked_service)  # fmt: skip
    probed_at, started = utc_now(), time.monotonic()
    try:
        summary = probe_with_watchdog(plan.impala, secrets_from(plan, environ)).to_summary()
    except (Terminated, KeyboardInterrupt):
        summary = ConnectionTestSummary(
            connected=False,
            reason="Timeout",
            message="the connection test was stopped by a signal before it finished",
            probed_at=probed_at,
            duration_milliseconds=round((time.monotonic() - started) * 1000.0, 3),
        )
    log.info("connection test %s: %s", plan.run_id, summary.reason)
    return Report(summary, 0 if summary.connected else EXIT_TRANSIENT)


# ------------------------------------------------------------------------------------- dispatch

TaskRunner = Callable[[Mapping[str, str]], Report]
TASK_RUNNERS: dict[str, TaskRunner] = {
    TASK_COPY: run_copy_task,
    TASK_PARTITION_PLAN: run_partition_plan_task,
    TASK_COMMIT: run_commit_task,
    TASK_LOOKUP: run_lookup_task,
    TASK_CONNECTION_TEST: run_connection_test_task,
}


def invalid_plan(task: str, message: str) -> Report:
    """The summary of a task that could not start: its plan is missing or invalid (exit code 2)."""
    summary: Summary
    error = RunError(code=INVALID_CONFIGURATION, message=message)
    if task == TASK_LOOKUP:
        summary = LookupSummary(status="Failed", error=error)
    elif task == TASK_PARTITION_PLAN:
        summary = PartitionPlanSummary(status="Failed", error=error)
    elif task == TASK_CONNECTION_TEST:
        summary = ConnectionTestSummary(
            connected=False, reason=INVALID_CONFIGURATION, message=message, probed_at=utc_now(),
            duration_milliseconds=0.0,
        )  # fmt: skip
    else:
        summary = RunSummary(status="Failed", errors=[error])
    return Report(summary, EXIT_CONFIGURATION)


def run(environ: Mapping[str, str], task: str = TASK_COPY) -> int:
    """Run one task; print its frame lines and summary, write the termination message; the exit code."""
    runner = TASK_RUNNERS.get(task)
    if runner is None:
        report = invalid_plan(TASK_COPY, f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    else:
        try:
            report = runner(environ)
        except PlanError as exc:
            report = invalid_plan(task, str(exc))
    for line in report.lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    print(write_termination_message(report.summary, environ), flush=True)
    return report.exit_code


def main(task: str = TASK_COPY) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    return run(os.environ, task)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else TASK_COPY))
