"""`impala-copy engine --task copy|lookup|connection-test`, the Job pods' entry point, run as a real
subprocess against the Spark Thrift Server.

In:  the task's plan JSON in IMPALA_COPY_PLAN and the password in the environment variable the plan
     names (as the Job renders them), IMPALA_COPY_TERMINATION_LOG pointing at a temporary file; for
     the kill tests, a 3-million-row query written in parts of 50,000 rows, and SIGKILL / SIGTERM sent
     while it runs; for lookups, results from one row to ten times the 4 MiB output limit; for
     connection tests, right and wrong passwords, TLS with and without the server's CA.
Out: exit codes (0 done, 1 retry may help, 2 configuration), the termination message (JSON, at most
     4 KiB, also the last line on stdout), what a reader of the output folder sees after a killed
     copy (the previous run's files, byte for byte, and nothing that looks complete), a large lookup
     output rebuilt with decode_frames from stdout and stderr merged (as the pod log is), and the
     peak RSS of a lookup process whose result is ten times the limit.
Faked: nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from devservers.sts import ORDERS_ROWS, StsServer, free_port
from tests import session_password
from tests.integration.copy_docs import impala, impala_on, output_files, plan, single_copy
from tests.integration.source_helpers import PASSWORD_ENV, SECRETS, connection

from impala_copy.api.lookup_frames import decode_frames
from impala_copy.api.model import ApiModel
from impala_copy.api.plan import (
    PLAN_ENV,
    TASK_CONNECTION_TEST,
    TASK_LOOKUP,
    ConnectionTestPlan,
    LookupPlan,
    SourcePlan,
)
from impala_copy.api.summary import SECURE_INPUT_MESSAGE, TERMINATION_MESSAGE_LIMIT, LookupSummary
from impala_copy.engine.lookup import HARD_LIMIT_BYTES, dumps, run_lookup
from impala_copy.engine.main import TERMINATION_LOG_ENV

BIG_QUERY = "SELECT id, concat('row-', CAST(id AS STRING)) AS s FROM range(3000000)"
PARTS = {"maxRowsPerFile": 50_000}


WRONG = session_password.variant("wrong")  # a wrong password: begins with the right one


def engine_env(tmp: Path, resolved: ApiModel | None, secrets: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    env[TERMINATION_LOG_ENV] = str(tmp / "termination-log")
    if resolved is not None:
        env[PLAN_ENV] = json.dumps(resolved.to_wire())
    return env | secrets


def engine_command(task: str = "copy") -> list[str]:
    return [sys.executable, "-m", "impala_copy.cli", "engine", *([] if task == "copy" else ["--task", task])]


def start_engine(
    tmp: Path, resolved: ApiModel | None, secrets: dict[str, str], *, task: str = "copy", merged: bool = False
) -> subprocess.Popen[str]:
    """The engine as a process; with `merged`, stderr goes into stdout as it does in a pod's log."""
    return subprocess.Popen(
        engine_command(task),
        env=engine_env(tmp, resolved, secrets),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
        text=True,
    )


def run_engine(
    tmp: Path, resolved: ApiModel | None, secrets: dict[str, str], *, task: str = "copy", merged: bool = False
) -> tuple[int, dict[str, Any], str, str]:
    proc = start_engine(tmp, resolved, secrets, task=task, merged=merged)
    stdout, stderr = proc.communicate(timeout=300)
    message = (tmp / "termination-log").read_text(encoding="utf-8")
    assert stdout.strip().splitlines()[-1] == message
    assert len(message.encode()) <= TERMINATION_MESSAGE_LIMIT
    return proc.returncode, json.loads(message), stdout, stderr or ""


def test_success_writes_the_summary_to_the_termination_log(sts: StsServer, tmp_path: Path) -> None:
    resolved, secrets = plan(
        tmp_path, single_copy(impala_on(sts), "ParquetDataset", validateDataConsistency=True)
    )
    code, summary, _, stderr = run_engine(tmp_path, resolved, secrets)
    assert code == 0, stderr
    assert summary["status"] == "Succeeded"
    assert (summary["rowsRead"], summary["rowsCopied"], summary["filesWritten"]) == (
        ORDERS_ROWS,
        ORDERS_ROWS,
        1,
    )
    assert summary["consistencyVerified"] is True
    assert summary["dataWritten"] == sum(p.stat().st_size for p in output_files(tmp_path))
    assert summary["outputPaths"] == [str(p) for p in output_files(tmp_path)]
    assert "Succeeded" in stderr


def test_the_termination_message_stays_under_4_kib(sts: StsServer, tmp_path: Path) -> None:
    docs = single_copy(impala_on(sts), "JsonDataset", format_settings={"maxRowsPerFile": 10})
    resolved, secrets = plan(tmp_path, docs)
    code, summary, _, _ = run_engine(tmp_path, resolved, secrets)
    assert code == 0
    assert len((tmp_path / "termination-log").read_bytes()) <= 4096
    assert (summary["rowsCopied"], summary["filesWritten"]) == (ORDERS_ROWS, ORDERS_ROWS // 10)
    assert len(output_files(tmp_path)) == ORDERS_ROWS // 10


def test_without_a_plan_the_engine_fails_as_a_configuration_error(tmp_path: Path) -> None:
    code, summary, _, _ = run_engine(tmp_path, None, {})
    assert code == 2
    assert summary["status"] == "Failed"
    assert summary["errors"][0]["code"] == "InvalidConfiguration"
    assert PLAN_ENV in summary["errors"][0]["message"]


@pytest.mark.parametrize(
    ("case", "code", "exit_code"),
    [("wrong password", "AuthenticationFailed", 2), ("server down", "Unreachable", 1)],
)
def test_failure_exit_codes(sts: StsServer, tmp_path: Path, case: str, code: str, exit_code: int) -> None:
    server = impala_on(sts, password=WRONG) if case == "wrong password" else impala("127.0.0.1", free_port())
    resolved, secrets = plan(tmp_path, single_copy(server, "ParquetDataset"))
    returncode, summary, stdout, stderr = run_engine(tmp_path, resolved, secrets)
    assert returncode == exit_code
    assert [e["code"] for e in summary["errors"]] == [code]
    assert WRONG not in stdout + stderr
    assert "Traceback" not in stderr
    assert output_files(tmp_path) == []


@pytest.mark.parametrize(
    ("query", "code", "quoted"),
    [
        ("SELECT card FROM no_such_table_x WHERE pin = 'hunter2'", "TableNotFound", "no_such_table_x"),
        ("SELECT card hunter2 hunter2 FROM nowhere", "QueryFailed", "hunter2"),
    ],
)
def test_secure_input_keeps_the_query_out_of_the_summary(
    sts: StsServer, tmp_path: Path, query: str, code: str, quoted: str
) -> None:
    docs = single_copy(
        impala_on(sts), "ParquetDataset", schema=None, table_name=None, source={"query": query}
    )
    resolved, secrets = plan(tmp_path / "plain", docs)
    _, shown, _, _ = run_engine(tmp_path / "plain", resolved, secrets)
    assert [e["code"] for e in shown["errors"]] == [code]
    assert quoted in shown["errors"][0]["message"]  # without secureInput, the server quotes the query

    docs[-1]["spec"]["policy"] = {"secureInput": True}
    resolved, secrets = plan(tmp_path / "secure", docs)
    returncode, summary, stdout, stderr = run_engine(tmp_path / "secure", resolved, secrets)
    assert returncode == 2
    assert summary["errors"] == [{"code": code, "message": SECURE_INPUT_MESSAGE}]
    assert (
        SECURE_INPUT_MESSAGE == "the server rejected the query (its message is hidden by policy.secureInput)"
    )
    assert "hunter2" not in stdout + stderr
    assert "no_such_table_x" not in stdout + stderr


# ---------------------------------------------------------------------------------- killed mid-way


def published(tmp: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in output_files(tmp)}


def staged(tmp: Path) -> list[Path]:
    root = tmp / "volume" / "data" / "_temporary"
    return sorted(p for p in root.rglob("*.parquet") if p.is_file()) if root.exists() else []


def wait_for_parts(proc: subprocess.Popen[str], tmp: Path, parts: int) -> None:
    deadline = time.monotonic() + 240
    while len(staged(tmp)) < parts:
        assert proc.poll() is None, f"the engine ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "no staged parts appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_the_previous_output_intact(
    sts: StsServer, tmp_path: Path, sig: signal.Signals
) -> None:
    first, secrets = plan(
        tmp_path, single_copy(impala_on(sts), "ParquetDataset", format_settings=PARTS), run_id="first"
    )
    assert run_engine(tmp_path, first, secrets)[0] == 0
    before = published(tmp_path)
    assert list(before) == ["part_00000.parquet"]

    big_docs = single_copy(
        impala_on(sts),
        "ParquetDataset",
        schema=None,
        table_name=None,
        source={"query": BIG_QUERY},
        format_settings=PARTS,
    )
    big, secrets = plan(tmp_path, big_docs, run_id="big")
    proc = start_engine(tmp_path, big, secrets)
    try:
        wait_for_parts(proc, tmp_path, 3)  # two complete parts and one being written
        proc.send_signal(sig)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert published(tmp_path) == before  # the reader sees the previous run, byte for byte
    if sig == signal.SIGKILL:
        # Staged parts stay behind, hidden under _temporary (ignored by Spark, Hive and Arrow readers).
        assert len(staged(tmp_path)) >= 3
        assert all("_temporary/part_NNNNN.parquet/big/" in str(p) for p in staged(tmp_path))
    else:
        assert proc.returncode == 1
        message = json.loads((tmp_path / "termination-log").read_text())
        assert [e["code"] for e in message["errors"]] == ["Terminated"]
        assert not (tmp_path / "volume" / "data" / "_temporary").exists()

    # The next run cleans up what the killed one left and publishes its own output only.
    third, secrets = plan(
        tmp_path, single_copy(impala_on(sts), "ParquetDataset", format_settings=PARTS), run_id="third"
    )
    assert run_engine(tmp_path, third, secrets)[0] == 0
    assert not (tmp_path / "volume" / "data" / "_temporary").exists()
    assert list(published(tmp_path)) == ["part_00000.parquet"]
    assert pq.ParquetFile(output_files(tmp_path)[0]).metadata.num_rows == ORDERS_ROWS


# ---------------------------------------------------------------------------------- lookup task


def lookup_plan(server: StsServer, query: str, *, first_row_only: bool = True) -> LookupPlan:
    return LookupPlan(
        activity="orders-lookup",
        run_id="r1",
        impala=connection(server),
        source=SourcePlan(query=query, query_timeout_seconds=300),
        first_row_only=first_row_only,
        timeout_seconds=600,
    )


def test_lookup_task_puts_a_small_output_in_the_termination_message(sts: StsServer, tmp_path: Path) -> None:
    query = "SELECT max(order_id) AS high_watermark, count(*) AS orders FROM demo.orders"
    code, summary, stdout, stderr = run_engine(tmp_path, lookup_plan(sts, query), SECRETS, task=TASK_LOOKUP)
    assert code == 0, stderr
    output = {"firstRow": {"high_watermark": ORDERS_ROWS, "orders": ORDERS_ROWS}}
    assert summary["output"] == output
    assert (summary["task"], summary["status"], summary["rows"], summary["truncated"]) == (
        "lookup", "Succeeded", 1, False,
    )  # fmt: skip
    assert summary["sizeBytes"] == len(dumps(output).encode())
    assert "frames" not in summary
    assert "impala-copy-lookup-result" not in stdout
    assert "lookup r1 Succeeded: rows=1" in stderr


def test_lookup_task_sends_a_large_output_through_the_log(sts: StsServer, tmp_path: Path) -> None:
    plan = lookup_plan(
        sts, "SELECT order_id, customer, status FROM demo.orders ORDER BY order_id", first_row_only=False
    )
    code, summary, log, _ = run_engine(tmp_path, plan, SECRETS, task=TASK_LOOKUP, merged=True)
    assert code == 0, log
    expected = run_lookup(plan, SECRETS).output
    parsed = LookupSummary.model_validate(summary)
    assert (parsed.output, parsed.rows, parsed.truncated) == (None, ORDERS_ROWS, False)
    assert parsed.frames is not None
    assert parsed.size_bytes == len(dumps(expected).encode()) > 100_000
    assert "INFO lookup r1 of LookupActivity default/orders-lookup started" in log  # stderr, interleaved
    assert json.loads(decode_frames(log, parsed.frames)) == expected
    assert expected["value"][0] == {"order_id": 1, "customer": "Ana", "status": "new"}


def test_lookup_task_with_a_wrong_password_fails_without_retry(sts: StsServer, tmp_path: Path) -> None:
    plan = lookup_plan(sts, "SELECT 1 AS one")
    code, summary, stdout, stderr = run_engine(
        tmp_path, plan, {PASSWORD_ENV: "wrong-pass-77"}, task=TASK_LOOKUP
    )
    assert code == 2
    assert (summary["status"], summary["error"]["code"]) == ("Failed", "AuthenticationFailed")
    assert "alice" in summary["error"]["message"]
    assert "wrong-pass-77" not in stdout + stderr
    assert "Traceback" not in stderr


# The peak RSS a lookup process stays under whatever its result (docs/lookup.md): about 120 MiB is the
# Python runtime with pyarrow and the HiveServer2 client, the rest follows the 4 MiB budget.
LOOKUP_PEAK_RSS_BYTES = 200 * 1024 * 1024
MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


WIDTH = 10 * HARD_LIMIT_BYTES // ORDERS_ROWS  # 5000 rows of 8 KiB: 42 MB of JSON
OVER_THE_LIMIT = {
    "even rows": f"SELECT id, repeat('x', {WIDTH}) AS filler FROM range({ORDERS_ROWS})",
    "rows that widen": "SELECT CASE WHEN id = 0 THEN 'a' ELSE repeat('x', 40000) END AS s FROM range(1000)",
}


@pytest.mark.parametrize("case", OVER_THE_LIMIT)
def test_a_lookup_ten_times_over_the_limit_stays_within_its_memory_bound(
    sts: StsServer, tmp_path: Path, case: str
) -> None:
    query = OVER_THE_LIMIT[case]
    env = engine_env(tmp_path, lookup_plan(sts, query, first_row_only=False), SECRETS)
    # A process of its own runs the engine as its only child: RUSAGE_CHILDREN is the engine's peak.
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *engine_command(TASK_LOOKUP)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    code, max_rss_kib = (int(v) for v in done.stdout.splitlines()[-1].split())
    summary = json.loads((tmp_path / "termination-log").read_text())
    assert code == 2, done.stderr
    assert summary["error"]["code"] == "ResultTooLarge"
    assert "exceeds the 4 MiB limit" in summary["error"]["message"]
    print(f"peak RSS of the lookup process ({case}): {max_rss_kib} KiB")
    assert max_rss_kib * 1024 < LOOKUP_PEAK_RSS_BYTES, f"peak RSS {max_rss_kib} KiB"


# ------------------------------------------------------------------------------ connection test task


def connection_plan(server: StsServer, **overrides: Any) -> ConnectionTestPlan:
    return ConnectionTestPlan(linked_service="impala", run_id="t1", impala=connection(server, **overrides))


def test_connection_test_task_connected(sts: StsServer, tmp_path: Path) -> None:
    code, summary, _, stderr = run_engine(tmp_path, connection_plan(sts), SECRETS, task=TASK_CONNECTION_TEST)
    assert code == 0, stderr
    assert (summary["task"], summary["connected"], summary["reason"]) == (
        "connection-test",
        True,
        "Connected",
    )
    assert summary["message"].startswith(f"Connected to 127.0.0.1:{sts.port} as alice")
    assert 0 < summary["roundTripMilliseconds"] <= summary["durationMilliseconds"]
    assert summary["probedAt"].endswith("Z")


def test_connection_test_task_wrong_password_is_authentication_failed(sts: StsServer, tmp_path: Path) -> None:
    secrets = {PASSWORD_ENV: "wrong-pass-77"}
    code, summary, stdout, stderr = run_engine(
        tmp_path, connection_plan(sts), secrets, task=TASK_CONNECTION_TEST
    )
    assert code == 1
    assert (summary["connected"], summary["reason"]) == (False, "AuthenticationFailed")
    assert "alice" in summary["message"]
    assert "roundTripMilliseconds" not in summary
    assert "wrong-pass-77" not in stdout + stderr


def test_connection_test_task_over_tls(sts_tls: StsServer, tmp_path: Path) -> None:
    code, summary, _, stderr = run_engine(
        tmp_path, connection_plan(sts_tls), SECRETS, task=TASK_CONNECTION_TEST
    )
    assert (code, summary["reason"]) == (0, "Connected"), stderr
    untrusted = connection_plan(sts_tls, trustedCert=None)
    code, summary, _, _ = run_engine(tmp_path, untrusted, SECRETS, task=TASK_CONNECTION_TEST)
    assert (code, summary["connected"], summary["reason"]) == (1, False, "TLSVerificationFailed")
