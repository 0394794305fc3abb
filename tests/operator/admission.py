"""The API emulator with admission: kmock's KubernetesEmulator, refusing what a real API server refuses
before it stores anything.

- Owner-reference permission enforcement, as the `OwnerReferencesPermissionEnforcement` admission
  plugin does (on by default in OpenShift): a create or patch by the operator that sets an
  ownerReference with `blockOwnerDeletion: true` is refused with the plugin's 403 unless the
  operator's RBAC grants `update` on `<owner plural>/finalizers` of the owner's group. The RBAC is
  `kube.API_ACCESS`, which the chart renders exactly (tests/install/test_chart.py); a test can revoke
  a rule (`revoke`).
- Refusals a test injects (`refuse`): the matching request is answered with the given status and
  message (and headers, e.g. Retry-After), and nothing is stored; `times` limits how many requests
  are refused. Status `RESET` closes the connection without an answer. A refusal of a watch
  (`watch=True`) opens the stream and sends the Status as an ERROR event, as the API server tells a
  watcher its resourceVersion is too old (410 Gone). kmock stores an object before its reactions run
  (`kmock['post /path'] << 403` answers 403 but keeps the object), so refusing happens here, first.
- Requests a test holds (`hold`): the first request that matches is kept unanswered and unstored
  until the test releases it, then dropped without an answer (the client was killed meanwhile): a
  deterministic point to stop the operator at, between its decision and the API server's answer.
- Optimistic concurrency on Leases (leader election): each write gives the Lease a new
  resourceVersion; a patch carrying another one, or a create of an existing Lease, is refused with
  409, as the API server does (kmock keeps no resourceVersion of its own).

Requests sent with the test's User-Agent act as a cluster administrator: they are never refused.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp.web
import attrs
import kmock

from impala_copy.controller.core.kube import (
    API_ACCESS,
    CONFIG_MAPS,
    EVENTS,
    JOBS,
    LEASES,
    NAMESPACES,
    OURS,
    PODS,
    PVCS,
    SECRETS,
    ApiAccess,
    ResourceRef,
)

TEST_AGENT = "impala-copy-tests"
RESET = 0  # the "status" of a refusal that drops the connection instead of answering
Grant = tuple[str, str, str]  # (apiGroup, resource, verb), as in an RBAC rule
KNOWN: dict[tuple[str, str], ResourceRef] = {
    (ref.api_version, ref.kind): ref
    for ref in (*OURS.values(), JOBS, PODS, SECRETS, CONFIG_MAPS, PVCS, EVENTS, NAMESPACES)
}
# What the OwnerReferencesPermissionEnforcement plugin answers (kubernetes plugin/pkg/admission/gc):
# the authorizer's empty reason and nil error end it.
BLOCK_OWNER_DELETION = (
    "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: "
    ", <nil>"
)


def grants(access: Iterable[ApiAccess]) -> set[Grant]:
    """The RBAC rules of an access declaration, one (group, resource, verb) each."""
    return {(a.group, a.resource, verb) for a in access for verb in a.verbs}


def finalizers_grant(kind: str) -> Grant:
    """The rule owner-reference enforcement asks for when an object of `kind` owns something."""
    ref = OURS[kind]
    return (ref.group, f"{ref.plural}/finalizers", "update")


@dataclass
class Refusal:
    """An answer the API server gives instead of doing what was asked (injected by a test)."""

    method: str  # POST, PATCH, DELETE
    path: str  # the URL path, exactly
    status: int
    reason: str
    message: str  # "{name}" in it stands for the object's name
    headers: dict[str, str] = field(default_factory=dict)
    watch: bool = False  # refuse the watch requests of the path only (not its list or gets)
    times: int | None = None  # refuse at most this many requests (None: until lifted)
    hits: int = 0  # how many requests it refused
    names: list[str] = field(default_factory=list)  # the objects' names, one per refused request
    at: list[float] = field(default_factory=list)  # when (time.monotonic()), one per refused request

    def matches(self, request: Any) -> bool:
        if (self.method, self.path) != (request.method.value, request.url.path):
            return False
        if self.watch != (request.action == kmock.action.WATCH):
            return False
        return self.times is None or self.hits < self.times


@dataclass
class Hold:
    """A request the API server keeps: neither answered nor stored until `release()`, then dropped."""

    method: str  # POST, PATCH, DELETE
    path: str  # the URL path, exactly
    when: Callable[[Any], bool] = lambda request: True  # and the request (kmock's) satisfies this
    reached: asyncio.Event = field(default_factory=asyncio.Event)  # set once a request is held
    released: asyncio.Event = field(default_factory=asyncio.Event)
    request: Any = None  # the request held

    def matches(self, request: Any) -> bool:
        if self.request is not None or (self.method, self.path) != (request.method.value, request.url.path):
            return False
        return request.action != kmock.action.WATCH and bool(self.when(request))

    def release(self) -> None:
        self.released.set()


def status_response(
    status: int, reason: str, message: str, details: Mapping[str, Any]
) -> aiohttp.web.Response:
    """A Kubernetes Status answer, as the API server writes it."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": dict(details),
        "code": status,
    }
    return aiohttp.web.json_response(body, status=status)


def _reset(request: Any) -> aiohttp.web.Response:
    """Drop the connection without an answer (a load balancer or API server restart does this)."""
    raw = request._raw_request
    if raw is not None and raw.transport is not None:
        raw.transport.abort()
    return aiohttp.web.Response(status=500)  # never reaches the client: the connection is gone


async def _watch_error(request: Any, status: int, reason: str, message: str) -> aiohttp.web.StreamResponse:
    """A watch stream whose only event is an ERROR with the Status, then the end of the stream."""
    response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request._raw_request)
    error = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": message, "reason": reason, "code": status}  # fmt: skip
    await response.write(json.dumps({"type": "ERROR", "object": error}).encode() + b"\n")
    await response.write_eof()
    return response


def _object_name(request: Any) -> str:
    """The name in the URL, or in the body of a create."""
    data = request.data if isinstance(request.data, dict) else {}
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return str(request.name or metadata.get("name") or "")


def _qualified(resource: Any) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)


@attrs.define(kw_only=True)
class AdmittingEmulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    """kmock's emulator with the admission above in front of its storage."""

    granted: set[Grant] = attrs.field(factory=lambda: grants(API_ACCESS))
    refusals: list[Refusal] = attrs.field(factory=list)
    holds: list[Hold] = attrs.field(factory=list)
    lease_versions: int = 0
    lease_conflicts: int = 0
    _lease_lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)

    def revoke(self, grant: Grant) -> None:
        assert grant in self.granted, f"{grant} is not granted"
        self.granted.discard(grant)

    def refuse(
        self, method: str, path: str, status: int, reason: str, message: str, **options: Any
    ) -> Refusal:
        refusal = Refusal(method.upper(), path, status, reason, message, **options)
        self.refusals.append(refusal)
        return refusal

    def lift(self, refusal: Refusal) -> None:
        self.refusals.remove(refusal)

    def hold(self, method: str, path: str, when: Callable[[Any], bool] | None = None) -> Hold:
        held = Hold(method.upper(), path, when or (lambda request: True))
        self.holds.append(held)
        return held

    def release_holds(self) -> None:
        for held in self.holds:
            held.release()

    async def _held(self, request: Any) -> aiohttp.web.Response | None:
        """Keep the first request a hold matches until the hold is released; then drop it."""
        for held in self.holds:
            if held.matches(request):
                held.request = request
                held.reached.set()
                await held.released.wait()
                return _reset(request)
        return None

    async def _handle(self, request: Any) -> aiohttp.web.StreamResponse:
        if request.headers.get("User-Agent") != TEST_AGENT:
            refused = (
                await self._held(request) or await self._injected(request) or self._owner_references(request)
            )
            if refused is not None:
                return refused
        if request.resource is not None and request.resource.plural == LEASES.plural:
            async with self._lease_lock:
                return await self._lease(request)
        return await super()._handle(request)  # type: ignore[no-any-return]

    async def _lease(self, request: Any) -> aiohttp.web.StreamResponse:
        """Leases with optimistic concurrency, as the API server does: every write sets a new
        resourceVersion; a create of an existing Lease, or a patch carrying another resourceVersion
        than the stored one, is refused with 409 (nothing stored; counted in `lease_conflicts`)."""
        if request.action not in (kmock.action.CREATE, kmock.action.UPDATE) or not isinstance(
            request.data, dict
        ):
            return await super()._handle(request)  # type: ignore[no-any-return]
        metadata = request.data.setdefault("metadata", {})
        name = request.name or metadata.get("name")
        key = (request.resource, request.namespace or metadata.get("namespace"), name)
        stored = self.objects[key].raw if key in self.objects and not self.objects[key].deleted else None
        current = (stored or {}).get("metadata", {}).get("resourceVersion")
        refused = ""
        if request.action == kmock.action.CREATE and stored is not None:
            refused = f'leases.coordination.k8s.io "{name}" already exists'
        elif request.action == kmock.action.UPDATE and metadata.get("resourceVersion", current) != current:
            refused = (
                f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the object has '
                "been modified; please apply your changes to the latest version and try again"
            )
        if refused:
            self.lease_conflicts += 1
            reason = "AlreadyExists" if request.action == kmock.action.CREATE else "Conflict"
            return status_response(409, reason, refused, {"name": name, "kind": "leases"})
        self.lease_versions += 1
        metadata["resourceVersion"] = str(self.lease_versions)
        return await super()._handle(request)  # type: ignore[no-any-return]

    async def _injected(self, request: Any) -> aiohttp.web.StreamResponse | None:
        for refusal in self.refusals:
            if refusal.matches(request):
                refusal.hits += 1
                refusal.at.append(time.monotonic())
                name = _object_name(request)
                refusal.names.append(name)
                details = {"name": name, "kind": getattr(request.resource, "plural", "")}
                message = refusal.message.replace("{name}", name)
                if refusal.status == RESET:
                    return _reset(request)
                if refusal.watch:
                    return await _watch_error(request, refusal.status, refusal.reason, message)
                response = status_response(refusal.status, refusal.reason, message, details)
                response.headers.update(refusal.headers)
                return response
        return None

    def _owner_references(self, request: Any) -> aiohttp.web.Response | None:
        """The OwnerReferencesPermissionEnforcement plugin on a create or patch that sets blocking owners."""
        if request.resource is None or request.action not in (kmock.action.CREATE, kmock.action.UPDATE):
            return None
        data = request.data if isinstance(request.data, dict) else {}
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        for owner in metadata.get("ownerReferences") or []:
            if not (isinstance(owner, dict) and owner.get("blockOwnerDeletion") is True):
                continue
            ref = KNOWN.get((str(owner.get("apiVersion")), str(owner.get("kind"))))
            if ref is None or (ref.group, f"{ref.plural}/finalizers", "update") not in self.granted:
                name = _object_name(request)
                message = f'{_qualified(request.resource)} "{name}" is forbidden: {BLOCK_OWNER_DELETION}'
                details = {"name": name, "kind": request.resource.plural}
                return status_response(403, "Forbidden", message, details)
        return None


__all__ = [
    "BLOCK_OWNER_DELETION",
    "RESET",
    "TEST_AGENT",
    "AdmittingEmulator",
    "Hold",
    "Refusal",
    "finalizers_grant",
    "grants",
]
