"""When an activity runs by the clock: a cron schedule (Kubernetes CronJob's fields) or tumbling windows
(ADF's tumbling-window trigger), on `spec.schedule` of a CopyActivity or a LookupActivity.

A cron schedule starts one run at each due time in `timeZone`. Tumbling windows cut time from
`startTime` into back-to-back windows of `interval` x `frequency`; each window is one run of its own
(its start and end reach the query and the sink paths) and runs once the window has ended plus `delay`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import Field, field_validator

from impala_copy.api.durations import TIMESPAN_PATTERN
from impala_copy.api.model import ApiModel
from impala_copy.api.rules import Rule, RuledModel

# Five fields (minute hour day-of-month month day-of-week) or one of the usual macros.
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_PATTERN = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$"
CRON_MAX_LENGTH = 128
TIME_ZONE_MAX_LENGTH = 64
# An IANA time zone name such as UTC, Europe/Berlin, America/Argentina/Buenos_Aires or Etc/GMT+5.
TIME_ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"
# RFC 3339 with a zone: 2026-12-01T00:00:00Z or 2026-12-01T00:00:00+01:00.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def parse_rfc3339(value: str) -> datetime:
    """A zone-aware datetime from RFC 3339 text (a `Z` suffix is UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone offset (write Z or +HH:MM)")
    return parsed


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as UTC or Europe/Berlin"
        ) from None


def _comes_due(expression: str) -> bool:
    """Whether a valid cron expression has a next time at all (croniter gives up after some years)."""
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return False
    return True


class ConcurrencyPolicy(StrEnum):
    """What a due run does while the previous run of the same activity is still running.

    There is no `Allow`: two runs of one activity write the same output (the same folder, file or
    table), and a file sink's run replaces its previous output, so overlapping runs would race on it.
    """

    FORBID = "Forbid"  # the due run waits for the running one (within startingDeadlineSeconds)
    REPLACE = "Replace"  # the running run's Job is deleted and the due run starts


class WindowFrequency(StrEnum):
    """The unit of a tumbling window's length (ADF: frequency); ADF has Minute, Hour and Month."""

    MINUTE = "Minute"
    HOUR = "Hour"
    DAY = "Day"
    MONTH = "Month"


class TumblingWindow(RuledModel):
    """Back-to-back windows from startTime, each copied by its own run (ADF: tumbling-window trigger)."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="!has(self.endTime) || timestamp(self.endTime) > timestamp(self.startTime)",
            message="window.endTime must be after window.startTime",
            check=lambda m: m.end_time is None or parse_rfc3339(m.end_time) > parse_rfc3339(m.start_time),
        ),
    )

    start_time: str = Field(
        max_length=40,
        pattern=RFC3339_PATTERN,
        description="Start of the first window, RFC 3339 with a zone, e.g. 2026-12-01T00:00:00Z "
        "(ADF: startTime). Windows before now are backfilled, oldest first.",
    )
    end_time: str | None = Field(
        default=None,
        max_length=40,
        pattern=RFC3339_PATTERN,
        description="No window starts at or after this time (ADF: endTime). Default: no end.",
    )
    frequency: WindowFrequency = Field(description="Unit of the window length: Minute, Hour, Day or Month.")
    interval: int = Field(
        ge=1, le=10000, description="Window length in units of frequency, e.g. Hour and 1 (ADF: interval)."
    )
    delay: str = Field(
        default="00:00:00",
        max_length=16,
        pattern=TIMESPAN_PATTERN,
        description="Wait this long after a window ends before running it, [D.]HH:MM:SS (ADF: delay). "
        "Default 00:00:00.",
    )
    max_concurrency: int = Field(
        default=1,
        ge=1,
        le=50,
        description="Windows run at the same time, each its own Job (ADF: maxConcurrency). Default 1.",
    )

    @field_validator("start_time", "end_time")
    @classmethod
    def _is_a_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_rfc3339(value).astimezone(UTC)
            except OverflowError:
                raise ValueError(f"{value!r} is out of range (years 0001 to 9999 in UTC)") from None
        return value


class Schedule(RuledModel):
    """Run by the clock: `cron` (with timeZone) or `window` (tumbling windows), not both."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="has(self.cron) != has(self.window)",
            message="schedule needs exactly one of cron or window",
            check=lambda m: (m.cron is None) != (m.window is None),
        ),
    )

    cron: str | None = Field(
        default=None,
        max_length=CRON_MAX_LENGTH,
        pattern=CRON_PATTERN,
        description="When runs start: five cron fields (minute hour day-of-month month day-of-week) or "
        "@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually; read in timeZone.",
    )
    time_zone: str = Field(
        default="UTC",
        max_length=TIME_ZONE_MAX_LENGTH,
        pattern=TIME_ZONE_PATTERN,
        description="IANA time zone the cron expression is read in, e.g. Europe/Berlin. Default UTC.",
    )
    suspend: bool = Field(
        default=False,
        description="Start no scheduled run while true; a run in progress finishes. Default false.",
    )
    concurrency_policy: ConcurrencyPolicy = Field(
        default=ConcurrencyPolicy.FORBID,
        description="A due run while the previous one still runs: Forbid (wait for it) or Replace (stop "
        "it and start the due one). Default Forbid. Windows use window.maxConcurrency instead.",
    )
    starting_deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        le=31 * 86400,
        description="A due run that cannot start within this many seconds of its time (the operator was "
        "down, or a run was still going) is skipped and counted in status.missedRuns. Default: a missed "
        "run starts late, once.",
    )
    window: TumblingWindow | None = Field(
        default=None, description="Tumbling windows (ADF: tumbling-window trigger); CopyActivity only."
    )

    # Before the pattern: the message names the value and what is expected, not a regular expression.
    @field_validator("cron", mode="before")
    @classmethod
    def _cron_parses(cls, value: object) -> object:
        if not isinstance(value, str) or len(value) > CRON_MAX_LENGTH:
            return value  # the type and the length are checked next, with their own messages
        if value not in CRON_MACROS and not (re.match(CRON_PATTERN, value) and croniter.is_valid(value)):
            raise ValueError(
                f"cron {value!r} is not a valid cron expression (five fields: minute hour day-of-month "
                "month day-of-week, or a macro such as @daily)"
            )
        if not _comes_due(value):
            raise ValueError(f"cron {value!r} never comes due (e.g. a day that no month has, such as 30 2)")
        return value

    @field_validator("time_zone", mode="before")
    @classmethod
    def _zone_exists(cls, value: object) -> object:
        if isinstance(value, str) and len(value) <= TIME_ZONE_MAX_LENGTH:
            time_zone(value)
        return value


class RunContext(ApiModel):
    """When and for which window a run runs: what the query and the sink paths can refer to.

    Every time is RFC 3339 in UTC. A run started by hand or by a spec change has only `triggerTime`.
    """

    trigger_time: str = Field(description="When the run was triggered (its scheduled time, if scheduled).")
    scheduled_time: str | None = Field(default=None, description="The cron time the run is for.")
    window_start: str | None = Field(default=None, description="Start of the run's window (inclusive).")
    window_end: str | None = Field(default=None, description="End of the run's window (exclusive).")


class ScheduleStatus(ApiModel):
    """What status shows of a cron schedule (the status of a CopyActivity or LookupActivity has it)."""

    last_schedule_time: str | None = Field(
        default=None,
        description="RFC 3339 newest due time of schedule.cron handled: its run started, or it was missed.",
    )
    next_schedule_time: str | None = Field(
        default=None, description="RFC 3339 next due time of schedule.cron (none while suspended)."
    )
    missed_runs: int | None = Field(
        default=None,
        description="Due times of schedule.cron that started no run (operator down, startingDeadlineSeconds "
        "passed, suspended), counted since the object was created.",
    )
    suspended: bool | None = Field(
        default=None, description="schedule.suspend as last acted upon (Argo CD shows Suspended)."
    )


__all__ = [
    "CRON_MACROS",
    "ConcurrencyPolicy",
    "RunContext",
    "Schedule",
    "ScheduleStatus",
    "TumblingWindow",
    "WindowFrequency",
    "parse_rfc3339",
    "time_zone",
]
