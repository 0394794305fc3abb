"""What the operator keeps of the objects it watches: small, typed records built from raw bodies.

Pure functions, safe on any shape (kmock does not validate, and users can write anything): a field
of the wrong type reads as absent. ConfigMaps are reduced to their key names; Secrets are never
watched or read.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from impala_copy.api.common import API_GROUP
from impala_copy.api.plan import PLAN_ENV
from impala_copy.controller.core.constants import (
    ANNOTATION_GENERATION,
    ANNOTATION_PLAN_DIGEST,
    ANNOTATION_RERUN_WINDOW,
    ANNOTATION_RUN_NOW,
    ANNOTATION_SCHEDULED_TIME,
    ANNOTATION_TRIGGER,
    ANNOTATION_WINDOW_END,
    ANNOTATION_WINDOW_START,
    ENGINE_CONTAINER,
    LABEL_ATTEMPT,
    LABEL_RUN,
    LABEL_STEP,
    POD_INDEX_KEYS,
    POD_JOB_NAME_LABELS,
    RUNNING_KINDS,
    STEPS,
)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def str_map(value: Any) -> dict[str, str]:
    return {k: v for k, v in as_dict(value).items() if isinstance(k, str) and isinstance(v, str)}


def same_attempt(old_run: Mapping[str, Any], new_run: Mapping[str, Any]) -> bool:
    """Whether two `status.lastRun` records are of one attempt: its run and attempt numbers (not its Job's
    name: a partitioned copy's step Jobs each become `jobName` in turn)."""
    return bool(old_run) and (old_run.get("runId"), old_run.get("attempt")) == (
        new_run.get("runId"),
        new_run.get("attempt"),
    )


@dataclass(frozen=True)
class Meta:
    """The metadata fields the operator reads."""

    name: str
    namespace: str
    uid: str | None
    generation: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    deleting: bool
    created: str | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Meta:
        meta = as_dict(body.get("metadata"))
        return cls(
            name=as_str(meta.get("name")) or "",
            namespace=as_str(meta.get("namespace")) or "default",
            uid=as_str(meta.get("uid")),
            generation=as_int(meta.get("generation")) or 1,
            labels=str_map(meta.get("labels")),
            annotations=str_map(meta.get("annotations")),
            deleting=bool(meta.get("deletionTimestamp")),
            created=as_str(meta.get("creationTimestamp")),
        )


def object_record(body: Mapping[str, Any]) -> dict[str, Any]:
    """A plain copy of one of our objects (what the resolver and reconciler read)."""
    meta = as_dict(body.get("metadata"))
    keep = (
        "name",
        "namespace",
        "uid",
        "generation",
        "labels",
        "annotations",
        "deletionTimestamp",
        "creationTimestamp",
    )
    record: dict[str, Any] = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: copy.deepcopy(meta[k]) for k in keep if k in meta},
    }
    for key in ("spec", "status"):
        if key in body:
            record[key] = copy.deepcopy(body[key])
    return record


@dataclass(frozen=True)
class JobCondition:
    type: str
    status: str
    reason: str
    message: str
    time: str | None


@dataclass(frozen=True)
class WindowRef:
    """The tumbling window a run copies (RFC 3339 UTC), and the rerun-window value that started it."""

    start: str
    end: str
    rerun: str | None = None


def window_ref(annotations: Mapping[str, str]) -> WindowRef | None:
    """The window recorded in a Job's annotations, or None (not a window's run, or half written)."""
    start, end = annotations.get(ANNOTATION_WINDOW_START), annotations.get(ANNOTATION_WINDOW_END)
    if not start or not end:
        return None
    return WindowRef(start, end, annotations.get(ANNOTATION_RERUN_WINDOW))


@dataclass(frozen=True)
class JobRecord:
    """A Job of one of our objects' runs: which run and attempt it is, and how it is doing."""

    name: str
    namespace: str
    activity: str  # the owner's name
    kind: str  # the owner's kind (CopyActivity, LookupActivity, ImpalaLinkedService)
    owner_uid: str | None
    run_number: int
    attempt: int
    generation: int
    trigger: str
    run_now: str | None
    plan_digest: str | None
    created: str | None
    start_time: str | None
    completion_time: str | None
    active: int
    succeeded: int
    failed: int
    conditions: tuple[JobCondition, ...]
    deleting: bool
    window: WindowRef | None = None  # the tumbling window the run copies
    scheduled_time: str | None = None  # the due time of a scheduled run (RFC 3339)
    # A step of a partitioned copy (core/steps.py): which step, the Job's completions and the indexes
    # done and failed (an Indexed Job), and the plan its pod runs (the next step's starting point).
    step: str | None = None
    completions: int = 1
    completed_indexes: frozenset[int] = frozenset()
    failed_indexes: frozenset[int] = frozenset()
    plan_text: str | None = None

    def condition(self, type_: str) -> JobCondition | None:
        for cond in self.conditions:
            if cond.type == type_ and cond.status == "True":
                return cond
        return None

    @property
    def run_id(self) -> str:
        return str(self.run_number)


def controller_owner(
    body: Mapping[str, Any], kind: str, api_group: str | None
) -> tuple[str, str | None] | None:
    """(name, uid) of the controlling owner of that kind, if any."""
    for ref in as_list(as_dict(body.get("metadata")).get("ownerReferences")):
        ref = as_dict(ref)
        if ref.get("kind") != kind or not ref.get("controller"):
            continue
        api_version = as_str(ref.get("apiVersion")) or ""
        if api_group is not None and api_version.split("/")[0] != api_group:
            continue
        name = as_str(ref.get("name"))
        if name:
            return name, as_str(ref.get("uid"))
    return None


# Most indexes an index list may name (the CRD caps parallelCopies, hence completions, at 256).
INDEX_LIMIT = 1024


def index_set(text: Any, completions: int) -> frozenset[int]:
    """The indexes of a Job's `completedIndexes` / `failedIndexes` ("1,3-5,7"), those below `completions`
    only; anything malformed reads as none."""
    found: set[int] = set()
    limit = min(max(completions, 0), INDEX_LIMIT)
    for part in (as_str(text) or "").split(","):
        low, _, high = part.strip().partition("-")
        first, last = as_int(low), as_int(high or low)
        if first is None or last is None or first < 0 or last < first:
            continue
        found.update(range(first, min(last, limit - 1) + 1))
    return frozenset(found)


def _plan_text(spec: Mapping[str, Any]) -> str | None:
    """The plan in the first container's environment (PLAN_ENV), or None."""
    pod = as_dict(as_dict(spec.get("template")).get("spec"))
    for container in map(as_dict, as_list(pod.get("containers"))[:1]):
        for var in map(as_dict, as_list(container.get("env"))):
            if var.get("name") == PLAN_ENV:
                return as_str(var.get("value"))
    return None


def _step_fields(meta: Meta, body: Mapping[str, Any]) -> dict[str, Any]:
    """What a step Job of a partitioned copy adds to its record; nothing for any other Job."""
    step = meta.labels.get(LABEL_STEP)
    if step not in STEPS:
        return {}
    spec, status = as_dict(body.get("spec")), as_dict(body.get("status"))
    completions = max(1, min(as_int(spec.get("completions")) or 1, INDEX_LIMIT))
    return {
        "step": step,
        "completions": completions,
        "completed_indexes": index_set(status.get("completedIndexes"), completions),
        "failed_indexes": index_set(status.get("failedIndexes"), completions),
        "plan_text": _plan_text(spec),
    }


def job_record(body: Mapping[str, Any]) -> JobRecord | None:
    """The record of a Job controlled by one of our running kinds; None for any other Job."""
    for kind in RUNNING_KINDS:
        owner = controller_owner(body, kind, API_GROUP)
        if owner is not None:
            break
    else:
        return None
    meta = Meta.of(body)
    status = as_dict(body.get("status"))
    conditions = tuple(
        JobCondition(
            type=as_str(c.get("type")) or "",
            status=as_str(c.get("status")) or "",
            reason=as_str(c.get("reason")) or "",
            message=as_str(c.get("message")) or "",
            time=as_str(c.get("lastTransitionTime")),
        )
        for c in map(as_dict, as_list(status.get("conditions")))
    )
    return JobRecord(
        name=meta.name,
        namespace=meta.namespace,
        activity=owner[0],
        kind=kind,
        owner_uid=owner[1],
        run_number=as_int(meta.labels.get(LABEL_RUN)) or 0,
        attempt=as_int(meta.labels.get(LABEL_ATTEMPT)) or 1,
        generation=as_int(meta.annotations.get(ANNOTATION_GENERATION)) or 0,
        trigger=meta.annotations.get(ANNOTATION_TRIGGER, ""),
        run_now=meta.annotations.get(ANNOTATION_RUN_NOW),
        plan_digest=meta.annotations.get(ANNOTATION_PLAN_DIGEST),
        created=meta.created,
        start_time=as_str(status.get("startTime")),
        completion_time=as_str(status.get("completionTime")),
        active=as_int(status.get("active")) or 0,
        succeeded=as_int(status.get("succeeded")) or 0,
        failed=as_int(status.get("failed")) or 0,
        conditions=conditions,
        deleting=meta.deleting,
        window=window_ref(meta.annotations),
        scheduled_time=meta.annotations.get(ANNOTATION_SCHEDULED_TIME),
        **_step_fields(meta, body),
    )


@dataclass(frozen=True)
class ContainerState:
    state: str  # waiting, running, terminated or "" when unknown
    reason: str
    message: str
    exit_code: int | None
    finished_at: str | None


@dataclass(frozen=True)
class PodRecord:
    """A pod of a copy Job: its phase and the engine container's state."""

    name: str
    namespace: str
    job_name: str
    phase: str
    reason: str
    message: str
    created: str | None
    container: ContainerState
    unschedulable: str | None
    deleting: bool
    index: int | None = None  # the completion index of an Indexed Job's pod


def _container_state(raw: Mapping[str, Any]) -> ContainerState:
    states = as_dict(raw.get("state"))
    for state in ("terminated", "waiting", "running"):
        detail = states.get(state)
        if isinstance(detail, dict):
            return ContainerState(
                state=state,
                reason=as_str(detail.get("reason")) or "",
                message=as_str(detail.get("message")) or "",
                exit_code=as_int(detail.get("exitCode")),
                finished_at=as_str(detail.get("finishedAt")),
            )
    return ContainerState("", "", "", None, None)


def pod_job_name(body: Mapping[str, Any]) -> str | None:
    owner = controller_owner(body, "Job", "batch")
    if owner:
        return owner[0]
    labels = Meta.of(body).labels
    for label in POD_JOB_NAME_LABELS:
        if labels.get(label):
            return labels[label]
    return None


def _pod_index(meta: Meta) -> int | None:
    for key in POD_INDEX_KEYS:
        index = as_int(meta.annotations.get(key, meta.labels.get(key)))
        if index is not None and 0 <= index < INDEX_LIMIT:
            return index
    return None


def pod_record(body: Mapping[str, Any]) -> PodRecord | None:
    job_name = pod_job_name(body)
    if job_name is None:
        return None
    meta = Meta.of(body)
    status = as_dict(body.get("status"))
    statuses = [as_dict(s) for s in as_list(status.get("containerStatuses"))]
    engine = next((s for s in statuses if s.get("name") == ENGINE_CONTAINER), statuses[0] if statuses else {})
    unschedulable = None
    for cond in map(as_dict, as_list(status.get("conditions"))):
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            unschedulable = as_str(cond.get("message")) or "no node fits the pod"
    return PodRecord(
        name=meta.name,
        namespace=meta.namespace,
        job_name=job_name,
        phase=as_str(status.get("phase")) or "",
        reason=as_str(status.get("reason")) or "",
        message=as_str(status.get("message")) or "",
        created=meta.created,
        container=_container_state(engine),
        unschedulable=unschedulable,
        deleting=meta.deleting,
        index=_pod_index(meta),
    )


def config_map_keys(body: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        k for k in (*as_dict(body.get("data")), *as_dict(body.get("binaryData"))) if isinstance(k, str)
    )


def owned_by(body: Mapping[str, Any], uid: str | None) -> bool:
    """Whether an object carries an ownerReference to the object with this uid (never true without one)."""
    owners = as_list(as_dict(body.get("metadata")).get("ownerReferences"))
    return bool(uid) and any(as_dict(o).get("uid") == uid for o in owners)
