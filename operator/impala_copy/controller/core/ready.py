"""The controller of kinds that only get checked (datasets, sink linked services): the Ready condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impala_copy.controller.core.controller import Actions, PlanContext, observe
from impala_copy.controller.core.readiness import object_readiness
from impala_copy.controller.core.status import merge_patch, ready_events, ready_status

# The status fields the Ready check owns (others may belong to a connection test).
READY_FIELDS = ("observedGeneration", "conditions")


def plan_ready(body: Mapping[str, Any], ctx: PlanContext) -> Actions:
    """observedGeneration and the Ready condition; the rest of the status is left as it is."""
    seen = observe(body, ctx, object_readiness)
    if seen.meta.deleting:
        return Actions(refs=seen.refs)
    new = ready_status(seen.old, seen.checked, seen.meta.generation, ctx.now)
    mine = {k: seen.old[k] for k in READY_FIELDS if k in seen.old}
    return Actions(
        status={**seen.old, **new},
        status_patch=merge_patch(mine, new),
        events=tuple(ready_events(seen.old, new)),
        refs=seen.refs,
    )


class ReadyController:
    """Datasets and sink linked services: Ready says whether everything they refer to exists."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def plan(self, body: Mapping[str, Any], ctx: PlanContext) -> Actions:
        return plan_ready(body, ctx)


__all__ = ["READY_FIELDS", "ReadyController", "plan_ready"]
