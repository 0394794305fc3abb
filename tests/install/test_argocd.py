"""Argo CD support: the health checks and the run-now action (Lua), the argocd-cm snippet, and the
example Applications.

In:  the Lua scripts as shipped inside deploy/argocd/argocd-cm.yaml, run by a real Lua 5.1
     interpreter (Argo CD's Lua dialect) on objects whose status the operator's own pure functions
     wrote, from tests/operator/scenarios.py: every CopyActivity scenario (no status yet, stale,
     pending, running, succeeded, each failure, a retry scheduled, a pod stuck on its image,
     missing references, an invalid spec), every LookupActivity scenario and every
     ImpalaLinkedService connection-test outcome; datasets through the reconciler's
     Ready check; the example Applications under deploy/argocd/applications/.
Out: the health status and message Argo CD would show for each (a new scenario fails until its
     expected health is written down here); the run-now action sets a new impalacopy.io/run-now
     value each time and changes nothing else; argocd-cm.yaml and argo-cd-values.yaml are what
     generate.py writes now (no drift) and hold a health check for every kind; the Applications
     validate against Argo CD's Application schema (the npm package @kubernetes-models/argo-cd), have
     the fields Argo CD requires and ask for Server-Side Diff (no false OutOfSync from CRD defaults).
Faked: Argo CD itself (its Lua VM is replaced by lua5.1 with `obj` set the same way).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from impala_copy.api.common import API_GROUP
from impala_copy.api.kinds import KINDS
from impala_copy.controller.core.constants import ANNOTATION_RUN_NOW
from impala_copy.controller.core.controller import PlanContext
from impala_copy.controller.core.ready import plan_ready
from impala_copy.controller.core.settings import Settings
from tests.install.lua import run_script
from tests.operator import manifests
from tests.operator.scenarios import (
    BUILDERS,
    NOW,
    PASSWORD,
    Scenario,
    linked_service_scenarios,
    lookup_scenarios,
    scenarios,
    view_of,
)

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "deploy" / "argocd"
ARGOCD_MODELS = ROOT / ".tools" / "argocd-models" / "node_modules"

# What Argo CD shows for each CopyActivity scenario: health and a word its message must contain.
EXPECTED_COPY_HEALTH: dict[str, tuple[str, str]] = {
    "no-status": ("Progressing", "Waiting for the operator"),
    "stale": ("Progressing", "observe generation 2"),
    "pending": ("Progressing", "JobPending"),
    "running": ("Progressing", "JobRunning"),
    "succeeded": ("Healthy", "copied 5000 rows"),
    "failed-engine-error": ("Degraded", "AuthenticationFailed"),
    "failed-oom-killed": ("Degraded", "OOMKilled"),
    "failed-deadline-exceeded": ("Degraded", "DeadlineExceeded"),
    "failed-evicted": ("Degraded", "Evicted"),
    "retry-scheduled": ("Progressing", "RetryScheduled"),
    "partitioned-copying": ("Progressing", "1 of 3 partitions copied"),
    "partitioned-failed-index": ("Degraded", "partition 1: impala:21050 refused"),
    "image-pull-backoff": ("Degraded", "ImagePullBackOff"),
    "secret-not-found": ("Degraded", "SecretNotFound"),
    "secret-key-not-found": ("Degraded", "SecretKeyNotFound"),
    "reference-not-found": ("Degraded", "ReferenceNotFound"),
    "invalid-spec": ("Degraded", "InvalidSpec"),
}


# ------------------------------------------------------------------ the shipped snippet
@pytest.fixture(scope="module")
def argocd_cm() -> dict[str, str]:
    cm = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert cm["apiVersion"] == "v1"
    assert cm["kind"] == "ConfigMap"
    assert cm["metadata"]["name"] == "argocd-cm"
    assert cm["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    data: dict[str, str] = cm["data"]
    return data


@pytest.fixture(scope="module")
def scripts(argocd_cm: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Lua scripts as they appear in argocd-cm.yaml, written to files for lua5.1."""
    folder = tmp_path_factory.mktemp("lua")
    out = {}
    health = folder / "health.lua"
    health.write_text(argocd_cm[f"resource.customizations.health.{API_GROUP}_CopyActivity"])
    out["health"] = health
    actions = yaml.safe_load(argocd_cm[f"resource.customizations.actions.{API_GROUP}_CopyActivity"])
    (discovery := folder / "discovery.lua").write_text(actions["discovery.lua"])
    (action := folder / "action.lua").write_text(actions["definitions"][0]["action.lua"])
    out["discovery"], out["action"] = discovery, action
    return out


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ARGOCD / "generate.py"), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr


def test_argocd_cm_has_a_health_check_for_every_kind_and_run_now_on_activities(
    argocd_cm: dict[str, str],
) -> None:
    health_keys = {k for k in argocd_cm if k.startswith("resource.customizations.health.")}
    assert health_keys == {f"resource.customizations.health.{API_GROUP}_{kind}" for kind in KINDS}
    source = (ARGOCD / "health.lua").read_text()
    for key in health_keys:
        assert argocd_cm[key] == source
    action_keys = {k for k in argocd_cm if k.startswith("resource.customizations.actions.")}
    assert action_keys == {
        f"resource.customizations.actions.{API_GROUP}_CopyActivity",
        f"resource.customizations.actions.{API_GROUP}_LookupActivity",
    }
    for key in action_keys:
        config = yaml.safe_load(argocd_cm[key])
        assert config["discovery.lua"] == (ARGOCD / "actions" / "run-now" / "discovery.lua").read_text()
        assert [d["name"] for d in config["definitions"]] == ["run-now"]
        assert (
            config["definitions"][0]["action.lua"]
            == (ARGOCD / "actions" / "run-now" / "action.lua").read_text()
        )
    assert set(argocd_cm) == health_keys | action_keys


def test_argo_cd_helm_values_carry_the_same_settings(argocd_cm: dict[str, str]) -> None:
    values = yaml.safe_load((ARGOCD / "argo-cd-values.yaml").read_text())
    assert values == {"configs": {"cm": argocd_cm}}


# ------------------------------------------------------------------ health: CopyActivity
def test_every_operator_scenario_has_an_expected_health() -> None:
    assert set(BUILDERS) == set(EXPECTED_COPY_HEALTH), "a new scenario needs its expected Argo CD health here"


@pytest.mark.parametrize("name", sorted(EXPECTED_COPY_HEALTH))
def test_copy_activity_health(name: str, scripts: dict[str, Path], tmp_path: Path) -> None:
    obj = scenarios()[name]
    health = run_script(scripts["health"], obj, tmp_path)
    status, word = EXPECTED_COPY_HEALTH[name]
    assert health["status"] == status, health
    assert word in health["message"]


def test_no_status_is_a_resource_the_operator_has_not_seen() -> None:
    assert "status" not in scenarios()["no-status"]


def test_stale_status_is_progressing_even_when_the_last_run_succeeded(
    scripts: dict[str, Path], tmp_path: Path
) -> None:
    stale = scenarios()["stale"]
    assert stale["status"]["phase"] == "Succeeded"
    assert stale["status"]["observedGeneration"] < stale["metadata"]["generation"]
    assert run_script(scripts["health"], stale, tmp_path)["status"] == "Progressing"
    # Without a generation (not filled in) the status is taken as current.
    del stale["metadata"]["generation"]
    assert run_script(scripts["health"], stale, tmp_path)["status"] == "Healthy"


def test_suspended_when_the_operator_has_acted_on_schedule_suspend(
    scripts: dict[str, Path], tmp_path: Path
) -> None:
    s = Scenario(manifests.standard_set(PASSWORD))
    s.activity["spec"]["schedule"] = {"cron": "0 * * * *", "suspend": True}
    s.step()
    obj = s.activity
    assert obj["status"]["suspended"] is True
    health = run_script(scripts["health"], obj, tmp_path)
    assert health == {
        "status": "Suspended",
        "message": "Suspended: no scheduled run starts while spec.schedule.suspend is true",
    }
    # Resumed, not yet seen by the operator: Progressing; once seen, not Suspended any more.
    obj["spec"]["schedule"]["suspend"] = False
    obj["metadata"]["generation"] = 2
    assert run_script(scripts["health"], obj, tmp_path)["status"] == "Progressing"
    s.step()
    health = run_script(scripts["health"], s.activity, tmp_path)
    assert s.activity["status"]["suspended"] is False
    assert health == {
        "status": "Healthy",
        "message": "Waiting for the next scheduled run at 2026-01-15T09:00:00Z",
    }


# ------------------------------------------------------------------ health: linked services and datasets
def _ready_object(kind: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The object of `kind` with the status the operator writes for it (the Ready check)."""
    obj = next(o for o in objects if o["kind"] == kind)
    actions = plan_ready(obj, PlanContext(view=view_of(objects), old_status={}, settings=Settings(), now=NOW))
    assert actions.status is not None
    return {**obj, "status": actions.status}


@pytest.mark.parametrize("kind", ["ImpalaLinkedService", "ImpalaDataset", "ParquetDataset"])
def test_ready_kinds_are_healthy_when_their_references_resolve(
    kind: str, scripts: dict[str, Path], tmp_path: Path
) -> None:
    obj = _ready_object(kind, manifests.standard_set(PASSWORD))
    assert run_script(scripts["health"], obj, tmp_path) == {
        "status": "Healthy",
        "message": "Resolved: all references resolved",
    }


@pytest.mark.parametrize(
    ("kind", "remove", "reason"),
    [
        ("ImpalaLinkedService", "ConfigMap", "ConfigMapNotFound"),
        ("ImpalaDataset", "ImpalaLinkedService", "ReferenceNotFound"),
        ("ParquetDataset", "PersistentVolumeClaim", "ReferenceNotFound"),
    ],
)
def test_ready_kinds_are_degraded_when_a_reference_is_missing(
    kind: str, remove: str, reason: str, scripts: dict[str, Path], tmp_path: Path
) -> None:
    objects = [o for o in manifests.standard_set(PASSWORD) if o["kind"] != remove]
    obj = _ready_object(kind, objects)
    health = run_script(scripts["health"], obj, tmp_path)
    assert health["status"] == "Degraded"
    assert health["message"].startswith(f"{reason}: ")


EXPECTED_LINKED_SERVICE_HEALTH: dict[str, tuple[str, str]] = {
    "ready-not-tested": ("Healthy", "Resolved: all references resolved"),
    "connected": ("Healthy", "Connected: Connected to impala:21050 as alice"),
    "authentication-failed": ("Degraded", "Connection test failed: AuthenticationFailed: "),
    "tls-verification-failed": ("Degraded", "Connection test failed: TLSVerificationFailed: "),
    "unreachable": ("Degraded", "Connection test failed: Unreachable: "),
    "timeout": ("Degraded", "Connection test failed: Timeout: "),
    "server-error": ("Degraded", "Connection test failed: ServerError: "),
    "secret-not-found": ("Degraded", "SecretNotFound: Secret 'impala-credentials'"),
}


def test_every_linked_service_scenario_has_an_expected_health() -> None:
    assert set(linked_service_scenarios()) == set(EXPECTED_LINKED_SERVICE_HEALTH)


@pytest.mark.parametrize("name", sorted(EXPECTED_LINKED_SERVICE_HEALTH))
def test_linked_service_health(name: str, scripts: dict[str, Path], tmp_path: Path) -> None:
    health = run_script(scripts["health"], linked_service_scenarios()[name], tmp_path)
    status, prefix = EXPECTED_LINKED_SERVICE_HEALTH[name]
    assert health["status"] == status, health
    assert health["message"].startswith(prefix), health


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_without_status_is_progressing(
    kind: str, scripts: dict[str, Path], tmp_path: Path
) -> None:
    obj = {
        "apiVersion": f"{API_GROUP}/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x", "generation": 1},
        "spec": {},
    }
    assert run_script(scripts["health"], obj, tmp_path)["status"] == "Progressing"


# ------------------------------------------------------------------ health: LookupActivity
EXPECTED_LOOKUP_HEALTH: dict[str, tuple[str, str]] = {
    "no-status": ("Progressing", "Waiting for the operator"),
    "not-ready": ("Degraded", "ReferenceNotFound"),
    "pending": ("Progressing", "JobPending"),
    "running": ("Progressing", "JobRunning"),
    "succeeded": ("Healthy", "RunSucceeded"),
    "truncated-config-map": ("Healthy", "truncated"),
    "refresh-scheduled": ("Healthy", "RunSucceeded"),
    "retry-scheduled": ("Progressing", "RetryScheduled"),
    "failed": ("Degraded", "ResultTooLarge"),
}


def test_every_lookup_scenario_has_an_expected_health() -> None:
    assert set(lookup_scenarios()) == set(EXPECTED_LOOKUP_HEALTH)


@pytest.mark.parametrize("name", sorted(EXPECTED_LOOKUP_HEALTH))
def test_lookup_activity_health(name: str, scripts: dict[str, Path], tmp_path: Path) -> None:
    health = run_script(scripts["health"], lookup_scenarios()[name], tmp_path)
    status, word = EXPECTED_LOOKUP_HEALTH[name]
    assert health["status"] == status, health
    assert word in health["message"]


# ------------------------------------------------------------------ the run-now action
def _as_lua_returns(value: Any) -> Any:
    """JSON data as it comes back from Lua, where an empty list and an empty object are one empty table."""
    if isinstance(value, dict):
        return {k: _as_lua_returns(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_lua_returns(v) for v in value] if value else {}
    return value


def test_run_now_action_is_offered_unless_the_object_is_being_deleted(
    scripts: dict[str, Path], tmp_path: Path
) -> None:
    obj = scenarios()["succeeded"]
    assert run_script(scripts["discovery"], obj, tmp_path) == {"run-now": {"disabled": False}}
    obj["metadata"]["deletionTimestamp"] = "2026-01-15T09:00:00Z"
    assert run_script(scripts["discovery"], obj, tmp_path) == {"run-now": {"disabled": True}}


def test_run_now_action_sets_a_new_annotation_value_and_nothing_else(
    scripts: dict[str, Path], tmp_path: Path
) -> None:
    assert ANNOTATION_RUN_NOW == "impalacopy.io/run-now"
    obj = scenarios()["succeeded"]
    assert "annotations" not in obj["metadata"]
    before = datetime.now(UTC).replace(microsecond=0)
    first = run_script(scripts["action"], obj, tmp_path)
    value = first["metadata"]["annotations"][ANNOTATION_RUN_NOW]
    stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)
    # Everything else is as it was (the annotation is the only change Argo CD patches).
    expected = json.loads(json.dumps(obj))
    expected["metadata"]["annotations"] = {ANNOTATION_RUN_NOW: value}
    assert first == _as_lua_returns(expected)

    # Run again at once: the value changes (the operator acts on each new value), other annotations stay.
    first["metadata"]["annotations"]["team"] = "data"
    second = run_script(scripts["action"], first, tmp_path)
    annotations = second["metadata"]["annotations"]
    assert annotations["team"] == "data"
    assert annotations[ANNOTATION_RUN_NOW] != value


# ------------------------------------------------------------------ example Applications
def _applications() -> list[tuple[str, dict[str, Any]]]:
    apps = []
    for path in sorted((ARGOCD / "applications").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                apps.append((path.name, doc))
    return apps


def test_example_applications_have_what_argo_cd_requires() -> None:
    apps = _applications()
    assert {name for name, _ in apps} == {"impala-copy-operator.yaml", "data-copies.yaml"}
    for name, app in apps:
        assert app["apiVersion"] == "argoproj.io/v1alpha1", name
        assert app["kind"] == "Application", name
        assert app["metadata"]["name"], name
        assert app["metadata"]["namespace"] == "argocd", name
        spec = app["spec"]
        assert spec["project"], name
        assert spec["source"]["repoURL"].startswith("https://"), name
        assert spec["source"]["path"], name
        destination = spec["destination"]
        assert destination.get("server") or destination.get("name"), name
        assert destination["namespace"], name
        # The CRDs carry defaults the API server fills in: only a server-side diff sees them as no change.
        assert (
            app["metadata"]["annotations"]["argocd.argoproj.io/compare-options"] == "ServerSideDiff=true"
        ), name
    chart = dict(apps)["impala-copy-operator.yaml"]
    assert chart["spec"]["source"]["path"] == "charts/impala-copy-operator"
    assert "ServerSideApply=true" in chart["spec"]["syncPolicy"]["syncOptions"]
    assert (ROOT / chart["spec"]["source"]["path"] / "Chart.yaml").exists()


def test_example_applications_validate_against_the_argo_cd_schema() -> None:
    script = Path(__file__).with_name("argocd_application.mjs")
    if not (ARGOCD_MODELS / "@kubernetes-models" / "argo-cd").exists():
        pytest.fail(f"{ARGOCD_MODELS} has no Argo CD models: run `make tools`", pytrace=False)
    apps = [app for _, app in _applications()]
    broken = json.loads(json.dumps(apps[0]))
    broken["metadata"]["name"] = "broken"
    broken["spec"]["source"]["repoURL"] = 42
    broken["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    result = subprocess.run(
        ["node", str(script), str(ARGOCD_MODELS)],
        input=json.dumps([*apps, broken]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    verdicts = {v["name"]: v for v in json.loads(result.stdout)}
    for app in apps:
        assert verdicts[app["metadata"]["name"]]["ok"], verdicts[app["metadata"]["name"]]["error"]
    # The validator does reject a wrong Application (so a pass above means something).
    assert not verdicts["broken"]["ok"]
    assert "repoURL must be string" in verdicts["broken"]["error"]
    assert "prune must be boolean" in verdicts["broken"]["error"]
