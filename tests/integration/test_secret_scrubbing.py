"""No secret value escapes through a server's error message: engine, run summary and CLI.

In:  a password with characters that URL and base64 encodings change; an ImpalaLinkedService on a
     loopback server that answers the login with an error quoting what it received (the SASL PLAIN
     response over the Binary transport, with a BAD or ERROR status; the Authorization header and
     its decoded credentials over HTTP, with a 401 or 500); `impala-copy test-connection`, `lookup`
     and `run` on a folder of manifests, as subprocesses.
Out: the exact error codes and messages (the password replaced by ***), the run summary JSON, the
     CLI's stdout/stderr and exit codes, none of which holds the password in any form.
Faked: the HiveServer2 server (tests/integration/echo_servers.py speaks only the login exchange).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tests.integration.copy_docs import obj, single_copy, write
from tests.integration.echo_servers import SASL_BAD, SASL_ERROR, EchoHttpServer, EchoSaslServer

from impala_copy.api.plan import ImpalaConnection
from impala_copy.engine.probe import probe

PASSWORD = "Pa55:w/rd+secret"
ENV = "TEST_IMPALA_PASSWORD"
ROOT = Path(__file__).resolve().parents[2]

SASL_TEXT = "(b'login refused (PLAIN): \\x00alice\\x00***')"
EXPECTED = {
    ("binary", SASL_BAD): (
        "AuthenticationFailed",
        "{where} rejected the login of user 'alice': wrong user name or password (Bad status: 3 "
        + SASL_TEXT
        + ")",
    ),
    ("binary", SASL_ERROR): ("ServerError", "login to {where} failed: Bad status: 4 " + SASL_TEXT),
    ("http", 401): (
        "AuthenticationFailed",
        "{where}/cliservice rejected the login of user 'alice': wrong user name or password "
        "(HTTP code 401: denied Basic YWxpY2U6***A== (alice:***))",
    ),
    ("http", 500): ("ServerError", "{where}/cliservice answered HTTP 500 while logging in"),
}
CASES = list(EXPECTED)


@contextmanager
def echo_server(transport: str, status: int) -> Iterator[int]:
    server = EchoSaslServer(status) if transport == "binary" else EchoHttpServer(status)
    with server:
        yield server.port


def assert_no_password(text: str) -> None:
    forms = [PASSWORD, quote(PASSWORD, safe=""), base64.b64encode(f"alice:{PASSWORD}".encode()).decode()]
    leaked = [form for form in forms if form in text]
    assert not leaked, text


def linked_service(port: int, transport: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "authenticationType": "UsernameAndPassword",
        "username": "alice",
        "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}},
        "connectTimeoutSeconds": 5,
    }
    if transport == "http":
        spec["thriftTransportProtocol"] = "HTTP"
    return obj("ImpalaLinkedService", "impala", spec)


def manifests(folder: Path, port: int, transport: str) -> Path:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "impala-login"},
        "stringData": {"password": PASSWORD},
    }
    lookup = obj(
        "LookupActivity", "lookup", {"dataset": {"referenceName": "source"}, "source": {"query": "SELECT 1"}}
    )
    docs = single_copy([linked_service(port, transport), secret], "ParquetDataset")
    write(folder, [*docs, lookup])
    return folder


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    env["PYTHONPATH"] = f"{ROOT / 'operator'}:{ROOT}"
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.parametrize(("transport", "status"), CASES)
def test_the_engine_scrubs_the_echoed_login(transport: str, status: int) -> None:
    with echo_server(transport, status) as port:
        spec = linked_service(port, transport)["spec"]
        spec["password"] = {"secretKeyRef": spec["password"]["secretKeyRef"], "env": ENV}
        result = probe(ImpalaConnection.model_validate(spec), {ENV: PASSWORD})
    code, message = EXPECTED[(transport, status)]
    assert (result.reason, result.message) == (code, message.format(where=f"127.0.0.1:{port}"))


@pytest.mark.parametrize(("transport", "status"), CASES)
def test_the_cli_never_prints_the_password(transport: str, status: int, tmp_path: Path) -> None:
    code, message = EXPECTED[(transport, status)]
    with echo_server(transport, status) as port:
        folder = manifests(tmp_path / "manifests", port, transport)
        tested = cli("test-connection", "-f", str(folder), "-l", "impala", "-o", "json")
        looked_up = cli("lookup", "-f", str(folder), "--activity", "lookup")
        ran = cli(
            "run",
            "-f",
            str(folder),
            "--activity",
            "copy",
            "--volume",
            f"out={tmp_path / 'out'}",
            "-o",
            "json",
        )
    expected = message.format(where=f"127.0.0.1:{port}")
    for done in (tested, looked_up, ran):
        assert_no_password(done.stdout + done.stderr)
        assert "Traceback" not in done.stderr
    assert (json.loads(tested.stdout)["reason"], json.loads(tested.stdout)["message"]) == (code, expected)
    assert looked_up.stderr.strip() == f"error: {code}: {expected}"
    summary = json.loads(ran.stdout)
    assert (summary["status"], summary["errors"]) == ("Failed", [{"code": code, "message": expected}])
    assert ran.stderr.strip() == f"error: {code}: {expected}"
