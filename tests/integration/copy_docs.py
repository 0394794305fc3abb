"""Manifests for the copy-engine tests: a linked service on a dev server, Impala datasets, file datasets
on a PersistentVolumeClaim, CopyActivities; and plans resolved from them as `impala-copy run` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from devservers.sts import StsServer
from tests import session_password

from impala_copy.api.plan import CopyPlan
from impala_copy.cli import manifests
from impala_copy.cli.local import LocalLayout, build_plan, secrets_for

API = "impalacopy.io/v1alpha1"
CLAIM = "out"
SINK_TYPE = {
    "ParquetDataset": "ParquetSink",
    "DelimitedTextDataset": "DelimitedTextSink",
    "JsonDataset": "JsonSink",
}


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def impala(
    host: str, port: int, *, password: str | None = session_password.PASSWORD, user: str = "alice"
) -> list[dict[str, Any]]:
    """Linked service `impala` (UsernameAndPassword) and, unless password is None, its Secret."""
    docs = [
        obj(
            "ImpalaLinkedService",
            "impala",
            {
                "host": host,
                "port": port,
                "authenticationType": "UsernameAndPassword",
                "username": user,
                "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}},
                "connectTimeoutSeconds": 10,
            },
        )
    ]
    if password is not None:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "impala-login"},
                "stringData": {"password": password},
            }
        )
    return docs


def impala_on(server: StsServer, **options: Any) -> list[dict[str, Any]]:
    return impala(server.host, server.port, **options)


def table(name: str, schema: str | None, table_name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"linkedServiceName": {"referenceName": "impala"}}
    if table_name:
        spec |= {"schema": schema, "table": table_name}
    return obj("ImpalaDataset", name, spec)


def files(kind: str, name: str, folder: str, **spec: Any) -> dict[str, Any]:
    location = {"type": "PersistentVolumeClaimLocation", "claimName": CLAIM, "folderPath": folder}
    if "fileName" in spec:
        location["fileName"] = spec.pop("fileName")
    return obj(kind, name, {"location": location, **spec})


def copy(
    name: str,
    dataset: str,
    kind: str,
    target: str,
    *,
    format_settings: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    sink: dict[str, Any] = {"type": SINK_TYPE[kind]}
    if format_settings:
        sink["formatSettings"] = format_settings
    return obj(
        "CopyActivity",
        name,
        {
            "inputs": [{"referenceName": dataset}],
            "outputs": [{"referenceName": target, "kind": kind}],
            "sink": sink,
            **spec,
        },
    )


def single_copy(
    server_docs: list[dict[str, Any]],
    kind: str,
    *,
    schema: str | None = "demo",
    table_name: str | None = "orders",
    dataset: dict[str, Any] | None = None,
    **copy_spec: Any,
) -> list[dict[str, Any]]:
    """One activity `copy`: dataset `source` (a table, or none for a query) into file dataset `target` in folder `data`."""
    return [
        *server_docs,
        table("source", schema, table_name),
        files(kind, "target", "data", **(dataset or {})),
        copy("copy", "source", kind, "target", **copy_spec),
    ]


def write(folder: Path, docs: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path


def plan(
    tmp: Path, docs: list[dict[str, Any]], *, activity: str = "copy", run_id: str = "run-1"
) -> tuple[CopyPlan, dict[str, str]]:
    """The plan and secrets `impala-copy run` would use; the claim maps to tmp/volume."""
    loaded = manifests.load(write(tmp / "manifests", docs))
    assert not loaded.errors, [str(e) for e in loaded.errors]
    (tmp / "volume").mkdir(exist_ok=True)
    layout = LocalLayout(cert_dir=str(tmp / "certs"), volumes={CLAIM: str(tmp / "volume")})
    resolved = build_plan(loaded, "default", activity, layout, run_id=run_id)
    return resolved, secrets_for(resolved, loaded, {})


def output_files(tmp: Path, folder: str = "data") -> list[Path]:
    """The published files of a folder (staging under _temporary excluded), sorted."""
    root = tmp / "volume" / folder
    return sorted(p for p in root.rglob("*") if p.is_file() and "_temporary" not in p.relative_to(root).parts)
