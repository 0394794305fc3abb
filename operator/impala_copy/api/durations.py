"""Durations as the API writes them: ADF timespans and Go-style durations."""

from __future__ import annotations

import re

# ADF timespans: [D.]HH:MM:SS
TIMESPAN_PATTERN = r"^([0-9]{1,3}\.)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]$"
_TIMESPAN = re.compile(TIMESPAN_PATTERN)
# Go-style durations for Kubernetes-shaped settings: 90s, 5m, 1h30m
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def timespan_seconds(value: str) -> int:
    """Seconds in an ADF timespan `[D.]HH:MM:SS` (e.g. 0.12:00:00 -> 43200)."""
    if not _TIMESPAN.match(value):
        raise ValueError(f"not a timespan [D.]HH:MM:SS: {value!r}")
    days = 0
    if "." in value:
        d, value = value.split(".", 1)
        days = int(d)
    h, m, s = (int(x) for x in value.split(":"))
    return days * 86400 + h * 3600 + m * 60 + s


def duration_seconds(value: str) -> int:
    """Seconds in a Go-style duration such as 1h30m or 90s."""
    match = _DURATION.match(value)
    if not value or not match:
        raise ValueError(f"not a duration like 90s, 5m or 1h30m: {value!r}")
    h, m, s = (int(x) if x else 0 for x in match.groups())
    return h * 3600 + m * 60 + s
