"""The Helm chart charts/impala-copy-operator, rendered offline with the real helm binary.

In:  the chart with its default values and with a set of non-default values (namespaced RBAC, other
     images, pull secrets, Job defaults, metrics off, an existing service account).
Out: `helm lint --strict` passes; every rendered object validates against the Kubernetes schemas
     (kubernetes-validate, strict, oldest supported and newest version); the operator pod passes the
     "restricted" Pod Security checks; the RBAC rules are exactly the API access the operator
     declares (controller/core/kube.py API_ACCESS), cluster-wide or per namespace, carry `update` on
     the finalizers of every kind that owns what the operator creates, name no Secret and
     write ConfigMaps with create/patch/delete only; the Deployment's environment is read back by the
     operator's own settings parser into the values given, and `podPolicy` by load_pod_policy; bad
     values (podPolicy included, which load_pod_policy refuses too) are refused by
     values.schema.json; the optional ConfigMap guard (a ValidatingAdmissionPolicy) matches the
     admissionregistration.k8s.io/v1 schema, refuses Kubernetes 1.29, and its CEL, evaluated with
     cel-python, lets the operator's ServiceAccount change only ConfigMaps labelled as its own;
     high availability: leader election settings from `leaderElection` (checked against each other),
     the Lease rules in a Role of the release namespace only (cluster-wide or namespaced), a
     RollingUpdate, pod anti-affinity by default (soft, hard, none, or the user's affinity), and a
     PodDisruptionBudget when replicaCount is above 1;
     NOTES.txt tells what to apply next; the chart's crds/ are the generated crds/ byte for byte.
Faked: the cluster (helm template renders without one); the admission requests given to the CEL.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml

from impala_copy.api.pod_policy import PodPolicy, load_pod_policy
from impala_copy.controller.core.kube import API_ACCESS, CLUSTER, OWN_NAMESPACE, WATCHED
from impala_copy.controller.core.settings import ENV_VARS, Settings
from tests.install.chart import (
    CHART,
    HELM,
    NAMESPACE,
    RELEASE,
    by_kind,
    helm,
    lint,
    one,
    render,
    render_error,
    render_notes,
)
from tests.install.pod_security import restricted_violations

ROOT = Path(__file__).resolve().parents[2]
CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())
APP_VERSION = CHART_YAML["appVersion"]
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas available.
KUBE_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

CUSTOM: dict[str, Any] = {
    "image": {
        "repository": "registry.example.com/data/impala-copy",
        "tag": "0.1.0-rc1",
        "pullPolicy": "Always",
    },
    "imagePullSecrets": [{"name": "registry-cred"}],
    "serviceAccount": {"create": False, "name": "copy-operator"},
    "watchNamespaces": ["team-a", "team-b"],
    "logLevel": "DEBUG",
    "logFormat": "json",
    "workers": 4,
    "resyncSeconds": 0,
    "connectionTests": False,
    "healthPort": 8081,
    "metrics": {"enabled": False, "port": 9100},
    "resources": {"requests": {"cpu": "50m", "memory": "100Mi"}, "limits": {"cpu": 1, "memory": "300Mi"}},
    "podAnnotations": {"example.com/team": "data"},
    "podLabels": {"team": "data"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "infra", "operator": "Exists", "effect": "NoSchedule"}],
    "priorityClassName": "system-cluster-critical",
    "job": {
        "image": {
            "repository": "registry.example.com/data/impala-copy-engine",
            "tag": "0.1.0",
            "pullPolicy": "Never",
        },
        "imagePullSecrets": [{"name": "engine-cred"}, {"name": "engine-cred-2"}],
        "serviceAccountName": "copy-jobs",
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        "nodeSelector": {"pool": "batch"},
        "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
        "ttlSecondsAfterFinished": None,
        "successfulJobsHistoryLimit": 5,
        "failedJobsHistoryLimit": 2,
        "maxParallelCopies": 8,
        "runAsUser": 1001,
        "runAsGroup": 1001,
        "fsGroup": None,
    },
    "podPolicy": {
        "allowedImages": ["registry.example.com/data/*", "registry.example.com/tools/copy@sha256:"],
        "serviceAccountNames": ["copy-s3"],
        "allowedLabelPrefixes": ["example.com/"],
        "allowedAnnotationPrefixes": ["example.com/", "team-"],
        "allowScheduling": True,
        "allowImagePullSecrets": True,
        "maxResources": {"requests": {"cpu": 2}, "limits": {"cpu": "4", "memory": "16Gi"}},
        "maxTtlSecondsAfterFinished": 86400,
    },
}


@pytest.fixture(scope="module")
def default_objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def custom_objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(tmp_path_factory.mktemp("custom"), CUSTOM)


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _env(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(objects)["env"] if "value" in e}


# ------------------------------------------------------------------ lint and schemas
@pytest.mark.parametrize("values", [None, CUSTOM], ids=["default", "custom"])
def test_helm_lint_strict_passes(tmp_path: Path, values: dict[str, Any] | None) -> None:
    out = lint(tmp_path, values)
    assert "1 chart(s) linted, 0 chart(s) failed" in out


@pytest.mark.parametrize("which", ["default", "custom"])
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_rendered_object_matches_the_kubernetes_schema(
    which: str, kube_version: str, default_objects: list[dict[str, Any]], custom_objects: list[dict[str, Any]]
) -> None:
    objects = default_objects if which == "default" else custom_objects
    rbac = {"ClusterRole", "ClusterRoleBinding"} if which == "default" else {"Role", "RoleBinding"}
    assert {o["kind"] for o in objects} >= {"Deployment", *rbac}
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} does not match Kubernetes {kube_version}: {exc.path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{name}: no Kubernetes {kube_version} schema for this kind (not a built-in kind?)")


def test_default_render_has_exactly_the_expected_objects(default_objects: list[dict[str, Any]]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in default_objects)
    name = f"{RELEASE}-impala-copy-operator"
    assert kinds == [
        ("ClusterRole", name),
        ("ClusterRoleBinding", name),
        ("Deployment", name),
        ("Role", f"{name}-leader-election"),
        ("RoleBinding", f"{name}-leader-election"),
        ("ServiceAccount", name),
    ]
    for obj in default_objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "impala-copy-operator"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == APP_VERSION


# ------------------------------------------------------------------ the operator pod
@pytest.mark.parametrize("which", ["default", "custom"])
def test_operator_pod_passes_restricted_pod_security(
    which: str, default_objects: list[dict[str, Any]], custom_objects: list[dict[str, Any]]
) -> None:
    objects = default_objects if which == "default" else custom_objects
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    # The fields themselves, as the restricted profile and the image need them.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = pod["containers"][0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


# OpenShift's restricted-v2 SCC assigns UIDs and fsGroup from the namespace's range: none is fixed.
UNSET_IDS: dict[str, Any] = {
    "runAsUser": None,
    "runAsGroup": None,
    "job": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
}


def test_unset_ids_leave_them_to_the_platform_and_stay_restricted(tmp_path: Path) -> None:
    objects = render(tmp_path, UNSET_IDS)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert restricted_violations(pod) == []
    env = _env(objects)
    assert [env[f"IMPALA_COPY_JOB_{n}"] for n in ("RUN_AS_USER", "RUN_AS_GROUP", "FS_GROUP")] == ["", "", ""]
    job = Settings.from_env(env).job
    assert (job.run_as_user, job.run_as_group, job.fs_group) == (None, None, None)
    assert "values don't meet" not in lint(tmp_path, UNSET_IDS)


def test_pod_security_checker_flags_a_pod_that_breaks_the_rules() -> None:
    bad = {
        "hostNetwork": True,
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [
            {
                "name": "c",
                "ports": [{"containerPort": 80, "hostPort": 80}],
                "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
            }
        ],
    }
    found = "\n".join(restricted_violations(bad))
    for text in (
        "hostNetwork",
        "hostPath",
        "hostPort",
        "privileged",
        "SYS_ADMIN",
        "allowPrivilegeEscalation",
        "non-root",
        "seccompProfile",
        "drop capability ALL",
    ):
        assert text in found


def test_default_deployment_runs_the_operator_with_probes_and_resources(
    default_objects: list[dict[str, Any]],
) -> None:
    deployment = one(default_objects, "Deployment")
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert deployment["spec"]["replicas"] == 1
    # A new pod stands by until it is ready; then the old leader stops and releases the Lease.
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    template = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert template["spec"]["serviceAccountName"] == f"{RELEASE}-impala-copy-operator"
    container = _container(default_objects)
    assert container["image"] == f"impala-copy:{APP_VERSION}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["operator"]
    assert "command" not in container  # the image's entrypoint is impala-copy
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "256Mi"},
    }
    assert "annotations" not in template["metadata"]
    pod_name = next(e for e in container["env"] if e["name"] == "IMPALA_COPY_POD_NAME")
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_custom_deployment_uses_the_values(custom_objects: list[dict[str, Any]]) -> None:
    template = one(custom_objects, "Deployment")["spec"]["template"]
    spec = template["spec"]
    container = _container(custom_objects)
    assert container["image"] == "registry.example.com/data/impala-copy:0.1.0-rc1"
    assert container["imagePullPolicy"] == "Always"
    assert spec["imagePullSecrets"] == [{"name": "registry-cred"}]
    assert spec["serviceAccountName"] == "copy-operator"
    assert spec["nodeSelector"] == CUSTOM["nodeSelector"]
    assert spec["tolerations"] == CUSTOM["tolerations"]
    assert spec["priorityClassName"] == "system-cluster-critical"
    assert container["resources"] == CUSTOM["resources"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"health": 8081}
    assert container["livenessProbe"]["httpGet"]["port"] == "health"
    assert template["metadata"]["annotations"] == {"example.com/team": "data"}
    assert template["metadata"]["labels"]["team"] == "data"
    assert not by_kind(custom_objects, "ServiceAccount")  # serviceAccount.create false


# ------------------------------------------------------------------ settings the operator reads
def test_every_environment_variable_is_one_the_operator_reads(
    default_objects: list[dict[str, Any]], custom_objects: list[dict[str, Any]]
) -> None:
    known = {var.name for var in ENV_VARS}
    for objects in (default_objects, custom_objects):
        names = [e["name"] for e in _container(objects)["env"]]
        assert len(names) == len(set(names))
        unknown = set(names) - known
        assert not unknown, f"the chart sets variables the operator does not read: {sorted(unknown)}"


def test_default_environment_parses_into_the_chart_defaults(default_objects: list[dict[str, Any]]) -> None:
    settings = Settings.from_env(_env(default_objects))
    assert settings.clusterwide
    assert settings.log_level == "INFO"
    assert settings.liveness_endpoint == "http://0.0.0.0:8080/healthz"
    assert settings.connection_tests is True
    assert settings.metrics_port is None
    job = settings.job
    assert job.image == f"impala-copy:{APP_VERSION}"
    assert job.image_pull_policy == "IfNotPresent"
    assert job.image_pull_secrets == ()
    assert job.service_account_name is None
    assert job.resources == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}
    assert job.node_selector is None
    assert job.tolerations is None
    assert job.affinity is None
    assert job.ttl_seconds_after_finished == 604800
    assert (job.successful_jobs_history_limit, job.failed_jobs_history_limit) == (3, 1)
    assert (job.run_as_user, job.run_as_group, job.fs_group) == (65532, 65532, 65532)


def test_custom_environment_parses_into_the_values_given(custom_objects: list[dict[str, Any]]) -> None:
    settings = Settings.from_env(_env(custom_objects))
    assert settings.namespaces == ("team-a", "team-b")
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.workers == 4
    assert settings.resync_seconds == 0
    assert settings.connection_tests is False
    assert settings.liveness_endpoint == "http://0.0.0.0:8081/healthz"
    job = settings.job
    values = CUSTOM["job"]
    assert job.image == "registry.example.com/data/impala-copy-engine:0.1.0"
    assert job.image_pull_policy == "Never"
    assert job.image_pull_secrets == ("engine-cred", "engine-cred-2")
    assert job.service_account_name == "copy-jobs"
    assert job.resources == values["resources"]
    assert job.node_selector == values["nodeSelector"]
    assert list(job.tolerations or ()) == values["tolerations"]
    assert job.affinity == values["affinity"]
    assert job.ttl_seconds_after_finished is None
    assert (job.successful_jobs_history_limit, job.failed_jobs_history_limit) == (5, 2)
    assert job.max_parallel_copies == 8
    assert (job.run_as_user, job.run_as_group, job.fs_group) == (1001, 1001, None)


def test_job_image_and_pull_secrets_default_to_the_operators(tmp_path: Path) -> None:
    values = {
        "image": {"repository": "registry.example.com/impala-copy", "tag": "7.7.7", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "registry-cred"}],
    }
    settings = Settings.from_env(_env(render(tmp_path, values)))
    assert settings.job.image == "registry.example.com/impala-copy:7.7.7"
    assert settings.job.image_pull_policy == "Always"
    assert settings.job.image_pull_secrets == ("registry-cred",)


# ------------------------------------------------------------------ podPolicy
def test_default_pod_policy_renders_to_the_policy_defaults(default_objects: list[dict[str, Any]]) -> None:
    assert load_pod_policy(_env(default_objects)["IMPALA_COPY_POD_POLICY"]) == PodPolicy()


def test_custom_pod_policy_renders_to_the_values_given(custom_objects: list[dict[str, Any]]) -> None:
    policy = load_pod_policy(_env(custom_objects)["IMPALA_COPY_POD_POLICY"])
    assert policy.to_wire() == CUSTOM["podPolicy"]
    assert policy.max_resources is not None
    assert policy.max_resources.requests == {"cpu": 2}


BAD_POD_POLICIES: list[tuple[dict[str, Any], str, str]] = [
    # (podPolicy value, what helm's schema error names, what load_pod_policy's error says)
    ({"allowSchedulling": True}, "Additional property allowSchedulling", "allowSchedulling: Extra inputs"),
    (
        {"allowScheduling": "yes"},
        "podPolicy.allowScheduling",
        "allowScheduling: Input should be a valid boolean",
    ),
    ({"allowedImages": ["registry.example.com/impala*"]}, "podPolicy.allowedImages.0", "a prefix rule ends"),
    ({"allowedImages": ["*/evil/*"]}, "podPolicy.allowedImages.0", "a prefix rule ends with /* or :*"),
    ({"serviceAccountNames": ["Admin"]}, "podPolicy.serviceAccountNames.0", "serviceAccountNames[0]: String"),
    ({"allowedLabelPrefixes": ["*"]}, "podPolicy.allowedLabelPrefixes.0", "is not the start of a label"),
    ({"allowedAnnotationPrefixes": "example.com/"}, "podPolicy.allowedAnnotationPrefixes", "valid list"),
    (
        {"maxResources": {"limits": {"memory": "lots"}}},
        "podPolicy.maxResources",
        "'lots' is not a Kubernetes",
    ),
    ({"maxResources": {"limits": {"memory": "1ki"}}}, "podPolicy.maxResources", "'1ki' is not a Kubernetes"),
    ({"maxResources": {"limit": {}}}, "podPolicy.maxResources", "maxResources.limit: Extra inputs"),
    (
        {"maxTtlSecondsAfterFinished": -1},
        "podPolicy.maxTtlSecondsAfterFinished",
        "greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("value", "helm_message", "policy_message"), BAD_POD_POLICIES)
def test_a_bad_pod_policy_is_refused_by_the_schema_and_by_the_operator(
    tmp_path: Path, value: dict[str, Any], helm_message: str, policy_message: str
) -> None:
    error = render_error(tmp_path, {"podPolicy": value})
    assert "values don't meet the specifications of the schema" in error
    assert helm_message in error
    # The operator refuses the same value at start (when the chart is bypassed).
    with pytest.raises(ValueError, match="IMPALA_COPY_POD_POLICY is not a valid pod policy") as caught:
        load_pod_policy(json.dumps(value))
    assert policy_message in str(caught.value)


# ------------------------------------------------------------------ RBAC
Rule = tuple[str, str, str]  # (apiGroup, resource, verb)


def _rules(role: dict[str, Any]) -> set[Rule]:
    found = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, "no resourceNames / nonResourceURLs expected"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), "no wildcards"
                    found.add((group, resource, verb))
    return found


def _declared(*scopes: str) -> set[Rule]:
    return {(a.group, a.resource, verb) for a in API_ACCESS if a.scope in scopes for verb in a.verbs}


LEASE_ROLE = f"{RELEASE}-impala-copy-operator-leader-election"


def _watch_roles(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Roles of the watched namespaces (not the leader election's)."""
    return [r for r in by_kind(objects, "Role") if not r["metadata"]["name"].endswith("-leader-election")]


def _binding_subjects(binding: dict[str, Any], sa: str) -> None:
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}]


def test_clusterwide_rbac_is_exactly_the_declared_api_access(default_objects: list[dict[str, Any]]) -> None:
    role = one(default_objects, "ClusterRole")
    assert _rules(role) == _declared(WATCHED, CLUSTER)
    assert not _watch_roles(default_objects)
    binding = one(default_objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    _binding_subjects(binding, f"{RELEASE}-impala-copy-operator")


def test_every_owner_kind_has_the_finalizers_rule_owner_reference_enforcement_asks_for(
    default_objects: list[dict[str, Any]], custom_objects: list[dict[str, Any]]
) -> None:
    """Every object the operator creates (the Jobs of every running kind, lookup result ConfigMaps) is
    owned with blockOwnerDeletion: under OwnerReferencesPermissionEnforcement (OpenShift) that takes
    `update` on the owner's finalizers, in the ClusterRole and in every namespaced Role."""
    from impala_copy.controller.core.constants import RUNNING_KINDS
    from impala_copy.controller.core.kube import OURS, OWNER_KINDS

    assert set(OWNER_KINDS) == set(RUNNING_KINDS)
    needed = {("impalacopy.io", f"{OURS[kind].plural}/finalizers", "update") for kind in OWNER_KINDS}
    assert needed == {
        ("impalacopy.io", "copyactivities/finalizers", "update"),
        ("impalacopy.io", "lookupactivities/finalizers", "update"),
        ("impalacopy.io", "impalalinkedservices/finalizers", "update"),
    }
    roles = [one(default_objects, "ClusterRole"), *_watch_roles(custom_objects)]
    for role in roles:
        assert needed <= _rules(role), role["metadata"]


def test_namespaced_rbac_gives_each_watched_namespace_a_role_and_nothing_cluster_wide(
    custom_objects: list[dict[str, Any]],
) -> None:
    # With plain namespace names the operator lists neither namespaces nor CRDs (kopf's scanning is off).
    assert not by_kind(custom_objects, "ClusterRole")
    assert not by_kind(custom_objects, "ClusterRoleBinding")
    assert _declared(CLUSTER), "the declaration still lists the cluster-wide needs of a cluster-wide install"
    roles = {r["metadata"]["namespace"]: r for r in _watch_roles(custom_objects)}
    assert set(roles) == {"team-a", "team-b"}
    for role in roles.values():
        assert _rules(role) == _declared(WATCHED)
    bindings = {
        b["metadata"]["namespace"]: b
        for b in by_kind(custom_objects, "RoleBinding")
        if b["metadata"]["name"] != LEASE_ROLE
    }
    assert set(bindings) == {"team-a", "team-b"}
    for namespace, binding in bindings.items():
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["roleRef"]["name"] == roles[namespace]["metadata"]["name"]
        _binding_subjects(binding, "copy-operator")


def test_namespaced_operator_is_configured_with_plain_names(custom_objects: list[dict[str, Any]]) -> None:
    from impala_copy.controller.handlers import exact_namespaces

    assert exact_namespaces(Settings.from_env(_env(custom_objects)))


def test_declared_api_access_covers_every_kind_the_operator_reconciles() -> None:
    from impala_copy.controller.core.kube import OURS

    declared = _declared(WATCHED)
    for ref in OURS.values():
        assert ("impalacopy.io", ref.plural, "watch") in declared
        assert ("impalacopy.io", f"{ref.plural}/status", "patch") in declared


def _roles(which: str, default: list[dict[str, Any]], custom: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if which == "plain":
        shipped = (ROOT / "deploy" / "kubernetes" / "operator.yaml").read_text()
        objects = [doc for doc in yaml.safe_load_all(shipped) if doc]
    else:
        objects = default if which == "default" else custom
    roles = by_kind(objects, "ClusterRole") + _watch_roles(objects)
    assert roles
    return roles


@pytest.mark.parametrize("which", ["default", "custom", "plain"])
def test_no_role_names_secrets_and_configmaps_are_written_only_by_create_patch_delete(
    which: str, default_objects: list[dict[str, Any]], custom_objects: list[dict[str, Any]]
) -> None:
    for role in _roles(which, default_objects, custom_objects):
        assert "secret" not in yaml.safe_dump(role["rules"]).lower()
        rules = _rules(role)
        verbs = {resource: {v for g, r, v in rules if g == "" and r == resource} for _, resource, _ in rules}
        assert verbs["configmaps"] == {"get", "list", "watch", "create", "patch", "delete"}
        assert verbs["pods"] == {"list", "watch"}
        assert verbs["pods/log"] == {"get"}
        assert {r for _, r, _ in rules if r.startswith("pods/")} == {"pods/log"}, "no exec, attach, proxy"


def test_rbac_create_false_renders_no_rbac(tmp_path: Path) -> None:
    objects = render(tmp_path, {"rbac": {"create": False}})
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} & {o["kind"] for o in objects}


# ------------------------------------------------------------------ the optional ConfigMap guard
GUARD_VALUES: dict[str, Any] = {
    "configMapGuard": {"enabled": True},
    "serviceAccount": {"create": False, "name": "copy-operator"},
}
OPERATOR_USER = f"system:serviceaccount:{NAMESPACE}:copy-operator"
OWN = {"app.kubernetes.io/managed-by": "impala-copy-operator", "app.kubernetes.io/component": "lookup-result"}
DENY_FOREIGN = (
    "the impala-copy operator may update or delete only ConfigMaps labelled "
    "app.kubernetes.io/managed-by=impala-copy-operator"
)
DENY_UNLABEL = (
    "the impala-copy operator may not remove the label app.kubernetes.io/managed-by=impala-copy-operator "
    "from a ConfigMap"
)


@pytest.fixture(scope="module")
def guard_objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(tmp_path_factory.mktemp("guard"), GUARD_VALUES)


def test_configmap_guard_passes_helm_lint_strict(tmp_path: Path) -> None:
    assert "1 chart(s) linted, 0 chart(s) failed" in lint(tmp_path, GUARD_VALUES)


def test_configmap_guard_is_off_by_default(default_objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in default_objects}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


@pytest.mark.parametrize("kube_version", ["1.30.0", KUBE_VERSIONS[-1]])
def test_configmap_guard_matches_the_admissionregistration_v1_schema(
    kube_version: str, guard_objects: list[dict[str, Any]]
) -> None:
    policy = one(guard_objects, "ValidatingAdmissionPolicy")
    binding = one(guard_objects, "ValidatingAdmissionPolicyBinding")
    for obj in (policy, binding):
        assert obj["apiVersion"] == "admissionregistration.k8s.io/v1"
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} does not match Kubernetes {kube_version}: {exc.path}: {exc.message}")
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConstraints"]["resourceRules"] == [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["UPDATE", "DELETE"],
            "resources": ["configmaps"],
        }
    ]


def test_configmap_guard_needs_kubernetes_1_30(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(GUARD_VALUES))
    result = helm("template", RELEASE, str(CHART), "--kube-version", "1.29.0", "-f", str(values), check=False)
    assert result.returncode != 0
    assert "configMapGuard.enabled needs Kubernetes 1.30 or newer" in result.stderr


def _admission(policy: dict[str, Any], user: str, operation: str, old: Any, new: Any) -> list[str] | None:
    """The messages the policy denies a ConfigMap request with ([]: allowed); None: it does not apply."""
    spec = policy["spec"]
    (rule,) = spec["matchConstraints"]["resourceRules"]
    if operation not in rule["operations"]:
        return None
    env = celpy.Environment()
    activation = {
        "request": celpy.json_to_cel({"operation": operation, "userInfo": {"username": user}}),
        "oldObject": celpy.json_to_cel(old),
        "object": celpy.json_to_cel(new),
    }

    def holds(expression: str) -> bool:
        return bool(env.program(env.compile(expression)).evaluate(activation))

    if not all(holds(c["expression"]) for c in spec["matchConditions"]):
        return None
    return [v["message"] for v in spec["validations"] if not holds(v["expression"])]


def _config_map(labels: dict[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "cm", "namespace": "team-a"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


@pytest.mark.parametrize(
    ("user", "operation", "old", "new", "verdict"),
    [
        (OPERATOR_USER, "UPDATE", OWN, OWN, []),
        (OPERATOR_USER, "DELETE", OWN, None, []),
        (OPERATOR_USER, "DELETE", None, None, [DENY_FOREIGN]),
        (OPERATOR_USER, "DELETE", {"app.kubernetes.io/managed-by": "Helm"}, None, [DENY_FOREIGN]),
        (OPERATOR_USER, "UPDATE", {"team": "a"}, OWN, [DENY_FOREIGN]),
        (OPERATOR_USER, "UPDATE", OWN, {"team": "a"}, [DENY_UNLABEL]),
        (OPERATOR_USER, "CREATE", None, OWN, None),
        ("system:serviceaccount:team-a:default", "DELETE", None, None, None),
        (f"system:serviceaccount:{NAMESPACE}:copy-operator-2", "DELETE", None, None, None),
    ],
)
def test_configmap_guard_lets_the_operator_change_only_its_own_configmaps(
    guard_objects: list[dict[str, Any]],
    user: str,
    operation: str,
    old: dict[str, str] | None,
    new: dict[str, str] | None,
    verdict: list[str] | None,
) -> None:
    policy = one(guard_objects, "ValidatingAdmissionPolicy")
    old_object = None if operation == "CREATE" else _config_map(old)
    new_object = None if operation == "DELETE" else _config_map(new)
    assert _admission(policy, user, operation, old_object, new_object) == verdict


# ------------------------------------------------------------------ values.schema.json
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"watchNamespaces": ["team-*"]}, "watchNamespaces.0"),
        ({"logLevel": "LOUD"}, "logLevel"),
        ({"watchNamespace": ["a"]}, "Additional property watchNamespace is not allowed"),
        ({"job": {"ttlSecondsAfterFinished": -1}}, "job.ttlSecondsAfterFinished"),
        ({"job": {"imagePullSecrets": ["cred"]}}, "job.imagePullSecrets.0"),
        ({"replicaCount": -1}, "replicaCount"),
        ({"leaderElection": {"leaseDurationSeconds": 0}}, "leaderElection.leaseDurationSeconds"),
        ({"leaderElection": {"retryPeriodSeconds": "2s"}}, "leaderElection.retryPeriodSeconds"),
        ({"leaderElection": {"leaseDuration": 15}}, "Additional property leaseDuration is not allowed"),
        ({"podAntiAffinity": "always"}, "podAntiAffinity"),
        ({"connectionTests": "yes"}, "connectionTests"),
        ({"probeWorkers": -1}, "probeWorkers"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
        ({"resources": {"limits": {"memory": "lots"}}}, "resources.limits.memory"),
        ({"runAsUser": 0}, "runAsUser"),
        ({"job": {"runAsUser": 0}}, "job.runAsUser"),
        ({"job": {"runAsGroup": "nobody"}}, "job.runAsGroup"),
        ({"job": {"maxParallelCopies": 0}}, "job.maxParallelCopies"),
        ({"job": {"maxParallelCopies": 257}}, "job.maxParallelCopies"),
    ],
)
def test_schema_refuses_bad_values(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    error = render_error(tmp_path, values)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


def test_existing_service_account_needs_a_name(tmp_path: Path) -> None:
    error = render_error(tmp_path, {"serviceAccount": {"create": False}})
    assert "serviceAccount.name is required when serviceAccount.create is false" in error


# ------------------------------------------------------------------ NOTES.txt and CRDs
def test_notes_say_what_to_apply_next(tmp_path: Path) -> None:
    notes = render_notes(tmp_path)
    assert "It watches every namespace." in notes
    assert f"kubectl -n {NAMESPACE} rollout status deployment/{RELEASE}-impala-copy-operator" in notes
    for kind in ("Secret", "ImpalaLinkedService", "ImpalaDataset", "CopyActivity"):
        assert kind in notes
    assert "kubectl get copyactivities" in notes
    assert "impalacopy.io/run-now" in notes
    assert "kubectl apply --server-side -f <chart>/crds/" in notes
    (tmp_path / "ns").mkdir()
    namespaced = render_notes(tmp_path / "ns", {"watchNamespaces": ["team-a", "team-b"]})
    assert "It watches the namespaces: team-a, team-b." in namespaced


def test_chart_crds_are_the_generated_crds() -> None:
    root, chart = ROOT / "crds", CHART / "crds"
    names = sorted(p.name for p in root.glob("*.yaml"))
    assert names, "crds/ is empty: run `make generate`"
    assert sorted(p.name for p in chart.glob("*.yaml")) == names
    match, mismatch, errors = filecmp.cmpfiles(root, chart, names, shallow=False)
    assert (mismatch, errors) == ([], []), (
        "charts/impala-copy-operator/crds differs from crds/: run `make generate`"
    )
    assert match == names


# ------------------------------------------------------------------ plain manifests for kubectl
def test_plain_manifests_are_the_chart_rendered_with_its_defaults() -> None:
    render_script = ROOT / "deploy" / "kubernetes" / "render.sh"
    fresh = subprocess.run(
        [str(render_script), str(HELM)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    shipped = (ROOT / "deploy" / "kubernetes" / "operator.yaml").read_text()
    assert shipped == fresh, "deploy/kubernetes/operator.yaml is out of date: run `make generate`"
    objects = [doc for doc in yaml.safe_load_all(shipped) if doc]
    namespace = one(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        kubernetes_validate.validate(obj, KUBE_VERSIONS[-1], strict=True)
        if obj["kind"] != "Namespace" and obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == namespace["metadata"]["name"]
    deployment = one(objects, "Deployment")
    assert deployment["metadata"]["name"] == "impala-copy-operator"
    assert _rules(one(objects, "ClusterRole")) == _declared(WATCHED, CLUSTER)
    assert _rules(one(objects, "Role")) == _declared(OWN_NAMESPACE)


def test_metrics_values_open_the_port_and_pass_it_to_the_operator(tmp_path: Path) -> None:
    objects = render(tmp_path, {"metrics": {"enabled": True, "port": 9102}})
    template = one(objects, "Deployment")["spec"]["template"]
    container = _container(objects)
    assert {"name": "metrics", "containerPort": 9102, "protocol": "TCP"} in container["ports"]
    assert _env(objects)["IMPALA_COPY_METRICS_PORT"] == "9102"
    assert Settings.from_env(_env(objects)).metrics_port == 9102
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9102",
        "prometheus.io/path": "/metrics",
    }
    metrics_settings = {var.name for var in ENV_VARS if "METRICS" in var.name}
    assert metrics_settings == {"IMPALA_COPY_METRICS_PORT"}


# ------------------------------------------------------------------ high availability
@pytest.mark.parametrize("which", ["default", "custom"])
def test_the_lease_rules_are_a_role_in_the_release_namespace_only(
    which: str, default_objects: list[dict[str, Any]], custom_objects: list[dict[str, Any]]
) -> None:
    objects = default_objects if which == "default" else custom_objects
    (role,) = [r for r in by_kind(objects, "Role") if r["metadata"]["name"] == LEASE_ROLE]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert (
        _rules(role)
        == _declared(OWN_NAMESPACE)
        == {
            ("coordination.k8s.io", "leases", "get"),
            ("coordination.k8s.io", "leases", "create"),
            ("coordination.k8s.io", "leases", "patch"),
        }
    )
    (binding,) = [b for b in by_kind(objects, "RoleBinding") if b["metadata"]["name"] == LEASE_ROLE]
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": LEASE_ROLE}
    _binding_subjects(binding, "copy-operator" if which == "custom" else f"{RELEASE}-impala-copy-operator")
    for cluster_role in by_kind(objects, "ClusterRole"):
        assert "leases" not in {r for _, r, _ in _rules(cluster_role)}


def test_leader_election_settings_reach_the_operator(
    tmp_path: Path, default_objects: list[dict[str, Any]]
) -> None:
    container = _container(default_objects)
    lease_ns = next(e for e in container["env"] if e["name"] == "IMPALA_COPY_LEASE_NAMESPACE")
    assert lease_ns["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    env = _env(default_objects)
    settings = Settings.from_env({**env, "IMPALA_COPY_LEASE_NAMESPACE": NAMESPACE})
    assert settings.lease_namespace == NAMESPACE
    assert settings.lease_name == f"{RELEASE}-impala-copy-operator"
    assert (settings.lease_duration, settings.lease_renew_deadline, settings.lease_retry_period) == (
        15,
        10,
        2,
    )
    values = {
        "leaderElection": {"leaseDurationSeconds": 30, "renewDeadlineSeconds": 20, "retryPeriodSeconds": 4}
    }
    tuned = Settings.from_env(_env(render(tmp_path, values)))
    assert (tuned.lease_duration, tuned.lease_renew_deadline, tuned.lease_retry_period) == (30, 20, 4)


@pytest.mark.parametrize(
    ("election", "message"),
    [
        ({"renewDeadlineSeconds": 15}, "leaderElection.renewDeadlineSeconds must be less than"),
        ({"retryPeriodSeconds": 10}, "leaderElection.retryPeriodSeconds must be less than"),
    ],
)
def test_election_timings_are_checked_against_each_other(
    tmp_path: Path, election: dict[str, int], message: str
) -> None:
    assert message in render_error(tmp_path, {"leaderElection": election})


def test_one_replica_has_no_disruption_budget(default_objects: list[dict[str, Any]]) -> None:
    assert not by_kind(default_objects, "PodDisruptionBudget")


def test_several_replicas_get_a_disruption_budget_and_spread_over_nodes(tmp_path: Path) -> None:
    objects = render(tmp_path, {"replicaCount": 3})
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["metadata"]["namespace"] == NAMESPACE
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": deployment["spec"]["selector"]}
    for obj in objects:
        kubernetes_validate.validate(obj, KUBE_VERSIONS[-1], strict=True)
    assert "1 chart(s) linted, 0 chart(s) failed" in lint(tmp_path, {"replicaCount": 3})


SELECTOR = {"app.kubernetes.io/name": "impala-copy-operator", "app.kubernetes.io/instance": RELEASE}


@pytest.mark.parametrize(
    ("values", "affinity"),
    [
        (
            {},
            {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": SELECTOR},
                            },
                        }
                    ]
                }
            },
        ),
        (
            {"podAntiAffinity": "hard"},
            {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": SELECTOR}}
                    ]
                }
            },
        ),
        ({"podAntiAffinity": "none"}, None),
        (
            {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}},
            {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
        ),
    ],
    ids=["soft-by-default", "hard", "none", "user-affinity-wins"],
)
def test_replicas_spread_over_nodes_by_default(
    tmp_path: Path, values: dict[str, Any], affinity: dict[str, Any] | None
) -> None:
    pod = one(render(tmp_path, values), "Deployment")["spec"]["template"]["spec"]
    assert pod.get("affinity") == affinity
