"""The controller of kinds that only get checked (datasets, sink linked services): the Ready condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impala_copy.controller.core.controller import Actions, PlanContext
from impala_copy.controller.core.readiness import object_readiness
from impala_copy.controller.core.records import Meta, as_dict
from impala_copy.controller.core.status import merge_patch, ready_events, ready_status
from impala_copy.controller.core.view import ViewCatalog

# The status fields the Ready check owns (others may belong to a connection test).
READY_FIELDS = ("observedGeneration", "conditions")


def plan_ready(body: Mapping[str, Any], ctx: PlanContext) -> Actions:
    """observedGeneration and the Ready condition; the rest of the status is left as it is."""
    old_status = as_dict(ctx.old_status)
    meta = Meta.of(body)
    catalog = ViewCatalog(ctx.view, meta.namespace)
    readiness = object_readiness(body, catalog)
    refs = frozenset(catalog.seen)
    if meta.deleting:
        return Actions(refs=refs)
    new = ready_status(old_status, readiness, meta.generation, ctx.now)
    mine = {k: old_status[k] for k in READY_FIELDS if k in old_status}
    return Actions(
        status={**old_status, **new},
        status_patch=merge_patch(mine, new),
        events=tuple(ready_events(old_status, new)),
        refs=refs,
    )


class ReadyController:
    """Datasets and sink linked services: Ready says whether everything they refer to exists."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def plan(self, body: Mapping[str, Any], ctx: PlanContext) -> Actions:
        return plan_ready(body, ctx)


__all__ = ["READY_FIELDS", "ReadyController", "plan_ready"]
