"""The connection test (engine/probe.py) and `impala-copy test-connection` against real endpoints.

In:  ImpalaConnections to the Spark Thrift Server (CUSTOM password check: alice/secret), to a closed
     loopback port, and to a local socket that accepts and never answers; manifests on disk for the
     CLI (a linked service, a Secret manifest or the environment variable for the password).
Out: the result's reason and message for each case (Connected, AuthenticationFailed, Unreachable,
     Timeout, SecretMissing), the CLI's printed lines, JSON and exit codes, and that the CLI and the
     engine say the same thing.
Faked: nothing (the silent server is a real socket; the timeout is the connection's own).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from devservers.sts import StsServer
from tests import session_password
from tests.integration.silent_server import SilentServer, closed_port
from tests.integration.source_helpers import PASSWORD_ENV, SECRETS, connection

from impala_copy.api.common import SecretKeySelector
from impala_copy.api.plan import secret_env_name
from impala_copy.engine.probe import probe, probe_with_watchdog

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "impala_copy.cli"]


WRONG = session_password.variant("wrong")  # a wrong password: begins with the right one


def test_connected_reports_the_round_trip(sts: StsServer) -> None:
    result = probe(connection(sts), SECRETS)
    assert result.connected, result.message
    assert result.reason == "Connected"
    assert result.round_trip_milliseconds is not None
    assert result.round_trip_milliseconds > 0
    assert result.duration_milliseconds >= result.round_trip_milliseconds
    assert result.message.startswith(f"Connected to 127.0.0.1:{sts.port} as alice")
    assert result.exit_code == 0


def test_wrong_password_is_authentication_failed(sts: StsServer) -> None:
    result = probe(connection(sts), {PASSWORD_ENV: "not-the-password"})
    assert (result.connected, result.reason) == (False, "AuthenticationFailed")
    assert "alice" in result.message
    assert "not-the-password" not in result.message
    assert result.round_trip_milliseconds is None
    assert result.exit_code == 2


def test_nothing_listening_is_unreachable() -> None:
    port = closed_port()
    conn = connection_to("127.0.0.1", port)
    result = probe(conn, SECRETS)
    assert (result.connected, result.reason) == (False, "Unreachable")
    assert f"127.0.0.1:{port}" in result.message
    assert result.exit_code == 1


def test_a_server_that_never_answers_is_a_timeout() -> None:
    with SilentServer() as silent:
        conn = connection_to("127.0.0.1", silent.port, connect_timeout_seconds=2)
        result = probe_with_watchdog(conn, SECRETS)
        assert silent.accepted, "the client never connected"
    assert (result.connected, result.reason) == (False, "Timeout")
    assert f"127.0.0.1:{silent.port}" in result.message
    assert result.exit_code == 1


def test_the_watchdog_gives_up_on_a_test_that_outlives_its_timeouts() -> None:
    with SilentServer() as silent:
        conn = connection_to("127.0.0.1", silent.port, connect_timeout_seconds=30)
        result = probe_with_watchdog(conn, SECRETS, watchdog=1.0)
    assert (result.connected, result.reason) == (False, "Timeout")
    assert result.message == f"127.0.0.1:{silent.port} did not complete connect, login and SELECT 1 within 1s"


def test_a_missing_password_is_reported_without_reaching_the_server(sts: StsServer) -> None:
    result = probe(connection(sts), {})
    assert (result.connected, result.reason) == (False, "SecretMissing")
    assert "impala-login" in result.message
    assert result.exit_code == 2


def connection_to(host: str, port: int, **overrides: Any) -> Any:
    from impala_copy.api.plan import ImpalaConnection

    spec = {
        "host": host,
        "port": port,
        "authenticationType": "UsernameAndPassword",
        "username": "alice",
        "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}, "env": PASSWORD_ENV},
        "connectTimeoutSeconds": 5,
    }
    spec.update(
        {k.replace("connect_timeout_seconds", "connectTimeoutSeconds"): v for k, v in overrides.items()}
    )
    return ImpalaConnection.model_validate(spec)


# ------------------------------------------------------------------------------------------ the CLI


def write_manifests(folder: Path, host: str, port: int, password: str | None, *, timeout: int = 30) -> Path:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "impalacopy.io/v1alpha1",
            "kind": "ImpalaLinkedService",
            "metadata": {"name": "impala"},
            "spec": {
                "host": host,
                "port": port,
                "authenticationType": "UsernameAndPassword",
                "username": "alice",
                "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}},
                "connectTimeoutSeconds": timeout,
            },
        }
    ]
    if password is not None:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "impala-login"},
                "data": {"password": base64.b64encode(password.encode()).decode()},
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "impala.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return folder


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'operator'}:{ROOT}", **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=environ, cwd=ROOT)


def test_cli_connected(sts: StsServer, tmp_path: Path) -> None:
    folder = write_manifests(tmp_path, sts.host, sts.port, session_password.PASSWORD)
    done = cli("test-connection", "-f", str(folder), "--linked-service", "impala")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ImpalaLinkedService impala: Connected=True reason=Connected"
    assert lines[1].startswith(f"Connected to 127.0.0.1:{sts.port} as alice")
    assert lines[2].startswith("round trip (SELECT 1): ")


def test_cli_wrong_password_says_what_the_operator_says(sts: StsServer, tmp_path: Path) -> None:
    folder = write_manifests(tmp_path, sts.host, sts.port, WRONG)
    done = cli("test-connection", "-f", str(folder), "--linked-service", "impala", "-o", "json")
    assert done.returncode == 2, done.stdout + done.stderr
    reported = json.loads(done.stdout)
    expected = probe(connection(sts), {PASSWORD_ENV: WRONG})
    assert (reported["connected"], reported["reason"]) == (False, "AuthenticationFailed")
    assert reported["message"] == expected.message
    assert WRONG not in done.stdout + done.stderr


def test_cli_password_from_the_environment_wins(sts: StsServer, tmp_path: Path) -> None:
    folder = write_manifests(tmp_path, sts.host, sts.port, WRONG)
    env_name = secret_env_name(SecretKeySelector(name="impala-login", key="password"))
    done = cli(
        "test-connection", "-f", str(folder), "-l", "impala", env={env_name: session_password.PASSWORD}
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_cli_unreachable_and_timeout_exit_1(tmp_path: Path) -> None:
    port = closed_port()
    done = cli(
        "test-connection", "-f", str(write_manifests(tmp_path / "a", "127.0.0.1", port, "x")), "-l", "impala"
    )
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == "ImpalaLinkedService impala: Connected=False reason=Unreachable"
    with SilentServer() as silent:
        folder = write_manifests(tmp_path / "b", "127.0.0.1", silent.port, "x", timeout=1)
        done = cli("test-connection", "-f", str(folder), "-l", "impala")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == "ImpalaLinkedService impala: Connected=False reason=Timeout"


def test_cli_missing_secret_and_unknown_linked_service_exit_2(tmp_path: Path) -> None:
    folder = write_manifests(tmp_path, "127.0.0.1", 1, None)
    done = cli("test-connection", "-f", str(folder), "-l", "impala")
    assert done.returncode == 2
    assert done.stderr.startswith("error: SecretNotFound: Secret 'impala-login' key 'password' not found")
    done = cli("test-connection", "-f", str(folder), "-l", "nope")
    assert done.returncode == 2
    assert (
        "error: ReferenceNotFound: ImpalaLinkedService 'nope' not found in namespace 'default'" in done.stderr
    )
    assert "Traceback" not in done.stderr
