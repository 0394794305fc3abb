"""Schedule and tumbling-window triggers -> `spec.schedule` of the activities of their pipeline.

A schedule trigger's recurrence becomes `schedule.cron` where five cron fields say exactly the same
times (a cron schedule restarts its steps every hour, day or month, so an interval that does not
divide it evenly is reported), in the IANA zone for its Windows time zone name. A tumbling-window
trigger becomes `schedule.window`; its retryPolicy becomes the activity's policy. What a trigger
passes to its pipeline's parameters is kept as bindings for the activities' text
(adf/expressions.py).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from impala_copy.adf.expressions import Unmappable, binding, unwrap
from impala_copy.adf.findings import Findings
from impala_copy.adf.reader import AdfResource
from impala_copy.adf.timezones import iana_zone

SCHEDULE = "ScheduleTrigger"
TUMBLING_WINDOW = "TumblingWindowTrigger"
_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})")
_ZONE = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
WEEK_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


@dataclass
class TriggerPlan:
    """What one trigger gives the activities of each pipeline it starts."""

    trigger: AdfResource
    schedule: dict[str, Any]
    policy: dict[str, Any] = field(default_factory=dict)
    bindings: dict[str, dict[str, str]] = field(default_factory=dict)  # pipeline -> parameter -> text

    @property
    def is_window(self) -> bool:
        return "window" in self.schedule


def plan_trigger(resource: AdfResource, findings: Findings) -> TriggerPlan | None:
    """The plan of a schedule or tumbling-window trigger; None (and findings) for anything else."""
    props = resource.properties
    kind = props.get("type")
    report = _reporter(resource, findings)
    try:
        if kind == SCHEDULE:
            plan = _schedule(resource, report)
        elif kind == TUMBLING_WINDOW:
            plan = _window(resource, report)
        else:
            report(
                "type",
                f"trigger type {kind!r} has no counterpart: only schedule and tumbling-window "
                "triggers are imported",
            )
            return None
    except Unmappable as exc:
        report("typeProperties", f"not imported: {exc}")
        return None
    if props.get("runtimeState") == "Stopped":
        plan.schedule["suspend"] = True
    return plan


def _reporter(resource: AdfResource, findings: Findings) -> Any:
    def report(path: str, reason: str) -> None:
        findings.add(resource.origin, f"{resource.path}.properties.{path}", resource.subject, reason)

    return report


def _pipelines(entries: Any, report: Any, where: str) -> dict[str, dict[str, str]]:
    """pipeline name -> parameter bindings, from [{pipelineReference, parameters}]."""
    out: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        name = (
            (entry.get("pipelineReference") or {}).get("referenceName") if isinstance(entry, dict) else None
        )
        if not isinstance(name, str):
            report(f"{where}[{index}]", "no pipelineReference.referenceName: ignored")
            continue
        bound: dict[str, str] = {}
        for parameter, value in (entry.get("parameters") or {}).items():
            text = binding(value)
            if text is None:
                report(
                    f"{where}[{index}].parameters.{parameter}",
                    "the value passed is an expression that is not supported: the parameter is not bound",
                )
            else:
                bound[str(parameter)] = text
        out[name] = bound
    return out


def _schedule(resource: AdfResource, report: Any) -> TriggerPlan:
    props = resource.properties
    recurrence = (props.get("typeProperties") or {}).get("recurrence")
    if not isinstance(recurrence, dict):
        raise Unmappable("no typeProperties.recurrence")
    schedule: dict[str, Any] = {"cron": cron_of(recurrence)}
    zone_name = unwrap(recurrence.get("timeZone") or "UTC")
    zone = iana_zone(str(zone_name))
    if zone is None:
        raise Unmappable(
            f"time zone {str(zone_name)[:64]!r} is not known: use an IANA name such as Europe/Berlin"
        )
    schedule["timeZone"] = zone
    if recurrence.get("endTime"):
        report(
            "typeProperties.recurrence.endTime",
            "a cron schedule has no end time: set spec.schedule.suspend or delete the activity then",
        )
    pipelines = _pipelines(props.get("pipelines"), report, "pipelines")
    return TriggerPlan(resource, schedule, bindings=pipelines)


def _window(resource: AdfResource, report: Any) -> TriggerPlan:
    props = resource.properties
    tp = props.get("typeProperties")
    if not isinstance(tp, dict):
        raise Unmappable("no typeProperties")
    window: dict[str, Any] = {}
    for adf, ours, convert, _ in WINDOW_FIELDS:
        if tp.get(adf) is not None:
            window[ours] = convert(tp[adf], adf)
    for required in ("startTime", "frequency", "interval"):
        if required not in window:
            raise Unmappable(f"typeProperties.{required} is missing")
    policy: dict[str, Any] = {}
    written = tp.get("retryPolicy")
    retry: dict[str, Any] = written if isinstance(written, dict) else {}
    for adf, ours, _ in RETRY_FIELDS:
        if retry.get(adf) is not None:
            policy[ours] = _number(retry[adf], f"retryPolicy.{adf}")
    if tp.get("dependsOn"):
        report(
            "typeProperties.dependsOn",
            "window dependencies between triggers have no counterpart: each activity runs its own windows "
            "(order activities with Argo CD sync waves)",
        )
    pipeline = props.get("pipeline")
    pipelines = _pipelines([pipeline] if pipeline else [], report, "pipeline")
    return TriggerPlan(resource, {"window": window}, policy, pipelines)


def _utc(value: Any, name: str) -> str:
    text = str(unwrap(value) or "")
    if not _TIME.match(text):
        raise Unmappable(f"{name} {text[:40]!r} is not a date and time")
    return text if _ZONE.search(text) else text + "Z"


def _text(value: Any, name: str) -> str:
    return str(unwrap(value))


def _word(value: Any, name: str) -> str:
    text = unwrap(value)
    if not isinstance(text, str):
        raise Unmappable(f"{name} is missing")
    return text


def _number(value: Any, name: str) -> int:
    value = unwrap(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unmappable(f"{name} must be a whole number")
    return value


# typeProperties of a tumbling-window trigger -> spec.schedule.window: (ADF, ours, converter, note).
WINDOW_FIELDS: tuple[tuple[str, str, Any, str], ...] = (
    ("startTime", "startTime", _utc, "UTC: `Z` is added when no offset is written"),
    ("endTime", "endTime", _utc, "UTC: `Z` is added when no offset is written"),
    ("frequency", "frequency", _word, "Minute, Hour or Month (Day too)"),
    ("interval", "interval", _number, ""),
    ("delay", "delay", _text, "[D.]HH:MM:SS"),
    ("maxConcurrency", "maxConcurrency", _number, "1-50"),
)
# typeProperties.retryPolicy -> spec.policy of the CopyActivity: (ADF, ours, note).
RETRY_FIELDS = (
    ("count", "retry", "retries of a failed window"),
    ("intervalInSeconds", "retryIntervalInSeconds", "at least 30"),
)


# ------------------------------------------------------------------------------------------ cron


def cron_of(recurrence: dict[str, Any]) -> str:
    """Five cron fields for an ADF recurrence that cron can say exactly; Unmappable otherwise."""
    frequency = str(unwrap(recurrence.get("frequency")))
    interval = _number(recurrence.get("interval", 1), "interval")
    start = _TIME.match(str(unwrap(recurrence.get("startTime") or "")))
    if start is None:
        raise Unmappable("recurrence.startTime is not a date and time")
    month, day, hour, minute = (int(start.group(i)) for i in (2, 3, 4, 5))
    schedule = recurrence.get("schedule") or {}
    if not isinstance(schedule, dict) or interval < 1:
        raise Unmappable("recurrence.schedule must be an object and interval at least 1")
    if frequency in ("Minute", "Hour") and schedule:
        raise Unmappable(f"a schedule with frequency {frequency} is not supported")
    if frequency == "Minute":
        return f"{_steps(minute, interval, 60, 'minutes')} * * * *"
    if frequency == "Hour":
        return f"{minute} {_steps(hour, interval, 24, 'hours')} * * *"
    minutes = _list(schedule.get("minutes"), [minute], 0, 59, "minutes")
    hours = _list(schedule.get("hours"), [hour], 0, 23, "hours")
    if frequency == "Day":
        _once(interval, "days")
        return f"{minutes} {hours} * * *"
    if frequency == "Week":
        _once(interval, "weeks")
        return f"{minutes} {hours} * * {_week_days(schedule.get('weekDays'), start)}"
    if frequency == "Month":
        if schedule.get("monthlyOccurrences"):
            raise Unmappable("monthlyOccurrences (e.g. the last Friday) cannot be said in five cron fields")
        days = _list(schedule.get("monthDays"), [day], 1, 31, "monthDays")
        return f"{minutes} {hours} {days} {_steps(month - 1, interval, 12, 'months', offset=1)} *"
    raise Unmappable(f"frequency {frequency!r} is not one of Minute, Hour, Day, Week, Month")


def _steps(first: int, interval: int, cycle: int, unit: str, offset: int = 0) -> str:
    """Every `interval` units from `first` within a cycle of `cycle` units, as a cron field."""
    if cycle % interval:
        raise Unmappable(f"every {interval} {unit} does not divide {cycle}: cron restarts each cycle")
    if interval == 1:
        return "*"
    values = range(first % interval, cycle, interval)
    return ",".join(str(v + offset) for v in values)


def _once(interval: int, unit: str) -> None:
    if interval != 1:
        raise Unmappable(f"every {interval} {unit} cannot be said in five cron fields")


def _list(value: Any, default: list[int], low: int, high: int, name: str) -> str:
    items = default if value in (None, []) else unwrap(value)
    if not isinstance(items, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        raise Unmappable(f"{name} must be a list of whole numbers")
    if any(i < low or i > high for i in items):
        raise Unmappable(f"{name} outside {low}-{high} (e.g. -1, the last day) cannot be said in cron")
    return ",".join(str(i) for i in sorted(set(items)))


def _week_days(value: Any, start: re.Match[str]) -> str:
    if value in (None, []):
        day = datetime.date(int(start.group(1)), int(start.group(2)), int(start.group(3)))
        return str((day.weekday() + 1) % 7)
    if not isinstance(value, list) or not all(v in WEEK_DAYS for v in value):
        raise Unmappable("weekDays must be a list of day names (Sunday ... Saturday)")
    return ",".join(str(WEEK_DAYS.index(v)) for v in sorted(set(value), key=WEEK_DAYS.index))
