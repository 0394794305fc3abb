"""Is an object ready to be used? Its own spec is valid and everything it refers to exists.

Pure: looks through a Catalog (see view.ViewCatalog). Each check gives a `Readiness`: the Ready
condition's status, reason (from api/resolve.py) and a message that names the object at fault.
A CopyActivity's check also gives its plan (resolved without a run id; the run sets it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from impala_copy.api.activities import CopyActivity
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.plan import CopyPlan
from impala_copy.api.resolve import (
    INVALID_REFERENCE,
    INVALID_SPEC,
    Catalog,
    Layout,
    ResolutionError,
    check_references,
    resolve_copy,
)
from impala_copy.controller.core.constants import Reason


class ClaimCatalog(Catalog, Protocol):
    def pvc_exists(self, name: str) -> bool: ...


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    message: str


READY = Readiness(True, Reason.RESOLVED, "all references resolved")


@dataclass(frozen=True)
class CopyReadiness:
    readiness: Readiness
    activity: CopyActivity | None = None
    plan: CopyPlan | None = None


def _invalid(exc: SpecError, own: bool) -> Readiness:
    if own:
        return Readiness(False, INVALID_SPEC, str(exc))
    return Readiness(
        False, INVALID_REFERENCE, f"{exc.kind} {exc.name!r} is invalid: {str(exc).split(': ', 1)[-1]}"
    )


def claim_name(plan: CopyPlan) -> str | None:
    """The PersistentVolumeClaim a plan writes to, if its sink is a PVC location."""
    if not plan.sink.volume_path:
        return None
    location = plan.sink.dataset.get("location")
    name = location.get("claimName") if isinstance(location, dict) else None
    return name if isinstance(name, str) else None


def copy_activity_readiness(
    body: Mapping[str, Any], catalog: ClaimCatalog, layout: Layout | None = None
) -> CopyReadiness:
    """Parse a CopyActivity and resolve every reference, down to ConfigMap keys and the PVC."""
    try:
        activity = parse_resource(dict(body))
    except SpecError as exc:
        return CopyReadiness(_invalid(exc, own=True))
    assert isinstance(activity, CopyActivity)
    try:
        plan = resolve_copy(catalog, activity, run_id="", layout=layout)
    except ResolutionError as exc:
        return CopyReadiness(Readiness(False, exc.reason, exc.message), activity)
    except SpecError as exc:
        return CopyReadiness(_invalid(exc, own=False), activity)
    return CopyReadiness(READY, activity, plan)


def object_readiness(body: Mapping[str, Any], catalog: ClaimCatalog) -> Readiness:
    """The Ready condition of a linked service or a dataset: everything it refers to exists."""
    try:
        obj = parse_resource(dict(body))
    except SpecError as exc:
        return _invalid(exc, own=True)
    try:
        check_references(catalog, obj)
    except ResolutionError as exc:
        return Readiness(False, exc.reason, exc.message)
    except SpecError as exc:
        return _invalid(exc, own=False)
    return READY
