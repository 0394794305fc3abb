"""Monitoring in the Helm chart: ServiceMonitor, PrometheusRule and the Grafana dashboard.

In:  the chart rendered offline with the real helm binary, with its defaults and with monitoring
     enabled (metrics, serviceMonitor, prometheusRule, grafanaDashboard), and with bad values;
     tests/install/alert_rules_test.yaml (promtool unit tests: input series and the alerts expected);
     the dashboard file charts/impala-copy-operator/dashboards/impala-copy.json; docs/install.md.
Out: nothing of it by default; `helm lint --strict` passes with all of it; the Service and the
     dashboard ConfigMap match the Kubernetes schemas; the ServiceMonitor scrapes the Service that
     selects the operator's pods by its metrics port, keeping the operator's namespace label (and
     no scrape annotations on the pod with scrapeAnnotations false);
     `promtool check rules` accepts the rendered groups and `promtool test rules` sees each alert fire
     (and not fire) as expected; every metric named in a rule or a dashboard query is one the operator
     exports (controller/core/metrics.py); the dashboard has what Grafana needs (uid, title, panels
     with a datasource and targets, the datasource variable); the alerts are documented; bad values
     are refused with the value's name.
Faked: the cluster (helm template renders without one) and Prometheus' scrapes (promtool's input
     series).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from impala_copy.controller.core.metrics import exported_names
from tests.install.chart import CHART, NAMESPACE, RELEASE, by_kind, lint, one, render, render_error

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / ".tools" / "bin" / "promtool"
DASHBOARD = CHART / "dashboards" / "impala-copy.json"
ENABLED: dict[str, Any] = {
    "metrics": {
        "enabled": True,
        "port": 9102,
        "scrapeAnnotations": False,
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True, "labels": {"role": "alerts"}},
    },
    "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Data"}},
}
# Names in PromQL that are not series: keywords; functions and aggregations are told by their "(".
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
NOT_OURS = {"up"}  # Prometheus' own series of each scrape target


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(tmp_path_factory.mktemp("monitoring"), ENABLED)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not PROMTOOL.exists():
        pytest.fail(f"{PROMTOOL} is missing: run `make tools`", pytrace=False)
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=120)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (strings, matchers, ranges and groupings removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set(re.findall(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()", text))
    return names - PROMQL_WORDS


def rule_groups(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = one(objects, "PrometheusRule")["spec"]["groups"]
    assert isinstance(groups, list)
    return groups


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    variables = [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    exprs += [re.sub(r"^label_values\(([^,]+),.*\)$", r"\1", v) for v in variables]  # Grafana's, not PromQL
    return exprs


# ------------------------------------------------------------------ what renders
def test_nothing_of_it_renders_by_default(tmp_path: Path) -> None:
    kinds = {o["kind"] for o in render(tmp_path)}
    assert kinds.isdisjoint({"Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"})


def test_helm_lint_strict_passes_with_everything_enabled(tmp_path: Path) -> None:
    assert "1 chart(s) linted, 0 chart(s) failed" in lint(tmp_path, ENABLED)


def test_built_in_objects_match_the_kubernetes_schema(objects: list[dict[str, Any]]) -> None:
    built_in = [one(objects, "Service"), one(objects, "ConfigMap")]
    for obj in built_in:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    assert {o["kind"] for o in objects} >= {"ServiceMonitor", "PrometheusRule"}


def test_the_service_monitor_scrapes_the_operator_pods_metrics_port(objects: list[dict[str, Any]]) -> None:
    service, monitor = one(objects, "Service"), one(objects, "ServiceMonitor")
    pod = one(objects, "Deployment")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    assert port == {"name": "metrics", "port": 9102, "targetPort": "metrics", "protocol": "TCP"}
    assert {"name": "metrics", "containerPort": 9102, "protocol": "TCP"} in container["ports"]
    assert "annotations" not in pod["metadata"]  # scrapeAnnotations: false, scraped once
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "honorLabels": True,
        "interval": "30s",
        "scrapeTimeout": "10s",
    }


# ------------------------------------------------------------------ the alerts
def test_promtool_accepts_the_rules_and_each_alert_fires_as_its_unit_test_says(
    objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["role"] == "alerts"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups(objects)}))
    checked = promtool("check", "rules", str(tmp_path / "rules.yaml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    shutil.copy(Path(__file__).parent / "alert_rules_test.yaml", tmp_path)
    tested = promtool("test", "rules", str(tmp_path / "alert_rules_test.yaml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tests = yaml.safe_load((tmp_path / "alert_rules_test.yaml").read_text())["tests"]
    tested_alerts = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested_alerts == {r["alert"] for g in rule_groups(objects) for r in g["rules"]}


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    """The check is a real one: a rule reading a series wrongly is refused."""
    broken = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "sum by (name (x)"}]}]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(broken))
    result = promtool("check", "rules", str(tmp_path / "rules.yaml"))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


def test_rule_settings_reach_the_rules(tmp_path: Path) -> None:
    rules = {
        "enabled": True,
        "connectionFailingFor": "1h",
        "missedScheduleWindow": "30m",
        "severity": {"activity": "info", "operator": "page"},
        "operatorSelector": 'job="kubernetes-pods",namespace="ops"',
    }
    values = {"metrics": {"enabled": True, "prometheusRule": rules}}
    found = {r["alert"]: r for g in rule_groups(render(tmp_path, values)) for r in g["rules"]}
    assert found["ImpalaCopyConnectionFailing"]["for"] == "1h"
    assert "impala_copy_missed_runs_total[30m]" in found["ImpalaCopyScheduleMissed"]["expr"]
    assert (
        found["ImpalaCopyNoLeader"]["expr"]
        == 'max(impala_copy_leader{job="kubernetes-pods",namespace="ops"}) < 1'
    )
    assert found["ImpalaCopyOperatorDown"]["labels"] == {"severity": "page"}
    assert found["ImpalaCopyActivityFailed"]["labels"] == {"severity": "info"}


def test_every_series_in_rules_and_dashboard_is_one_the_operator_exports(
    objects: list[dict[str, Any]],
) -> None:
    exprs = [r["expr"] for g in rule_groups(objects) for r in g["rules"]]
    exprs += dashboard_exprs(json.loads(DASHBOARD.read_text()))
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - NOT_OURS <= set(exported_names()), sorted(used - NOT_OURS - set(exported_names()))
    assert "impala_copy_last_run_partition_rows_copied" in used
    assert metric_names('sum by (ns) (rate(a_total{x="y"}[5m])) / on (ns) b or vector(0)') == {"a_total", "b"}


def test_the_alerts_are_documented(objects: list[dict[str, Any]]) -> None:
    text = (ROOT / "docs" / "install.md").read_text()
    section = text.split("\n## Monitoring\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(ImpalaCopy\w+)` \|", section, flags=re.MULTILINE))
    assert documented == {r["alert"] for g in rule_groups(objects) for r in g["rules"]}


# ------------------------------------------------------------------ the dashboard
def test_the_dashboard_configmap_carries_the_file_for_grafanas_sidecar(objects: list[dict[str, Any]]) -> None:
    (config_map,) = by_kind(objects, "ConfigMap")
    assert config_map["metadata"]["name"] == f"{RELEASE}-impala-copy-operator-dashboard"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Data"}
    (text,) = config_map["data"].values()
    assert json.loads(text) == json.loads(DASHBOARD.read_text())
    assert len(text.encode()) < 262144  # fits the last-applied annotation of a client-side kubectl apply


def test_the_dashboard_has_the_structure_grafana_needs() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for panel in dashboard["panels"]:
        where = f"panel {panel['id']} {panel.get('title')!r}"
        assert panel["title"], where
        assert panel["type"] in {"stat", "timeseries", "table", "bargauge"}, where
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "hwxy"), where
        assert grid["x"] + grid["w"] <= 24, where
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, where
        assert len(refs) == len(set(refs)), where
        assert all(t["expr"] and t["datasource"] == panel["datasource"] for t in panel["targets"]), where


# ------------------------------------------------------------------ bad values
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"metrics": {"prometheusRule": {"connectionFailingFor": "soon"}}}, "connectionFailingFor"),
        ({"metrics": {"serviceMonitor": {"interval": 30}}}, "metrics.serviceMonitor.interval"),
        (
            {"metrics": {"prometheusRule": {"operatorSelector": 'job="x"} or vector(1) #'}}},
            "operatorSelector",
        ),
        ({"metrics": {"prometheusRule": {"severity": {"activity": "a b"}}}}, "severity.activity"),
        (
            {"grafanaDashboard": {"labels": {"grafana_dashboard": 1}}},
            "grafanaDashboard.labels.grafana_dashboard",
        ),
        ({"grafanaDashboard": {"namespace": "Not_A_Name"}}, "grafanaDashboard.namespace"),
        ({"grafanaDashboard": {"folder": "x"}}, "Additional property folder is not allowed"),
    ],
)
def test_schema_refuses_bad_monitoring_values(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    error = render_error(tmp_path, values)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"metrics": {"serviceMonitor": {"enabled": True}}},
            "metrics.serviceMonitor.enabled and metrics.prometheusRule.enabled need metrics.enabled: true",
        ),
        (
            {"metrics": {"enabled": True, "prometheusRule": {"enabled": True}}},
            "metrics.prometheusRule.enabled without metrics.serviceMonitor.enabled needs "
            "metrics.prometheusRule.operatorSelector",
        ),
    ],
)
def test_monitoring_without_what_it_reads_is_refused(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    assert message in render_error(tmp_path, values)
