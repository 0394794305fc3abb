"""`impala-copy import-adf` on ADF JSON written from ADF's documented shapes.

In:  tests/fixtures/adf/: the Impala connector's examples (linked service, dataset, Copy with
     ImpalaSource, Lookup), an ADF Git repository layout, an ARM template export with a parameters
     file, a Key Vault reference, a schedule and a tumbling-window trigger; hand-made malformed input.
Out: the folder written (manifests that `impala-copy validate` accepts, Secret templates without
     values, the README's commands), the report lines with their JSON paths, the exit codes, and
     docs/migrating-from-adf.md equal to what the mapping generates.
Faked: nothing (the command runs in-process on real files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from rich.console import Console

from impala_copy.adf import docs
from impala_copy.adf.expressions import Unmappable, binding, keep
from impala_copy.adf.timezones import WINDOWS_TO_IANA
from impala_copy.adf.triggers import cron_of
from impala_copy.cli import adf_import, copy_commands

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "adf"


def run(tmp_path: Path, *paths: Path, namespace: str | None = None) -> tuple[int, str, str, Path]:
    out_dir = tmp_path / "out"
    out, err = Console(record=True, width=400), Console(record=True, width=400)
    code = adf_import.import_adf(list(paths), out_dir, namespace, out=out, err=err)
    return code, out.export_text(), err.export_text(), out_dir


def objects(out_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for file in sorted((out_dir / "manifests").glob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def valid(out_dir: Path, namespace: str = "default") -> bool:
    console = Console(record=True, width=400)
    return copy_commands.validate(out_dir, namespace, out=console, err=console) == 0


def test_connector_examples_round_trip(tmp_path: Path) -> None:
    code, out, err, out_dir = run(tmp_path, FIXTURES / "connector-docs")
    assert code == 0
    assert valid(out_dir)
    found = objects(out_dir)
    ls = found[("ImpalaLinkedService", "impalalinkedservice")]["spec"]
    assert ls["password"] == {"secretKeyRef": {"name": "impalalinkedservice-credentials", "key": "password"}}
    assert ls["trustedCert"] == {"configMapKeyRef": {"name": "impalalinkedservice-ca", "key": "ca.crt"}}
    copy = found[("CopyActivity", "copyfromimpalapipeline-copyfromimpala")]["spec"]
    assert copy["source"] == {"type": "ImpalaSource", "query": "SELECT * FROM sales.orders"}
    assert copy["outputs"] == [{"referenceName": "orderscsv", "kind": "DelimitedTextDataset"}]
    lookup = found[("LookupActivity", "copyfromimpalapipeline-lookupordercount")]["spec"]
    assert lookup["firstRowOnly"] is True
    secret = yaml.safe_load((out_dir / "secrets" / "secret-impalalinkedservice-credentials.yaml").read_text())
    assert secret["stringData"] == {"password": ""}
    readme = (out_dir / "README.md").read_text()
    assert (
        "kubectl create secret generic impalalinkedservice-credentials --from-literal=password='<password>'"
        in readme
    )
    assert "C:\\\\certs\\\\impala-ca.pem" in readme or "impala-ca.pem" in readme
    # The SecureString's value and the connection string's key are never written anywhere.
    everything = err + out + "".join(p.read_text() for p in out_dir.rglob("*") if p.is_file())
    assert "not-a-real-password" not in everything
    assert "bm90LWEta2V5" not in everything
    report = (out_dir / "import-report.md").read_text()
    assert "| $.properties.connectVia |" in report
    assert "$.properties.activities[0].typeProperties.sink.formatSettings.fileExtension" in err


def test_arm_export_with_parameters_key_vault_and_triggers(tmp_path: Path) -> None:
    code, _, err, out_dir = run(tmp_path, FIXTURES / "arm", namespace="analytics")
    assert code == 0
    assert valid(out_dir, "analytics")
    found = objects(out_dir)
    assert found[("ImpalaLinkedService", "impalals")]["spec"]["host"] == "impala.prod.internal"
    assert found[("PostgreSqlLinkedService", "postgresls")]["spec"]["sslMode"] == "verify-full"
    hourly = found[("CopyActivity", "hourly-orders-copy-orders")]["spec"]
    assert hourly["source"]["query"] == (
        "SELECT * FROM sales.orders WHERE ts >= '@{trigger().outputs.windowStartTime}' "
        "AND ts < '@{trigger().outputs.windowEndTime}'"
    )
    assert hourly["schedule"] == {
        "window": {
            "startTime": "2026-12-01T00:00:00Z",
            "frequency": "Hour",
            "interval": 1,
            "delay": "00:10:00",
            "maxConcurrency": 4,
        },
        "suspend": True,
    }
    assert (hourly["policy"]["retry"], hourly["policy"]["retryIntervalInSeconds"]) == (2, 60)
    partitioned = found[("CopyActivity", "daily-count-copy-partitioned")]["spec"]
    assert (partitioned["source"], partitioned["parallelCopies"]) == (
        {
            "type": "ImpalaSource",
            "partitionOption": "DynamicRange",
            "partitionSettings": {
                "partitionColumnName": "order_id",
                "partitionLowerBound": "1",
                "partitionUpperBound": "100000",
            },
        },
        8,
    )
    assert "parallelCopies" not in err
    assert "partitionOption" not in err
    daily = found[("LookupActivity", "daily-count-count-orders")]["spec"]["schedule"]
    assert daily == {"cron": "30 6,18 * * 1,5", "timeZone": "Europe/Berlin"}
    readme = (out_dir / "README.md").read_text()
    assert (
        'kubectl create secret generic impalals-credentials -n analytics --from-literal=password="$(az keyvault '
        'secret show --vault-name contoso-kv --name impala-password --query value -o tsv)"'
    ) in readme
    for path, reason in [
        ("$.resources[3]", "integration runtime"),
        ("$.resources[7].properties.activities[1].dependsOn", "Argo CD sync waves"),
        ("$.resources[7].properties.activities[2].typeProperties.activities[0]", "inside control flow"),
        ("$.resources[7].properties.activities[3]", "WebActivity"),
    ]:
        line = next((ln for ln in err.splitlines() if f": {path}: " in ln), "")
        assert reason in line, (path, err)


def test_git_layout_names_collisions_and_unmappable_items(tmp_path: Path) -> None:
    code, _, err, out_dir = run(tmp_path, FIXTURES / "git-repo")
    assert code == 0
    assert valid(out_dir)
    found = objects(out_dir)
    assert found[("ImpalaLinkedService", "impala-prod")]["metadata"]["annotations"][
        "impalacopy.io/adf-name"
    ] == ("Impala_Prod")
    assert ("ImpalaLinkedService", "impala-prod-2") in found
    assert "'impala-prod' is named 'impala-prod-2'" in err
    parquet = found[("ParquetDataset", "ordersparquet")]["spec"]
    assert parquet["location"]["folderPath"] == "orders/@{trigger().scheduledTime}"
    assert found[("AzureBlobStorageLinkedService", "lake")]["spec"]["hierarchicalNamespace"] is True
    copy = found[("CopyActivity", "nightly-orders-to-lake")]["spec"]
    assert copy["schedule"] == {"cron": "15 2 * * *", "timeZone": "UTC"}
    assert copy["source"]["additionalColumns"] == [
        {"name": "loaded_at", "value": "@{trigger().scheduledTime}"}
    ]
    # An activity whose query holds an expression impala-copy cannot fill in is not written.
    assert ("CopyActivity", "nightly-orders-by-run") not in found
    assert (
        "$.properties.activities[1].typeProperties.source.query: pipeline 'Nightly', activity 'Orders by run': "
        "the expression "
        "@{variables('batch')} is not supported" in err
    )
    assert "linkedService 'NoSuchService' is not in the input" in err
    assert "trigger type 'BlobEventsTrigger' has no counterpart" in err
    assert "linkedService type 'Oracle' has no counterpart" in err


def test_unreadable_input_fails_and_unknown_types_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "properties": {')
    code, _, err, out_dir = run(tmp_path, bad)
    assert code == 2
    assert "error: UnreadableInput: " in err
    assert "bad.json: not valid JSON: line 1" in err
    assert not out_dir.exists()
    assert run(tmp_path, tmp_path / "absent.json")[0] == 2
    unknown = tmp_path / "in" / "thing.json"
    unknown.parent.mkdir()
    unknown.write_text('{"name": "x", "type": "Microsoft.DataFactory/factories/widgets", "properties": {}}')
    code, _, err, _ = run(tmp_path, unknown.parent)
    assert code == 0
    assert "$: resource 'x': unknown resource type 'Microsoft.DataFactory/factories/widgets'" in err


def test_cron_only_where_it_says_the_same_times() -> None:
    assert cron_of({"frequency": "Minute", "interval": 15, "startTime": "2026-01-01T00:07:00Z"}) == (
        "7,22,37,52 * * * *"
    )
    assert (
        cron_of({"frequency": "Hour", "interval": 6, "startTime": "2026-01-01T03:00:00Z"})
        == "0 3,9,15,21 * * *"
    )
    assert (
        cron_of(
            {
                "frequency": "Month",
                "interval": 1,
                "startTime": "2026-01-01T00:00:00Z",
                "schedule": {"monthDays": [1, 15]},
            }
        )
        == "0 0 1,15 * *"
    )
    for recurrence, reason in [
        ({"frequency": "Minute", "interval": 7, "startTime": "2026-01-01T00:00:00Z"}, "does not divide 60"),
        ({"frequency": "Day", "interval": 2, "startTime": "2026-01-01T00:00:00Z"}, "every 2 days"),
        (
            {
                "frequency": "Month",
                "interval": 1,
                "startTime": "2026-01-01T00:00:00Z",
                "schedule": {"monthDays": [-1]},
            },
            "the last day",
        ),
    ]:
        with pytest.raises(ValueError, match=reason):
            cron_of(recurrence)


def test_committed_migration_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "migrating-from-adf.md").read_text(encoding="utf-8")
    assert committed == docs.render(), "docs/migrating-from-adf.md is out of date: run `make generate`"
    assert "| `typeProperties.trustedCertPath` | `spec.trustedCert` |" in committed
    assert "| W. Europe Standard Time | `Europe/Berlin` |" in committed


def test_every_time_zone_of_the_table_is_a_real_iana_zone() -> None:
    for windows, iana in WINDOWS_TO_IANA.items():
        assert ZoneInfo(iana).key == iana, windows


def test_expressions_kept_bound_or_refused() -> None:
    window = "@{trigger().outputs.windowStartTime}"
    assert keep(f"SELECT * FROM t WHERE ts >= '{window}'", {}) == f"SELECT * FROM t WHERE ts >= '{window}'"
    assert keep("@trigger().outputs.windowEndTime", {}) == "@{trigger().outputs.windowEndTime}"
    assert keep("@@literal", {}) == "@literal"
    assert keep("region = '@{pipeline().parameters.region}'", {"region": "eu"}) == "region = 'eu'"
    assert keep("@pipeline().parameters.start", {"start": window}) == window
    with pytest.raises(Unmappable, match="has no value from a trigger and no default"):
        keep("@{pipeline().parameters.missing}", {})
    formatted = "@{formatDateTime(trigger().outputs.windowStartTime, 'yyyy')}"
    assert keep(f"dt={formatted}", {}) == f"dt={formatted}"
    assert keep("@{pipeline().RunId}", {}) == "@{pipeline().RunId}"
    with pytest.raises(Unmappable, match=r"@\{utcnow\(\)\} is not"):
        keep("@{utcnow()}", {})
    assert binding({"value": "@trigger().outputs.windowStartTime", "type": "Expression"}) == window
    assert binding("@utcnow()") is None
    assert binding(42) == "42"
