"""The operator with sink stores: S3 and PostgreSQL activities resolved, rendered and run.

In:  the operator (on the API emulator) and CopyActivities writing Parquet to an AmazonS3Location and
     rows to a PostgreSqlTableDataset, with every credential in a Secret (S3 access key, secret key,
     session token; PostgreSQL password) and the PostgreSQL CA in a ConfigMap.
Out: Ready conditions naming a missing Secret key (reported by the run's pod); the rendered Jobs, whose env carries each
     credential only as a secretKeyRef (no value anywhere in the Job); and the operator-to-engine
     contract: the rendered container run as a local process (the test plays the kubelet,
     tests/operator/kubelet.py) copies demo.orders from the Spark Thrift Server into moto and into
     PostgreSQL, and its termination message becomes the activity's status.
Faked: the kubelet and Job controller (the engine runs as a local process, not in a pod).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
from devservers.moto import MotoServer
from devservers.postgres import PostgresServer
from devservers.sts import ORDERS_ROWS, StsServer

from impala_copy.api.plan import PLAN_ENV
from impala_copy.controller.core.outcome import parse_summary
from tests.operator import manifests
from tests.operator.harness import Cluster, OperatorThread, secret_env, settle, until

GV = manifests.GV


def impala(server: StsServer | None = None) -> list[dict[str, Any]]:
    ls = manifests.impala_linked_service()
    if server is not None:
        ls["spec"].update(host=server.host, port=server.port)
    password = server.users["alice"] if server is not None else manifests.random_password()
    return [manifests.secret("impala-credentials", {"password": password}), ls, manifests.impala_dataset()]


def s3_objects(*, endpoint: str, bucket: str, keys: dict[str, str]) -> list[dict[str, Any]]:
    refs = {field: {"secretKeyRef": {"name": "s3-keys", "key": field}} for field in keys}
    return [
        manifests.secret("s3-keys", keys),
        {
            "apiVersion": GV,
            "kind": "AmazonS3LinkedService",
            "metadata": manifests.meta("store"),
            "spec": {
                **refs,
                "serviceUrl": endpoint,
                "allowInsecureEndpoint": True,  # moto on loopback
                "forcePathStyle": True,
                "region": "us-east-1",
            },
        },
        {
            "apiVersion": GV,
            "kind": "ParquetDataset",
            "metadata": manifests.meta("orders-s3"),
            "spec": {
                "linkedServiceName": {"referenceName": "store"},
                "location": {"type": "AmazonS3Location", "bucketName": bucket, "folderPath": "orders"},
            },
        },
        manifests.copy_activity("to-s3", output="orders-s3", validateDataConsistency=True),
    ]


def pg_objects(
    *, host: str, port: int, user: str, password: str, database: str, ca: str
) -> list[dict[str, Any]]:
    return [
        manifests.secret("pg-login", {"password": password}),
        manifests.config_map("pg-ca", {"ca.crt": ca}),
        {
            "apiVersion": GV,
            "kind": "PostgreSqlLinkedService",
            "metadata": manifests.meta("warehouse"),
            "spec": {
                "host": host,
                "port": port,
                "database": database,
                "username": user,
                "password": {"secretKeyRef": {"name": "pg-login", "key": "password"}},
                "sslMode": "require",
                "trustedCert": {"configMapKeyRef": {"name": "pg-ca", "key": "ca.crt"}},
            },
        },
        {
            "apiVersion": GV,
            "kind": "PostgreSqlTableDataset",
            "metadata": manifests.meta("orders-table"),
            "spec": {"linkedServiceName": {"referenceName": "warehouse"}, "table": "orders"},
        },
        {
            **manifests.copy_activity("to-pg", output="orders-table"),
            "spec": {
                "inputs": [{"referenceName": "orders"}],
                "outputs": [{"referenceName": "orders-table", "kind": "PostgreSqlTableDataset"}],
                "sink": {"type": "PostgreSqlSink", "tableOption": "autoCreate"},
                "validateDataConsistency": True,
            },
        },
    ]


def job_of(cluster: Cluster, activity: str) -> dict[str, Any] | None:
    jobs = [j for j in cluster.jobs() if j["metadata"]["labels"].get("impalacopy.io/activity") == activity]
    return jobs[0] if jobs else None


async def test_store_credentials_travel_only_as_secret_key_refs(
    cluster: Cluster, operator: OperatorThread
) -> None:
    keys = {
        "accessKeyId": "AKIA" + manifests.random_password(),
        "secretAccessKey": manifests.random_password(),
        "sessionToken": manifests.random_password(),
    }
    pg_password = manifests.random_password()
    await cluster.apply(
        *impala(),
        *s3_objects(endpoint="http://minio.storage:9000", bucket="analytics", keys=keys),
        *pg_objects(
            host="db.internal", port=5432, user="loader", password=pg_password, database="dw", ca="PEM"
        ),
    )
    s3_job = await until(lambda: job_of(cluster, "to-s3"), what="the S3 Job")
    pg_job = await until(lambda: job_of(cluster, "to-pg"), what="the PostgreSQL Job")
    s3_refs = secret_env(s3_job)
    assert sorted(s3_refs.values()) == [
        ("impala-credentials", "password"),
        ("s3-keys", "accessKeyId"),
        ("s3-keys", "secretAccessKey"),
        ("s3-keys", "sessionToken"),
    ]
    assert sorted(secret_env(pg_job).values()) == [
        ("impala-credentials", "password"),
        ("pg-login", "password"),
    ]
    pg_pod = pg_job["spec"]["template"]["spec"]
    ca_volumes = [v for v in pg_pod["volumes"] if "configMap" in v]
    assert [v["configMap"]["name"] for v in ca_volumes] == ["pg-ca"]
    rendered = json.dumps([s3_job, pg_job])
    for value in [*keys.values(), pg_password]:
        assert value not in rendered
    plan = json.loads(next(e["value"] for e in pg_pod["containers"][0]["env"] if e["name"] == PLAN_ENV))
    assert plan["sink"]["store"]["kind"] == "PostgreSqlLinkedService"
    assert plan["sink"]["store"]["certs"]["trusted_cert"]["path"].startswith("/etc/impala-copy/certs/")


async def test_missing_store_secret_key_blocks_the_run_until_it_exists(
    cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    objects = s3_objects(
        endpoint="http://minio:9000", bucket="analytics", keys={"accessKeyId": "a", "secretAccessKey": "b"}
    )
    objects[0] = manifests.secret("s3-keys", {"accessKeyId": "a"})  # secretAccessKey is missing
    await cluster.apply(*impala(), *objects)
    # The operator cannot see Secrets: the Job is created, and its pod reports the missing key.
    job = await until(lambda: job_of(cluster, "to-s3"), what="the S3 Job")
    result = await cluster.run_pod(job, tmp_path)
    assert result.waiting_message == "couldn't find key secretAccessKey in Secret default/s3-keys"
    await until(
        lambda: cluster.condition("CopyActivity", "to-s3", "Ready").get("reason") == "SecretKeyNotFound",
        what="SecretKeyNotFound",
    )
    message = cluster.condition("CopyActivity", "to-s3", "Ready")["message"]
    assert message == "Secret 's3-keys' has no key 'secretAccessKey' (the run starts once it exists)"
    assert cluster.status("CopyActivity", "to-s3")["phase"] == "Pending"
    await cluster.patch(
        "Secret", "s3-keys", {"data": manifests.secret("s3-keys", {"secretAccessKey": "b"})["data"]}
    )
    await cluster.pod(job, manifests.running())  # the kubelet tries again: the container starts
    await until(lambda: cluster.condition("CopyActivity", "to-s3", "Ready").get("status") == "True")
    await until(lambda: cluster.status("CopyActivity", "to-s3").get("phase") == "Running")
    assert len(cluster.job_creations()) == 1


async def run_rendered(cluster: Cluster, job: dict[str, Any], root: Path) -> Any:
    """Run the Job's pod (the test's kubelet); it must succeed. Returns the summary."""
    result = await cluster.run_pod(job, root)
    assert result.exit_code == 0, result.log[-3000:]
    summary = parse_summary(result.termination_message)
    assert summary is not None
    assert summary.succeeded
    return summary


async def test_rendered_s3_job_copies_into_the_bucket(
    sts: StsServer, s3: MotoServer, s3_bucket: str, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    keys = {"accessKeyId": s3.access_key, "secretAccessKey": s3.secret_key}
    await cluster.apply(*impala(sts), *s3_objects(endpoint=s3.endpoint, bucket=s3_bucket, keys=keys))
    job = await until(lambda: job_of(cluster, "to-s3"), what="the S3 Job")
    summary = await run_rendered(cluster, job, tmp_path)
    assert (summary.rows_read, summary.rows_copied, summary.consistency_verified) == (
        ORDERS_ROWS,
        ORDERS_ROWS,
        True,
    )
    assert summary.output_paths == [f"{s3_bucket}/orders/part_00000.parquet"]
    body = s3.boto3_client().get_object(Bucket=s3_bucket, Key="orders/part_00000.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == ORDERS_ROWS
    await until(lambda: cluster.status("CopyActivity", "to-s3").get("phase") == "Succeeded", what="Succeeded")
    await settle(cluster)
    last = cluster.status("CopyActivity", "to-s3")["lastRun"]
    assert (last["rowsCopied"], last["outputPaths"]) == (ORDERS_ROWS, summary.output_paths)


async def test_rendered_postgresql_job_loads_the_table(
    sts: StsServer, pg_tls: Any, cluster: Cluster, operator: OperatorThread, tmp_path: Path
) -> None:
    pg: PostgresServer = pg_tls.server
    database = "contract"
    with psycopg.connect(pg.uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.execute(f"CREATE DATABASE {database}")
    objects = pg_objects(
        host=pg.host,
        port=pg.port,
        user=pg.user,
        password=pg.password,
        database=database,
        ca=pg_tls.ca_pem.read_text(),
    )
    await cluster.apply(*impala(sts), *objects)
    job = await until(lambda: job_of(cluster, "to-pg"), what="the PostgreSQL Job")
    summary = await run_rendered(cluster, job, tmp_path)
    assert (summary.rows_read, summary.rows_copied, summary.rows_skipped) == (ORDERS_ROWS, ORDERS_ROWS, 0)
    assert summary.consistency_verified is True
    with psycopg.connect(pg.uri_for(database)) as conn:
        assert conn.execute("SELECT count(*) FROM public.orders").fetchone() == (ORDERS_ROWS,)
    await until(lambda: cluster.status("CopyActivity", "to-pg").get("phase") == "Succeeded", what="Succeeded")
    await settle(cluster)
    last = cluster.status("CopyActivity", "to-pg")["lastRun"]
    assert last["rowsCopied"] == ORDERS_ROWS
    assert last["outputPaths"] == [f"postgresql://{pg.host}:{pg.port}/{database}/public.orders"]
