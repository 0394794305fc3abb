"""The Job that runs one attempt: a pure function of the plan, its owner, the task and the defaults.

Copies, lookups and connection tests all run this way, from the engine image, in the object's
namespace: the pod runs `impala-copy engine --task TASK` with the task's plan (no secret values) as
JSON in IMPALA_COPY_PLAN.
Secrets reach it as `env[].valueFrom.secretKeyRef` (one per `plan.secret_refs()`), files (CA bundles,
a Kerberos keytab and krb5.conf) as read-only Secret/ConfigMap volumes mounted so each file appears
at its `CertRef.path`, and a PVC location as a volume at `plan.sink.volume_path`. The operator reads
no Secret: a certificate's Secret volume is optional and an env var `IMPALA_COPY_REQUIRE_<n>` refers
to the same key, so a missing Secret or key stops the container with the kubelet's
CreateContainerConfigError naming it (see outcome.py), and the run starts by itself once the Secret
exists. A secret file (a keytab) is readable by the pod's
user only (KEYTAB_MODE) and never referred to from an env var: the engine reports a missing one,
naming its Secret and key. Nothing here knows a sink store by name: a new store only adds secret
and certificate references to the plan.

A partitioned copy's attempt runs as three step Jobs (core/steps.py), each labelled with its step and
named after it: the plan step and the commit step are one pod each, the copy step is an Indexed Job
with an index per partition (completions), `parallelism` pods at once, `backoffLimitPerIndex` retries of
each index and no failed index tolerated. The failure policy is the same for every Job: a configuration
error (exit code 2) fails the whole Job at once, a disruption does not count.
"""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from impala_copy import __version__
from impala_copy.api.activities import JobSettings
from impala_copy.api.common import GROUP_VERSION
from impala_copy.api.plan import PLAN_ENV, TASK_COPY, CertRef, CopyPlan, SecretRef, without_run_inputs
from impala_copy.api.pod_contract import EXIT_CONFIGURATION
from impala_copy.controller.core.constants import (
    ANNOTATION_ACTIVITY_NAME,
    ANNOTATION_GENERATION,
    ANNOTATION_OWNER_KIND,
    ANNOTATION_PLAN_DIGEST,
    ANNOTATION_RERUN_WINDOW,
    ANNOTATION_RUN_NOW,
    ANNOTATION_SCHEDULED_TIME,
    ANNOTATION_TRIGGER,
    ANNOTATION_WINDOW_END,
    ANNOTATION_WINDOW_START,
    APP_NAME,
    COMPONENT_ENGINE,
    ENGINE_CONTAINER,
    LABEL_ACTIVITY,
    LABEL_ATTEMPT,
    LABEL_KIND,
    LABEL_RUN,
    LABEL_STEP,
    MANAGED_BY,
    STEP_COPY,
    TERMINATION_MESSAGE_PATH,
)
from impala_copy.controller.core.readiness import claim_name
from impala_copy.controller.core.runs import NewAttempt
from impala_copy.controller.core.settings import JobDefaults
from impala_copy.controller.core.timeutil import format_time

NAME_LIMIT = 63  # a Job's name becomes a label value on its pods
TMP_DIR = "/tmp"  # noqa: S108 - an emptyDir of the pod, not the operator's /tmp
ENGINE_COMMAND = ("impala-copy",)
ENGINE_ARGS = ("engine",)
SINK_VOLUME = "sink-volume"
REQUIRE_ENV_PREFIX = "IMPALA_COPY_REQUIRE_"
# A secret file (a keytab): the kubelet writes Secret files as root, with the pod's fsGroup as their
# group, so read access for the group is the least the pod's (non-root) user can read it with.
# Without an fsGroup: owner only.
KEYTAB_MODE = 0o440
KEYTAB_MODE_WITHOUT_FS_GROUP = 0o400


class TaskPlan(Protocol):
    """What the Job builder needs of a plan (CopyPlan, LookupPlan, ConnectionTestPlan)."""

    @property
    def run_id(self) -> str: ...

    def to_wire(self) -> dict[str, Any]: ...

    def secret_refs(self) -> list[SecretRef]: ...

    def cert_refs(self) -> list[CertRef]: ...


@dataclass(frozen=True)
class JobOwner:
    """The object a Job belongs to (its controller owner) and its `job` settings."""

    name: str
    namespace: str
    uid: str | None
    kind: str = "CopyActivity"
    api_version: str = GROUP_VERSION
    settings: JobSettings | None = None


def plan_digest(plan: TaskPlan) -> str:
    """What a run would do, as a short digest (per-run values aside: api/plan.RUN_INPUTS): a waiting run
    of another digest is stale. Equal for every run of the same spec."""
    wire = without_run_inputs(plan.to_wire())
    return _digest(json.dumps(wire, sort_keys=True, separators=(",", ":")), 16)


def _digest(text: str, size: int = 5) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def _fit(text: str, room: int) -> str:
    return text[:room].rstrip("-.") or "x"


def activity_label(name: str) -> str:
    """A label-safe value for an object name (names may be longer than 63 characters)."""
    if len(name) <= NAME_LIMIT:
        return name
    return f"{_fit(name, NAME_LIMIT - 6)}-{_digest(name)}"


def job_name(activity: str, uid: str | None, run_number: int, attempt: int, step: str | None = None) -> str:
    """`<activity>-<tag>-<run>-<attempt>[-<step>]`: stable for a run, attempt and step, distinct per object
    incarnation."""
    suffix = f"-{_digest(uid or activity)}-{run_number}-{attempt}" + (f"-{step}" if step else "")
    return _fit(activity, NAME_LIMIT - len(suffix)) + suffix


def job_labels(
    owner_name: str, attempt: NewAttempt, kind: str = "CopyActivity", step: str | None = None
) -> dict[str, str]:
    return {
        LABEL_KIND: kind,
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": activity_label(owner_name),
        "app.kubernetes.io/component": COMPONENT_ENGINE,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/version": __version__,
        LABEL_ACTIVITY: activity_label(owner_name),
        LABEL_RUN: attempt.run_id,
        LABEL_ATTEMPT: str(attempt.attempt),
        **({LABEL_STEP: step} if step else {}),
    }


def _cert_volumes(
    plan: TaskPlan, secret_mode: int = KEYTAB_MODE
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One volume per (Secret or ConfigMap, folder), with an item per key, mounted read-only at the folder;
    a secret file's item has `secret_mode`."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for cert in plan.cert_refs():
        source = cert.source
        if source.secret_key_ref is not None:
            kind, name, key = "secret", source.secret_key_ref.name, source.secret_key_ref.key
        elif source.config_map_key_ref is not None:
            kind, name, key = "configMap", source.config_map_key_ref.name, source.config_map_key_ref.key
        else:
            continue
        folder, file_name = posixpath.split(cert.path)
        items = groups.setdefault((kind, name, folder), [])
        if not any(item["path"] == file_name for item in items):
            items.append({"key": key, "path": file_name, **({"mode": secret_mode} if cert.secret else {})})
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for index, ((kind, name, folder), items) in enumerate(sorted(groups.items())):
        volume = f"certs-{index}"
        projection: dict[str, Any] = {"items": items, "defaultMode": 0o444}
        projection["secretName" if kind == "secret" else "name"] = name
        if kind == "secret":
            # A missing Secret is reported through the env var that requires it (CreateContainerConfigError
            # names it); a mount that never happens would leave the pod waiting without a reason.
            projection["optional"] = True
        volumes.append({"name": volume, kind: projection})
        mounts.append({"name": volume, "mountPath": folder, "readOnly": True})
    return volumes, mounts


def _required_cert_secrets(plan: TaskPlan) -> list[dict[str, Any]]:
    """An env var per certificate Secret key: the kubelet refuses to start without it, naming it."""
    keys = sorted(
        {(c.source.secret_key_ref.name, c.source.secret_key_ref.key) for c in plan.cert_refs()
         if c.source.secret_key_ref is not None and not c.secret}
    )  # fmt: skip
    return [
        {"name": f"{REQUIRE_ENV_PREFIX}{i}", "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        for i, (name, key) in enumerate(keys)
    ]


def _env(plan: TaskPlan) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": PLAN_ENV, "value": json.dumps(plan.to_wire(), separators=(",", ":"), sort_keys=True)},
        {"name": "TMPDIR", "value": TMP_DIR},
        {"name": "HOME", "value": TMP_DIR},
    ]
    for ref in sorted(plan.secret_refs(), key=lambda r: r.env):
        env.append(
            {
                "name": ref.env,
                "valueFrom": {
                    "secretKeyRef": {"name": ref.secret_key_ref.name, "key": ref.secret_key_ref.key}
                },
            }
        )
    return env + _required_cert_secrets(plan)


def _restricted_container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _volumes(plan: TaskPlan, defaults: JobDefaults) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's volumes and the container's mounts: /tmp, certificates, the sink's claim."""
    mode = KEYTAB_MODE if defaults.fs_group is not None else KEYTAB_MODE_WITHOUT_FS_GROUP
    cert_volumes, cert_mounts = _cert_volumes(plan, mode)
    tmp = {"sizeLimit": defaults.tmp_size_limit} if defaults.tmp_size_limit else {}
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": tmp}, *cert_volumes]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": TMP_DIR}, *cert_mounts]
    claim = claim_name(plan) if isinstance(plan, CopyPlan) else None
    if isinstance(plan, CopyPlan) and claim is not None and plan.sink.volume_path:
        volumes.append({"name": SINK_VOLUME, "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": SINK_VOLUME, "mountPath": plan.sink.volume_path})
    return volumes, mounts


def _container(
    plan: TaskPlan, own: JobSettings, defaults: JobDefaults, task: str, mounts: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "name": ENGINE_CONTAINER,
        "image": own.image or defaults.image,
        "imagePullPolicy": own.image_pull_policy or defaults.image_pull_policy,
        "command": list(ENGINE_COMMAND),
        "args": [*ENGINE_ARGS, *(("--task", task) if task != TASK_COPY else ())],
        "env": _env(plan),
        "resources": own.resources.to_wire() if own.resources is not None else dict(defaults.resources),
        "securityContext": _restricted_container_security(),
        "terminationMessagePath": TERMINATION_MESSAGE_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }


def _pod_security(defaults: JobDefaults) -> dict[str, Any]:
    """Restricted: non-root always; a UID, GID and fsGroup left unset are the platform's to assign."""
    ids = {
        "runAsUser": defaults.run_as_user,
        "runAsGroup": defaults.run_as_group,
        "fsGroup": defaults.fs_group,
    }
    return {
        "runAsNonRoot": True,
        **{key: value for key, value in ids.items() if value is not None},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _pod_spec(plan: TaskPlan, own: JobSettings, defaults: JobDefaults, task: str) -> dict[str, Any]:
    """The pod: restricted security, the engine container, volumes, and the scheduling settings."""
    volumes, mounts = _volumes(plan, defaults)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": _pod_security(defaults),
        "containers": [_container(plan, own, defaults, task, mounts)],
        "volumes": volumes,
    }
    _put(pod_spec, "serviceAccountName", own.service_account_name or defaults.service_account_name or None)
    pull_secrets = (
        [s.name for s in own.image_pull_secrets]
        if own.image_pull_secrets
        else list(defaults.image_pull_secrets)
    )
    _put(pod_spec, "imagePullSecrets", [{"name": s} for s in pull_secrets] or None)
    _put(pod_spec, "nodeSelector", _own_or(own.node_selector, defaults.node_selector))
    tolerations = _own_or(own.tolerations, defaults.tolerations)
    _put(pod_spec, "tolerations", list(tolerations) if tolerations is not None else None)
    _put(pod_spec, "affinity", _own_or(own.affinity, defaults.affinity))
    return pod_spec


FAILURE_POLICY: dict[str, Any] = {
    "rules": [
        {
            "action": "FailJob",
            "onExitCodes": {
                "containerName": ENGINE_CONTAINER,
                "operator": "In",
                "values": [EXIT_CONFIGURATION],
            },
        },
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]
}


def _indexed(plan: CopyPlan, retries_per_index: int) -> dict[str, Any]:
    """The copy step of a partitioned copy: an index per partition, parallelCopies at once, each index
    retried on its own, and the Job failed as soon as one index has failed for good."""
    partitions = max(1, len(plan.partitions))
    parallel = plan.partitioning.parallelism if plan.partitioning is not None else partitions
    return {
        "completions": partitions,
        "parallelism": min(parallel, partitions),
        "completionMode": "Indexed",
        "backoffLimitPerIndex": retries_per_index,
        "maxFailedIndexes": 0,
    }


def _job_spec(
    plan: TaskPlan, pod: dict[str, Any], deadline: int, step: str | None, retries_per_index: int
) -> dict[str, Any]:
    shape: dict[str, Any] = (
        _indexed(plan, retries_per_index)
        if step == STEP_COPY and isinstance(plan, CopyPlan)
        else {"backoffLimit": 0, "completions": 1, "parallelism": 1, "completionMode": "NonIndexed"}
    )
    spec: dict[str, Any] = {
        **shape,
        "podFailurePolicy": copy.deepcopy(FAILURE_POLICY),
        "template": {"metadata": pod["metadata"], "spec": pod["spec"]},
    }
    if deadline > 0:
        spec["activeDeadlineSeconds"] = deadline
    return spec


def job_annotations(plan: TaskPlan, owner: JobOwner, attempt: NewAttempt) -> dict[str, str]:
    """What a Job records of its run: owner, generation, trigger, plan digest, run-now value, scheduled
    time, window."""
    annotations = {
        ANNOTATION_ACTIVITY_NAME: owner.name,
        ANNOTATION_GENERATION: str(attempt.generation),
        ANNOTATION_TRIGGER: str(attempt.trigger),
        ANNOTATION_PLAN_DIGEST: plan_digest(plan),
    }
    if attempt.run_now is not None:
        annotations[ANNOTATION_RUN_NOW] = attempt.run_now
    if attempt.scheduled_time is not None:
        annotations[ANNOTATION_SCHEDULED_TIME] = format_time(attempt.scheduled_time)
    if attempt.window is not None:
        annotations[ANNOTATION_WINDOW_START] = attempt.window.start
        annotations[ANNOTATION_WINDOW_END] = attempt.window.end
        if attempt.window.rerun is not None:
            annotations[ANNOTATION_RERUN_WINDOW] = attempt.window.rerun
    return annotations


def build_job(
    plan: TaskPlan,
    owner: JobOwner,
    defaults: JobDefaults,
    attempt: NewAttempt,
    *,
    task: str = TASK_COPY,
    timeout_seconds: int = 0,
    step: str | None = None,
    retries_per_index: int = 0,
) -> dict[str, Any]:
    """The Job manifest of one attempt (of one step of it, for a partitioned copy: `step`, and for its
    copy step the retries of each index). `plan.run_id` must be the attempt's run."""
    own = owner.settings or JobSettings()
    labels = {**(own.labels or {}), **job_labels(owner.name, attempt, owner.kind, step)}
    annotations = job_annotations(plan, owner, attempt)
    pod_annotations = {
        **(own.annotations or {}),
        ANNOTATION_ACTIVITY_NAME: owner.name,
        ANNOTATION_OWNER_KIND: owner.kind,
    }
    pod = {
        "metadata": {"labels": labels, "annotations": pod_annotations},
        "spec": _pod_spec(plan, own, defaults, task),
    }
    deadline = plan.timeout_seconds if isinstance(plan, CopyPlan) else timeout_seconds
    spec = _job_spec(plan, pod, deadline, step, retries_per_index)
    _put(
        spec,
        "ttlSecondsAfterFinished",
        _own_or(own.ttl_seconds_after_finished, defaults.ttl_seconds_after_finished),
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(owner.name, owner.uid, attempt.run_number, attempt.attempt, step),
            "namespace": owner.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": owner.api_version,
                    "kind": owner.kind,
                    "name": owner.name,
                    "uid": owner.uid or "",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }


T = TypeVar("T")


def _own_or(own: T | None, default: T | None) -> T | None:
    """The activity's own setting when written, else the operator's default."""
    return own if own is not None else default


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = dict(value) if isinstance(value, Mapping) else value
