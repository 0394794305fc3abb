"""build_job: the Job of one attempt, read field by field.

In:  CopyPlans resolved from manifests (PVC, S3-style store with secrets and a CA in a Secret, several
     partitions), owners with and without `job` settings, operator defaults.
Out: the Job manifest: names, labels, owner, env (plan JSON, secretKeyRef per secret), volumes and
     mounts at the plan's paths, restricted pod security, deadlines, failure policy, scheduling.
Faked: nothing; no server involved.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.install.pod_security import restricted_violations
from tests.operator import manifests
from tests.operator.scenarios import Scenario

from impala_copy.api.activities import JobSettings
from impala_copy.api.common import CertificateSource, SecretKeySelector
from impala_copy.api.plan import (
    PLAN_ENV,
    CertRef,
    CopyPlan,
    Partition,
    PartitioningPlan,
    SecretRef,
    StorePlan,
    secret_env_name,
)
from impala_copy.controller.core.job import JobOwner, activity_label, build_job, job_name, plan_digest
from impala_copy.controller.core.runs import NewAttempt
from impala_copy.controller.core.settings import JobDefaults

ATTEMPT = NewAttempt(run_number=4, attempt=2, generation=3, run_now="again", trigger="retry")
OWNER = JobOwner(name="copy-orders", namespace="sales", uid="0f1e2d3c-aaaa-bbbb-cccc-000000000001")


def resolved_plan() -> CopyPlan:
    """The plan of the standard manifests (password Secret, CA ConfigMap, PVC sink)."""
    from tests.operator.scenarios import view_of

    from impala_copy.controller.core.readiness import copy_activity_readiness
    from impala_copy.controller.core.view import ViewCatalog

    scenario = Scenario(manifests.standard_set("pw"))
    checked = copy_activity_readiness(scenario.activity, ViewCatalog(view_of(scenario.objects), "default"))
    assert checked.plan is not None, checked.readiness
    return checked.plan.model_copy(update={"run_id": "4"})


def container(job: dict[str, Any]) -> dict[str, Any]:
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(job)["env"]}


def test_job_name_is_stable_per_run_attempt_and_incarnation() -> None:
    name = job_name("copy-orders", "uid-1", 4, 2)
    assert name == job_name("copy-orders", "uid-1", 4, 2)
    assert name.startswith("copy-orders-")
    assert name.endswith("-4-2")
    assert job_name("copy-orders", "uid-2", 4, 2) != name  # a re-created object never reuses old Jobs
    long = job_name("a" * 253, "uid-1", 123, 45)
    assert len(long) <= 63
    assert long.endswith("-123-45")


def test_activity_label_fits_a_label_value() -> None:
    assert activity_label("copy-orders") == "copy-orders"
    long = activity_label("x" * 100)
    assert len(long) <= 63
    assert activity_label("x" * 100) != activity_label("x" * 99 + "y")


def test_metadata_labels_annotations_and_owner() -> None:
    job = build_job(resolved_plan(), OWNER, JobDefaults(), ATTEMPT)
    meta = job["metadata"]
    assert job["apiVersion"] == "batch/v1"
    assert job["kind"] == "Job"
    assert meta["name"] == job_name("copy-orders", OWNER.uid, 4, 2)
    assert meta["namespace"] == "sales"
    assert meta["labels"]["app.kubernetes.io/name"] == "impala-copy"
    assert meta["labels"]["app.kubernetes.io/instance"] == "copy-orders"
    assert meta["labels"]["app.kubernetes.io/component"] == "copy-engine"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "impala-copy-operator"
    assert meta["labels"]["impalacopy.io/activity"] == "copy-orders"
    assert meta["labels"]["impalacopy.io/run"] == "4"
    assert meta["labels"]["impalacopy.io/attempt"] == "2"
    assert meta["annotations"] == {
        "impalacopy.io/activity-name": "copy-orders",
        "impalacopy.io/generation": "3",
        "impalacopy.io/trigger": "retry",
        "impalacopy.io/run-now": "again",
        "impalacopy.io/plan-digest": plan_digest(resolved_plan()),
    }
    # The digest says what the run does (not which run): another run id, the same digest.
    assert plan_digest(resolved_plan().model_copy(update={"run_id": "99"})) == plan_digest(resolved_plan())
    assert len(plan_digest(resolved_plan())) == 16
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "impalacopy.io/v1alpha1",
            "kind": "CopyActivity",
            "name": "copy-orders",
            "uid": OWNER.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    template = job["spec"]["template"]["metadata"]
    assert template["labels"] == meta["labels"]
    assert template["annotations"]["impalacopy.io/activity-name"] == "copy-orders"


def test_container_runs_the_engine_with_the_plan_and_secret_refs() -> None:
    plan = resolved_plan()
    job = build_job(plan, OWNER, JobDefaults(image="registry.example/impala-copy:9"), ATTEMPT)
    engine = container(job)
    assert engine["name"] == "engine"
    assert engine["image"] == "registry.example/impala-copy:9"
    assert engine["imagePullPolicy"] == "IfNotPresent"
    assert engine["command"] == ["impala-copy"]
    assert engine["args"] == ["engine"]
    variables = env(job)
    assert CopyPlan.model_validate(json.loads(variables[PLAN_ENV]["value"])) == plan
    password_env = secret_env_name(SecretKeySelector(name="impala-credentials", key="password"))
    assert variables[password_env] == {
        "name": password_env,
        "valueFrom": {"secretKeyRef": {"name": "impala-credentials", "key": "password"}},
    }
    assert variables["TMPDIR"]["value"] == "/tmp"
    assert variables["HOME"]["value"] == "/tmp"
    assert {e["name"] for e in container(job)["env"]} == {PLAN_ENV, "TMPDIR", "HOME", password_env}
    assert engine["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert engine["terminationMessagePath"] == "/dev/termination-log"


def test_ca_from_a_config_map_and_the_pvc_are_mounted_where_the_plan_says() -> None:
    plan = resolved_plan()
    job = build_job(plan, OWNER, JobDefaults(), ATTEMPT)
    pod = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container(job)["volumeMounts"]}
    ca = plan.impala.trusted_cert
    assert ca is not None
    assert ca.path == "/etc/impala-copy/certs/configmap-impala-ca/ca.pem"
    mount = mounts["/etc/impala-copy/certs/configmap-impala-ca"]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["configMap"] == {
        "name": "impala-ca",
        "items": [{"key": "ca.pem", "path": "ca.pem"}],
        "defaultMode": 0o444,
    }
    assert plan.sink.volume_path == "/mnt/impala-copy/volumes/copies"
    sink = mounts[plan.sink.volume_path]
    assert volumes[sink["name"]]["persistentVolumeClaim"] == {"claimName": "copies"}
    assert "readOnly" not in sink
    # /tmp is bounded, so a runaway temp file fails the pod, not the node.
    assert volumes[mounts["/tmp"]["name"]] == {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}


def test_any_store_secrets_and_certs_need_no_change_in_the_builder() -> None:
    """A sink store the builder has never heard of: its secrets and CA come through the plan alone."""
    plan = resolved_plan()
    key = SecretKeySelector(name="store-keys", key="token")
    ca = CertificateSource(secret_key_ref=SecretKeySelector(name="store-tls", key="ca.crt"))
    ca2 = CertificateSource(secret_key_ref=SecretKeySelector(name="store-tls", key="extra.crt"))
    store = StorePlan(
        kind="SomeFutureLinkedService",
        spec={"endpoint": "https://store.example"},
        secrets={"token": SecretRef(secret_key_ref=key, env=secret_env_name(key))},
        certs={
            "trusted_cert": CertRef(source=ca, path="/etc/impala-copy/certs/secret-store-tls/ca.crt"),
            "extra": CertRef(source=ca2, path="/etc/impala-copy/certs/secret-store-tls/extra.crt"),
        },
    )
    plan = plan.model_copy(
        update={"sink": plan.sink.model_copy(update={"store": store, "volume_path": None})}
    )
    job = build_job(plan, OWNER, JobDefaults(), ATTEMPT)
    variables = env(job)
    assert variables[secret_env_name(key)]["valueFrom"] == {
        "secretKeyRef": {"name": "store-keys", "key": "token"}
    }
    mounts = {m["mountPath"]: m for m in container(job)["volumeMounts"]}
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    tls = volumes[mounts["/etc/impala-copy/certs/secret-store-tls"]["name"]]["secret"]
    assert tls["secretName"] == "store-tls"
    assert sorted(tls["items"], key=lambda i: i["key"]) == [
        {"key": "ca.crt", "path": "ca.crt"},
        {"key": "extra.crt", "path": "extra.crt"},
    ]
    assert not any("persistentVolumeClaim" in v for v in volumes.values())
    # Two files of one Secret in one folder: one volume, so no two mounts share a path.
    paths = [m["mountPath"] for m in container(job)["volumeMounts"]]
    assert len(paths) == len(set(paths))


def test_unset_ids_are_left_to_the_platform_and_the_pod_stays_restricted() -> None:
    """OpenShift's restricted-v2 SCC assigns the UID and fsGroup: the pod names none, and is non-root."""
    defaults = JobDefaults(run_as_user=None, run_as_group=None, fs_group=None)
    pod = build_job(resolved_plan(), OWNER, defaults, ATTEMPT)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert restricted_violations(pod) == []
    fixed = build_job(resolved_plan(), OWNER, JobDefaults(), ATTEMPT)["spec"]["template"]["spec"]
    assert restricted_violations(fixed) == []
    assert (fixed["securityContext"]["runAsUser"], fixed["securityContext"]["fsGroup"]) == (65532, 65532)


def test_restricted_pod_security() -> None:
    job = build_job(
        resolved_plan(), OWNER, JobDefaults(run_as_user=1000, run_as_group=2000, fs_group=3000), ATTEMPT
    )
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 2000,
        "fsGroup": 3000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(job)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    assert pod["enableServiceLinks"] is False
    assert "serviceAccountName" not in pod


def test_deadline_ttl_and_failure_policy() -> None:
    plan = resolved_plan().model_copy(update={"timeout_seconds": 5400})
    job = build_job(plan, OWNER, JobDefaults(ttl_seconds_after_finished=3600), ATTEMPT)
    spec = job["spec"]
    assert spec["activeDeadlineSeconds"] == 5400
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert spec["backoffLimit"] == 0
    assert spec["completions"] == 1
    assert spec["parallelism"] == 1
    assert spec["completionMode"] == "NonIndexed"
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "engine", "operator": "In", "values": [2]},
    }
    assert rules[1] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }
    no_ttl = build_job(plan, OWNER, JobDefaults(ttl_seconds_after_finished=None), ATTEMPT)
    assert "ttlSecondsAfterFinished" not in no_ttl["spec"]


def test_defaults_and_the_activity_job_settings() -> None:
    defaults = JobDefaults(
        image="img:default",
        image_pull_policy="Always",
        image_pull_secrets=("regcred",),
        service_account_name="copier",
        resources={"limits": {"memory": "1Gi"}},
        node_selector={"pool": "batch"},
        tolerations=({"key": "batch", "operator": "Exists"},),
        affinity={"nodeAffinity": {}},
        ttl_seconds_after_finished=60,
    )
    job = build_job(resolved_plan(), OWNER, defaults, ATTEMPT)
    pod = job["spec"]["template"]["spec"]
    assert container(job)["image"] == "img:default"
    assert container(job)["imagePullPolicy"] == "Always"
    assert container(job)["resources"] == {"limits": {"memory": "1Gi"}}
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["serviceAccountName"] == "copier"
    assert pod["nodeSelector"] == {"pool": "batch"}
    assert pod["tolerations"] == [{"key": "batch", "operator": "Exists"}]
    assert pod["affinity"] == {"nodeAffinity": {}}
    assert job["spec"]["ttlSecondsAfterFinished"] == 60

    own = JobSettings.model_validate(
        {
            "image": "img:mine",
            "imagePullPolicy": "Never",
            "imagePullSecrets": [{"name": "mine"}],
            "serviceAccountName": "mine",
            "resources": {"requests": {"cpu": "1"}},
            "nodeSelector": {"pool": "copy"},
            "tolerations": [],
            "ttlSecondsAfterFinished": 0,
            "labels": {"team": "sales", "impalacopy.io/run": "not-mine"},
            "annotations": {"note": "x"},
        }
    )
    owner = JobOwner(name="copy-orders", namespace="sales", uid="u", settings=own)
    job = build_job(resolved_plan(), owner, defaults, ATTEMPT)
    pod = job["spec"]["template"]["spec"]
    assert container(job)["image"] == "img:mine"
    assert container(job)["imagePullPolicy"] == "Never"
    assert container(job)["resources"] == {"requests": {"cpu": "1"}}
    assert pod["imagePullSecrets"] == [{"name": "mine"}]
    assert pod["serviceAccountName"] == "mine"
    assert pod["nodeSelector"] == {"pool": "copy"}
    assert pod["tolerations"] == []
    assert job["spec"]["ttlSecondsAfterFinished"] == 0
    labels = job["metadata"]["labels"]
    assert labels["team"] == "sales"
    assert labels["impalacopy.io/run"] == "4"  # the operator's labels win
    assert job["spec"]["template"]["metadata"]["annotations"]["note"] == "x"


@pytest.mark.parametrize(("partitions", "parallel"), [(2, 4), (5, 5), (8, 3)])
def test_the_copy_step_of_a_partitioned_copy_is_an_indexed_job(partitions: int, parallel: int) -> None:
    plan = resolved_plan().model_copy(
        update={
            "partitions": [Partition(index=i) for i in range(partitions)],
            "partitioning": PartitioningPlan(option="DynamicRange", count=parallel, parallelism=parallel),
        }
    )
    job = build_job(plan, OWNER, JobDefaults(), ATTEMPT, step="copy", retries_per_index=3)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == partitions
    assert spec["parallelism"] == min(partitions, parallel)
    assert (spec["backoffLimitPerIndex"], spec["maxFailedIndexes"]) == (3, 0)
    assert "backoffLimit" not in spec
    assert job["metadata"]["name"] == job_name("copy-orders", OWNER.uid, 4, 2) + "-copy"
    assert job["metadata"]["labels"]["impalacopy.io/step"] == "copy"
    # Several partitions without a step (never planned so) still make one pod.
    single = build_job(plan, OWNER, JobDefaults(), ATTEMPT)["spec"]
    assert (single["completionMode"], single["completions"], single["backoffLimit"]) == ("NonIndexed", 1, 0)
    assert "impalacopy.io/step" not in build_job(plan, OWNER, JobDefaults(), ATTEMPT)["metadata"]["labels"]


def test_no_secret_value_in_the_job() -> None:
    scenario = Scenario(manifests.standard_set("the-real-password-123"))
    scenario.step()
    text = json.dumps(scenario.job())
    assert scenario.job()["kind"] == "Job"
    assert "the-real-password-123" not in text
