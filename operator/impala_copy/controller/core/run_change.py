"""What one status write means for the metrics: the attempts it shows started or finished. Pure.

An attempt is known by its run and attempt numbers (`records.same_attempt`; not by its Job's name: a
partitioned copy's step Jobs each become `jobName` in turn). It counts as started when a record names an
attempt the old one did not, and as finished (with the counters of its run summary) when the record turns
Succeeded or Failed for that attempt. The records compared are `status.lastRun` before and after a write
(`run_change`), or, for a CopyActivity with tumbling windows, each window's newest attempt before and after
(core/window_record.window_run_changes): reconciling the same finished run again changes nothing, and
a restarted operator reads the old record from the object, so nothing counts twice.

Reasons and triggers become labels only when they are plain codes (`label_code`); anything else is
`Other`, so no message (nor anything read from a Secret) ever becomes a label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from impala_copy.controller.core.constants import Reason
from impala_copy.controller.core.records import as_dict, as_int, as_list, as_str, same_attempt
from impala_copy.controller.core.timeutil import parse_time

SUCCEEDED = "succeeded"
FAILED = "failed"
OTHER = "Other"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def label_code(value: Any) -> str:
    """A reason or trigger as a label: plain codes as they are, anything else `Other`."""
    return value if isinstance(value, str) and _CODE.match(value) else OTHER


def _count(value: Any) -> int:
    return max(0, as_int(value) or 0)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(0.0, float(value))


@dataclass(frozen=True)
class PartitionCounts:
    """Rows and duration of one partition of a partitioned run (run summary `partitions[]`)."""

    index: int
    rows_read: int
    rows_copied: int
    duration: float


@dataclass(frozen=True)
class RunCounts:
    """The counters of a finished attempt: its run summary, and its end time (None when unknown)."""

    rows_read: int = 0
    rows_copied: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    files_written: int = 0
    duration: float = 0.0
    finished_at: float | None = None  # Unix time of completionTime
    partitions: tuple[PartitionCounts, ...] = ()

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> RunCounts:
        """From a lastRun-shaped record (camelCase: the summary's counters and the attempt's times)."""
        end, start = parse_time(record.get("completionTime")), parse_time(record.get("startTime"))
        duration = _seconds(record.get("copyDuration"))
        if not duration and end is not None and start is not None:
            duration = max(0.0, (end - start).total_seconds())
        partitions = []
        for entry in map(as_dict, as_list(record.get("partitions"))):
            index = as_int(entry.get("index"))
            if index is not None and index >= 0:
                rows = (_count(entry.get("rowsRead")), _count(entry.get("rowsCopied")))
                partitions.append(PartitionCounts(index, *rows, _seconds(entry.get("copyDuration"))))
        return cls(
            rows_read=_count(record.get("rowsRead")),
            rows_copied=_count(record.get("rowsCopied")),
            bytes_read=_count(record.get("dataRead")),
            bytes_written=_count(record.get("dataWritten")),
            files_written=_count(record.get("filesWritten")),
            duration=duration,
            finished_at=end.timestamp() if end is not None else None,
            partitions=tuple(sorted(partitions, key=lambda p: p.index)),
        )


@dataclass(frozen=True)
class RunChange:
    """What one status write means for the metrics of one attempt."""

    started: str | None = None  # the trigger of an attempt that started
    finished: tuple[str, str] | None = None  # (outcome, reason) of an attempt that ended
    counts: RunCounts = field(default_factory=RunCounts)  # of the attempt that ended
    active: bool = False  # the attempt is in progress after the write

    @property
    def rows_copied(self) -> int:
        return self.counts.rows_copied

    @property
    def bytes_written(self) -> int:
        return self.counts.bytes_written


def run_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> RunChange:
    """A CopyActivity's or LookupActivity's status before and after a write (`lastRun` of each)."""
    return record_change(as_dict(old.get("lastRun")), as_dict(new.get("lastRun")))


def record_change(old_run: Mapping[str, Any], new_run: Mapping[str, Any]) -> RunChange:
    """One attempt's record before and after a write: a new run or attempt number, a started attempt;
    Succeeded or Failed that the old record did not show for it, a finished one (its summary's counters)."""
    if not new_run:
        return RunChange()
    state = as_str(new_run.get("status"))
    same = same_attempt(old_run, new_run)
    started = None if same else label_code(new_run.get("trigger"))
    finished: tuple[str, str] | None = None
    counts = RunCounts()
    if state in ("Succeeded", "Failed") and (not same or old_run.get("status") != state):
        if state == "Succeeded":
            finished = (SUCCEEDED, Reason.RUN_SUCCEEDED)
        else:
            finished = (FAILED, label_code(new_run.get("reason") or Reason.JOB_FAILED))
        counts = RunCounts.of(new_run)
    active = state in ("Pending", "Running")
    return RunChange(started=started, finished=finished, counts=counts, active=active)


__all__ = [
    "FAILED",
    "OTHER",
    "SUCCEEDED",
    "PartitionCounts",
    "RunChange",
    "RunCounts",
    "label_code",
    "record_change",
    "run_change",
]
