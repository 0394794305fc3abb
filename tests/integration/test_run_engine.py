"""`impala-copy engine`, the Job pod's entry point, run as a real subprocess against the Spark Thrift Server.

In:  the CopyPlan JSON in IMPALA_COPY_PLAN and the password in the environment variable the plan names
     (as the Job renders them), IMPALA_COPY_TERMINATION_LOG pointing at a temporary file; for the
     kill tests, a 3-million-row query written in parts of 50,000 rows, and SIGKILL / SIGTERM sent
     while it runs.
Out: exit codes (0 done, 1 retry may help, 2 configuration), the termination message (JSON with ADF
     names, at most 4 KiB, also printed on stdout), and what a reader of the output folder sees after
     a killed run: the previous run's files, byte for byte, and nothing that looks complete.
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
from tests.integration.copy_docs import impala, impala_on, output_files, plan, single_copy

from impala_copy.api.plan import PLAN_ENV, CopyPlan
from impala_copy.api.summary import SECURE_INPUT_MESSAGE
from impala_copy.engine.main import TERMINATION_LOG_ENV

BIG_QUERY = "SELECT id, concat('row-', CAST(id AS STRING)) AS s FROM range(3000000)"
PARTS = {"maxRowsPerFile": 50_000}


def engine_env(tmp: Path, resolved: CopyPlan | None, secrets: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    env[TERMINATION_LOG_ENV] = str(tmp / "termination-log")
    if resolved is not None:
        env[PLAN_ENV] = json.dumps(resolved.to_wire())
    return env | secrets


def start_engine(tmp: Path, resolved: CopyPlan | None, secrets: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "impala_copy.cli", "engine"],
        env=engine_env(tmp, resolved, secrets),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_engine(
    tmp: Path, resolved: CopyPlan | None, secrets: dict[str, str]
) -> tuple[int, dict[str, Any], str, str]:
    proc = start_engine(tmp, resolved, secrets)
    stdout, stderr = proc.communicate(timeout=300)
    message = (tmp / "termination-log").read_text(encoding="utf-8")
    assert stdout.strip().splitlines()[-1] == message
    return proc.returncode, json.loads(message), stdout, stderr


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
    server = (
        impala_on(sts, password="wrong-pass")
        if case == "wrong password"
        else impala("127.0.0.1", free_port())
    )
    resolved, secrets = plan(tmp_path, single_copy(server, "ParquetDataset"))
    returncode, summary, stdout, stderr = run_engine(tmp_path, resolved, secrets)
    assert returncode == exit_code
    assert [e["code"] for e in summary["errors"]] == [code]
    assert "wrong-pass" not in stdout + stderr
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
