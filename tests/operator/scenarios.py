"""CopyActivity status shapes of every operator scenario, built by the operator's own pure functions.

`scenarios()` returns {name: CopyActivity object (metadata, spec, status)} for: a resource with no
status yet, a stale one (metadata.generation ahead of status.observedGeneration), pending, running,
succeeded, failures (engine error, OOMKilled, deadline, evicted), a retry scheduled, a pod stuck in
ImagePullBackOff, missing references (Secret, Secret key, dataset) and an invalid spec. Each object
comes from `plan_copy_activity` run on the scenario's inputs, step by step as the operator would
(the status written by one step is what the next step reads), with a fixed clock.

Other tests (Argo CD health checks, documentation) take their inputs from here instead of writing
status by hand; the operator tests compare what the running operator writes with these shapes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from impala_copy.controller.core import records
from impala_copy.controller.core.reconcile import plan_copy_activity
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.timeutil import format_time
from impala_copy.controller.core.view import ClusterView
from tests.operator import manifests

NOW = datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC)
PASSWORD = "scenario-password-not-used"


def view_of(objects: Iterable[dict[str, Any]]) -> ClusterView:
    """A ClusterView filled the way the operator's kopf indexes are, from raw objects."""
    ours: dict[str, dict[tuple[str, str], list[Any]]] = {}
    jobs: dict[tuple[str, str], list[Any]] = {}
    pods: dict[tuple[str, str], list[Any]] = {}
    secrets: dict[tuple[str, str], list[Any]] = {}
    config_maps: dict[tuple[str, str], list[Any]] = {}
    pvcs: dict[tuple[str, str], list[Any]] = {}
    for obj in objects:
        meta = records.Meta.of(obj)
        key = (meta.namespace, meta.name)
        kind = obj.get("kind")
        if kind == "Job":
            job = records.job_record(obj)
            if job is not None:
                jobs.setdefault((job.namespace, job.kind, job.activity), []).append(job)
        elif kind == "Pod":
            pod = records.pod_record(obj)
            if pod is not None:
                pods.setdefault((pod.namespace, pod.job_name), []).append(pod)
        elif kind == "Secret":
            secrets[key] = [records.secret_keys(obj)]
        elif kind == "ConfigMap":
            config_maps[key] = [records.config_map_keys(obj)]
        elif kind == "PersistentVolumeClaim":
            pvcs[key] = ["Bound"]
        else:
            ours.setdefault(str(kind), {})[key] = [records.object_record(obj)]
    return ClusterView(
        objects=ours, jobs=jobs, pods=pods, secrets=secrets, config_maps=config_maps, pvcs=pvcs
    )


class Scenario:
    """A tiny cluster the operator's pure planning runs against, one step at a time."""

    def __init__(self, objects: list[dict[str, Any]], settings: Settings | None = None) -> None:
        self.objects = [copy.deepcopy(o) for o in objects]
        self.settings = settings or Settings(summary_grace_seconds=0)
        self.now = NOW
        for obj in self.objects:
            obj["metadata"]["uid"] = f"uid-{obj['kind'].lower()}-{obj['metadata']['name']}"
            obj["metadata"]["creationTimestamp"] = format_time(NOW - timedelta(minutes=5))

    def find(self, kind: str, name: str | None = None) -> dict[str, Any]:
        for obj in self.objects:
            if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name):
                return obj
        raise KeyError((kind, name))

    @property
    def activity(self) -> dict[str, Any]:
        return self.find("CopyActivity")

    def job(self, index: int = -1) -> dict[str, Any]:
        return [o for o in self.objects if o["kind"] == "Job"][index]

    def step(self, seconds: float = 1.0) -> None:
        """One reconciliation: the Job it creates and the status it writes land in the cluster."""
        self.now += timedelta(seconds=seconds)
        activity = self.activity
        actions = plan_copy_activity(
            activity,
            view_of(self.objects),
            old_status=activity.get("status") or {},
            settings=self.settings,
            now=self.now,
        )
        if actions.create is not None:
            job = copy.deepcopy(actions.create)
            job["metadata"]["uid"] = f"uid-job-{job['metadata']['name']}"
            job["metadata"]["creationTimestamp"] = format_time(self.now)
            self.objects.append(job)
        if actions.status is not None:
            activity["status"] = actions.status
        for name in actions.delete:
            self.objects.remove(self.find("Job", name))

    def set_job_status(self, status: dict[str, Any], index: int = -1) -> None:
        self.job(index)["status"] = status

    def set_pod(self, status: dict[str, Any], index: int = -1) -> None:
        job = self.job(index)
        pod = manifests.pod_for(job)
        self.objects = [
            o
            for o in self.objects
            if not (o["kind"] == "Pod" and o["metadata"]["name"] == pod["metadata"]["name"])
        ]
        pod["metadata"]["creationTimestamp"] = format_time(self.now)
        pod["status"] = status
        self.objects.append(pod)


def _at(scenario: Scenario) -> str:
    return format_time(scenario.now)


def _started() -> Scenario:
    s = Scenario(manifests.standard_set(PASSWORD))
    s.step()
    s.step()
    return s


def _succeeded() -> Scenario:
    s = _started()
    s.set_pod(manifests.terminated(0, manifests.summary(rows=5000).to_termination_message()))
    s.set_job_status(manifests.job_succeeded(_at(s)))
    s.step()
    return s


def _failed(
    pod_status: dict[str, Any], job_reason: str, job_message: str = "", **spec: Any
) -> Callable[[], Scenario]:
    def build() -> Scenario:
        s = Scenario(manifests.standard_set(PASSWORD))
        s.activity["spec"].update(spec)
        s.step()
        s.step()
        s.set_pod(pod_status)
        s.set_job_status(manifests.job_failed(job_reason, job_message, _at(s)))
        s.step()
        return s

    return build


def _running() -> Scenario:
    s = _started()
    s.set_pod(manifests.running())
    s.set_job_status(manifests.job_active())
    s.step()
    return s


def _image_pull() -> Scenario:
    s = _started()
    s.set_pod(manifests.waiting("ImagePullBackOff", 'Back-off pulling image "impala-copy:0.1.0"'))
    s.set_job_status(manifests.job_active())
    s.step()
    return s


def _stale() -> Scenario:
    s = _succeeded()
    s.activity["metadata"]["generation"] = 2
    s.activity["spec"]["source"]["queryTimeout"] = "01:00:00"
    return s


def _no_status() -> Scenario:
    return Scenario(manifests.standard_set(PASSWORD))


def _missing(kind: str, name: str) -> Callable[[], Scenario]:
    def build() -> Scenario:
        s = Scenario(manifests.standard_set(PASSWORD))
        s.objects.remove(s.find(kind, name))
        s.step()
        return s

    return build


def _wrong_key() -> Scenario:
    s = Scenario(manifests.standard_set(PASSWORD))
    s.find("ImpalaLinkedService")["spec"]["password"]["secretKeyRef"]["key"] = "passwd"
    s.step()
    return s


def _invalid() -> Scenario:
    s = Scenario(manifests.standard_set(PASSWORD))
    s.activity["spec"]["sink"] = {"type": "JsonSink"}  # does not match the ParquetDataset output
    s.step()
    return s


ENGINE_AUTH_FAILED = manifests.failed_summary(
    "AuthenticationFailed", "user 'alice' was rejected by the server"
)

BUILDERS: dict[str, Callable[[], Scenario]] = {
    "no-status": _no_status,
    "stale": _stale,
    "pending": _started,
    "running": _running,
    "succeeded": _succeeded,
    "failed-engine-error": _failed(
        manifests.terminated(2, ENGINE_AUTH_FAILED.to_termination_message()),
        "PodFailurePolicy",
        "exit code 2",
    ),
    "failed-oom-killed": _failed(manifests.terminated(137, "", "OOMKilled"), "BackoffLimitExceeded"),
    "failed-deadline-exceeded": _failed(
        manifests.running(), "DeadlineExceeded", "Job was active longer than specified deadline"
    ),
    "failed-evicted": _failed(
        {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."},
        "BackoffLimitExceeded",
    ),
    "retry-scheduled": _failed(
        manifests.terminated(
            1, manifests.failed_summary("Unreachable", "impala:21050 refused").to_termination_message()
        ),
        "BackoffLimitExceeded",
        policy={"retry": 2, "retryIntervalInSeconds": 60},
    ),
    "image-pull-backoff": _image_pull,
    "secret-not-found": _missing("Secret", "impala-credentials"),
    "secret-key-not-found": _wrong_key,
    "reference-not-found": _missing("ImpalaDataset", "orders"),
    "invalid-spec": _invalid,
}


def scenarios() -> dict[str, dict[str, Any]]:
    """Every scenario's CopyActivity object (a fresh copy on each call)."""
    return {name: copy.deepcopy(build().activity) for name, build in BUILDERS.items()}


def shape(status: dict[str, Any]) -> dict[str, Any]:
    """What a scenario fixes about a status: phase and each condition's status and reason."""
    return {
        "phase": status.get("phase"),
        "conditions": {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])},
    }


# ------------------------------------------------------------------ LookupActivity and linked services
# Status shapes of a LookupActivity and of an ImpalaLinkedService's connection test, written by the
# operator's own pure functions (controller/lookup_state.py, controller/probe_state.py,
# reconcile.plan_ready_object), step by step with the fixed clock.


def lookup_object(name: str = "max-order", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"dataset": {"referenceName": "orders"}}
    body.update(spec)
    obj = {
        "apiVersion": manifests.GV,
        "kind": "LookupActivity",
        "metadata": manifests.meta(name),
        "spec": body,
    }
    obj["metadata"]["uid"] = f"uid-lookupactivity-{name}"
    obj["metadata"]["creationTimestamp"] = format_time(NOW - timedelta(minutes=5))
    return obj


def _lookup_statuses() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(spec, status) of each LookupActivity scenario."""
    from impala_copy.api.activities import LookupActivity
    from impala_copy.api.kinds import parse_resource
    from impala_copy.controller import lookup_state as st
    from impala_copy.engine.lookup import LookupResult, dumps

    def result(rows: int, truncated: bool = False) -> LookupResult:
        output = {"count": rows, "value": [{"id": i} for i in range(rows)]}
        return LookupResult(output=output, rows=rows, truncated=truncated,
                            size_bytes=len(dumps(output).encode()), duration_seconds=0.4)  # fmt: skip

    def run(spec: dict[str, Any], steps: list[Any]) -> dict[str, Any]:
        activity = parse_resource(lookup_object(**spec))
        assert isinstance(activity, LookupActivity)
        status: dict[str, Any] = {}
        now = NOW
        decision = None
        for step in steps:
            now += timedelta(seconds=1)
            observed = st.Observed.of(activity, status, 1)
            if step == "start":
                decision = st.decide(activity.name, observed, now, in_flight=False)
                assert decision.start
                patch = st.started_patch(status, decision, 1, None, now)
            elif step == "queue":
                patch = st.queued_patch(status, 1, now, 4)
            elif isinstance(step, LookupResult):
                assert decision is not None
                placement = st.place_result(step, secure_output=activity.spec.policy.secure_output)
                patch = st.succeeded_patch(status, observed, activity.name, decision, step, placement, now)
            else:
                assert decision is not None
                reason, message = step
                patch = st.failed_patch(status, observed, decision, reason, message, now)
            status = st.apply_merge_patch(status, patch.status)
        return status

    missing = st.not_ready_patch(
        None, "ReferenceNotFound", "ImpalaDataset 'orders' referenced by LookupActivity 'max-order' was not found",
        1, NOW,
    ).status  # fmt: skip
    retry = {"policy": {"retry": 2, "retryIntervalInSeconds": 60}}
    return {
        "no-status": ({}, {}),
        "not-ready": ({}, missing),
        "queued": ({}, run({}, ["queue"])),
        "running": ({}, run({}, ["start"])),
        "succeeded": ({}, run({}, ["start", result(1)])),
        "truncated-config-map": (
            {"firstRowOnly": False},
            run({"firstRowOnly": False}, ["start", result(5000, True)]),
        ),
        "refresh-scheduled": (
            {"refreshInterval": "15m"},
            run({"refreshInterval": "15m"}, ["start", result(1)]),
        ),
        "retry-scheduled": (retry, run(retry, ["start", ("Unreachable", "nothing listens at impala:21050")])),
        "failed": ({}, run({}, ["start", ("ResultTooLarge", "the lookup output exceeds the 4 MiB limit")])),
    }


def lookup_scenarios() -> dict[str, dict[str, Any]]:
    """Every LookupActivity scenario's object (metadata, spec, status); no status for `no-status`."""
    out: dict[str, dict[str, Any]] = {}
    for name, (spec, status) in _lookup_statuses().items():
        obj = lookup_object(**spec)
        if status:
            obj["status"] = status
        out[name] = obj
    return out


LINKED_SERVICE_PROBES: dict[str, tuple[bool, str, str]] = {
    "connected": (
        True,
        "Connected",
        "Connected to impala:21050 as alice: connect, login, SELECT 1 and close took 35 ms",
    ),
    "authentication-failed": (False, "AuthenticationFailed", "the server rejected the login of user 'alice'"),
    "tls-verification-failed": (
        False,
        "TLSVerificationFailed",
        "certificate verify failed: self-signed certificate",
    ),
    "unreachable": (False, "Unreachable", "nothing accepts connections at impala:21050 (connection refused)"),
    "timeout": (False, "Timeout", "impala:21050 did not answer within 30 s"),
    "server-error": (False, "ServerError", "SELECT 1 failed on the server"),
}


def linked_service_scenarios() -> dict[str, dict[str, Any]]:
    """ImpalaLinkedService objects: Ready from the reconciler, Connected from each connection test outcome,
    not tested (a missing Secret), and not ready."""
    from impala_copy.controller.core.reconcile import plan_ready_object
    from impala_copy.controller.probe_state import not_tested_status, probe_status
    from impala_copy.engine.probe import ProbeResult

    base = Scenario(manifests.standard_set(PASSWORD))
    ls = base.find("ImpalaLinkedService")
    ready = plan_ready_object(ls, view_of(base.objects), old_status={}, now=NOW).status or {}
    out: dict[str, dict[str, Any]] = {"ready-not-tested": {**copy.deepcopy(ls), "status": ready}}
    for name, (connected, reason, message) in LINKED_SERVICE_PROBES.items():
        probe = ProbeResult(connected=connected, reason=reason, message=message, probed_at=NOW,
                            duration_milliseconds=35.0, round_trip_milliseconds=4.2 if connected else None)  # fmt: skip
        out[name] = {**copy.deepcopy(ls), "status": {**ready, **probe_status(ready, probe, 1)}}
    missing = Scenario(manifests.standard_set(PASSWORD))
    missing.objects.remove(missing.find("Secret", "impala-credentials"))
    not_ready = plan_ready_object(ls, view_of(missing.objects), old_status={}, now=NOW).status or {}
    message = "Secret 'impala-credentials' referenced by ImpalaLinkedService 'impala' was not found"
    untested = not_tested_status(not_ready, "ReferencesNotResolved", message, NOW, 1)
    out["secret-not-found"] = {**copy.deepcopy(ls), "status": {**not_ready, **untested}}
    return out
