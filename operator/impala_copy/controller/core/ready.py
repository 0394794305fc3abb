"""The controller of kinds that only get checked (datasets, sink linked services): the Ready condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.references import PVC
from impala_copy.controller.core.constants import Reason
from impala_copy.controller.core.controller import Actions, PlanContext, observe
from impala_copy.controller.core.readiness import object_readiness
from impala_copy.controller.core.records import Meta
from impala_copy.controller.core.status import (
    condition,
    merge_conditions,
    merge_patch,
    old_conditions,
    ready_events,
    ready_status,
)

# The status fields the Ready check owns (others may belong to a connection test).
READY_FIELDS = ("observedGeneration", "conditions")


def claim_condition(
    body: Mapping[str, Any], ctx: PlanContext, old: Mapping[str, Any]
) -> dict[str, Any] | None:
    """ClaimBound of a dataset on a PersistentVolumeClaim: whether the claim is bound yet. It does not
    block a run (Kubernetes starts the pod once the claim binds) but says why nothing starts."""
    try:
        obj = parse_resource(dict(body))
    except SpecError:
        return None
    meta = Meta.of(body)
    claims = [r.name for r in obj.references() if r.kind == PVC]
    if not claims:
        return None
    phase = ctx.view.pvc_phase(meta.namespace, claims[0])
    if phase is None:
        return None  # a missing claim is Ready's business
    bound = phase == "Bound"
    message = (
        f"PersistentVolumeClaim {claims[0]!r} is bound"
        if bound
        else f"PersistentVolumeClaim {claims[0]!r} is {phase}: a copy's pod starts once it is bound"
    )
    reason = Reason.CLAIM_BOUND if bound else Reason.CLAIM_NOT_BOUND
    status = "True" if bound else "False"
    return condition(old_conditions(old), "ClaimBound", status, reason, message, meta.generation, ctx.now)


def plan_ready(body: Mapping[str, Any], ctx: PlanContext) -> Actions:
    """observedGeneration, the Ready condition (and ClaimBound); the rest of the status is left as it is."""
    seen = observe(body, ctx, object_readiness)
    if seen.meta.deleting:
        return Actions(refs=seen.refs)
    new = ready_status(seen.old, seen.checked, seen.meta.generation, ctx.now)
    claim = claim_condition(body, ctx, seen.old)
    if claim is not None:
        new["conditions"] = merge_conditions(new["conditions"], [claim])
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
