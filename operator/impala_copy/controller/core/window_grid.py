"""The windows of a tumbling-window schedule: back-to-back [start, end) spans cut from startTime.

Pure time arithmetic, in UTC. Window `i` (0 for the first) starts `i x interval` units after
`startTime` and ends where window `i + 1` starts. Minute, Hour and Day windows have a fixed length;
Month windows are calendar months counted from startTime (the day of month is kept, or the month's
last day when it is shorter: from Jan 31 the windows start Feb 28, Mar 31, Apr 30, ...). A window
exists when it starts before `endTime` (no window starts at or after it); it is due once its end
plus `delay` has passed. Fractions of a second in startTime are dropped.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from impala_copy.api.durations import timespan_seconds
from impala_copy.api.schedule import TumblingWindow, WindowFrequency, parse_rfc3339

FIXED_UNITS = {
    WindowFrequency.MINUTE: timedelta(minutes=1),
    WindowFrequency.HOUR: timedelta(hours=1),
    WindowFrequency.DAY: timedelta(days=1),
}


FAR = datetime.max.replace(tzinfo=UTC)  # where time ends for windows: none starts or is due past it


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months; the day of month clamped to the target month's length."""
    years, month0 = divmod(moment.month - 1 + months, 12)
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


@dataclass(frozen=True)
class Grid:
    """Where the windows of one schedule.window lie."""

    origin: datetime  # start of window 0 (UTC, whole seconds)
    stop: datetime | None  # endTime: no window starts at or after it
    unit: WindowFrequency
    interval: int
    delay: timedelta

    @classmethod
    def of(cls, window: TumblingWindow) -> Grid:
        origin = parse_rfc3339(window.start_time).astimezone(UTC).replace(microsecond=0)
        stop = parse_rfc3339(window.end_time).astimezone(UTC) if window.end_time else None
        delay = timedelta(seconds=timespan_seconds(window.delay))
        return cls(origin, stop, window.frequency, window.interval, delay)

    @property
    def step(self) -> timedelta | None:
        """The fixed length of a window; None for Month windows."""
        unit = FIXED_UNITS.get(self.unit)
        return unit * self.interval if unit is not None else None

    def start(self, index: int) -> datetime:
        """Start of window `index`; FAR past the year 9999 (such a window never exists)."""
        step = self.step
        try:
            if step is not None:
                return self.origin + step * index
            return add_months(self.origin, index * self.interval)
        except (OverflowError, ValueError):
            return FAR

    def end(self, index: int) -> datetime:
        return self.start(index + 1)

    def exists(self, index: int) -> bool:
        start = self.start(index)
        return index >= 0 and start < FAR and (self.stop is None or start < self.stop)

    def due_at(self, index: int) -> datetime:
        """When window `index` may run: its end plus delay (FAR: never)."""
        try:
            return self.end(index) + self.delay
        except OverflowError:
            return FAR

    def index_of(self, start: datetime, end: datetime | None = None) -> int | None:
        """The index of the window that starts at `start` (and ends at `end`, when given), or None."""
        index = self.first_ending_after(start)
        if not self.exists(index) or self.start(index) != start:
            return None
        if end is not None and self.end(index) != end:
            return None
        return index

    def first_ending_after(self, moment: datetime) -> int:
        """The smallest index whose window ends after `moment` (0 when `moment` is before startTime)."""
        if moment < self.origin:
            return 0
        step = self.step
        if step is not None:
            return (moment - self.origin) // step
        months = (moment.year - self.origin.year) * 12 + moment.month - self.origin.month
        index = max(0, months // self.interval - 1)
        while self.end(index) <= moment:
            index += 1
        return index


__all__ = ["FAR", "Grid", "add_months"]
