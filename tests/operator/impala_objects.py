"""Objects for operator tests that talk to a real HiveServer2: a linked service pointing at a Spark
Thrift Server, its Secret, datasets of the sample database and LookupActivities."""

from __future__ import annotations

from typing import Any

from devservers.sts import StsServer

from tests import session_password
from tests.operator import manifests

GV = manifests.GV


def login_secret(password: str = session_password.PASSWORD, name: str = "impala-login") -> dict[str, Any]:
    return manifests.secret(name, {"password": password})


def linked_service(
    host: str,
    port: int,
    *,
    name: str = "impala",
    username: str = "alice",
    secret: str = "impala-login",
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "host": host,
        "port": port,
        "authenticationType": "UsernameAndPassword",
        "username": username,
        "password": {"secretKeyRef": {"name": secret, "key": "password"}},
        "connectTimeoutSeconds": 20,
    }
    body.update(spec)
    return {"apiVersion": GV, "kind": "ImpalaLinkedService", "metadata": manifests.meta(name), "spec": body}


def sts_linked_service(server: StsServer, **kw: Any) -> dict[str, Any]:
    return linked_service(server.host, server.port, **kw)


def dataset(
    name: str = "orders", *, table: str | None = "orders", linked_service: str = "impala"
) -> dict[str, Any]:
    spec: dict[str, Any] = {"linkedServiceName": {"referenceName": linked_service}}
    if table:
        spec |= {"schema": "demo", "table": table}
    return {"apiVersion": GV, "kind": "ImpalaDataset", "metadata": manifests.meta(name), "spec": spec}


def lookup(name: str, query: str | None = None, *, dataset: str = "orders", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"dataset": {"referenceName": dataset}}
    if query is not None:
        body["source"] = {"type": "ImpalaSource", "query": query}
    body.update(spec)
    return {"apiVersion": GV, "kind": "LookupActivity", "metadata": manifests.meta(name), "spec": body}
