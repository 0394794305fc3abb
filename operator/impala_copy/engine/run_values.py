"""The values of a run's placeholders (api/placeholders.py), from its plan, and the sink paths rendered.

    plan = with_trigger_time(plan)     # once, when the run starts
    values = run_values(plan)          # {windowStart: datetime, ..., runId: str}
    sql = build_select(plan.source, values)
    sink = rendered_sink(plan.sink, values)
    extra = rendered_columns(plan.source.additional_columns, values)

The values come from `plan.run_context` (filled by the operator, or by `impala-copy run` from its
--window-start, --window-end, --trigger-time and --scheduled-time) and `plan.run_id`. A plan without a
trigger time gets the time the engine started it, once, so the query and the paths of a run agree.
A placeholder the run has no value for, or a path that renders to one the rules refuse, is a
configuration error (exit code 2) naming it, raised before Impala or the sink is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from impala_copy.api.path_templates import FILE_NAME, FILE_NAME_PREFIX, FOLDER_PATH, render_template
from impala_copy.api.placeholder_rendering import render_text
from impala_copy.api.placeholders import (
    RUN_ID,
    SCHEDULED_TIME,
    TRIGGER_TIME,
    WINDOW_END,
    WINDOW_START,
    PlaceholderError,
    Value,
)
from impala_copy.api.plan import CopyPlan, LookupPlan, SinkPlan
from impala_copy.api.schedule import RunContext, parse_rfc3339
from impala_copy.engine.errors import ConfigurationError

P = TypeVar("P", CopyPlan, LookupPlan)


def now_rfc3339() -> str:
    """This moment in UTC as RFC 3339 text, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def with_trigger_time(plan: P) -> P:
    """The plan with a run context; a plan without one is triggered now."""
    if plan.run_context is not None:
        return plan
    return plan.model_copy(update={"run_context": RunContext(trigger_time=now_rfc3339())})


def _time(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise ConfigurationError(f"runContext.{field} {text[:40]!r} is not an RFC 3339 time: {exc}") from None


def run_values(plan: CopyPlan | LookupPlan) -> dict[str, Value]:
    """The value of every placeholder the run has (a missing one is not in the mapping)."""
    context = plan.run_context or RunContext(trigger_time=now_rfc3339())
    times = {
        TRIGGER_TIME: _time(context.trigger_time, "triggerTime"),
        SCHEDULED_TIME: _time(context.scheduled_time, "scheduledTime"),
        WINDOW_START: _time(context.window_start, "windowStart"),
        WINDOW_END: _time(context.window_end, "windowEnd"),
    }
    values: dict[str, Value] = {name: value for name, value in times.items() if value is not None}
    values[RUN_ID] = plan.run_id
    return values


def rendered_sink(sink: SinkPlan, values: Mapping[str, Value]) -> SinkPlan:
    """The sink with the placeholders of its folderPath, fileName and fileNamePrefix rendered."""
    try:
        dataset = _rendered_dataset(sink.dataset, values)
        settings = sink.sink.format_settings
        if settings is not None and settings.file_name_prefix:
            prefix = render_template(settings.file_name_prefix, FILE_NAME_PREFIX, values)
            settings = settings.model_copy(update={"file_name_prefix": prefix})
    except PlaceholderError as exc:
        raise ConfigurationError(str(exc)) from None
    return sink.model_copy(
        update={"dataset": dataset, "sink": sink.sink.model_copy(update={"format_settings": settings})}
    )


def rendered_columns(columns: list[tuple[str, str]], values: Mapping[str, Value]) -> list[tuple[str, str]]:
    """additionalColumns with the placeholders of their values rendered (a time as RFC 3339 text)."""
    try:
        return [
            (name, render_text(value, values, field=f"additionalColumns {name!r}")) for name, value in columns
        ]
    except PlaceholderError as exc:
        raise ConfigurationError(str(exc)) from None


def _rendered_dataset(dataset: Mapping[str, Any], values: Mapping[str, Value]) -> dict[str, Any]:
    location = dataset.get("location")
    if not isinstance(location, dict):
        return dict(dataset)  # not a file dataset: no paths
    rendered = dict(location)
    for key, field in (("folderPath", FOLDER_PATH), ("fileName", FILE_NAME)):
        if isinstance(rendered.get(key), str):
            rendered[key] = render_template(rendered[key], field, values)
    return {**dataset, "location": rendered}


__all__ = ["rendered_columns", "rendered_sink", "run_values", "with_trigger_time"]
