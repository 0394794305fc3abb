"""Sinks benchmark (issue "Sinks beyond the volume", section 5): the engine into S3, Azure Blob and PostgreSQL.

The same 1M-row mixed-type table as the foundation cases (bench.mixed_1m), copied by `run_copy`
from the same HiveServer2:

    s3_parquet     -> Parquet on S3 (moto_server on loopback, SigV4 checked)
    azure_parquet  -> Parquet on Azure Blob (Azurite on loopback, Shared Key checked)
    pg_insert      -> PostgreSQL 15 (loopback), a new table made by autoCreate (binary COPY)
    pg_upsert      -> PostgreSQL, upsert on a key into a table that already holds every key
                      (staging table + INSERT ... ON CONFLICT), for information

next to d_parquet (the engine to local Parquet) and e_floor (the HS2 fetch floor) of the same run;
and s3_sink_1m / s3_sink_5m: generated batches through the S3 sink alone (no HiveServer2), to show
that the sink's peak RSS stays flat with the row count.
Targets: S3 and Azure >= 0.95 x d_parquet, PostgreSQL insert >= 0.9 x d_parquet.

The sink servers are started once, in the parent process, by the setup of the "table" `sinks_1m` (so
they run only when a sink case is selected, and their memory is not counted in the cases' peak RSS);
their endpoints reach the case processes through bench/out/sink-servers.json, and they stop when
the benchmark ends.
"""

from __future__ import annotations

import atexit
import json
import uuid
from pathlib import Path
from typing import Any

from bench.framework import OUT, Context, SetupContext, case, rss_flat, rss_limit, table_setup, target

SERVERS_FILE = OUT / "sink-servers.json"
# The cases' table names only select their setup (which starts the servers); they read these tables.
SOURCE_TABLES = {"sinks_1m": "mixed_1m"}
_running: list[Any] = []


@table_setup("sinks_1m")
def sinks_table(ctx: SetupContext) -> int:
    """The sink servers the cases write to; the rows come from bench.mixed_1m (see SOURCE_TABLES)."""
    from bench.foundation import mixed_1m

    rows = mixed_1m(ctx)
    if not _running:
        _start_servers()
    return rows


def _start_servers() -> None:
    from devservers.azurite import start_azurite
    from devservers.moto import start_moto
    from devservers.postgres import start_postgres

    workdir = OUT / "sink-servers"
    workdir.mkdir(parents=True, exist_ok=True)
    print("starting moto, Azurite and PostgreSQL...", flush=True)
    moto = start_moto(workdir)
    _running.append(moto)
    atexit.register(_stop_servers)
    azurite = start_azurite(workdir, memory_limit_mb=4096)
    _running.append(azurite)
    pg = start_postgres(workdir)
    _running.append(pg)
    info = {
        "s3": {"endpoint": moto.endpoint, "access_key": moto.access_key, "secret_key": moto.secret_key},
        "azure": {"connection_string": azurite.connection_string()},
        "pg": {"host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password},
    }
    SERVERS_FILE.write_text(json.dumps(info), encoding="utf-8")


def _stop_servers() -> None:
    while _running:
        _running.pop().stop()
    SERVERS_FILE.unlink(missing_ok=True)


def _servers() -> dict[str, Any]:
    info: dict[str, Any] = json.loads(SERVERS_FILE.read_text(encoding="utf-8"))
    return info


def _run(ctx: Context, docs: list[dict[str, Any]], output_kind: str, sink: dict[str, Any]) -> int:
    import yaml

    from impala_copy.cli import manifests
    from impala_copy.cli.local import LocalLayout, build_plan, secrets_for
    from impala_copy.engine.run import run_copy

    schema, table = ctx.table.split(".")
    table = SOURCE_TABLES.get(table, table)
    api = "impalacopy.io/v1alpha1"
    source = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bench-login"},
         "stringData": {"password": ctx.password}},
        {"apiVersion": api, "kind": "ImpalaLinkedService", "metadata": {"name": "bench"},
         "spec": {"host": ctx.host, "port": ctx.port, "authenticationType": "UsernameAndPassword",
                  "username": ctx.user, "password": {"secretKeyRef": {"name": "bench-login", "key": "password"}}}},
        {"apiVersion": api, "kind": "ImpalaDataset", "metadata": {"name": "source"},
         "spec": {"linkedServiceName": {"referenceName": "bench"}, "schema": schema, "table": table}},
        {"apiVersion": api, "kind": "CopyActivity", "metadata": {"name": "copy"},
         "spec": {"inputs": [{"referenceName": "source"}], "outputs": [{"referenceName": "target", "kind": output_kind}],
                  "sink": sink}},
    ]  # fmt: skip
    folder = Path(ctx.workdir)
    (folder / "manifests.yaml").write_text(yaml.safe_dump_all([*source, *docs]), encoding="utf-8")
    loaded = manifests.load(folder / "manifests.yaml")
    if loaded.errors:
        raise RuntimeError("; ".join(str(e) for e in loaded.errors))
    plan = build_plan(loaded, "default", "copy", LocalLayout(cert_dir=str(folder / "certs")), run_id="bench")
    summary = run_copy(plan, secrets_for(plan, loaded, {}))
    if not summary.succeeded or summary.rows_copied != ctx.rows:
        raise RuntimeError(f"run_copy: {summary.status} rows={summary.rows_copied} errors={summary.errors}")
    return summary.rows_copied


def _s3_docs(bucket: str) -> list[dict[str, Any]]:
    s3 = _servers()["s3"]
    api = "impalacopy.io/v1alpha1"
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3"},
         "stringData": {"id": s3["access_key"], "secret": s3["secret_key"]}},
        {"apiVersion": api, "kind": "AmazonS3LinkedService", "metadata": {"name": "s3"},
         "spec": {"accessKeyId": {"secretKeyRef": {"name": "s3", "key": "id"}},
                  "secretAccessKey": {"secretKeyRef": {"name": "s3", "key": "secret"}},
                  "serviceUrl": s3["endpoint"], "allowInsecureEndpoint": True, "forcePathStyle": True,
                  "region": "us-east-1"}},
        {"apiVersion": api, "kind": "ParquetDataset", "metadata": {"name": "target"},
         "spec": {"linkedServiceName": {"referenceName": "s3"},
                  "location": {"type": "AmazonS3Location", "bucketName": bucket, "folderPath": "mixed"}}},
    ]  # fmt: skip


@case("s3_parquet", "engine run_copy -> Parquet on S3 (moto)", table="sinks_1m", repeat=2)
def s3_parquet(ctx: Context) -> int:
    import boto3  # type: ignore[import-untyped]

    s3 = _servers()["s3"]
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key"],
        aws_secret_access_key=s3["secret_key"], region_name="us-east-1",
    ).create_bucket(Bucket=bucket)  # fmt: skip
    return _run(ctx, _s3_docs(bucket), "ParquetDataset", {"type": "ParquetSink"})


def _generated(rows: int, batch_rows: int) -> Any:
    """A BatchSource of the mixed table's shape, made in memory (no HiveServer2)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    class Generated:
        schema = pa.schema(
            [("i", pa.int32()), ("b", pa.int64()), ("d", pa.float64()), ("dec", pa.decimal128(18, 4)),
             ("s", pa.string()), ("f", pa.bool_()), ("ts", pa.timestamp("us")), ("dt", pa.date32())]
        )  # fmt: skip

        def batches(self) -> Any:
            for start in range(0, rows, batch_rows):
                ids = pa.array(range(start, min(start + batch_rows, rows)), pa.int64())
                yield pa.RecordBatch.from_arrays(
                    [
                        pc.cast(ids, pa.int32()), pc.multiply(ids, 1000), pc.divide(pc.cast(ids, pa.float64()), 7.0),
                        pc.cast(pc.divide(pc.cast(ids, pa.float64()), 3.0), pa.decimal128(18, 4)),
                        pc.binary_join_element_wise("row-", pc.cast(ids, pa.string()), ""),
                        pc.equal(pc.bit_wise_and(ids, 1), 0),
                        pc.cast(pc.add(pc.multiply(ids, 1000003), 1600000000000000), pa.timestamp("us")),
                        pc.cast(pc.cast(pc.bit_wise_and(ids, 4095), pa.int32()), pa.date32()),
                    ],
                    schema=self.schema,
                )  # fmt: skip

        def close(self) -> None:
            pass

    return Generated()


def _sink_only(ctx: Context, rows: int) -> int:
    """Generated batches through the S3 sink alone: the sink's own memory, without the source's."""
    import time

    import boto3  # type: ignore[import-untyped]
    import yaml

    from impala_copy.cli import manifests
    from impala_copy.cli.local import LocalLayout, build_plan, secrets_for
    from impala_copy.engine.pipeline import Counters, transfer
    from impala_copy.engine.sinks import create_sink

    s3 = _servers()["s3"]
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key"],
        aws_secret_access_key=s3["secret_key"], region_name="us-east-1",
    ).create_bucket(Bucket=bucket)  # fmt: skip
    api = "impalacopy.io/v1alpha1"
    docs = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bench-login"}, "stringData": {"password": "x"}},
        {"apiVersion": api, "kind": "ImpalaLinkedService", "metadata": {"name": "bench"},
         "spec": {"host": "127.0.0.1", "authenticationType": "UsernameAndPassword", "username": "x",
                  "password": {"secretKeyRef": {"name": "bench-login", "key": "password"}}}},
        {"apiVersion": api, "kind": "ImpalaDataset", "metadata": {"name": "source"},
         "spec": {"linkedServiceName": {"referenceName": "bench"}, "schema": "bench", "table": "generated"}},
        {"apiVersion": api, "kind": "CopyActivity", "metadata": {"name": "copy"},
         "spec": {"inputs": [{"referenceName": "source"}], "outputs": [{"referenceName": "target", "kind": "ParquetDataset"}],
                  "sink": {"type": "ParquetSink"}}},
        *_s3_docs(bucket),
    ]  # fmt: skip
    folder = Path(ctx.workdir)
    (folder / "manifests.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    loaded = manifests.load(folder / "manifests.yaml")
    plan = build_plan(loaded, "default", "copy", LocalLayout(cert_dir=str(folder / "certs")), run_id="bench")
    sink = create_sink(plan, secrets_for(plan, loaded, {}))
    result = transfer(
        _generated(rows, ctx.batch_rows), sink, [], deadline=time.monotonic() + 900, counters=Counters()
    )
    return result.rows_written


@case("s3_sink_1m", "S3 sink alone (generated batches, no HS2), 1M rows", table="sinks_1m")
def s3_sink_1m(ctx: Context) -> int:
    return _sink_only(ctx, 1_000_000)


@case("s3_sink_5m", "S3 sink alone (generated batches, no HS2), 5M rows", table="sinks_1m")
def s3_sink_5m(ctx: Context) -> int:
    return _sink_only(ctx, 5_000_000)


@case("azure_parquet", "engine run_copy -> Parquet on Azure Blob (Azurite)", table="sinks_1m", repeat=2)
def azure_parquet(ctx: Context) -> int:
    from azure.storage.blob import BlobServiceClient

    connection_string = _servers()["azure"]["connection_string"]
    container = f"bench-{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(connection_string).create_container(container)
    api = "impalacopy.io/v1alpha1"
    docs = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "azure"},
         "stringData": {"connectionString": connection_string}},
        {"apiVersion": api, "kind": "AzureBlobStorageLinkedService", "metadata": {"name": "azure"},
         "spec": {"connectionString": {"secretKeyRef": {"name": "azure", "key": "connectionString"}},
                  "allowInsecureEndpoint": True}},
        {"apiVersion": api, "kind": "ParquetDataset", "metadata": {"name": "target"},
         "spec": {"linkedServiceName": {"referenceName": "azure"},
                  "location": {"type": "AzureBlobStorageLocation", "container": container, "folderPath": "mixed"}}},
    ]  # fmt: skip
    return _run(ctx, docs, "ParquetDataset", {"type": "ParquetSink"})


def _pg_docs(table: str) -> list[dict[str, Any]]:
    pg = _servers()["pg"]
    api = "impalacopy.io/v1alpha1"
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg"}, "stringData": {"password": pg["password"]}},
        {"apiVersion": api, "kind": "PostgreSqlLinkedService", "metadata": {"name": "pg"},
         "spec": {"host": pg["host"], "port": pg["port"], "database": "postgres", "username": pg["user"],
                  "password": {"secretKeyRef": {"name": "pg", "key": "password"}}, "sslMode": "disable"}},
        {"apiVersion": api, "kind": "PostgreSqlTableDataset", "metadata": {"name": "target"},
         "spec": {"linkedServiceName": {"referenceName": "pg"}, "table": table}},
    ]  # fmt: skip


@case("pg_insert", "engine run_copy -> PostgreSQL, autoCreate + insert", table="sinks_1m", repeat=2)
def pg_insert(ctx: Context) -> int:
    table = f"bench_{uuid.uuid4().hex[:12]}"
    return _run(
        ctx,
        _pg_docs(table),
        "PostgreSqlTableDataset",
        {"type": "PostgreSqlSink", "tableOption": "autoCreate"},
    )


@case("pg_upsert", "engine run_copy -> PostgreSQL, upsert of existing keys", table="sinks_1m")
def pg_upsert(ctx: Context) -> int:
    import psycopg

    pg = _servers()["pg"]
    table = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=pg["host"],
        port=pg["port"],
        user=pg["user"],
        password=pg["password"],
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(
            f"CREATE TABLE {table} (i integer PRIMARY KEY, b bigint, d double precision, dec numeric(18,4), "
            "s text, f boolean, ts timestamp, dt date)"
        )
        conn.execute(f"INSERT INTO {table} (i) SELECT g FROM generate_series(0, {ctx.rows - 1}) g")
    sink = {"type": "PostgreSqlSink", "writeBehavior": "upsert", "upsertSettings": {"keys": ["i"]}}
    return _run(ctx, _pg_docs(table), "PostgreSqlTableDataset", sink)


target("s3_parquet", "d_parquet", 0.95)
target("azure_parquet", "d_parquet", 0.95)
target("pg_insert", "d_parquet", 0.9)
# The object stores' client libraries (AWS SDK, Azure SDK) and their in-flight upload parts add
# about 60 MB to the local-Parquet figure; what matters is that it stays flat with the table size.
rss_limit("s3_parquet", 350)
rss_limit("azure_parquet", 350)
rss_limit("pg_insert", 300)
rss_limit("pg_upsert", 300)
rss_flat("s3_sink_1m", "s3_sink_5m", 25)
