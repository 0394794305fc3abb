"""The vocabulary of runs, shared by every kind that runs something (copies, lookups, connection tests).

A run is one Job (its attempts are Jobs too). Its phase is one of `Phase`; why it started is one of
`Trigger`. Status fields, Job annotations, Events and the docs use exactly these words.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from impala_copy.api.model import ApiModel


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class Trigger(StrEnum):
    """Why a run started."""

    CREATE = "create"  # the object was applied and has never run
    SPEC_CHANGE = "specChange"  # metadata.generation changed
    RUN_NOW = "runNow"  # the annotation impalacopy.io/run-now took a new value
    RETRY = "retry"  # the previous attempt failed and policy.retry allows another
    INTERVAL = "interval"  # a repeat interval passed (refreshInterval, probeIntervalSeconds)
    REFERENCE_CHANGE = "referenceChange"  # what the run waited for was fixed elsewhere (a new plan)
    SCHEDULE = "schedule"  # a due time of spec.schedule.cron came
    WINDOW = "window"  # a tumbling window became due (schedule.window)
    RERUN_WINDOW = "rerunWindow"  # the annotation impalacopy.io/rerun-window named a window


class AttemptRecord(ApiModel):
    """The newest attempt of a run: its Job, trigger, state and times (kept when the Job is gone)."""

    run_id: str | None = Field(default=None, description="Identifier of the run (shared by its attempts).")
    trigger: str | None = Field(
        default=None,
        description="What started the run: create, specChange, runNow, retry, interval, schedule.",
    )
    job_name: str | None = Field(default=None, description="The Job that runs the attempt.")
    status: Phase | None = Field(default=None, description="Pending, Running, Succeeded or Failed.")
    exit_code: int | None = Field(default=None, description="Exit code of the engine (2: not retried).")
    attempt: int = Field(default=1, description="Attempt number, 1 for the first.")
    generation: int | None = Field(default=None, description="metadata.generation the run was started for.")
    start_time: str | None = Field(default=None, description="RFC 3339 start of the attempt.")
    completion_time: str | None = Field(default=None, description="RFC 3339 end of the attempt.")
    reason: str | None = Field(
        default=None, description="Reason of a failure, e.g. AuthenticationFailed, ResultTooLarge."
    )


__all__ = ["AttemptRecord", "Phase", "Trigger"]
