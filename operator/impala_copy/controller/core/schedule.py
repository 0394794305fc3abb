"""Cron schedules by the clock: which due times have passed, which one may start, which were missed.

Pure functions of a `Schedule`, the clock and what was already handled (docs/schedules.md):

- Due times are wall-clock times in `schedule.timeZone`, computed by croniter. On a spring-forward day a
  time inside the gap (02:30 in Europe/Berlin) runs once, at the first instant after the gap (03:00
  local time). On a fall-back day a time that happens twice (02:30) runs once, at its first occurrence,
  unless the hour field is `*` (hourly and finer schedules run in both hours: they are an hour apart).
- The handled mark is level-based: the newest due time recorded in status (`lastScheduleTime`: its run
  started or it was counted missed) or on a Job (annotation impalacopy.io/scheduled-time).
- Of the due times after the mark, only the newest may start; the older ones are missed. The newest is
  missed too when it is more than `startingDeadlineSeconds` late, or when it passed while suspended.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from impala_copy.api.schedule import ConcurrencyPolicy, Schedule, time_zone

# Due times counted one by one after the handled mark; beyond this many, the count stops there (an
# every-minute schedule after a week of outage) and the newest due time is found from the clock.
COUNT_LIMIT = 2000

MISSED_OPERATOR_DOWN = "operator down"
MISSED_DEADLINE = "startingDeadlineSeconds passed"
MISSED_SUSPENDED = "suspended"
MISSED_BUSY = "the previous run was still in progress"


@dataclass(frozen=True)
class CronWish:
    """What a cron schedule asks for, with the handled mark known from status and the object."""

    schedule: Schedule
    floor: datetime  # due times at or before this are handled (status.lastScheduleTime, or see floor())
    was_suspended: bool = False  # status.suspended as last written: due times since then are missed

    @property
    def replace(self) -> bool:
        return self.schedule.concurrency_policy == ConcurrencyPolicy.REPLACE


@dataclass(frozen=True)
class CronTurn:
    """Where a schedule stands now."""

    due: datetime | None  # the due time to start now (or to wait for the running run)
    missed: int  # due times after the floor counted missed now (added to status.missedRuns)
    missed_reason: str | None
    handled: datetime | None  # the newest due time handled: status.lastScheduleTime
    next_at: datetime | None  # the next due time after now (None while suspended)
    deadline_at: datetime | None = None  # when a waiting due run is too late and becomes missed
    suspended: bool = False


def _zone(schedule: Schedule) -> ZoneInfo:
    return time_zone(schedule.time_zone)


def _hour_is_wildcard(expression: str) -> bool:
    return bool(croniter(expression).expanded[1] == ["*"])


def _second_occurrence(moment: datetime, zone: ZoneInfo) -> bool:
    """A wall-clock time that also happened an hour earlier (the repeated hour of a fall-back day)."""
    wall = moment.astimezone(zone).replace(tzinfo=None, fold=0)
    first = wall.replace(tzinfo=zone)
    # Compared in UTC: datetimes of the same zone compare by wall-clock time, ignoring fold.
    return first.astimezone(UTC) < moment.astimezone(UTC)


def due_times(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """The due times strictly after `after`, oldest first, in UTC."""
    assert schedule.cron is not None
    zone = _zone(schedule)
    every_hour = _hour_is_wildcard(schedule.cron)
    times = croniter(schedule.cron, after.astimezone(zone))
    while True:
        moment: datetime = times.get_next(datetime)
        if every_hour or not _second_occurrence(moment, zone):
            yield moment.astimezone(UTC)


def next_due(schedule: Schedule, after: datetime) -> datetime:
    """The first due time strictly after `after`."""
    return next(due_times(schedule, after))


def _newest_due(schedule: Schedule, until: datetime) -> datetime:
    """The newest due time at or before `until` (used once the count limit is reached)."""
    assert schedule.cron is not None
    zone = _zone(schedule)
    newest: datetime = croniter(schedule.cron, until.astimezone(zone) + timedelta(seconds=1)).get_prev(
        datetime
    )
    while _second_occurrence(newest, zone) and not _hour_is_wildcard(schedule.cron):
        newest = croniter(schedule.cron, newest).get_prev(datetime)
    return newest.astimezone(UTC)


def passed_due_times(
    schedule: Schedule, floor: datetime, now: datetime
) -> tuple[int, datetime | None, datetime | None]:
    """How many due times lie in (floor, now] (at most COUNT_LIMIT), the newest, and the one before it."""
    count, newest, previous = 0, None, None
    for moment in due_times(schedule, floor):
        if moment > now:
            return count, newest, previous
        count, newest, previous = count + 1, moment, newest
        if count >= COUNT_LIMIT:
            newest = _newest_due(schedule, now)
            return count, newest, _newest_due(schedule, newest - timedelta(seconds=1))
    raise AssertionError("unreachable")  # pragma: no cover - due_times never ends


def _late(wish: CronWish, due: datetime, now: datetime) -> bool:
    deadline = wish.schedule.starting_deadline_seconds
    return deadline is not None and (now - due).total_seconds() > deadline


def _missed_before(wish: CronWish, started: list[datetime]) -> tuple[int, datetime | None]:
    """Due times after the floor, up to the newest started one, that have no run; and that newest."""
    if not started:
        return 0, None
    newest_started = max(started)
    count, _, _ = passed_due_times(wish.schedule, wish.floor, newest_started)
    return max(0, count - len(started)), newest_started


def cron_turn(wish: CronWish, started: Iterable[datetime], now: datetime, busy: bool = False) -> CronTurn:
    """The due time to start now, the due times missed since the floor, the handled mark, the next time.

    `started` are the scheduled times of the runs seen (from their Jobs or status.lastRun): a due time
    with a run is handled, and a run for a newer due time makes the older ones missed. Counted from the
    floor (status), so the count is the same before and after the run's Job exists. `busy`: a run is in
    progress (due times it kept from starting are missed for that reason, not for an operator outage).
    """
    schedule = wish.schedule
    before, newest_started = _missed_before(wish, sorted({t for t in started if t > wish.floor}))
    count, newest, previous = passed_due_times(schedule, newest_started or wish.floor, now)
    late_reason = MISSED_BUSY if busy else MISSED_OPERATOR_DOWN
    reason = late_reason if before else None
    if schedule.suspend or wish.was_suspended or (newest is not None and _late(wish, newest, now)):
        why = MISSED_DEADLINE if not (schedule.suspend or wish.was_suspended) else MISSED_SUSPENDED
        upcoming = None if schedule.suspend else next_due(schedule, now)
        return CronTurn(
            None, before + count, why if count else reason, newest or newest_started, upcoming,
            suspended=schedule.suspend,
        )  # fmt: skip
    upcoming = next_due(schedule, now)
    if newest is None:
        return CronTurn(None, before, reason, newest_started, upcoming)
    earlier = before + count - 1
    deadline = schedule.starting_deadline_seconds
    return CronTurn(
        due=newest,
        missed=earlier,
        missed_reason=late_reason if earlier else None,
        handled=previous or newest_started,
        next_at=upcoming,
        deadline_at=newest + timedelta(seconds=deadline) if deadline is not None else None,
    )


def floor(
    last_schedule_time: datetime | None,
    next_schedule_time: datetime | None,
    created: datetime | None,
    has_status: bool,
    now: datetime,
) -> datetime:
    """The handled mark from status and the object, when no run of the schedule is seen.

    status.lastScheduleTime when set; else the instant before status.nextScheduleTime (the schedule was
    seen, nothing has come due yet); else the object's creation when it has no status yet (a schedule
    never backfills: the first due time is the first after the object was created); else now (a
    schedule added to an existing object starts counting from when it is first seen).
    """
    if last_schedule_time is not None:
        return last_schedule_time
    if next_schedule_time is not None:
        return next_schedule_time - timedelta(microseconds=1)
    if created is not None and not has_status:
        return min(created, now)
    return now


__all__ = [
    "COUNT_LIMIT",
    "MISSED_BUSY",
    "MISSED_DEADLINE",
    "MISSED_OPERATOR_DOWN",
    "MISSED_SUSPENDED",
    "CronTurn",
    "CronWish",
    "cron_turn",
    "due_times",
    "floor",
    "next_due",
    "passed_due_times",
]
