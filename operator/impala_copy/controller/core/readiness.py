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
from impala_copy.api.common import CertificateSource, Resource, SecretValue
from impala_copy.api.datasets import LOCATION_LINKED_SERVICE_KIND, FileDatasetBase, PostgreSqlTableDataset
from impala_copy.api.impala import ImpalaDataset, ImpalaLinkedService
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.plan import CopyPlan
from impala_copy.api.resolve import (
    INVALID_REFERENCE,
    INVALID_SPEC,
    REFERENCE_NOT_FOUND,
    STORE_SECRET_FIELDS,
    Catalog,
    Layout,
    ResolutionError,
    check_certificate,
    check_impala_linked_service,
    check_secret,
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
    """Parse a CopyActivity and resolve every reference, down to Secret keys and the PVC."""
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
    claim = claim_name(plan)
    if claim is not None and not catalog.pvc_exists(claim):
        out = activity.spec.outputs[0]
        message = (
            f"PersistentVolumeClaim {claim!r} referenced by {out.kind} {out.reference_name!r} was not found"
        )
        return CopyReadiness(Readiness(False, REFERENCE_NOT_FOUND, message), activity)
    return CopyReadiness(READY, activity, plan)


def object_readiness(body: Mapping[str, Any], catalog: ClaimCatalog) -> Readiness:
    """The Ready condition of a linked service or a dataset."""
    try:
        obj = parse_resource(dict(body))
    except SpecError as exc:
        return _invalid(exc, own=True)
    try:
        _check(obj, catalog)
    except ResolutionError as exc:
        return Readiness(False, exc.reason, exc.message)
    except SpecError as exc:
        return _invalid(exc, own=False)
    return READY


def _need(catalog: Catalog, kind: str, name: str, referrer: str) -> Resource:
    obj = catalog.get(kind, name)
    if obj is None:
        raise ResolutionError(REFERENCE_NOT_FOUND, f"{kind} {name!r} referenced by {referrer} was not found")
    return obj


def check_store(catalog: Catalog, store: Resource) -> None:
    """Every Secret key and certificate a sink linked service refers to exists."""
    referrer = f"{store.kind} {store.name!r}"
    spec = getattr(store, "spec", None)
    for field in STORE_SECRET_FIELDS.get(store.kind, ()):
        value = getattr(spec, field, None)
        if isinstance(value, SecretValue):
            check_secret(catalog, value.secret_key_ref, referrer)
    cert = getattr(spec, "trusted_cert", None)
    if isinstance(cert, CertificateSource):
        check_certificate(catalog, cert, referrer)


def _check(obj: Resource, catalog: ClaimCatalog) -> None:
    referrer = f"{obj.kind} {obj.name!r}"
    if isinstance(obj, ImpalaLinkedService):
        check_impala_linked_service(catalog, obj)
    elif isinstance(obj, ImpalaDataset):
        ls = _need(catalog, "ImpalaLinkedService", obj.spec.linked_service_name.reference_name, referrer)
        assert isinstance(ls, ImpalaLinkedService)
        check_impala_linked_service(catalog, ls)
    elif isinstance(obj, PostgreSqlTableDataset):
        check_store(
            catalog,
            _need(catalog, "PostgreSqlLinkedService", obj.spec.linked_service_name.reference_name, referrer),
        )
    elif isinstance(getattr(obj, "spec", None), FileDatasetBase):
        spec: FileDatasetBase = obj.spec  # type: ignore[attr-defined]
        ls_kind = LOCATION_LINKED_SERVICE_KIND.get(spec.location.type)
        if ls_kind is None:
            claim = spec.location.claim_name or ""
            if not catalog.pvc_exists(claim):
                raise ResolutionError(
                    REFERENCE_NOT_FOUND,
                    f"PersistentVolumeClaim {claim!r} referenced by {referrer} was not found",
                )
        elif spec.linked_service_name is None:
            raise ResolutionError(INVALID_SPEC, f"{referrer}: {spec.location.type} needs linkedServiceName")
        else:
            check_store(catalog, _need(catalog, ls_kind, spec.linked_service_name.reference_name, referrer))
    elif obj.kind in STORE_SECRET_FIELDS:
        check_store(catalog, obj)
