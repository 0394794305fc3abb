"""Pipelines: each Copy activity reading an ImpalaSource becomes a CopyActivity, each Lookup on Impala a
LookupActivity, with the schedule of the trigger that starts the pipeline. Everything else a pipeline
holds (other activities, control flow, variables, dependsOn) is reported with its JSON path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from impala_copy.adf import mapping
from impala_copy.adf.expressions import binding
from impala_copy.adf.reader import PIPELINE, AdfResource
from impala_copy.adf.triggers import TriggerPlan

if TYPE_CHECKING:
    from impala_copy.adf.convert import Import

IMPALA_SOURCE = "ImpalaSource"
# Control-flow activities and where they hold their inner activities.
CONTAINERS: dict[str, tuple[str, ...]] = {
    "ForEach": ("activities",),
    "Until": ("activities",),
    "IfCondition": ("ifTrueActivities", "ifFalseActivities"),
    "Switch": ("defaultActivities",),
}
WATERMARK_STEPS = ("SqlServerStoredProcedure", "Script")
INCREMENTAL_HINT = (
    "this pipeline looks like ADF's incremental copy with a watermark (Lookup + Copy + stored "
    "procedure): use spec.source.incremental on the CopyActivity instead (docs/incremental.md)"
)


def import_pipelines(state: Import, resources: Sequence[AdfResource], plans: list[TriggerPlan]) -> None:
    pipelines = {r.name: r for r in resources if r.category == PIPELINE}
    chosen = _choose_triggers(state, plans, pipelines)
    for pipeline in pipelines.values():
        _pipeline(state, pipeline, chosen.get(pipeline.name))


def _choose_triggers(
    state: Import, plans: list[TriggerPlan], pipelines: dict[str, AdfResource]
) -> dict[str, TriggerPlan]:
    """The trigger of each pipeline: the first by name; more triggers of one pipeline are reported."""
    chosen: dict[str, TriggerPlan] = {}
    for plan in plans:
        for name in plan.bindings:
            path = f"{plan.trigger.path}.properties"
            if name not in pipelines:
                state.report(plan.trigger, path, f"starts pipeline {name!r}, which is not in the input")
            elif name in chosen:
                other = chosen[name].trigger.name
                state.report(
                    plan.trigger,
                    path,
                    f"pipeline {name!r} already takes its schedule from trigger {other!r}: an activity has "
                    "one schedule (copy the activity's manifest under another name for this one)",
                )
            else:
                chosen[name] = plan
    return chosen


def _pipeline(state: Import, pipeline: AdfResource, plan: TriggerPlan | None) -> None:
    props = pipeline.properties
    base = f"{pipeline.path}.properties"
    bindings = _defaults(props.get("parameters"))
    if plan is not None:
        bindings.update(plan.bindings.get(pipeline.name, {}))
    state.subject = ""
    for key in ("variables", "concurrency"):
        if props.get(key):
            state.report(pipeline, f"{base}.{key}", f"pipeline {key} have no counterpart: not imported")
    listed = props.get("activities")
    activities: list[Any] = listed if isinstance(listed, list) else []
    types = {a.get("type") for a in activities if isinstance(a, dict)}
    if {"Lookup", "Copy"} <= types and types & set(WATERMARK_STEPS):
        state.report(pipeline, f"{base}.activities", INCREMENTAL_HINT)
    for index, activity in enumerate(activities):
        state.subject = ""  # findings about the pipeline itself name the pipeline
        path = f"{base}.activities[{index}]"
        if not isinstance(activity, dict):
            state.report(pipeline, path, "not an activity (a JSON object): not imported")
            continue
        table = _table(state, pipeline, activity, path)
        if table is not None:
            _activity(state, pipeline, activity, (table, path, bindings, plan))


def _defaults(parameters: Any) -> dict[str, str]:
    """Pipeline parameters' default values, as bindings."""
    out: dict[str, str] = {}
    for name, spec in (parameters or {}).items() if isinstance(parameters, dict) else []:
        if isinstance(spec, dict) and "defaultValue" in spec:
            text = binding(spec["defaultValue"])
            if text is not None:
                out[str(name)] = text
    return out


def _table(state: Import, pipeline: AdfResource, activity: dict[str, Any], path: str) -> Any:
    """The table for an activity, or None after reporting why it is not imported."""
    kind = activity.get("type")
    source = ((activity.get("typeProperties") or {}).get("source") or {}).get("type")
    if activity.get("state") == "Inactive":
        state.report(pipeline, f"{path}.state", "an inactive activity (ADF skips it): not imported")
        return None
    if kind in ("Copy", "Lookup") and source == IMPALA_SOURCE:
        return mapping.COPY_ACTIVITY if kind == "Copy" else mapping.LOOKUP_ACTIVITY
    name = str(activity.get("name"))[:80]
    if kind in ("Copy", "Lookup"):
        reason = f"{kind} activity {name!r} reads a {source!r}: impala-copy reads from Impala only"
    elif kind in CONTAINERS or kind == "Switch":
        reason = (
            f"{kind} activity {name!r}: control flow has no counterpart; its inner activities are not "
            "imported"
        )
        _inner(state, pipeline, activity, path)
    else:
        reason = f"{str(kind)[:60]} activity {name!r} has no counterpart in impala-copy"
    state.report(pipeline, path, reason)
    return None


def _inner(state: Import, pipeline: AdfResource, activity: dict[str, Any], path: str) -> None:
    """Report each activity inside a control-flow activity, with its path."""
    props = activity.get("typeProperties") or {}
    lists = [
        (f"typeProperties.{key}", props.get(key)) for key in CONTAINERS.get(str(activity.get("type")), ())
    ]
    for index, case in enumerate(props.get("cases") or []):
        if isinstance(case, dict):
            lists.append((f"typeProperties.cases[{index}].activities", case.get("activities")))
    for where, inner in lists:
        for index, child in enumerate(inner if isinstance(inner, list) else []):
            name = str(child.get("name") if isinstance(child, dict) else "?")[:80]
            state.report(
                pipeline, f"{path}.{where}[{index}]", f"activity {name!r} inside control flow: not imported"
            )


def _activity(state: Import, pipeline: AdfResource, activity: dict[str, Any], how: tuple[Any, ...]) -> None:
    table, path, bindings, plan = how
    name = str(activity.get("name", ""))
    identity = f"{pipeline.name}/{name}"
    subject = f"{pipeline.subject}, activity {name!r}"
    state.start(pipeline, table.kind, identity, f"{pipeline.name}-{name}", subject)
    state.bindings = bindings
    extra: dict[str, Any] = {}
    if plan is not None and plan.is_window and table.kind != "CopyActivity":
        state.report(
            plan.trigger,
            f"{plan.trigger.path}.properties",
            f"activity {name!r} of pipeline "
            f"{pipeline.name!r}: tumbling windows apply to a CopyActivity only; not scheduled",
        )
    elif plan is not None:
        extra["schedule"] = plan.schedule
        if plan.policy:
            extra["policy"] = plan.policy
    if state.build(table, activity, (pipeline, identity, path), extra) is None:
        state.discard_templates(identity)
