"""The one shape of a kind's controller: reconcile one object into actions, without I/O.

A controller is registered for a kind (`core/registry.py`). The reconciler (core/reconcile.py) hands it
the object, the cluster view, the status it last wrote and the clock (`PlanContext`); the controller
returns `Actions`: the status to write, the Job to create, the Jobs to delete, a result ConfigMap to
write or drop, a pod log to read first, the Events to post and when to look again. The reconciler
applies them through the one API client, one status writer and one Event poster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from impala_copy.api.schedule import Schedule
from impala_copy.controller.core.constants import ANNOTATION_RUN_NOW
from impala_copy.controller.core.job import TaskPlan, plan_digest
from impala_copy.controller.core.records import JobRecord, Meta, as_dict
from impala_copy.controller.core.run_change import RunChange
from impala_copy.controller.core.run_plan import JobFactory, RunInputs, RunState
from impala_copy.controller.core.runs import RunPolicy, Wanted
from impala_copy.controller.core.schedule import CronWish, floor
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.status import EventSpec, merge_patch
from impala_copy.controller.core.timeutil import parse_time
from impala_copy.controller.core.view import ClusterView, ViewCatalog


@dataclass(frozen=True)
class LogRequest:
    """Read (at most `limit_bytes` of) a pod's log before deciding; the text comes back in `logs`."""

    pod: str
    container: str
    limit_bytes: int


@dataclass(frozen=True)
class Actions:
    """What one reconciliation does."""

    status: dict[str, Any] | None = None  # the new status (None: leave it)
    status_patch: dict[str, Any] = field(default_factory=dict)
    create: dict[str, Any] | None = None  # a Job manifest
    delete: tuple[str, ...] = ()  # Job names
    events: tuple[EventSpec, ...] = ()
    recheck_after: float | None = None  # seconds
    refs: frozenset[tuple[str, str]] = frozenset()  # (kind, name) looked at
    config_map: dict[str, Any] | None = None  # a ConfigMap the object owns, to create or replace
    drop_config_map: str | None = None  # a ConfigMap the object owns, to delete
    read_log: LogRequest | None = None  # read this first, then reconcile again
    # The attempts this status write starts or ends, for the metrics, when status.lastRun alone does
    # not tell (a CopyActivity's tumbling windows run several at once); None: told from lastRun.
    runs: tuple[RunChange, ...] | None = None


@dataclass(frozen=True)
class PlanContext:
    """Everything a controller decides from."""

    view: ClusterView
    old_status: Mapping[str, Any]
    settings: Settings
    now: datetime
    extra_jobs: Sequence[JobRecord] = ()  # created, not yet seen on the watch
    logs: Mapping[str, str] = field(default_factory=dict)  # pod name -> log text read for this object
    notes: Mapping[str, str] = field(default_factory=dict)  # Job name -> why its output could not be stored


class KindController(Protocol):
    """Reconciles the objects of one kind."""

    kind: str

    def plan(self, body: Mapping[str, Any], ctx: PlanContext) -> Actions: ...


# ------------------------------------------------------------------ what every controller does first and last
C = TypeVar("C")


@dataclass(frozen=True)
class Observed(Generic[C]):
    """An object as a controller sees it: metadata, the status last written, its check, what it looked at."""

    meta: Meta
    old: dict[str, Any]
    checked: C
    refs: frozenset[tuple[str, str]]


def observe(
    body: Mapping[str, Any], ctx: PlanContext, check: Callable[[Mapping[str, Any], ViewCatalog], C]
) -> Observed[C]:
    """Parse and check the object against the cluster view, remembering every reference looked at."""
    meta = Meta.of(body)
    catalog = ViewCatalog(ctx.view, meta.namespace)
    checked = check(body, catalog)
    return Observed(meta, dict(as_dict(ctx.old_status)), checked, frozenset(catalog.seen))


def wanted(
    meta: Meta,
    policy: RunPolicy,
    *,
    ready: bool,
    every_seconds: int | None = None,
    plan: TaskPlan | None = None,
    cron: CronWish | None = None,
) -> Wanted:
    """What the object asks for now: its generation, the run-now annotation, retries, a repeat interval,
    a cron schedule."""
    return Wanted(
        generation=meta.generation,
        run_now=meta.annotations.get(ANNOTATION_RUN_NOW),
        policy=policy,
        ready=ready,
        every_seconds=every_seconds,
        plan_digest=plan_digest(plan) if plan is not None else None,
        cron=cron,
    )


def cron_wish(schedule: Schedule | None, seen: Observed[Any], now: datetime) -> CronWish | None:
    """A cron schedule with its handled mark from status (core/schedule.floor); None without one."""
    if schedule is None or schedule.cron is None:
        return None
    old = seen.old
    mark = floor(
        parse_time(old.get("lastScheduleTime")),
        parse_time(old.get("nextScheduleTime")),
        parse_time(seen.meta.created),
        has_status=bool(old.get("conditions") or old.get("observedGeneration")),
        now=now,
    )
    return CronWish(schedule, mark, was_suspended=old.get("suspended") is True)


def run_inputs(
    kind: str,
    seen: Observed[Any],
    ctx: PlanContext,
    want: Wanted,
    make_job: JobFactory,
    history: tuple[int, int],
    status_key: str = "lastRun",
) -> RunInputs:
    return RunInputs(
        kind=kind,
        meta=seen.meta,
        wanted=want,
        make_job=make_job,
        old_status=seen.old,
        now=ctx.now,
        history=history,
        summary_grace_seconds=ctx.settings.summary_grace_seconds,
        status_key=status_key,
        extra_jobs=ctx.extra_jobs,
    )


def run_actions(
    seen: Observed[Any],
    status: dict[str, Any],
    state: RunState,
    events: Sequence[EventSpec],
    **extra: Any,
) -> Actions:
    """The actions of a running kind: its status, the Job to create, the Jobs to delete, the Events."""
    return Actions(
        status=status,
        status_patch=merge_patch(seen.old, status),
        create=state.create,
        delete=state.delete,
        events=tuple(events),
        recheck_after=state.recheck_after,
        refs=seen.refs,
        **extra,
    )


__all__ = [
    "Actions",
    "KindController",
    "LogRequest",
    "Observed",
    "PlanContext",
    "cron_wish",
    "observe",
    "run_actions",
    "run_inputs",
    "wanted",
]
