"""Helpers of the sink integration tests: manifests for each sink store, plans resolved from them, runs.

A test writes the manifests a user would write (a linked service, a dataset, a CopyActivity and the
Secret), resolves them into a CopyPlan exactly as the CLI does (`impala_copy.cli.local`), then either
streams an in-memory Arrow table through the real sink (`run_sink`), or runs the whole engine
against the Spark Thrift Server (`run_engine`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from devservers.azurite import AzuriteServer
from devservers.moto import MotoServer
from devservers.postgres import PostgresServer
from tests import session_password
from tests.unit.arrow_samples import MemorySource

from impala_copy.api.plan import CopyPlan
from impala_copy.cli import manifests as manifest_io
from impala_copy.cli.local import LocalLayout, build_plan, secrets_for, write_certificates
from impala_copy.engine.interfaces import SinkResult
from impala_copy.engine.pipeline import Counters, transfer
from impala_copy.engine.sinks import create_sink

API = "impalacopy.io/v1alpha1"


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def impala_docs(host: str = "127.0.0.1", port: int = 21050, user: str = "alice") -> list[dict[str, Any]]:
    """The source side (an ImpalaLinkedService with a password and a dataset on demo.all_types)."""
    return [
        secret("impala", {"password": session_password.PASSWORD}),
        {
            "apiVersion": API,
            "kind": "ImpalaLinkedService",
            "metadata": {"name": "impala"},
            "spec": {
                "host": host,
                "port": port,
                "authenticationType": "UsernameAndPassword",
                "username": user,
                "password": {"secretKeyRef": {"name": "impala", "key": "password"}},
            },
        },
        {
            "apiVersion": API,
            "kind": "ImpalaDataset",
            "metadata": {"name": "source"},
            "spec": {
                "linkedServiceName": {"referenceName": "impala"},
                "schema": "demo",
                "table": "all_types",
            },
        },
    ]


def activity(output_kind: str, sink: dict[str, Any], *, name: str = "copy", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "CopyActivity",
        "metadata": {"name": name},
        "spec": {
            "inputs": [{"referenceName": "source"}],
            "outputs": [{"referenceName": "target", "kind": output_kind}],
            "sink": sink,
            **spec,
        },
    }


# ------------------------------------------------------------------------------------------ stores


def postgres_docs(
    pg: PostgresServer,
    database: str,
    table: str,
    *,
    schema: str = "public",
    password: str | None = None,
    ssl_mode: str | None = "disable",
    ca_pem: str | None = None,
) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {
        "host": pg.host,
        "port": pg.port,
        "database": database,
        "username": pg.user,
        "password": {"secretKeyRef": {"name": "pg", "key": "password"}},
    }
    if ssl_mode is not None:  # None: the default (verify-full)
        spec["sslMode"] = ssl_mode
    data = {"password": pg.password if password is None else password}
    if ca_pem is not None:
        spec["trustedCert"] = {"secretKeyRef": {"name": "pg", "key": "ca.crt"}}
        data["ca.crt"] = ca_pem
    return [
        secret("pg", data),
        {"apiVersion": API, "kind": "PostgreSqlLinkedService", "metadata": {"name": "pg"}, "spec": spec},
        {
            "apiVersion": API,
            "kind": "PostgreSqlTableDataset",
            "metadata": {"name": "target"},
            "spec": {"linkedServiceName": {"referenceName": "pg"}, "schema": schema, "table": table},
        },
    ]


def s3_docs(
    s3: MotoServer,
    bucket: str,
    kind: str,
    *,
    folder: str = "out",
    secret_key: str | None = None,
    dataset: dict[str, Any] | None = None,
    location: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    return [
        secret(
            "s3",
            {
                "accessKeyId": s3.access_key,
                "secretAccessKey": s3.secret_key if secret_key is None else secret_key,
            },
        ),
        {
            "apiVersion": API,
            "kind": "AmazonS3LinkedService",
            "metadata": {"name": "s3"},
            "spec": {
                "accessKeyId": {"secretKeyRef": {"name": "s3", "key": "accessKeyId"}},
                "secretAccessKey": {"secretKeyRef": {"name": "s3", "key": "secretAccessKey"}},
                "serviceUrl": s3.endpoint,
                "allowInsecureEndpoint": True,  # moto serves http on loopback
                "forcePathStyle": True,
                "region": s3.region,
            },
        },
        {
            "apiVersion": API,
            "kind": kind,
            "metadata": {"name": "target"},
            "spec": {
                "linkedServiceName": {"referenceName": "s3"},
                "location": {
                    "type": "AmazonS3Location",
                    "bucketName": bucket,
                    "folderPath": folder,
                    **(location or {}),
                },
                **(dataset or {}),
            },
        },
    ]


def azure_docs(
    azurite: AzuriteServer,
    container: str,
    kind: str,
    *,
    folder: str = "out",
    linked_service: dict[str, Any] | None = None,
    secret_data: dict[str, str] | None = None,
    dataset: dict[str, Any] | None = None,
    location: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    ls_spec = linked_service or {
        "connectionString": {"secretKeyRef": {"name": "azure", "key": "connectionString"}}
    }
    data = secret_data if secret_data is not None else {"connectionString": azurite.connection_string()}
    return [
        secret("azure", data),
        {
            "apiVersion": API,
            "kind": "AzureBlobStorageLinkedService",
            "metadata": {"name": "azure"},
            "spec": {"allowInsecureEndpoint": True, **ls_spec},  # Azurite serves http on loopback
        },
        {
            "apiVersion": API,
            "kind": kind,
            "metadata": {"name": "target"},
            "spec": {
                "linkedServiceName": {"referenceName": "azure"},
                "location": {
                    "type": "AzureBlobStorageLocation",
                    "container": container,
                    "folderPath": folder,
                    **(location or {}),
                },
                **(dataset or {}),
            },
        },
    ]


# ------------------------------------------------------------------------------------------ plans, runs


def write_manifests(folder: Path, docs: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def plan_from(
    folder: Path, docs: list[dict[str, Any]], *, run_id: str = "run-1", activity_name: str = "copy"
) -> tuple[CopyPlan, dict[str, str]]:
    """Resolve the activity like `impala-copy run` does; certificates land under folder/certs."""
    path = write_manifests(folder, docs)
    loaded = manifest_io.load(path)
    assert not loaded.errors, [str(e) for e in loaded.errors]
    layout = LocalLayout(cert_dir=str(folder / "certs"), volume_root=str(folder / "volumes"))
    plan = build_plan(loaded, "default", activity_name, layout, run_id=run_id)
    values = secrets_for(plan, loaded, {})
    write_certificates(plan, loaded)
    return plan, values


def run_sink(
    plan: CopyPlan,
    secrets: dict[str, str],
    table: pa.Table,
    *,
    batch_rows: int = 2,
    fail_after: int | None = None,
) -> SinkResult:
    """Stream `table` through the plan's real sink (source faked in memory); raises what the sink raises."""
    sink = create_sink(plan, secrets)
    source = MemorySource(table, batch_rows=batch_rows, fail_after=fail_after)
    return transfer(
        source,
        sink,
        plan.source.additional_columns,
        deadline=time.monotonic() + 300,
        counters=Counters(),
        verify=plan.validate_data_consistency,
    )
