"""The vocabulary of runs, shared by every kind that runs something (copies, lookups, connection tests).

A run is one Job (its attempts are Jobs too). Its phase is one of `Phase`; why it started is one of
`Trigger`. Status fields, Job annotations, Events and the docs use exactly these words.
"""

from __future__ import annotations

from enum import StrEnum


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


__all__ = ["Phase", "Trigger"]
