"""The cluster as the operator sees it: lookups over kopf's indexes, and a resolver Catalog on top.

An index maps a key to the values indexed under it (kopf's `Index`, or a plain dict of lists in unit
tests). Keys:
- our objects, one index per kind: (namespace, name) -> object record (see records.object_record)
- Jobs: (namespace, owner kind, owner name) -> JobRecord
- Pods: (namespace, Job name) -> PodRecord
- ConfigMaps: (namespace, name) -> frozenset of key names (Secrets are never read)
- PersistentVolumeClaims: (namespace, name) -> phase
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from impala_copy.api.common import Resource
from impala_copy.api.kinds import parse_resource
from impala_copy.api.resolve import SECRET_NOT_SEEN
from impala_copy.controller.core.records import JobRecord, PodRecord

V_co = TypeVar("V_co", covariant=True)
Key = tuple[str, str]


class IndexLike(Protocol[V_co]):
    def __contains__(self, key: object) -> bool: ...

    def __getitem__(self, key: Any) -> Iterable[V_co]: ...


def first(index: IndexLike[Any], key: Key) -> Any:
    if key not in index:
        return None
    for value in index[key]:
        return value
    return None


@dataclass
class ClusterView:
    """Read access to everything indexed."""

    objects: Mapping[str, IndexLike[dict[str, Any]]]
    jobs: IndexLike[JobRecord]
    pods: IndexLike[PodRecord]
    config_maps: IndexLike[frozenset[str]]
    pvcs: IndexLike[str]

    def object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        index = self.objects.get(kind)
        if index is None:
            return None
        value = first(index, (namespace, name))
        return value if isinstance(value, dict) else None

    def object_keys(self, kind: str) -> list[Key]:
        index = self.objects.get(kind)
        return list(index) if isinstance(index, Iterable) else []

    def jobs_of(self, namespace: str, activity: str, kind: str = "CopyActivity") -> list[JobRecord]:
        key = (namespace, kind, activity)
        return list(self.jobs[key]) if key in self.jobs else []

    def pods_of(self, namespace: str, job_name: str) -> list[PodRecord]:
        key = (namespace, job_name)
        return list(self.pods[key]) if key in self.pods else []

    def config_map_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        value = first(self.config_maps, (namespace, name))
        return value if isinstance(value, frozenset) else None

    def pvc_exists(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self.pvcs

    def pvc_phase(self, namespace: str, name: str) -> str | None:
        """Pending, Bound or Lost; None when the claim does not exist."""
        value = first(self.pvcs, (namespace, name))
        return value if isinstance(value, str) else None


@dataclass
class ViewCatalog:
    """The resolver's Catalog over a ClusterView, in one namespace; remembers what it looked at.

    `seen` holds (kind, name) of every object and ConfigMap looked up, found or not: the
    reconciler wakes the object again when any of them changes.
    """

    view: ClusterView
    namespace: str
    seen: set[tuple[str, str]] = field(default_factory=set)

    def get(self, kind: str, name: str) -> Resource | None:
        self.seen.add((kind, name))
        body = self.view.object(kind, self.namespace, name)
        if body is None:
            return None
        return parse_resource(body)

    def secret_keys(self, name: str) -> frozenset[str]:
        """The operator never reads Secrets: their keys are checked by the kubelet when the pod starts."""
        return SECRET_NOT_SEEN

    def config_map_keys(self, name: str) -> set[str] | None:
        self.seen.add(("ConfigMap", name))
        keys = self.view.config_map_keys(self.namespace, name)
        return set(keys) if keys is not None else None

    def pvc_exists(self, name: str) -> bool:
        self.seen.add(("PersistentVolumeClaim", name))
        return self.view.pvc_exists(self.namespace, name)
