"""`impala-copy engine --task ...` dispatch (engine/main.py run) without a HiveServer2 server.

In:  environments with no plan, malformed JSON, the wrong plan kind, an unknown task, and valid
     lookup and connection-test plans for a loopback port nothing listens on or with a missing secret.
Out: exit codes, the termination message file (the task's own summary kind) and stdout, whose last
     line is the same message.
Faked: nothing (the closed port is a real socket address; the servers' cases are in
     tests/integration/test_lookup_engine_sts.py).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from impala_copy.api.plan import PLAN_ENV, TASKS, ConnectionTestPlan, LookupPlan, SourcePlan
from impala_copy.engine.main import TERMINATION_LOG_ENV, run

PASSWORD_ENV = "ICP_SECRET_IMPALA_LOGIN_PASSWORD_0000"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def impala(port: int) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "authenticationType": "UsernameAndPassword",
        "username": "alice",
        "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}, "env": PASSWORD_ENV},
        "connectTimeoutSeconds": 5,
    }


def engine(
    tmp: Path, capsys: pytest.CaptureFixture[str], task: str, plan: str | None, **env: str
) -> tuple[int, dict[str, Any]]:
    environ = {TERMINATION_LOG_ENV: str(tmp / "termination-log"), **env}
    if plan is not None:
        environ[PLAN_ENV] = plan
    code = run(environ, task)
    message = (tmp / "termination-log").read_text(encoding="utf-8")
    assert capsys.readouterr().out.splitlines()[-1] == message
    return code, json.loads(message)


@pytest.mark.parametrize(
    ("task", "kind"),
    list(zip(TASKS, ("CopyPlan", "LookupPlan", "ConnectionTestPlan", "CopyPlan", "CopyPlan"), strict=True)),
)
def test_a_missing_plan_is_exit_2_with_the_tasks_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], task: str, kind: str
) -> None:
    code, summary = engine(tmp_path, capsys, task, None)
    assert code == 2
    problem = f"environment variable {PLAN_ENV} is not set: it must hold the {kind} as JSON"
    if task in ("copy", "commit"):
        assert summary["errors"] == [{"code": "InvalidConfiguration", "message": problem}]
    elif task in ("lookup", "partition-plan"):
        assert (summary["task"], summary["status"]) == (task, "Failed")
        assert summary["error"] == {"code": "InvalidConfiguration", "message": problem}
    else:
        assert (summary["task"], summary["connected"]) == ("connection-test", False)
        assert (summary["reason"], summary["message"]) == ("InvalidConfiguration", problem)


def test_a_malformed_or_mismatched_plan_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = engine(tmp_path, capsys, "lookup", "{not json")
    assert code == 2
    assert summary["error"]["message"].startswith(
        f"{PLAN_ENV} is not a valid LookupPlan (1 errors; : Invalid JSON"
    )
    connection_plan = ConnectionTestPlan(linked_service="impala", run_id="r1", impala=impala(1))
    code, summary = engine(tmp_path, capsys, "lookup", connection_plan.model_dump_json(by_alias=True))
    assert code == 2
    assert summary["error"]["message"] == (
        f"{PLAN_ENV} is not a valid LookupPlan (3 errors; activity: Field required)"
    )


def test_an_unknown_task_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = engine(tmp_path, capsys, "vacuum", "{}")
    assert code == 2
    assert (
        summary["errors"][0]["message"]
        == "unknown task 'vacuum': expected one of copy, lookup, connection-test, partition-plan, commit"
    )


def test_a_connection_test_of_a_closed_port_is_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    plan = ConnectionTestPlan(linked_service="impala", run_id="r1", impala=impala(port))
    code, summary = engine(tmp_path, capsys, "connection-test", plan.model_dump_json(by_alias=True),
                           **{PASSWORD_ENV: "pw-value-9"})  # fmt: skip
    assert code == 1
    assert (summary["connected"], summary["reason"]) == (False, "Unreachable")
    assert f"127.0.0.1:{port}" in summary["message"]
    assert "pw-value-9" not in json.dumps(summary)


def test_a_connection_test_without_its_secret_is_invalid_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = ConnectionTestPlan(linked_service="impala", run_id="r1", impala=impala(closed_port()))
    code, summary = engine(tmp_path, capsys, "connection-test", plan.model_dump_json(by_alias=True))
    assert code == 1
    assert (summary["connected"], summary["reason"]) == (False, "InvalidConfiguration")
    assert summary["message"] == (
        f"Secret 'impala-login' key 'password' is not available (expected in environment variable {PASSWORD_ENV})"
    )


def test_a_lookup_of_a_closed_port_fails_and_may_be_retried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = closed_port()
    plan = LookupPlan(
        activity="orders", run_id="r1", impala=impala(port), source=SourcePlan(query="SELECT 1")
    )
    code, summary = engine(tmp_path, capsys, "lookup", plan.model_dump_json(by_alias=True),
                           **{PASSWORD_ENV: "pw-value-9"})  # fmt: skip
    assert code == 1
    assert (summary["status"], summary["error"]["code"]) == ("Failed", "Unreachable")
    assert "output" not in summary
    assert "frames" not in summary
