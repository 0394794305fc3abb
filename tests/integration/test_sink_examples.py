"""The sink examples (examples/sinks/) run for real: each CopyActivity copies demo.orders into its store.

In:  the manifests of examples/sinks exactly as shipped (the incremental copy run twice, the second
     time above the watermark the first one reported, as the operator does), with only the endpoints and credentials
     pointed at the local servers in memory (Impala host/port, the S3 serviceUrl and keys, the Azure
     connection string, the PostgreSQL host/port/password and CA); the Spark Thrift Server (`sts`),
     moto (`s3`), Azurite (`azurite`) and PostgreSQL with TLS (`pg_tls`).
Out: each activity's RunSummary, and the output read back from the store with its own client.
Faked: nothing but the endpoints (the schema checks of the files are in tests/unit/test_examples_schema.py).
"""

from __future__ import annotations

import gzip
import io
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from devservers.azurite import AzuriteServer
from devservers.moto import MotoServer
from devservers.sts import ORDERS_ROWS, StsServer
from tests.fixtures.sinks import TlsPostgres
from tests.integration.object_store_cases import data_keys
from tests.integration.sink_cases import plan_from
from tests.integration.test_sink_azure import AzureContainer
from tests.integration.test_sink_s3 import S3Bucket

from impala_copy.engine.errors import EXIT_OK
from impala_copy.engine.run import execute

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sinks"


def example_docs() -> list[dict[str, Any]]:
    return [d for p in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def localised(sts: StsServer) -> list[dict[str, Any]]:
    docs = example_docs()
    impala = find(docs, "ImpalaLinkedService", "sinks-impala")["spec"]
    impala.update(host=sts.host, port=sts.port)
    find(docs, "Secret", "sinks-impala-credentials")["stringData"]["password"] = sts.users["alice"]
    return docs


def run(tmp_path: Path, docs: list[dict[str, Any]], activity: str) -> Any:
    plan, secrets = plan_from(tmp_path / uuid.uuid4().hex[:8], docs, activity_name=activity)
    outcome = execute(plan, secrets)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    return outcome.summary


def test_orders_to_s3(tmp_path: Path, sts: StsServer, s3: MotoServer) -> None:
    docs = localised(sts)
    bucket = find(docs, "ParquetDataset", "orders-on-s3")["spec"]["location"]["bucketName"]
    s3.boto3_client().create_bucket(Bucket=bucket)
    find(docs, "AmazonS3LinkedService", "minio")["spec"].update(
        serviceUrl=s3.endpoint, allowInsecureEndpoint=True
    )
    find(docs, "Secret", "s3-credentials")["stringData"].update(
        accessKeyId=s3.access_key, secretAccessKey=s3.secret_key
    )
    summary = run(tmp_path, docs, "orders-to-s3")
    assert (summary.rows_copied, summary.files_written, summary.consistency_verified) == (
        ORDERS_ROWS,
        3,
        True,
    )
    store = S3Bucket(s3, bucket)
    assert data_keys(store, "impala/orders/") == [f"impala/orders/orders_0000{i}.parquet" for i in range(3)]
    rows = sum(
        pq.read_metadata(io.BytesIO(store.read(k))).num_rows for k in data_keys(store, "impala/orders/")
    )
    assert rows == ORDERS_ROWS


def test_orders_to_azure(tmp_path: Path, sts: StsServer, azurite: AzuriteServer) -> None:
    docs = localised(sts)
    container = find(docs, "DelimitedTextDataset", "orders-on-azure")["spec"]["location"]["container"]
    azurite.blob_service().create_container(container)
    find(docs, "Secret", "azure-storage")["stringData"]["connectionString"] = azurite.connection_string()
    find(docs, "AzureBlobStorageLinkedService", "azure-blob")["spec"]["allowInsecureEndpoint"] = True
    summary = run(tmp_path, docs, "orders-to-azure")
    store = AzureContainer(azurite, container)
    [key] = data_keys(store, "impala/orders/")
    assert key == "impala/orders/part_00000.csv.gz"
    table = pacsv.read_csv(io.BytesIO(gzip.decompress(store.read(key))))
    assert table.column_names == ["order_id", "customer", "amount"]
    assert table.num_rows == summary.rows_copied > 0
    assert min(table.column("amount").to_pylist()) > 100


def test_orders_to_postgresql(tmp_path: Path, sts: StsServer, pg_tls: TlsPostgres) -> None:
    pg = pg_tls.server
    docs = localised(sts)
    find(docs, "PostgreSqlLinkedService", "warehouse")["spec"].update(
        host=pg.host, port=pg.port, database="postgres", username=pg.user
    )
    find(docs, "Secret", "warehouse-db")["stringData"]["password"] = pg.password
    find(docs, "ConfigMap", "warehouse-db-ca")["data"]["ca.crt"] = pg_tls.ca_pem.read_text()
    first = run(tmp_path, docs, "orders-to-postgresql")
    again = run(tmp_path, docs, "orders-to-postgresql")  # upsert: the same keys again change nothing
    assert first.rows_copied == again.rows_copied == ORDERS_ROWS
    assert first.rows_skipped == 0
    with psycopg.connect(pg.uri) as conn:
        count, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT order_id) FROM public.impala_orders"
        ).fetchone()
    assert count == distinct == ORDERS_ROWS


def test_orders_to_postgresql_incrementally(tmp_path: Path, sts: StsServer, pg_tls: TlsPostgres) -> None:
    pg = pg_tls.server
    docs = localised(sts)
    find(docs, "PostgreSqlLinkedService", "warehouse")["spec"].update(
        host=pg.host, port=pg.port, database="postgres", username=pg.user
    )
    find(docs, "Secret", "warehouse-db")["stringData"]["password"] = pg.password
    find(docs, "ConfigMap", "warehouse-db-ca")["data"]["ca.crt"] = pg_tls.ca_pem.read_text()
    first = run(tmp_path, docs, "orders-to-postgresql-incremental")  # above 4000 - lookback 100
    assert (first.rows_copied, first.watermark, first.watermark_column) == (1100, "5000", "order_id")
    activity = find(docs, "CopyActivity", "orders-to-postgresql-incremental")
    activity["spec"]["source"]["incremental"]["initialValue"] = first.watermark  # what status.watermark holds
    again = run(tmp_path, docs, "orders-to-postgresql-incremental")  # only the lookback: ids 4901..5000
    assert (again.rows_copied, again.watermark) == (100, "5000")
    with psycopg.connect(pg.uri) as conn:
        count, distinct, low = conn.execute(
            "SELECT count(*), count(DISTINCT order_id), min(order_id) FROM public.impala_orders_incremental"
        ).fetchone()
    assert (count, distinct, low) == (1100, 1100, 3901)
