"""The objects of the load and soak benchmarks: namespaces of a realistic mix of every kind.

One namespace holds 100 objects, what one team's copies need:

| objects | what |
| --- | --- |
| 3 Secrets | the Impala password, S3 keys, the PostgreSQL password |
| 1 PersistentVolumeClaim | the volume file datasets write to |
| 2 ImpalaLinkedServices, 1 AmazonS3LinkedService, 1 PostgreSqlLinkedService | where to read and write |
| 20 ImpalaDatasets | tables, half on each Impala linked service |
| 6 ParquetDatasets (3 on the volume, 3 on S3), 3 DelimitedTextDatasets, 3 JsonDatasets, 4 PostgreSqlTableDatasets | sinks |
| 50 CopyActivities | each table to one of the 16 sinks |
| 6 LookupActivities | first row of a query on a table |

Every object refers only to objects of its namespace, and every reference resolves, so each object
becomes Ready, each activity runs once on creation and each ImpalaLinkedService gets a connection test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PER_NAMESPACE = 100
COPIES = 50
LOOKUPS = 6
TABLES = 20
ACTIVITY_KINDS = ("CopyActivity", "LookupActivity")


def _meta(name: str, namespace: str) -> dict[str, Any]:
    from tests.operator import manifests

    return manifests.meta(name, namespace)


def _ours(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    from tests.operator import manifests

    return {"apiVersion": manifests.GV, "kind": kind, "metadata": _meta(name, namespace), "spec": spec}


def _secret_ref(name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key}}


def stores(namespace: str) -> list[dict[str, Any]]:
    """Secrets, the volume and the four linked services of a namespace."""
    from tests.operator import manifests

    impala = [
        _ours("ImpalaLinkedService", f"impala-{n}", namespace, {
            "host": f"impala-{n}.example.internal", "port": 21050, "authenticationType": "UsernameAndPassword",
            "username": "loader", "password": _secret_ref("impala-credentials", "password"),
        })
        for n in ("a", "b")
    ]  # fmt: skip
    return [
        manifests.secret("impala-credentials", {"password": "bench-not-a-secret"}, namespace),
        manifests.secret("s3-keys", {"accessKeyId": "AKIABENCH", "secretAccessKey": "bench"}, namespace),
        manifests.secret("pg-login", {"password": "bench-not-a-secret"}, namespace),
        manifests.pvc("copies", namespace),
        *impala,
        _ours("AmazonS3LinkedService", "lake", namespace, {
            "accessKeyId": _secret_ref("s3-keys", "accessKeyId"),
            "secretAccessKey": _secret_ref("s3-keys", "secretAccessKey"),
            "serviceUrl": "https://minio.storage.example.internal:9000", "forcePathStyle": True, "region": "us-east-1",
        }),
        _ours("PostgreSqlLinkedService", "warehouse", namespace, {
            "host": "postgres.example.internal", "port": 5432, "database": "analytics", "username": "loader",
            "password": _secret_ref("pg-login", "password"), "sslMode": "require",
        }),
    ]  # fmt: skip


def _volume(folder: str) -> dict[str, Any]:
    return {
        "location": {"type": "PersistentVolumeClaimLocation", "claimName": "copies", "folderPath": folder}
    }


def _s3(folder: str) -> dict[str, Any]:
    return {
        "linkedServiceName": {"referenceName": "lake"},
        "location": {"type": "AmazonS3Location", "bucketName": "analytics", "folderPath": folder},
    }


# (dataset kind, name, spec, sink type) of the 16 sinks of a namespace
def sinks() -> list[tuple[str, str, dict[str, Any], str]]:
    out: list[tuple[str, str, dict[str, Any], str]] = []
    for i in range(3):
        out.append(("ParquetDataset", f"parquet-volume-{i}", _volume(f"parquet/{i}"), "ParquetSink"))
        out.append(("ParquetDataset", f"parquet-s3-{i}", _s3(f"parquet/{i}"), "ParquetSink"))
        out.append(("DelimitedTextDataset", f"csv-{i}", _volume(f"csv/{i}"), "DelimitedTextSink"))
        out.append(("JsonDataset", f"json-{i}", _s3(f"json/{i}"), "JsonSink"))
    for i in range(4):
        spec = {"linkedServiceName": {"referenceName": "warehouse"}, "table": f"impala_table_{i}"}
        out.append(("PostgreSqlTableDataset", f"table-{i}", spec, "PostgreSqlSink"))
    return out


def copy_activity(namespace: str, index: int, **spec_extra: Any) -> dict[str, Any]:
    kind, name, _, sink = sinks()[index % 16]
    sink_spec: dict[str, Any] = {"type": sink}
    if sink == "PostgreSqlSink":
        sink_spec["tableOption"] = "autoCreate"
    spec = {
        "inputs": [{"referenceName": f"source-{index % TABLES:02d}"}],
        "outputs": [{"referenceName": name, "kind": kind}],
        "source": {"type": "ImpalaSource"},
        "sink": sink_spec,
        **spec_extra,
    }
    return _ours("CopyActivity", f"copy-{index:02d}", namespace, spec)


def lookup_activity(namespace: str, index: int) -> dict[str, Any]:
    spec = {
        "dataset": {"referenceName": f"source-{index:02d}"},
        "source": {"type": "ImpalaSource", "query": f"SELECT max(id) AS max_id FROM demo.table_{index}"},
    }
    return _ours("LookupActivity", f"lookup-{index}", namespace, spec)


def namespace_objects(namespace: str) -> list[dict[str, Any]]:
    """The 100 objects of one namespace, in the order kubectl would apply a folder of them."""
    objects = stores(namespace)
    for i in range(TABLES):
        spec = {
            "linkedServiceName": {"referenceName": f"impala-{'ab'[i % 2]}"},
            "schema": "demo",
            "table": f"table_{i}",
        }
        objects.append(_ours("ImpalaDataset", f"source-{i:02d}", namespace, spec))
    objects += [_ours(kind, name, namespace, spec) for kind, name, spec, _ in sinks()]
    objects += [copy_activity(namespace, i) for i in range(COPIES)]
    objects += [lookup_activity(namespace, i) for i in range(LOOKUPS)]
    assert len(objects) == PER_NAMESPACE, len(objects)
    return objects


@dataclass(frozen=True)
class Population:
    """`namespaces` namespaces named bench-00, bench-01, ..."""

    namespaces: int

    def names(self) -> list[str]:
        return [f"bench-{i:02d}" for i in range(self.namespaces)]

    def objects(self) -> list[dict[str, Any]]:
        return [obj for ns in self.names() for obj in namespace_objects(ns)]

    @staticmethod
    def ours(objects: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        """(kind, namespace, name) of every object the operator reconciles (not Secrets or volumes)."""
        return [
            (o["kind"], o["metadata"]["namespace"], o["metadata"]["name"])
            for o in objects
            if o["apiVersion"].startswith("impalacopy.io/")
        ]
