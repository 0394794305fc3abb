"""Status shapes of every operator scenario, built by the operator's own controllers (pure planning).

`scenarios()` returns {name: CopyActivity object (metadata, spec, status)} for: a resource with no
status yet, a stale one (metadata.generation ahead of status.observedGeneration), pending, running,
succeeded, failures (engine error, OOMKilled, deadline, evicted), a retry scheduled, a partitioned
copy copying its partitions and one whose index failed for good, a pod stuck in
ImagePullBackOff, missing references (a Secret or key reported by the pod, a dataset) and an invalid
spec. `lookup_scenarios()` and `linked_service_scenarios()` do the same for LookupActivity and the
connection test of an ImpalaLinkedService. Each object comes from its kind's controller run on the
scenario's inputs, step by step as the operator would (the status written by one step is what the
next step reads; the test plays the Job controller and the kubelet in between), with a fixed clock.

Other tests (Argo CD health checks, documentation) take their inputs from here instead of writing
status by hand; the operator tests compare what the running operator writes with these shapes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from impala_copy.api.summary import RunError
from impala_copy.controller.core import records
from impala_copy.controller.core.controller import Actions, PlanContext
from impala_copy.controller.core.settings import Settings
from impala_copy.controller.core.timeutil import format_time
from impala_copy.controller.core.view import ClusterView
from tests import session_password
from tests.operator import manifests

NOW = datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC)
PASSWORD = session_password.PASSWORD  # in no object the tests look at: the Secret only


def view_of(objects: Iterable[dict[str, Any]]) -> ClusterView:
    """A ClusterView filled the way the operator's kopf indexes are, from raw objects."""
    ours: dict[str, dict[tuple[str, str], list[Any]]] = {}
    jobs: dict[tuple[str, str], list[Any]] = {}
    pods: dict[tuple[str, str], list[Any]] = {}
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
            continue  # the operator never reads Secrets
        elif kind == "ConfigMap":
            config_maps[key] = [records.config_map_keys(obj)]
        elif kind == "PersistentVolumeClaim":
            pvcs[key] = [(obj.get("status") or {}).get("phase") or "Pending"]
        else:
            ours.setdefault(str(kind), {})[key] = [records.object_record(obj)]
    return ClusterView(objects=ours, jobs=jobs, pods=pods, config_maps=config_maps, pvcs=pvcs)


class Scenario:
    """A tiny cluster the operator's pure planning runs against, one step at a time."""

    def __init__(
        self,
        objects: list[dict[str, Any]],
        settings: Settings | None = None,
        kind: str = "CopyActivity",
    ) -> None:
        self.objects = [copy.deepcopy(o) for o in objects]
        self.settings = settings or Settings(summary_grace_seconds=0)
        self.kind = kind
        self.now = NOW
        self.pod_logs: dict[str, str] = {}  # what the kubelet would serve as each pod's log
        self.actions: Actions | None = None  # of the last step (what the reconciler would apply)
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
        """The object the scenario reconciles (of the scenario's kind)."""
        return self.find(self.kind)

    def job(self, index: int = -1) -> dict[str, Any]:
        return [o for o in self.objects if o["kind"] == "Job"][index]

    def step(self, seconds: float = 1.0) -> None:
        """One reconciliation: the Job it creates and the status it writes land in the cluster."""
        from impala_copy.controller.registry import CONTROLLERS

        self.now += timedelta(seconds=seconds)
        activity = self.activity
        controller = CONTROLLERS[self.kind]
        logs: dict[str, str] = {}
        context = PlanContext(
            view=view_of(self.objects),
            old_status=activity.get("status") or {},
            settings=self.settings,
            now=self.now,
            logs=logs,
        )
        actions = controller.plan(activity, context)
        if actions.read_log is not None:
            logs[actions.read_log.pod] = self.pod_logs.get(actions.read_log.pod, "")
            actions = controller.plan(activity, context)
        self.actions = actions
        if actions.config_map is not None:
            name = actions.config_map["metadata"]["name"]
            self.objects = [
                o for o in self.objects if not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == name)
            ]
            self.objects.append(copy.deepcopy(actions.config_map))
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
        self._put_pod(manifests.pod_for(self.job(index)), status)

    def set_index_pod(self, status: dict[str, Any], completion_index: int, index: int = -1) -> None:
        """The pod of one index of an Indexed Job (a partitioned copy's copy step)."""
        self._put_pod(manifests.indexed_pod_for(self.job(index), completion_index), status)

    def _put_pod(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
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


def _partitioned(failed: bool) -> Scenario:
    """A partitioned copy (3 partitions) whose copy step has index 0 done; index 1 running or failed."""
    s = Scenario(manifests.partitioned_set(PASSWORD, 3))
    s.step()
    s.set_pod(manifests.terminated(0, manifests.plan_summary(3)))
    s.set_job_status(manifests.job_succeeded(_at(s)))
    s.step()
    s.set_index_pod(
        manifests.terminated(0, manifests.summary(rows=10, partition=0).to_termination_message()), 0
    )
    if failed:
        failure = manifests.failed_summary("Unreachable", "impala:21050 refused")
        s.set_index_pod(manifests.terminated(1, failure.to_termination_message()), 1)
        s.set_job_status(manifests.indexed_job_status(3, {0}, {1}, when=_at(s)))
    else:
        s.set_index_pod(manifests.running(), 1)
        s.set_job_status(manifests.indexed_job_status(3, {0}, active=2, when=_at(s)))
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


# What the kubelet says when a pod's env refers to a missing Secret or key.
KUBELET_SECRET_NOT_FOUND = 'secret "impala-credentials" not found'
KUBELET_KEY_NOT_FOUND = "couldn't find key passwd in Secret default/impala-credentials"


def waiting_for_secret(s: Scenario, kubelet_message: str) -> Scenario:
    """The run's Job exists and its pod cannot start: a Secret or key it needs is missing."""
    s.step()
    s.set_pod(manifests.waiting("CreateContainerConfigError", kubelet_message))
    s.set_job_status(manifests.job_active())
    s.step()
    return s


def _secret_not_found() -> Scenario:
    s = Scenario(manifests.standard_set(PASSWORD))
    s.objects.remove(s.find("Secret", "impala-credentials"))
    return waiting_for_secret(s, KUBELET_SECRET_NOT_FOUND)


def _wrong_key() -> Scenario:
    s = Scenario(manifests.standard_set(PASSWORD))
    s.find("ImpalaLinkedService")["spec"]["password"]["secretKeyRef"]["key"] = "passwd"
    return waiting_for_secret(s, KUBELET_KEY_NOT_FOUND)


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
    "partitioned-copying": lambda: _partitioned(failed=False),
    "partitioned-failed-index": lambda: _partitioned(failed=True),
    "image-pull-backoff": _image_pull,
    "secret-not-found": _secret_not_found,
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
# operator's own controllers (controller/lookup/, controller/connection/), step by step with the
# fixed clock.


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


def lookup_summary(rows: int, truncated: bool = False) -> str:
    """The termination message of a lookup pod that returned `rows` rows (inline, or framed in the log)."""
    from impala_copy.api.lookup_frames import encode_frames
    from impala_copy.api.summary import LookupSummary

    output = lookup_output(rows)
    text = json.dumps(output, separators=(",", ":"))
    summary = LookupSummary(
        status="Succeeded",
        rows=rows,
        truncated=truncated,
        size_bytes=len(text.encode()),
        duration_seconds=0.4,
    )
    inline = summary.model_copy(update={"output": output})
    if inline.fits():
        return inline.to_termination_message()
    frames, _ = encode_frames(text)
    return summary.model_copy(update={"frames": frames}).to_termination_message()


def lookup_output(rows: int) -> dict[str, Any]:
    return {"count": rows, "value": [{"id": i} for i in range(rows)]}


def lookup_log(rows: int) -> str:
    """The pod log of a lookup whose output did not fit its termination message."""
    from impala_copy.api.lookup_frames import encode_frames

    _, lines = encode_frames(json.dumps(lookup_output(rows), separators=(",", ":")))
    return "progress: connected\n" + "\n".join(lines) + "\n"


def lookup_failure(code: str, message: str) -> str:
    from impala_copy.api.summary import LookupSummary

    return LookupSummary(status="Failed", error=RunError(code=code, message=message)).to_termination_message()


def _lookup_run(spec: dict[str, Any], steps: list[Any]) -> dict[str, Any]:
    """A LookupActivity reconciled step by step: "start" (its Job is created), "running", or what its
    pod ended with: ("ok", rows, truncated) or ("failed", exit code, code, message)."""
    s = Scenario([*manifests.standard_set(PASSWORD), lookup_object(**spec)], kind="LookupActivity")
    for step in steps:
        if step == "start":
            s.step()
        elif step == "running":
            s.set_pod(manifests.running())
            s.set_job_status(manifests.job_active())
            s.step()
        elif step[0] == "ok":
            s.set_pod(manifests.terminated(0, lookup_summary(step[1], step[2])))
            s.pod_logs[manifests.pod_for(s.job())["metadata"]["name"]] = lookup_log(step[1])
            s.set_job_status(manifests.job_succeeded(_at(s)))
            s.step()
        else:
            _, exit_code, code, message = step
            s.set_pod(manifests.terminated(exit_code, lookup_failure(code, message)))
            s.set_job_status(manifests.job_failed("BackoffLimitExceeded", "", _at(s)))
            s.step()
    return s.activity.get("status") or {}


def _lookup_statuses() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(spec, status) of each LookupActivity scenario."""
    retry = {"policy": {"retry": 2, "retryIntervalInSeconds": 60}}
    missing = Scenario([*manifests.standard_set(PASSWORD), lookup_object()], kind="LookupActivity")
    missing.objects.remove(missing.find("ImpalaDataset", "orders"))
    missing.step()
    unreachable = ("failed", 1, "Unreachable", "nothing listens at impala:21050")
    too_large = ("failed", 2, "ResultTooLarge", "the lookup output exceeds the 4 MiB limit")
    return {
        "no-status": ({}, {}),
        "not-ready": ({}, missing.activity["status"]),
        "pending": ({}, _lookup_run({}, ["start"])),
        "running": ({}, _lookup_run({}, ["start", "running"])),
        "succeeded": ({}, _lookup_run({}, ["start", ("ok", 1, False)])),
        "truncated-config-map": (
            {"firstRowOnly": False},
            _lookup_run({"firstRowOnly": False}, ["start", ("ok", 5000, True)]),
        ),
        "refresh-scheduled": (
            {"refreshInterval": "15m"},
            _lookup_run({"refreshInterval": "15m"}, ["start", ("ok", 1, False)]),
        ),
        "retry-scheduled": (retry, _lookup_run(retry, ["start", unreachable])),
        "failed": ({}, _lookup_run({}, ["start", too_large])),
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


def connection_summary(connected: bool, reason: str, message: str) -> str:
    from impala_copy.api.summary import ConnectionTestSummary

    return ConnectionTestSummary(
        connected=connected,
        reason=reason,
        message=message,
        probed_at=format_time(NOW),
        duration_milliseconds=35.0,
        round_trip_milliseconds=4.2 if connected else None,
    ).to_termination_message()


def linked_service_scenarios() -> dict[str, dict[str, Any]]:
    """ImpalaLinkedService objects: Ready from the references, Connected from each connection test
    outcome (the test pod's summary), not tested (a missing Secret reported by the test pod)."""
    first = Scenario(manifests.standard_set(PASSWORD), kind="ImpalaLinkedService")
    first.step()
    out: dict[str, dict[str, Any]] = {"ready-not-tested": copy.deepcopy(first.activity)}
    for name, (connected, reason, message) in LINKED_SERVICE_PROBES.items():
        s = Scenario(manifests.standard_set(PASSWORD), kind="ImpalaLinkedService")
        s.step()
        s.set_pod(manifests.terminated(0 if connected else 1, connection_summary(connected, reason, message)))
        if connected:
            s.set_job_status(manifests.job_succeeded(_at(s)))
        else:
            s.set_job_status(manifests.job_failed("BackoffLimitExceeded", "", _at(s)))
        s.step()
        out[name] = copy.deepcopy(s.activity)
    missing = Scenario(manifests.standard_set(PASSWORD), kind="ImpalaLinkedService")
    missing.objects.remove(missing.find("Secret", "impala-credentials"))
    out["secret-not-found"] = copy.deepcopy(waiting_for_secret(missing, KUBELET_SECRET_NOT_FOUND).activity)
    return out
