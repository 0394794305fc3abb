"""Helpers for the HiveServer2 source tests: ImpalaConnection objects that reach a dev server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devservers.sts import StsServer
from tests import session_password

from impala_copy.api.plan import ImpalaConnection

PASSWORD_ENV = "TEST_IMPALA_PASSWORD"
SECRETS = {PASSWORD_ENV: session_password.PASSWORD}


def password_ref() -> dict[str, Any]:
    return {"secretKeyRef": {"name": "impala-login", "key": "password"}, "env": PASSWORD_ENV}


def ca_ref(path: Path | str) -> dict[str, Any]:
    return {"source": {"secretKeyRef": {"name": "impala-ca", "key": "ca.pem"}}, "path": str(path)}


def connection(server: StsServer, **overrides: Any) -> ImpalaConnection:
    """alice with the session password (UsernameAndPassword) on `server`, or Anonymous on a NOSASL server; TLS/HTTP as it runs."""
    spec: dict[str, Any] = {"host": server.host, "port": server.port, "connectTimeoutSeconds": 20}
    if server.auth == "NOSASL":
        spec["authenticationType"] = "Anonymous"
    else:
        spec |= {"authenticationType": "UsernameAndPassword", "username": "alice", "password": password_ref()}
    if server.tls:
        spec |= {"enableSsl": True, "trustedCert": ca_ref(server.ca_pem or "")}
    if server.http:
        spec |= {"thriftTransportProtocol": "HTTP", "httpPath": server.http_path}
    spec |= overrides
    return ImpalaConnection.model_validate({k: v for k, v in spec.items() if v is not None})
