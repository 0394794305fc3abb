"""`impala-copy import-adf` on crafted and awkward ADF JSON: clear report lines, safe output, no crash.

In:  ADF JSON written in the test: names full of markup, control and shell characters, a crafted Key
     Vault secret name, ARM functions the import does not evaluate, JSON nested too deeply, a file
     over the size limit, documents that are not resources, expressions the engine cannot fill in,
     several triggers on one pipeline, a Lookup under a tumbling window, an unknown time zone, the
     incremental watermark pattern, partition options (mapped, left out, refused).
Out: exit codes, the names written, the report lines (file, JSON path, reason), and the files
     written: Kubernetes names only, nothing from the input reaching a shell command unquoted.
Faked: nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from impala_copy.adf import reader
from impala_copy.adf.names import NameBook, kube_name
from impala_copy.cli import adf_import, copy_commands


def write(folder: Path, category: str, name: str, properties: dict[str, Any]) -> None:
    (folder / category).mkdir(parents=True, exist_ok=True)
    (folder / category / f"{kube_name(name)}.json").write_text(
        json.dumps({"name": name, "properties": properties})
    )


def run(tmp_path: Path, *paths: Path, namespace: str | None = None) -> tuple[int, str, Path]:
    out_dir = tmp_path / "out"
    console = Console(record=True, width=500)
    code = adf_import.import_adf(list(paths), out_dir, namespace, out=console, err=console)
    return code, console.export_text(), out_dir


def impala(name: str = "Impala", **extra: Any) -> tuple[str, dict[str, Any]]:
    return name, {"type": "Impala", "typeProperties": {"host": "impala.internal", **extra}}


def orders(ls: str = "Impala") -> dict[str, Any]:
    return {
        "type": "ImpalaObject",
        "linkedServiceName": {"referenceName": ls, "type": "LinkedServiceReference"},
        "typeProperties": {"schema": "sales", "table": "orders"},
    }


def lookup(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Lookup",
        "typeProperties": {
            "source": {"type": "ImpalaSource", "query": query},
            "dataset": {"referenceName": "Orders", "type": "DatasetReference"},
        },
    }


def test_names_become_kubernetes_names_deterministically() -> None:
    assert kube_name("Copy_Orders 2") == "copy-orders-2"
    assert kube_name("Bestellungen-Übersicht") == "bestellungen-ubersicht"
    assert kube_name("___").startswith("unnamed-")
    assert len(kube_name("x" * 400)) <= 200
    assert kube_name("x" * 400) == kube_name("x" * 400)
    book = NameBook()
    assert [book.claim("K", n, n) for n in ("A_B", "a-b", "A B", "A_B")] == ["a-b", "a-b-2", "a-b-3", "a-b"]


def test_crafted_names_reach_no_file_or_command_unescaped(tmp_path: Path) -> None:
    hostile = "Impala`$(touch pwned)|<b>*x*\x1b[31m\u202e"
    factory = tmp_path / "factory"
    name, props = impala(hostile, authenticationType="UsernameAndPassword", username="u")
    props["typeProperties"]["password"] = {
        "type": "AzureKeyVaultSecret",
        "secretName": "$(reboot)",
        "store": {"referenceName": "Vault", "type": "LinkedServiceReference"},
    }
    write(factory, "linkedService", name, props)
    name2, props2 = impala(hostile + "2")
    props2["typeProperties"]["password"] = {"type": "SecureString", "value": "x"}
    props2["typeProperties"]["authenticationType"] = "UsernameAndPassword"
    props2["typeProperties"]["username"] = "u"
    write(factory, "linkedService", name2, props2)
    code, text, out_dir = run(tmp_path, factory)
    assert code == 0
    readme = (out_dir / "README.md").read_text()
    report = (out_dir / "import-report.md").read_text()
    # The Key Vault secret name is refused, so the first linked service is not imported.
    assert "a Key Vault reference whose secretName is not a plain secret name" in report
    assert "$(reboot)" not in readme
    # The second one is, under a Kubernetes name; its ADF name only appears escaped.
    assert (
        "kubectl create secret generic impala-touch-pwned-b-x-31m2-credentials --from-literal=password='<password>'"
        in readme
    )
    for written in (readme, report, text):
        assert "\x1b" not in written
        assert "\u202e" not in written
    assert "<b>" not in report
    assert "&lt;b&gt;" in report
    assert "\\|" in report


def test_unsupported_arm_functions_and_missing_parameters_are_reported(tmp_path: Path) -> None:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"factoryName": {"type": "string"}, "host": {"type": "string"}},
        "resources": [
            {
                "name": "[concat(parameters('factoryName'), '/A')]",
                "type": "Microsoft.DataFactory/factories/linkedServices",
                "properties": {"type": "Impala", "typeProperties": {"host": "[parameters('host')]"}},
            },
            {
                "name": "[concat(parameters('factoryName'), '/B')]",
                "type": "Microsoft.DataFactory/factories/linkedServices",
                "properties": {"type": "Impala", "typeProperties": {"host": "[resourceId('x', 'y')]"}},
            },
            "not an object",
        ],
    }
    file = tmp_path / "arm.json"
    file.write_text(json.dumps(template))
    code, text, out_dir = run(tmp_path, file)
    assert code == 0
    assert (
        "$.resources[0].properties.typeProperties.host: linkedService 'A': ARM expression not evaluated: "
        "parameter 'host' has no value (no defaultValue; pass a parameters file)"
    ) in text
    assert (
        "$.resources[1].properties.typeProperties.host: linkedService 'B': ARM expression not evaluated: the "
        "template function resourceid() is not supported by the import" in text
    )
    assert "$.resources[2]: resource: not a JSON object: not imported" in text
    assert not (out_dir / "manifests" / "10-linked-services.yaml").exists()


def test_unreadable_files_stop_the_import_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code, text, _ = run(tmp_path, deep)
    assert code == 2
    assert text.strip() == f"error: UnreadableInput: {deep}: nested too deeply to be ADF JSON"
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"name": "\xe9"}')
    assert run(tmp_path, latin)[1].strip() == f"error: UnreadableInput: {latin}: not UTF-8 text"
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 10)
    big = tmp_path / "big.json"
    big.write_text('{"name": "x", "properties": {}}')
    assert "larger than" in run(tmp_path, big)[1]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(tmp_path, empty)[1].strip() == f"error: UnreadableInput: no *.json file found in {empty}"


def test_output_folder_and_namespace_are_checked(tmp_path: Path) -> None:
    factory = tmp_path / "factory"
    write(factory, "linkedService", *impala())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    code, text, _ = run(tmp_path, factory)
    assert code == 2
    assert "error: OutputNotEmpty: " in text
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
    (tmp_path / "out" / "keep.txt").unlink()
    code, text, _ = run(tmp_path, factory, namespace="Not_A_Namespace")
    assert code == 2
    assert "error: InvalidArgument: --namespace 'Not_A_Namespace'" in text


def test_other_documents_expressions_and_triggers_are_reported(tmp_path: Path) -> None:
    factory = tmp_path / "factory"
    write(factory, "linkedService", *impala())
    write(factory, "dataset", "Orders", orders())
    (factory / "list.json").write_text("[1, 2]")
    window_start = "@{trigger().outputs.windowStartTime}"
    write(
        factory,
        "pipeline",
        "P",
        {
            "activities": [
                lookup("Watermark", "SELECT MAX(ts) AS w FROM sales.orders"),
                {
                    "name": "Copy since watermark",
                    "type": "Copy",
                    "inputs": [{"referenceName": "Orders", "type": "DatasetReference"}],
                    "outputs": [{"referenceName": "Orders", "type": "DatasetReference"}],
                    "typeProperties": {
                        "source": {
                            "type": "ImpalaSource",
                            "query": "SELECT * FROM t WHERE ts > '@{activity('Watermark').output.firstRow.w}'",
                        },
                        "sink": {"type": "ParquetSink"},
                    },
                },
                {"name": "Save watermark", "type": "SqlServerStoredProcedure", "typeProperties": {}},
                lookup("Windowed", f"SELECT * FROM t WHERE ts >= '{window_start}'"),
            ]
        },
    )
    window = {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00", "maxConcurrency": 1}
    write(
        factory,
        "trigger",
        "A window",
        {
            "type": "TumblingWindowTrigger",
            "typeProperties": window,
            "pipeline": {"pipelineReference": {"referenceName": "P", "type": "PipelineReference"}},
        },
    )
    write(
        factory,
        "trigger",
        "B nightly",
        {
            "type": "ScheduleTrigger",
            "typeProperties": {
                "recurrence": {"frequency": "Day", "interval": 1, "startTime": "2026-01-01T01:00:00"}
            },
            "pipelines": [{"pipelineReference": {"referenceName": "P", "type": "PipelineReference"}}],
        },
    )
    write(
        factory,
        "trigger",
        "C elsewhere",
        {
            "type": "ScheduleTrigger",
            "typeProperties": {
                "recurrence": {
                    "frequency": "Day",
                    "interval": 1,
                    "startTime": "2026-01-01T01:00:00",
                    "timeZone": "Mars Standard Time",
                }
            },
            "pipelines": [{"pipelineReference": {"referenceName": "Q", "type": "PipelineReference"}}],
        },
    )
    code, text, out_dir = run(tmp_path, factory)
    assert code == 0
    lines = text.splitlines()

    def line(fragment: str) -> str:
        found = [ln for ln in lines if fragment in ln]
        assert found, (fragment, text)
        return found[0]

    assert "not an ADF resource" in line("list.json: $: document:")
    assert "use spec.source.incremental on the CopyActivity instead (docs/incremental.md)" in line(
        "pipeline 'P': this pipeline looks like"
    )
    assert "reads another activity's output" in line("$.properties.activities[1].typeProperties.source.query")
    assert "is not a sink dataset" in line("$.properties.activities[1].outputs")
    assert "SqlServerStoredProcedure activity 'Save watermark' has no counterpart" in line("activities[2]")
    assert "tumbling windows apply to a CopyActivity only" in line("trigger 'A window': activity 'Watermark'")
    assert "already takes its schedule from trigger 'A window'" in line("trigger 'B nightly'")
    assert "time zone 'Mars Standard Time' is not known" in line("trigger 'C elsewhere'")
    docs = list(yaml.safe_load_all((out_dir / "manifests" / "30-activities.yaml").read_text()))
    # A window placeholder in a lookup's query has no window to come from: left out, with validate's reason.
    assert not [d for d in docs if d["metadata"]["name"] == "p-windowed"]
    assert (
        f"'{window_start}' in source.query needs a tumbling window, which a LookupActivity does not have"
        in line("LookupActivity 'p-windowed': not imported")
    )
    console = Console(record=True, width=400)
    assert copy_commands.validate(out_dir, "default", out=console, err=console) == 0


def test_a_resource_defined_twice_and_inactive_activities(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    write(first, "linkedService", *impala())
    name, props = impala()
    props["typeProperties"]["host"] = "other.internal"
    write(second, "linkedService", name, props)
    write(first, "dataset", "Orders", orders())
    write(first, "pipeline", "P", {"activities": [{**lookup("Off", "SELECT 1"), "state": "Inactive"}]})
    code, text, out_dir = run(tmp_path, first, second)
    assert code == 0
    assert (
        f"linkedService 'Impala': defined twice: the one in {first / 'linkedService' / 'impala.json'} at $ "
        "is imported" in text
    )
    assert (
        "$.properties.activities[0].state: pipeline 'P': an inactive activity (ADF skips it): not imported"
        in text
    )
    docs = list(yaml.safe_load_all((out_dir / "manifests" / "10-linked-services.yaml").read_text()))
    assert [d["spec"]["host"] for d in docs] == ["impala.internal"]
    assert not (out_dir / "manifests" / "30-activities.yaml").exists()


def test_a_reference_to_the_wrong_kind_of_linked_service_is_not_written(tmp_path: Path) -> None:
    factory = tmp_path / "factory"
    write(factory, "linkedService", "Bucket", {"type": "AmazonS3", "typeProperties": {}})
    write(factory, "dataset", "Orders", orders("Bucket"))
    code, text, out_dir = run(tmp_path, factory)
    assert code == 0
    assert (
        "$.properties: dataset 'Orders': not imported: ImpalaDataset 'orders': spec.linkedServiceName.referenceName: "
        "refers to ImpalaLinkedService 'bucket', which was not imported as one"
    ) in text
    console = Console(record=True, width=400)
    assert copy_commands.validate(out_dir, "default", out=console, err=console) == 0


def test_what_validate_would_refuse_is_left_out_and_reported(tmp_path: Path) -> None:
    factory = tmp_path / "factory"
    write(factory, "linkedService", *impala())
    no_table = {**orders(), "typeProperties": {}}
    write(factory, "dataset", "Orders", no_table)
    write(
        factory,
        "dataset",
        "Out",
        {
            "type": "Json",
            "linkedServiceName": {"referenceName": "Lake", "type": "LinkedServiceReference"},
            "typeProperties": {"location": {"type": "AzureBlobStorageLocation", "container": "raw"}},
        },
    )
    write(
        factory,
        "linkedService",
        "Lake",
        {
            "type": "AzureBlobStorage",
            "typeProperties": {"serviceEndpoint": "https://lake.blob.core.windows.net/"},
        },
    )
    write(
        factory,
        "pipeline",
        "P",
        {
            "activities": [
                {
                    "name": "Whole table",
                    "type": "Copy",
                    "inputs": [{"referenceName": "Orders", "type": "DatasetReference"}],
                    "outputs": [{"referenceName": "Out", "type": "DatasetReference"}],
                    "typeProperties": {"source": {"type": "ImpalaSource"}, "sink": {"type": "JsonSink"}},
                }
            ]
        },
    )
    code, text, out_dir = run(tmp_path, factory)
    assert code == 0
    line = next(ln for ln in text.splitlines() if "CopyActivity 'p-whole-table': not imported" in ln)
    assert "impala-copy validate: spec" in line
    assert "table" in line
    console = Console(record=True, width=400)
    assert copy_commands.validate(out_dir, "default", out=console, err=console) == 0
    assert not (out_dir / "manifests" / "30-activities.yaml").exists()


def copy_of(name: str, source: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Copy",
        "inputs": [{"referenceName": "Orders", "type": "DatasetReference"}],
        "outputs": [{"referenceName": "Out", "type": "DatasetReference"}],
        "typeProperties": {
            "source": {"type": "ImpalaSource", **source},
            "sink": {"type": "JsonSink"},
            **properties,
        },
    }


def test_partition_options_map_or_are_reported(tmp_path: Path) -> None:
    factory = tmp_path / "factory"
    write(factory, "linkedService", *impala())
    write(factory, "dataset", "Orders", orders())
    lake_ls = {"serviceEndpoint": "https://lake.blob.core.windows.net/"}
    write(factory, "linkedService", "Lake", {"type": "AzureBlobStorage", "typeProperties": lake_ls})
    lake = {"type": "AzureBlobStorageLocation", "container": "raw"}
    write(
        factory,
        "dataset",
        "Out",
        {
            "type": "Json",
            "linkedServiceName": {"referenceName": "Lake", "type": "LinkedServiceReference"},
            "typeProperties": {"location": lake},
        },
    )
    hookless = {"query": "SELECT * FROM sales.orders", "partitionOption": "DynamicRange"}
    activities = [
        copy_of("Unpartitioned", {}, parallelCopies=16),
        copy_of("Physical", {"partitionOption": "PhysicalPartitionsOfTable"}, parallelCopies=4),
        copy_of("Hookless", {**hookless, "partitionSettings": {"partitionColumnName": "id"}}),
        copy_of("Odd", {"partitionOption": "Hash"}),
    ]
    write(factory, "pipeline", "P", {"activities": activities})
    code, text, out_dir = run(tmp_path, factory)
    assert code == 0
    found = {
        doc["metadata"]["name"]: doc["spec"]
        for doc in yaml.safe_load_all((out_dir / "manifests" / "30-activities.yaml").read_text())
    }
    assert sorted(found) == ["p-physical", "p-unpartitioned"]
    assert "parallelCopies" not in found["p-unpartitioned"]
    physical = found["p-physical"]
    assert (physical["source"]["partitionOption"], physical["parallelCopies"]) == (
        "PhysicalPartitionsOfTable",
        4,
    )
    assert (
        "CopyActivity 'p-hookless': spec.source: source.query of a DynamicRange copy must contain "
        "?AdfDynamicRangePartitionCondition where each partition's predicate goes"
    ) in text
    assert (
        "typeProperties.source.partitionOption: pipeline 'P', activity 'Odd': 'Hash' is not None, "
        "DynamicRange or PhysicalPartitionsOfTable"
    ) in text
    console = Console(record=True, width=400)
    assert copy_commands.validate(out_dir, "default", out=console, err=console) == 0
