"""The connection test over TLS: a server whose self-signed certificate is not trusted, then trusted.

In:  the Spark Thrift Server with TLS (`sts_tls`, certificate for 127.0.0.1 only), connections with
     and without its CA; for the CLI, manifests with the CA in a ConfigMap manifest.
Out: TLSVerificationFailed (with the verifier's reason) without the CA, Connected with it, and the same
     from `impala-copy test-connection`.
Faked: nothing.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from devservers.sts import StsServer
from tests import session_password
from tests.integration.source_helpers import SECRETS, connection

from impala_copy.engine.probe import probe

ROOT = Path(__file__).resolve().parents[2]


def test_untrusted_certificate_is_tls_verification_failed(sts_tls: StsServer) -> None:
    result = probe(connection(sts_tls, trustedCert=None), SECRETS)
    assert (result.connected, result.reason) == (False, "TLSVerificationFailed")
    assert "certificate" in result.message
    assert result.exit_code == 2


def test_trusted_certificate_connects(sts_tls: StsServer) -> None:
    result = probe(connection(sts_tls), SECRETS)
    assert result.connected, result.message
    assert result.reason == "Connected"


def _manifests(folder: Path, server: StsServer, with_ca: bool) -> Path:
    spec: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "authenticationType": "UsernameAndPassword",
        "username": "alice",
        "password": {"secretKeyRef": {"name": "impala-login", "key": "password"}},
        "enableSsl": True,
        "connectTimeoutSeconds": 10,
    }
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "impala-login"},
         "data": {"password": base64.b64encode(session_password.PASSWORD.encode()).decode()}},
    ]  # fmt: skip
    if with_ca:
        spec["trustedCert"] = {"configMapKeyRef": {"name": "impala-ca", "key": "ca.pem"}}
        assert server.ca_pem is not None
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "impala-ca"},
                     "data": {"ca.pem": Path(server.ca_pem).read_text()}})  # fmt: skip
    docs.append({"apiVersion": "impalacopy.io/v1alpha1", "kind": "ImpalaLinkedService",
                 "metadata": {"name": "impala"}, "spec": spec})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "impala.yaml").write_text(yaml.safe_dump_all(docs))
    return folder


def _cli(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", "test-connection", "-f", str(folder), "-l", "impala"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


def test_cli_with_and_without_the_ca(sts_tls: StsServer, tmp_path: Path) -> None:
    done = _cli(_manifests(tmp_path / "no-ca", sts_tls, with_ca=False))
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        done.stdout.splitlines()[0]
        == "ImpalaLinkedService impala: Connected=False reason=TLSVerificationFailed"
    )
    done = _cli(_manifests(tmp_path / "ca", sts_tls, with_ca=True))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "ImpalaLinkedService impala: Connected=True reason=Connected"
