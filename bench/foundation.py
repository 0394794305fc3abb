"""Foundation benchmark (issue "Foundation", section 7): reading a 1M-row mixed-type table.

(a) impyla fetchall() + csv.writer             what a user writes today
(b) impyla as_pandas() + DataFrame.to_parquet  the pandas path
(c) impyla convert_types=False, rows discarded untyped strings: less work than the engine does
(e) HS2 FetchResults loop, decode + discard    the floor: nothing in Python fetches faster
(d) the engine (run_copy) to Parquet and CSV   full typing, the product path
plus the engine's source alone into a ParquetWriter, and (d)/(e) again on 5M rows for RSS flatness.

Heavy libraries are imported inside the cases: every case runs in its own process and its peak RSS
must count only what that case uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.framework import Context, SetupContext, case, rss_flat, rss_limit, table_setup, target

MIXED_COLUMNS = (
    "CAST(id AS INT) AS i, id * 1000 AS b, id / 7.0D AS d, CAST(id / 3.0 AS DECIMAL(18,4)) AS dec, "
    "concat('row-', CAST(id AS STRING)) AS s, id % 2 = 0 AS f, "
    "timestamp_micros(1600000000000000 + id * 1000003) AS ts, "
    "date_add(DATE'2020-01-01', CAST(id % 3000 AS INT)) AS dt"
)


def _mixed_table(ctx: SetupContext, name: str, rows: int) -> int:
    ctx.execute(
        [
            "CREATE DATABASE IF NOT EXISTS bench",
            f"CREATE TABLE IF NOT EXISTS bench.{name} USING parquet AS SELECT {MIXED_COLUMNS} FROM range({rows})",
        ]
    )
    count = int(ctx.query(f"SELECT count(*) FROM bench.{name}")[0][0])
    if count != rows:
        raise RuntimeError(f"bench.{name} holds {count} rows, expected {rows}")
    return count


@table_setup("mixed_1m")
def mixed_1m(ctx: SetupContext) -> int:
    return _mixed_table(ctx, "mixed_1m", 1_000_000)


@table_setup("mixed_5m")
def mixed_5m(ctx: SetupContext) -> int:
    return _mixed_table(ctx, "mixed_5m", 5_000_000)


MIXED_COLUMN_COUNT = 8


def _sql(ctx: Context) -> str:
    return f"SELECT * FROM {ctx.table}"


def _engine_fetch_rows(ctx: Context) -> int:
    """The rows per FetchResults the engine asks for on the mixed table (its batch size)."""
    from impala_copy.engine.source.query import fetch_rows

    return fetch_rows(ctx.batch_rows, MIXED_COLUMN_COUNT)


# --------------------------------------------------------------------------------- what users do


@case("a_fetchall_csv", "(a) impyla fetchall() + csv.writer", table="mixed_1m")
def fetchall_csv(ctx: Context) -> int:
    import csv

    from impala.dbapi import connect

    conn = connect(**ctx.impyla_kwargs())
    cur = conn.cursor()
    cur.execute(_sql(ctx))
    rows = cur.fetchall()
    with open(Path(ctx.workdir) / "out.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([d[0] for d in cur.description])
        writer.writerows(rows)
    conn.close()
    return len(rows)


@case("b_pandas_parquet", "(b) impyla as_pandas() + DataFrame.to_parquet", table="mixed_1m")
def pandas_parquet(ctx: Context) -> int:
    from impala.dbapi import connect
    from impala.util import as_pandas

    conn = connect(**ctx.impyla_kwargs())
    cur = conn.cursor()
    cur.execute(_sql(ctx))
    frame = as_pandas(cur)
    frame.to_parquet(Path(ctx.workdir) / "out.parquet")
    conn.close()
    return len(frame)


@case("c_untyped", "(c) impyla convert_types=False, rows discarded", table="mixed_1m", repeat=2)
def untyped(ctx: Context) -> int:
    from impala.dbapi import connect

    conn = connect(**ctx.impyla_kwargs())
    cur = conn.cursor(convert_types=False)
    cur.arraysize = _engine_fetch_rows(ctx)
    cur.execute(_sql(ctx))
    n = 0
    while rows := cur.fetchmany():
        n += len(rows)
    conn.close()
    return n


# ----------------------------------------------------------------------------------------- floor


def _floor(ctx: Context) -> int:
    from impala._thrift_gen.TCLIService.ttypes import TFetchOrientation, TFetchResultsReq
    from impala.hiveserver2 import connect

    service = connect(**ctx.impyla_kwargs())
    session = service.open_session(ctx.user)
    operation = session.execute(_sql(ctx))
    request = TFetchResultsReq(
        operationHandle=operation.handle,
        orientation=TFetchOrientation.FETCH_NEXT,
        maxRows=_engine_fetch_rows(ctx),
    )
    n = 0
    while True:
        response = session.client.FetchResults(request)  # decoded by thrift's C extension, then dropped
        column = response.results.columns[0] if response.results and response.results.columns else None
        values: Any = next(
            (getattr(column, m) for m in ("i32Val", "stringVal") if column and getattr(column, m)), None
        )
        rows = len(values.values) if values is not None else 0
        if rows == 0:
            break
        n += rows
    operation.close()
    session.close()
    service.close()
    return n


@case("e_floor", "(e) HS2 FetchResults loop, thrift decode only (floor)", table="mixed_1m", repeat=2)
def floor(ctx: Context) -> int:
    return _floor(ctx)


@case("e_floor_5m", "(e) floor, 5M rows", table="mixed_5m")
def floor_5m(ctx: Context) -> int:
    return _floor(ctx)


# ---------------------------------------------------------------------------------------- engine


def _engine_copy(ctx: Context, dataset_kind: str, sink_type: str) -> int:
    import yaml

    from impala_copy.cli import manifests
    from impala_copy.cli.local import LocalLayout, build_plan, secrets_for
    from impala_copy.engine.run import run_copy

    schema, table = ctx.table.split(".")
    api = "impalacopy.io/v1alpha1"
    docs = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bench-login"},
         "stringData": {"password": ctx.password}},
        {"apiVersion": api, "kind": "ImpalaLinkedService", "metadata": {"name": "bench"},
         "spec": {"host": ctx.host, "port": ctx.port, "authenticationType": "UsernameAndPassword",
                  "username": ctx.user, "password": {"secretKeyRef": {"name": "bench-login", "key": "password"}}}},
        {"apiVersion": api, "kind": "ImpalaDataset", "metadata": {"name": "source"},
         "spec": {"linkedServiceName": {"referenceName": "bench"}, "schema": schema, "table": table}},
        {"apiVersion": api, "kind": dataset_kind, "metadata": {"name": "target"},
         "spec": {"location": {"type": "PersistentVolumeClaimLocation", "claimName": "out", "folderPath": "data"}}},
        {"apiVersion": api, "kind": "CopyActivity", "metadata": {"name": "copy"},
         "spec": {"inputs": [{"referenceName": "source"}], "outputs": [{"referenceName": "target", "kind": dataset_kind}],
                  "sink": {"type": sink_type}}},
    ]  # fmt: skip
    folder = Path(ctx.workdir)
    (folder / "manifests.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    (folder / "volume").mkdir()
    loaded = manifests.load(folder / "manifests.yaml")
    if loaded.errors:
        raise RuntimeError("; ".join(str(e) for e in loaded.errors))
    layout = LocalLayout(cert_dir=str(folder / "certs"), volumes={"out": str(folder / "volume")})
    plan = build_plan(loaded, "default", "copy", layout, run_id="bench")
    summary = run_copy(plan, secrets_for(plan, loaded, {}))
    if not summary.succeeded or summary.rows_copied != ctx.rows:
        raise RuntimeError(f"run_copy: {summary.status} rows={summary.rows_copied} errors={summary.errors}")
    return summary.rows_copied


@case("d_parquet", "(d) engine run_copy -> Parquet", table="mixed_1m", repeat=2)
def engine_parquet(ctx: Context) -> int:
    return _engine_copy(ctx, "ParquetDataset", "ParquetSink")


@case("d_csv", "(d) engine run_copy -> CSV (DelimitedText)", table="mixed_1m", repeat=2)
def engine_csv(ctx: Context) -> int:
    return _engine_copy(ctx, "DelimitedTextDataset", "DelimitedTextSink")


@case("d_parquet_5m", "(d) engine run_copy -> Parquet, 5M rows", table="mixed_5m")
def engine_parquet_5m(ctx: Context) -> int:
    return _engine_copy(ctx, "ParquetDataset", "ParquetSink")


@case("source_parquet", "engine source alone -> pyarrow ParquetWriter", table="mixed_1m", repeat=2)
def source_parquet(ctx: Context) -> int:
    import pyarrow.parquet as pq

    from impala_copy.api.plan import ImpalaConnection
    from impala_copy.engine.source.hs2 import connect

    conn = ImpalaConnection.model_validate(
        {"host": ctx.host, "port": ctx.port, "authenticationType": "UsernameAndPassword", "username": ctx.user,
         "password": {"secretKeyRef": {"name": "bench-login", "key": "password"}, "env": "BENCH_PASSWORD"}}
    )  # fmt: skip
    n = 0
    with connect(conn, {"BENCH_PASSWORD": ctx.password}) as session:
        source = session.query(_sql(ctx), timeout_seconds=600, batch_rows=ctx.batch_rows)
        with pq.ParquetWriter(Path(ctx.workdir) / "out.parquet", source.schema) as writer:
            for batch in source.batches():
                writer.write_batch(batch)
                n += batch.num_rows
        source.close()
    return n


# --------------------------------------------------------------------------------------- targets

target("d_parquet", "e_floor", 0.8)
target("d_parquet", "c_untyped", 1.2)
target("d_parquet", "a_fetchall_csv", 5.0)
target("d_parquet", "b_pandas_parquet", 5.0)
target("d_csv", "e_floor", 0.8)
target("d_parquet_5m", "e_floor_5m", 0.8)
rss_limit("d_parquet", 250)
rss_limit("d_csv", 250)
rss_limit("d_parquet_5m", 250)
rss_flat("d_parquet", "d_parquet_5m", 25)
