"""Every kopf registration of the operator, in one place. Each handler is a few lines.

- login: kopf's own (service account in a cluster, kubeconfig outside), shared with kube.py.
- startup/cleanup: start and stop the work queue and the leader election; kopf settings.
- probes: the work queue's counters, and the replica's role (`leader`: fails when the replica
  neither leads nor reads the Lease, which makes the pod unready).
- indexes: our objects, the Jobs of runs (copies, lookups, connection tests) and their pods, ConfigMap
  key names, PVC names. Secrets are never read: the pods that need them get them from the kubelet.
  kopf fills every index before any other handler runs, so a restarted operator sees every Job
  before it decides anything (no duplicate runs).
- events: each change wakes the objects it concerns; the work queue reconciles them.

The handlers use only `on.event`, `index`, `login`, `startup`, `cleanup` and `probe`: kopf stores no
state on the objects and adds no finalizers. A Job belongs to its CopyActivity through an
ownerReference, so deleting the activity deletes its Jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import kopf

from impala_copy.controller.core import records
from impala_copy.controller.core.constants import LABEL_ACTIVITY
from impala_copy.controller.core.kube import CONFIG_MAPS, JOBS, OURS, PODS, PVCS, ResourceRef
from impala_copy.controller.core.metrics import MetricsServerError
from impala_copy.controller.core.runtime import NotReady, Runtime
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.view import ClusterView
from impala_copy.controller.registry import CONTROLLERS

LoginFn = Callable[..., kopf.ConnectionInfo | None]

JOBS_INDEX = "run_jobs"
PODS_INDEX = "run_pods"
CONFIG_MAPS_INDEX = "config_map_keys"
PVCS_INDEX = "pvc_names"


def object_index_id(kind: str) -> str:
    return f"objects_{kind.lower()}"


def view_of(indices: Mapping[str, Any]) -> ClusterView:
    """The cluster view over kopf's indexes, by id (live objects: they change as events arrive)."""
    return ClusterView(
        objects={kind: indices[object_index_id(kind)] for kind in OURS},
        jobs=indices[JOBS_INDEX],
        pods=indices[PODS_INDEX],
        config_maps=indices[CONFIG_MAPS_INDEX],
        pvcs=indices[PVCS_INDEX],
    )


def exact_namespaces(settings: Settings) -> bool:
    """Only plain namespace names (no patterns): nothing needs listing namespaces cluster-wide."""
    return bool(settings.namespaces) and not any(set(ns) & set("*?[]!") for ns in settings.namespaces)


def configure_kopf(kopf_settings: kopf.OperatorSettings, settings: Settings) -> None:
    kopf_settings.peering.standalone = True
    # With plain namespace names, kopf serves exactly those: no cluster-wide list/watch of
    # namespaces or CRDs is needed (a namespaced install runs on Roles only).
    kopf_settings.scanning.disabled = exact_namespaces(settings)
    kopf_settings.posting.enabled = False  # the operator posts its own Events
    kopf_settings.watching.server_timeout = 300
    kopf_settings.watching.client_timeout = 330
    kopf_settings.watching.connect_timeout = 30
    # Only copy Jobs and their pods are of interest: let the API server filter them.
    for ref in (JOBS, PODS):
        kopf_settings.watching.label_selectors[ref.group, ref.version, ref.plural] = LABEL_ACTIVITY


def _on(ref: ResourceRef) -> tuple[str, str, str]:
    return ref.group, ref.version, ref.plural


def register(registry: kopf.OperatorRegistry, settings: Settings, *, login: LoginFn | None = None) -> Runtime:
    """Register every handler in `registry`; the returned Runtime is what they drive."""
    runtime = Runtime(settings, CONTROLLERS)
    _register_lifecycle(registry, runtime, login)
    _register_our_kinds(registry, runtime)
    _register_runs(registry, runtime)
    _register_referenced(registry, runtime)
    return runtime


def _register_lifecycle(registry: kopf.OperatorRegistry, runtime: Runtime, login: LoginFn | None) -> None:
    @kopf.on.login(registry=registry)
    def _login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = (login or kopf.login_via_client)(**kwargs)
        if info is not None:
            runtime.client.use(info)
        return info

    @kopf.on.startup(registry=registry)
    async def _startup(settings: kopf.OperatorSettings, **kwargs: Any) -> None:
        configure_kopf(settings, runtime.settings)
        try:
            runtime.start(view_of(kwargs))  # kopf passes each index as a keyword argument
        except MetricsServerError as exc:
            raise kopf.PermanentError(str(exc)) from None

    @kopf.on.cleanup(registry=registry)
    async def _cleanup(**_: Any) -> None:
        await runtime.stop()

    @kopf.on.probe(id="queue", registry=registry)
    def _probe(**_: Any) -> dict[str, int]:
        return runtime.probe()

    # Readiness: the leader, or a standby that reads the Lease; otherwise the endpoint answers 500.
    @kopf.on.probe(id="leader", errors=kopf.ErrorsMode.PERMANENT, registry=registry)
    def _leader(**_: Any) -> dict[str, str]:
        try:
            return runtime.leadership()
        except NotReady as exc:
            raise kopf.PermanentError(str(exc)) from None


def _register_our_kinds(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    for kind, ref in OURS.items():

        def _index(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
            meta = records.Meta.of(body)
            return {(meta.namespace, meta.name): records.object_record(body)}

        def _changed(body: kopf.Body, type: str | None, _kind: str = kind, **_: Any) -> None:
            runtime.object_changed(_kind, type, body)

        kopf.index(*_on(ref), id=object_index_id(kind), registry=registry)(_index)
        kopf.on.event(*_on(ref), id=f"changed_{kind.lower()}", registry=registry)(_changed)


def _register_runs(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """The Jobs of runs (copies, lookups, connection tests) and their pods."""
    labelled = {LABEL_ACTIVITY: kopf.PRESENT}

    @kopf.index(*_on(JOBS), id=JOBS_INDEX, labels=labelled, registry=registry)
    def _jobs(body: kopf.Body, **_: Any) -> dict[tuple[str, str, str], records.JobRecord] | None:
        job = records.job_record(body)
        return {(job.namespace, job.kind, job.activity): job} if job else None

    @kopf.on.event(*_on(JOBS), id="job_changed", labels=labelled, registry=registry)
    def _job_changed(body: kopf.Body, **_: Any) -> None:
        runtime.job_changed(body)

    @kopf.index(*_on(PODS), id=PODS_INDEX, labels=labelled, registry=registry)
    def _pods(body: kopf.Body, **_: Any) -> dict[tuple[str, str], records.PodRecord] | None:
        pod = records.pod_record(body)
        return {(pod.namespace, pod.job_name): pod} if pod else None

    @kopf.on.event(*_on(PODS), id="pod_changed", labels=labelled, registry=registry)
    def _pod_changed(body: kopf.Body, **_: Any) -> None:
        runtime.pod_changed(body)


def _register_referenced(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """ConfigMaps (key names only) and PersistentVolumeClaims (phase) that objects refer to."""

    @kopf.index(*_on(CONFIG_MAPS), id=CONFIG_MAPS_INDEX, registry=registry)
    def _config_maps(body: kopf.Body, **_: Any) -> dict[tuple[str, str], frozenset[str]]:
        meta = records.Meta.of(body)
        return {(meta.namespace, meta.name): records.config_map_keys(body)}

    @kopf.index(*_on(PVCS), id=PVCS_INDEX, registry=registry)
    def _pvcs(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
        meta = records.Meta.of(body)
        phase = records.as_str(records.as_dict(body.get("status")).get("phase"))
        return {(meta.namespace, meta.name): phase or "Pending"}

    for ref in (CONFIG_MAPS, PVCS):

        def _referenced(body: kopf.Body, type: str | None, _kind: str = ref.kind, **_: Any) -> None:
            runtime.referenced_changed(_kind, body, type)

        kopf.on.event(*_on(ref), id=f"referenced_{ref.plural}", registry=registry)(_referenced)
