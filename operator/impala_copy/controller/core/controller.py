"""The one shape of a kind's controller: reconcile one object into actions, without I/O.

A controller is registered for a kind (`core/registry.py`). The reconciler (core/reconcile.py) hands it
the object, the cluster view, the status it last wrote and the clock (`PlanContext`); the controller
returns `Actions`: the status to write, the Job to create, the Jobs to delete, a result ConfigMap to
write or drop, a pod log to read first, the Events to post and when to look again. The reconciler
applies them through the one API client, one status writer and one Event poster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from impala_copy.controller.core.records import JobRecord
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.status import EventSpec
from impala_copy.controller.core.view import ClusterView


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


__all__ = ["Actions", "KindController", "LogRequest", "PlanContext"]
