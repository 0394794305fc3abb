"""What an activity must have for the placeholders it and its sink dataset use.

- {windowStart}, {windowEnd} (and ADF's windowStartTime, windowEndTime) need `spec.schedule.window`:
  only the run of a tumbling window has a window. A LookupActivity has no windows.
- {scheduledTime} (ADF: trigger().scheduledTime) needs `spec.schedule` (cron or window).
- {triggerTime} and {runId} always have a value.
- SQL the engine builds ({incrementalRange}, ?AdfDynamicRangePartitionCondition) stands in SQL code only.
- Windows that may run at the same time (`window.maxConcurrency` above 1) and write files need a window
  placeholder in the dataset's folderPath or fileName, or in the sink's fileNamePrefix: each window
  then writes, and replaces, only its own output. Without one, every window would write the same files.

The dataset is another object, so this is judged when the activity's references are resolved
(api/resolve.py), by the operator (the InvalidSpec reason of the Ready condition) and by
`impala-copy validate` alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from impala_copy.api.activities import CopyActivity, LookupActivity
from impala_copy.api.placeholders import (
    NAMES,
    WINDOW_END,
    WINDOW_START,
    Found,
    Needs,
    PlaceholderError,
    ValueKind,
    Where,
    find,
    shown,
)
from impala_copy.api.plan import SinkPlan
from impala_copy.api.schedule import Schedule

Template = tuple[str, str, bool]  # (where it is written, its text, whether it is SQL)


def copy_templates(activity: CopyActivity, sink: SinkPlan) -> Iterator[Template]:
    """The texts of a copy that may hold placeholders: the query, additional columns, the sink's paths."""
    spec = activity.spec
    if spec.source.query:
        yield "source.query", spec.source.query, True
    for column in spec.source.additional_columns or []:
        yield f"source.additionalColumns {column.name!r}", column.value, False
    yield from _path_templates(activity, sink)


def _path_templates(activity: CopyActivity, sink: SinkPlan) -> Iterator[Template]:
    settings = activity.spec.sink.format_settings
    prefix = settings.file_name_prefix if settings else None
    if prefix:
        yield "sink.formatSettings.fileNamePrefix", prefix, False
    location: Any = sink.dataset.get("location")
    if isinstance(location, dict):
        dataset = f"{sink.dataset_kind} {activity.spec.outputs[0].reference_name!r}"
        for field in ("folderPath", "fileName"):
            if isinstance(location.get(field), str):
                yield f"location.{field} of {dataset}", location[field], False


def _found(templates: Iterator[Template]) -> Iterator[tuple[str, Found]]:
    for where, text, sql in templates:
        try:
            found = find(text, sql=sql)
        except PlaceholderError as exc:
            raise ValueError(f"{where}: {exc}") from None
        for item in found:
            yield where, item


def _unmet(where: str, item: Found, schedule: Schedule | None, *, windows: bool) -> str | None:
    needs = NAMES[item.name].needs
    if NAMES[item.name].kind == ValueKind.SQL and item.where != Where.CODE:
        return (
            f"{shown(item.text)} in {where} stands for SQL the engine builds: write it in SQL code, not in "
            "a quoted string, an identifier, a comment, a path or a column value"
        )
    if needs == Needs.WINDOW and not windows:
        return (
            f"{shown(item.text)} in {where} needs a tumbling window, which a LookupActivity does not have "
            "(spec.schedule.window is for CopyActivities)"
        )
    if needs == Needs.WINDOW and (schedule is None or schedule.window is None):
        return (
            f"{shown(item.text)} in {where} needs spec.schedule.window: only the run of a tumbling "
            "window has a window start and end"
        )
    if needs == Needs.SCHEDULE and schedule is None:
        return (
            f"{shown(item.text)} in {where} needs spec.schedule (cron or window): only a scheduled run "
            "has a scheduled time"
        )
    return None


def copy_placeholder_problem(activity: CopyActivity, sink: SinkPlan) -> str | None:
    """Why the copy's placeholders cannot all have values, or None (ValueError: not placeholders at all)."""
    schedule = activity.spec.schedule
    for where, item in _found(copy_templates(activity, sink)):
        problem = _unmet(where, item, schedule, windows=True)
        if problem:
            return problem
    window = schedule.window if schedule else None
    if window is not None and window.max_concurrency > 1 and "location" in sink.dataset:
        names = {item.name for _, item in _found(_path_templates(activity, sink))}
        if not names & {WINDOW_START, WINDOW_END}:
            return (
                f"schedule.window.maxConcurrency is {window.max_concurrency}, but every window would write "
                "the same files: put {windowStart} (e.g. dt={windowStart:yyyy-MM-dd}) into the dataset's "
                "folderPath or fileName, or into sink.formatSettings.fileNamePrefix"
            )
    return None


def lookup_placeholder_problem(activity: LookupActivity) -> str | None:
    """Why the lookup's query placeholders cannot all have values, or None."""
    query = activity.spec.source.query
    templates: Iterator[Template] = iter([("source.query", query, True)] if query else [])
    for where, item in _found(templates):
        problem = _unmet(where, item, activity.spec.schedule, windows=False)
        if problem:
            return problem
    return None


__all__ = ["copy_placeholder_problem", "copy_templates", "lookup_placeholder_problem"]
