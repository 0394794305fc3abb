"""Fault injection on the sink side: the data store dies while the engine is loading or uploading.

In:  CopyActivities whose query reads generated rows from the shared Spark Thrift Server (`sts`, a real
     HiveServer2) into a data store of this test's own, run by `engine.run.execute` as `impala-copy
     run` does; once three batches have been written the store is SIGKILLed with its whole process
     group (tests/integration/fault_injection.py), then started again on the same port (and, for
     PostgreSQL and Azurite, the same data folder):
     - PostgreSQL (insert into an existing table holding three rows);
     - Azurite (Parquet parts of 50,000 rows; a previous run's output already published);
     - moto S3 (the same; moto keeps its objects in memory, so its restart starts empty).
Out: the failed attempt's exit code and error code, the table / the published objects after the
     restart (read back with psycopg, azure-storage-blob, boto3), and the next run's rows and objects.
Faked: nothing.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from devservers.azurite import start_azurite
from devservers.moto import MotoServer, start_moto
from devservers.postgres import PostgresServer, start_postgres
from devservers.process import kill_process_group
from devservers.sts import StsServer
from tests import session_password
from tests.integration.fault_injection import BATCH_ROWS, generated_rows_query, run_with_fault
from tests.integration.object_store_cases import data_keys
from tests.integration.sink_cases import activity, impala_docs, plan_from, postgres_docs
from tests.integration.test_sink_azure import AzureContainer
from tests.integration.test_sink_s3 import S3Bucket

from impala_copy.engine.errors import EXIT_OK, EXIT_TRANSIENT
from impala_copy.engine.run import RunOutcome, execute

pytestmark = pytest.mark.integration

ROWS = 400_000
FAULT_AFTER_ROWS = 3 * BATCH_ROWS
PREVIOUS_ROWS = 10
# Azurite's metadata of blobs and of their extents on disk (LokiJS), each saved every 5 s.
AZURITE_METADATA = ("__azurite_db_blob__.json", "__azurite_db_blob_extent__.json")
PARQUET = {"type": "ParquetSink", "formatSettings": {"maxRowsPerFile": BATCH_ROWS}}


def copy_plan(tmp: Path, sts: StsServer, store_docs: list[dict[str, Any]], kind: str, sink: dict[str, Any],
              rows: int, run_id: str) -> tuple[Any, dict[str, str]]:  # fmt: skip
    docs = [
        *impala_docs(sts.host, sts.port),
        *store_docs,
        activity(kind, sink, source={"query": generated_rows_query(rows)}),
    ]
    return plan_from(tmp / run_id, docs, run_id=run_id)


def assert_retryable_failure(outcome: RunOutcome) -> str:
    """The attempt failed with an exit code that lets the Job retry; returns the error code."""
    assert outcome.exit_code == EXIT_TRANSIENT, outcome.summary.errors
    assert outcome.summary.status == "Failed"
    [error] = outcome.summary.errors
    assert error.code in {"SinkWriteFailed", "Unreachable"}, error
    return error.code


# ------------------------------------------------------------------------------------------ PostgreSQL


@pytest.fixture
def own_pg(tmp_path: Path) -> Iterator[PostgresServer]:
    server = start_postgres(tmp_path, password=session_password.PASSWORD)
    yield server
    server.stop()


def table_rows(pg: PostgresServer, database: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.uri_for(database)) as conn:
        return conn.execute("SELECT id, s FROM copied ORDER BY id, s").fetchall()


def test_postgresql_killed_mid_load(tmp_path: Path, sts: StsServer, own_pg: PostgresServer) -> None:
    own_pg.create_database("faults")
    with psycopg.connect(own_pg.uri_for("faults"), autocommit=True) as conn:
        conn.execute("CREATE TABLE copied (id bigint, s text)")
        conn.execute("INSERT INTO copied VALUES (-1, 'before'), (-2, 'before'), (-3, 'before')")
    before = table_rows(own_pg, "faults")
    store = postgres_docs(own_pg, "faults", "copied")
    sink = {"type": "PostgreSqlSink"}
    p, secrets = copy_plan(tmp_path, sts, store, "PostgreSqlTableDataset", sink, ROWS, "killed")
    outcome = run_with_fault(p, secrets, own_pg.kill, after_rows=FAULT_AFTER_ROWS)
    assert_retryable_failure(outcome)
    own_pg.restart()  # crash recovery on the same data folder
    assert table_rows(own_pg, "faults") == before  # the table exactly as before the run

    p, secrets = copy_plan(tmp_path, sts, store, "PostgreSqlTableDataset", sink, ROWS, "next")
    outcome = execute(p, secrets)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    assert outcome.summary.rows_copied == ROWS
    with psycopg.connect(own_pg.uri_for("faults")) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM copied WHERE id >= 0").fetchone() == (
            ROWS,
            ROWS,
        )
        assert conn.execute("SELECT count(*) FROM copied WHERE id < 0").fetchone() == (3,)


# ------------------------------------------------------------------------------------ object stores


def parquet_rows(store: Any, keys: list[str]) -> int:
    return sum(pq.ParquetFile(io.BytesIO(store.read(k))).metadata.num_rows for k in keys)


def published(store: Any) -> dict[str, bytes]:
    return {k: store.read(k) for k in data_keys(store) if "/_temporary/" not in k}


def staging(store: Any) -> list[str]:
    return [k for k in data_keys(store) if "/_temporary/" in k]


def check_store_killed_mid_upload(tmp_path: Path, sts: StsServer, stores: Any, kind: str) -> None:
    """`stores.current()` is the store; `stores.kill()`, `stores.restart()`; `stores.keeps_objects`."""
    store = stores.current()
    p, secrets = copy_plan(tmp_path, sts, store.docs(kind), kind, PARQUET, PREVIOUS_ROWS, "previous")
    assert execute(p, secrets).exit_code == EXIT_OK
    before = published(store)
    assert list(before) == ["out/part_00000.parquet"]

    p, secrets = copy_plan(tmp_path, sts, store.docs(kind), kind, PARQUET, ROWS, "killed")

    def kill() -> None:
        assert published(store) == before  # while uploading: parts are staged, nothing new published
        assert staging(store)
        stores.kill()

    assert_retryable_failure(run_with_fault(p, secrets, kill, after_rows=FAULT_AFTER_ROWS))
    store = stores.restart()
    if stores.keeps_objects:
        assert published(store) == before  # the previous output, byte for byte
        assert staging(store)  # the killed attempt could not clean up: its parts stay hidden in staging

    p, secrets = copy_plan(tmp_path, sts, store.docs(kind), kind, PARQUET, ROWS, "next")
    outcome = execute(p, secrets)
    assert outcome.exit_code == EXIT_OK, outcome.summary.errors
    assert staging(store) == []  # the next run removed the staged parts
    keys = list(published(store))
    assert keys == [f"out/part_{i:05d}.parquet" for i in range(ROWS // BATCH_ROWS)]
    assert parquet_rows(store, keys) == ROWS


class OwnAzurite:
    keeps_objects = True

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.data = tmp, tmp / "azurite-data"
        self.server = start_azurite(tmp, location=self.data)
        self.server.blob_service().create_container("faults")

    def current(self) -> AzureContainer:
        return AzureContainer(self.server, "faults")

    def kill(self) -> None:
        """SIGKILL once Azurite has saved its blob metadata (every 5 s) since the uploads paused, so
        the restarted server knows every blob staged so far, as a real store would."""
        paused = time.time()
        deadline = time.monotonic() + 60
        files = [self.data / name for name in AZURITE_METADATA]
        while not all(f.exists() and f.stat().st_mtime > paused for f in files):
            assert time.monotonic() < deadline, "Azurite did not save its metadata within 60 s"
            time.sleep(0.1)
        kill_process_group(self.server.process)

    def restart(self) -> AzureContainer:
        self.server.stop()
        self.server = start_azurite(self.tmp, port=self.server.port, location=self.data)
        return self.current()


class OwnMoto:
    keeps_objects = False

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server = self._start(None)

    def _start(self, port: int | None) -> MotoServer:
        server = start_moto(self.tmp, port=port)
        server.boto3_client().create_bucket(Bucket="faults")
        return server

    def current(self) -> S3Bucket:
        return S3Bucket(self.server, "faults")

    def kill(self) -> None:
        kill_process_group(self.server.process)

    def restart(self) -> S3Bucket:
        self.server.stop()
        self.server = self._start(self.server.port)
        return self.current()


def test_azurite_killed_mid_upload(tmp_path: Path, sts: StsServer) -> None:
    stores = OwnAzurite(tmp_path)
    try:
        check_store_killed_mid_upload(tmp_path, sts, stores, "ParquetDataset")
    finally:
        stores.server.stop()


def test_moto_killed_mid_upload(tmp_path: Path, sts: StsServer) -> None:
    stores = OwnMoto(tmp_path)
    try:
        check_store_killed_mid_upload(tmp_path, sts, stores, "ParquetDataset")
    finally:
        stores.server.stop()
