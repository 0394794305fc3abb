"""The one module that talks to the Kubernetes API (kopf does the watching).

It creates and deletes Jobs, patches the status of our resources and posts Events, over aiohttp with
the credentials kopf's login produced (in cluster: the service account; outside: kubeconfig).

`API_ACCESS` declares every (apiGroup, resource, verbs) the operator needs, its own calls and kopf's
watches together, so the Helm chart's RBAC rules can be checked against it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf

from impala_copy.api.common import API_GROUP, API_VERSION
from impala_copy.api.kinds import KINDS


@dataclass(frozen=True)
class ResourceRef:
    """A Kubernetes resource: group, version, plural name, kind."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


# Our kinds, in the order they are registered (every kind of api/kinds.py).
OUR_KINDS: tuple[str, ...] = (
    "ImpalaLinkedService",
    "ImpalaDataset",
    "AmazonS3LinkedService",
    "AzureBlobStorageLinkedService",
    "PostgreSqlLinkedService",
    "ParquetDataset",
    "DelimitedTextDataset",
    "JsonDataset",
    "PostgreSqlTableDataset",
    "CopyActivity",
    "LookupActivity",
)
OURS: dict[str, ResourceRef] = {
    kind: ResourceRef(API_GROUP, API_VERSION, KINDS[kind].KIND_INFO.plural, kind) for kind in OUR_KINDS
}
JOBS = ResourceRef("batch", "v1", "jobs", "Job")
PODS = ResourceRef("", "v1", "pods", "Pod")
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
CONFIG_MAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
PVCS = ResourceRef("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
EVENTS = ResourceRef("", "v1", "events", "Event")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", "Lease")
CRDS = ResourceRef(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)


# Where an access is granted: the watched namespaces, the whole cluster, or the operator's own namespace.
WATCHED = "namespace"
CLUSTER = "cluster"
OWN_NAMESPACE = "operator namespace"


@dataclass(frozen=True)
class ApiAccess:
    """One RBAC need: verbs on a resource of an API group, where, and why."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    why: str
    scope: str = WATCHED

    @property
    def cluster_scoped(self) -> bool:
        return self.scope == CLUSTER


WATCH = ("list", "watch")
# The kinds that own what the operator creates (Jobs, result ConfigMaps, with blockOwnerDeletion): an
# API server enforcing owner references (OwnerReferencesPermissionEnforcement, on in OpenShift) asks
# for `update` on their finalizers.
OWNER_KINDS = ("CopyActivity", "LookupActivity", "ImpalaLinkedService")
API_ACCESS: tuple[ApiAccess, ...] = (
    *(
        ApiAccess(API_GROUP, ref.plural, ("get", *WATCH), f"watch {kind} objects")
        for kind, ref in OURS.items()
    ),
    *(
        ApiAccess(API_GROUP, f"{ref.plural}/status", ("patch",), f"write {kind} status")
        for kind, ref in OURS.items()
    ),
    *(
        ApiAccess(
            API_GROUP,
            f"{OURS[kind].plural}/finalizers",
            ("update",),
            f"own the Jobs of {kind} runs (blockOwnerDeletion under owner-reference enforcement)",
        )
        for kind in OWNER_KINDS
    ),
    ApiAccess(
        "batch",
        "jobs",
        (*WATCH, "create", "delete"),
        "run copies, lookups and connection tests as Jobs; history limits",
    ),
    ApiAccess("", "pods", WATCH, "read the engine's termination message and pod failures"),
    ApiAccess("", "pods/log", ("get",), "read a lookup's output from its own pod's log (bounded)"),
    ApiAccess(
        "",
        "configmaps",
        ("get", *WATCH, "create", "patch", "delete"),
        "check referenced ConfigMap keys exist; write LookupActivity results too large for status "
        "(only ConfigMaps carrying the activity's ownerReference are ever changed)",
    ),
    ApiAccess("", "persistentvolumeclaims", WATCH, "check referenced PersistentVolumeClaims exist"),
    ApiAccess("", "events", ("create",), "post Events on our objects"),
    ApiAccess(
        "", "namespaces", ("list", "watch"), "kopf: follow namespaces (all namespaces, or patterns)", CLUSTER
    ),
    ApiAccess(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        ("list", "watch"),
        "kopf: follow CRDs (all namespaces, or patterns)",
        CLUSTER,
    ),
    ApiAccess(
        "coordination.k8s.io",
        "leases",
        ("get", "create", "patch"),
        "leader election among replicas: read, create and renew the operator's Lease",
        OWN_NAMESPACE,
    ),
)


class ApiError(Exception):
    """A failed API call: HTTP status and the server's reason and message."""

    def __init__(self, status: int, reason: str, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        # Seconds the server asked the client to wait (Retry-After, or details.retryAfterSeconds).
        self.retry_after = retry_after
        super().__init__(f"{status} {reason}: {message}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def throttled(self) -> bool:
        """429: the API server is busy or starting; a retry succeeds (no refusal to tell)."""
        return self.status == 429

    @property
    def transient(self) -> bool:
        """A write that a retry succeeds (no refusal to tell): throttled, or a 409 Conflict on an
        update (the object changed meanwhile; a create's 409 means it exists, see `conflict`)."""
        return self.throttled or self.conflict

    @property
    def namespace_terminating(self) -> bool:
        """The namespace is being deleted: nothing new can be created in it (and nothing needs to be)."""
        return self.status == 403 and "being terminated" in self.message


class NotLeading(RuntimeError):
    """A write refused before it was sent: this replica does not lead (leader election)."""


WRITES = ("POST", "PATCH", "PUT", "DELETE")


class KubeClient:
    """A small async client for the calls the operator makes; credentials come from kopf's login.

    `may_write` fences the writes of reconciliations: with leader election it says whether this
    replica leads at the moment a write is about to be sent (the Lease's own writes pass `fenced=False`).
    `agent` names the replica to the API server (User-Agent), e.g. in its audit log.
    """

    def __init__(
        self, *, timeout: float = 30.0, field_manager: str = "impala-copy-operator", agent: str = ""
    ) -> None:
        self.may_write: Callable[[], bool] = lambda: True
        self.agent = agent or "impala-copy-operator"
        self._info: kopf.ConnectionInfo | None = None
        self._session: aiohttp.ClientSession | None = None
        self._timeout = timeout
        self._field_manager = field_manager
        self._tempfiles: list[str] = []
        self._stale: list[aiohttp.ClientSession] = []

    def use(self, info: kopf.ConnectionInfo) -> None:
        """Take new credentials (kopf calls the login handler again when they expire)."""
        self._info = info
        stale, self._session = self._session, None
        if stale is not None and not stale.closed:
            # Closed later, off the request path; requests in flight keep their session.
            self._stale.append(stale)

    async def close(self) -> None:
        for session in (self._session, *self._stale):
            if session is not None and not session.closed:
                await session.close()
        self._session = None
        self._stale.clear()
        for path in self._tempfiles:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._tempfiles.clear()

    # ---------------------------------------------------------------- calls
    async def create(
        self, resource: ResourceRef, namespace: str, body: Mapping[str, Any], *, fenced: bool = True
    ) -> dict[str, Any]:
        return await self._request("POST", resource.path(namespace), body=body, fenced=fenced)

    async def delete(self, resource: ResourceRef, namespace: str, name: str) -> bool:
        """Delete with background propagation (a Job's pods go too); False when already gone."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            await self._request("DELETE", resource.path(namespace, name), body=body)
        except ApiError as exc:
            if exc.not_found:
                return False
            raise
        return True

    async def patch_status(
        self, resource: ResourceRef, namespace: str, name: str, status_patch: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """JSON merge patch of `status` through the status subresource (None removes the status)."""
        return await self._request(
            "PATCH",
            resource.path(namespace, name, "status"),
            body={"status": status_patch},
            content_type="application/merge-patch+json",
        )

    async def get(self, resource: ResourceRef, namespace: str, name: str) -> dict[str, Any]:
        return await self._request("GET", resource.path(namespace, name))

    async def patch(
        self,
        resource: ResourceRef,
        namespace: str,
        name: str,
        merge_patch: Mapping[str, Any],
        *,
        fenced: bool = True,
    ) -> dict[str, Any]:
        """JSON merge patch of an object (None removes a key); a resourceVersion in it is a precondition."""
        return await self._request(
            "PATCH",
            resource.path(namespace, name),
            body=merge_patch,
            content_type="application/merge-patch+json",
            fenced=fenced,
        )

    async def pod_log(self, namespace: str, pod: str, container: str, limit_bytes: int) -> str:
        """At most `limit_bytes` of a container's log (the API server stops there)."""
        path = PODS.path(namespace, pod, "log")
        params = {"container": container, "limitBytes": str(limit_bytes)}
        return await self._request_text("GET", path, params=params, limit=limit_bytes)

    async def create_event(self, namespace: str, body: Mapping[str, Any]) -> None:
        await self._request("POST", EVENTS.path(namespace), body=body)

    # ---------------------------------------------------------------- plumbing
    async def _request_text(self, method: str, path: str, *, params: Mapping[str, str], limit: int) -> str:
        """A plain-text answer, read up to `limit` bytes whatever the server sends."""
        session = self._ensure_session()
        assert self._info is not None
        url = self._info.server.rstrip("/") + path
        async with session.request(method, url, params=dict(params)) as response:
            if response.status >= 400:
                detail = await response.content.read(64 * 1024)
                raise _api_error(
                    response.status, detail.decode("utf-8", "replace"), response.headers.get("Retry-After")
                )
            # read(n) returns what has arrived so far: read on until the end or the limit.
            blocks: list[bytes] = []
            remaining = limit
            while remaining > 0:
                block = await response.content.read(remaining)
                if not block:
                    break
                blocks.append(block)
                remaining -= len(block)
            return b"".join(blocks).decode("utf-8", "replace")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | list[Any] | None = None,
        content_type: str = "application/json",
        fenced: bool = True,
    ) -> dict[str, Any]:
        if fenced and method in WRITES and not self.may_write():
            raise NotLeading(f"{method} {path}: not sent, this replica does not lead")
        session = self._ensure_session()
        assert self._info is not None
        url = self._info.server.rstrip("/") + path
        params = {"fieldManager": self._field_manager} if method in ("POST", "PATCH") else None
        data = json.dumps(body, separators=(",", ":")) if body is not None else None
        async with session.request(
            method, url, data=data, params=params, headers={"Content-Type": content_type}
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise _api_error(response.status, text, response.headers.get("Retry-After"))
            try:
                parsed = json.loads(text) if text else {}
            except json.JSONDecodeError:
                parsed = {}
            return parsed if isinstance(parsed, dict) else {}

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._info is None:
            raise ApiError(0, "NotLoggedIn", "no Kubernetes credentials yet (login has not run)")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl_context(self._info), limit=32)
            headers = {"Accept": "application/json", "User-Agent": self.agent}
            headers.update(self._info.as_http_headers())
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                trust_env=self._info.trust_env,
            )
        return self._session

    def _ssl_context(self, info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
        if not info.server.startswith("https"):
            return False
        ca_path = os.fsdecode(info.ca_path) if info.ca_path else None
        ca_data = info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data
        context = ssl.create_default_context(cafile=ca_path, cadata=ca_data)
        if info.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        cert = self._file(info.certificate_path, info.certificate_data)
        key = self._file(info.private_key_path, info.private_key_data)
        if cert:
            context.load_cert_chain(certfile=cert, keyfile=key)
        return context

    def _file(self, path: str | bytes | os.PathLike[Any] | None, data: str | bytes | None) -> str | None:
        if path:
            return os.fsdecode(path)
        if not data:
            return None
        handle, name = tempfile.mkstemp(prefix="impala-copy-", suffix=".pem")
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
        self._tempfiles.append(name)
        return name


def _api_error(status: int, text: str, retry_after: str | None = None) -> ApiError:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        details = payload.get("details")
        seconds = retry_after or (details.get("retryAfterSeconds") if isinstance(details, dict) else None)
        return ApiError(
            status,
            str(payload.get("reason") or ""),
            str(payload.get("message") or "")[:500],
            retry_seconds(seconds),
        )
    return ApiError(status, "", text[:500], retry_seconds(retry_after))


def retry_seconds(value: object) -> float | None:
    """A server's Retry-After in seconds (a number of seconds; an HTTP date or anything else: None)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
