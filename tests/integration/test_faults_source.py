"""Fault injection on the source side: a HiveServer2 that dies or stalls in the middle of a copy.

In:  a CopyActivity whose query reads 1,000,000 generated rows (`range`, no table needed) into Parquet
     parts of 50,000 rows on a volume, run by `engine.run.execute` as `impala-copy run` does; a progress
     callback that injects the fault once N batches have been written:
     - killed:  a Spark Thrift Server of this test's own, SIGKILLed; the retry runs against a new
                server started on the same port;
     - stalled: the shared server behind a TCP proxy (tests/integration/stalling_proxy.py) that stops
                forwarding, with policy.timeout 20 s.
Out: the failed attempt's exit code, error code and message, its time to fail, what a reader of the
     output folder sees (nothing published), and the retry's row count and files.
Faked: nothing (the proxy only forwards or holds bytes).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from devservers.sts import StsServer, start_sts
from tests import session_password
from tests.integration.copy_docs import impala, output_files, plan, single_copy
from tests.integration.fault_injection import BATCH_ROWS, generated_rows_query, run_with_fault
from tests.integration.stalling_proxy import StallingProxy

from impala_copy.engine.errors import EXIT_OK, EXIT_TRANSIENT
from impala_copy.engine.run import RunOutcome, execute

pytestmark = pytest.mark.integration

ROWS = 1_000_000
QUERY = generated_rows_query(ROWS)
PARTS = {"maxRowsPerFile": BATCH_ROWS}
FAULT_AFTER_ROWS = 3 * BATCH_ROWS  # the fault comes once three batches have been written
TIMEOUT_SECONDS = 20
# What a failed attempt may take beyond its timeout: closing the query and the session against a
# server that does not answer (connectTimeoutSeconds of the linked service, 10 s) on a busy machine.
CLOSE_SLACK_SECONDS = 25


def copy_docs(host: str, port: int, **spec: object) -> list[dict[str, object]]:
    return single_copy(
        impala(host, port),
        "ParquetDataset",
        schema=None,
        table_name=None,
        source={"query": QUERY},
        format_settings=PARTS,
        **spec,
    )


def attempt(tmp: Path, docs: list[dict[str, object]], fault: Callable[[], None] | None = None) -> RunOutcome:
    """One attempt of run `attempt-1` (a retry is the same run's next attempt), with or without a fault."""
    resolved, secrets = plan(tmp, docs, run_id="attempt-1")
    if fault is None:
        return execute(resolved, secrets)
    return run_with_fault(resolved, secrets, fault, after_rows=FAULT_AFTER_ROWS)


def staged(tmp: Path) -> list[Path]:
    root = tmp / "volume" / "data" / "_temporary"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def rows_published(tmp: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in output_files(tmp))


@pytest.fixture
def own_sts(tmp_path: Path) -> Iterator[list[StsServer]]:
    """Servers of this test alone (killed and restarted without disturbing the shared ones)."""
    servers: list[StsServer] = []
    yield servers
    for server in servers:
        server.stop()


def test_hiveserver2_killed_mid_fetch(tmp_path: Path, own_sts: list[StsServer]) -> None:
    first = start_sts(tmp_path / "sts-1", password=session_password.PASSWORD)
    own_sts.append(first)
    docs = copy_docs(first.host, first.port)

    def kill() -> None:
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)

    outcome = attempt(tmp_path, docs, kill)
    assert outcome.exit_code == EXIT_TRANSIENT  # the Job may retry
    [error] = outcome.summary.errors
    assert error.code == "ServerError"
    assert error.message.startswith(f"{first.host}:{first.port} closed the connection while "), error.message
    assert outcome.summary.status == "Failed"
    assert outcome.summary.rows_read >= FAULT_AFTER_ROWS
    assert output_files(tmp_path) == []  # nothing published
    assert not staged(tmp_path)  # the failed attempt removed what it had staged

    # The server back, on the same address.
    second = start_sts(tmp_path / "sts-2", port=first.port, password=session_password.PASSWORD)
    own_sts.append(second)
    retried = attempt(tmp_path, docs)  # the retry
    assert retried.exit_code == EXIT_OK, retried.summary.errors
    assert (retried.summary.rows_read, retried.summary.rows_copied) == (ROWS, ROWS)
    assert rows_published(tmp_path) == ROWS
    assert len(output_files(tmp_path)) == ROWS // PARTS["maxRowsPerFile"]
    assert not staged(tmp_path)


def test_hiveserver2_that_stalls_fails_by_its_timeout(tmp_path: Path, sts: StsServer) -> None:
    with StallingProxy(sts.host, sts.port) as proxy:
        docs = copy_docs("127.0.0.1", proxy.port, policy={"timeout": f"0.00:00:{TIMEOUT_SECONDS}"})
        started = time.monotonic()
        outcome = attempt(tmp_path, docs, proxy.stall)
        took = time.monotonic() - started
    assert proxy.connections == 1
    assert outcome.exit_code == EXIT_TRANSIENT
    [error] = outcome.summary.errors
    assert error.code == "Timeout"
    assert error.message.startswith(
        f"the copy did not finish within policy.timeout ({TIMEOUT_SECONDS} s); "
    ), error.message
    assert error.message.endswith("rows had been written, none were published")
    assert TIMEOUT_SECONDS <= took <= TIMEOUT_SECONDS + CLOSE_SLACK_SECONDS, took
    assert output_files(tmp_path) == []
    assert not staged(tmp_path)
