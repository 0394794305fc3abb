"""Leader election among the operator's replicas: the loop that reads and writes the Lease.

Every retry period the replica reads the Lease in the operator's namespace and, as core/lease.py
decides, renews it (leader), creates it, takes it over (expired or released) or leaves it (another
replica holds a live lease). When this replica starts or stops leading, `on_lead` / `on_standby` are
called (the runtime starts or pauses its work queue). Every write of a reconciliation is fenced by
`leading()` at the moment it is sent (kube.KubeClient.may_write), so a replica that could not renew
in time writes nothing more, even before its queue is paused. On a graceful stop the leader releases
the Lease (holder emptied), and a standby takes over within one retry period instead of a lease
duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from impala_copy.controller.core.kube import LEASES, ApiError, KubeClient
from impala_copy.controller.core.lease import Claim, Elector, LeaseRecord, Timing, lease_spec, parse_lease
from impala_copy.controller.core.timeutil import utcnow

log = logging.getLogger("impala_copy.controller")

Callback = Callable[[], Awaitable[None]]


def lease_body(namespace: str, name: str, record: LeaseRecord) -> dict[str, Any]:
    """The whole Lease (to create), or a merge patch of it (to update, guarded by resourceVersion)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if record.resource_version:
        metadata["resourceVersion"] = record.resource_version
    return {
        "apiVersion": LEASES.api_version,
        "kind": LEASES.kind,
        "metadata": metadata,
        "spec": lease_spec(record),
    }


class LeaderElection:
    """The election loop of one replica (identity) over one Lease (namespace/name)."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        timing: Timing,
        *,
        on_lead: Callback,
        on_standby: Callback,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.elector = Elector(identity, timing)
        self._on_lead = on_lead
        self._on_standby = on_standby
        self._clock = clock
        self._wall = wall
        self._leading = False  # as last acted upon (queue started or paused)
        self._holder_told: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def identity(self) -> str:
        return self.elector.identity

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"

    def leading(self) -> bool:
        return self.elector.leading(self._clock())

    def ready(self) -> bool:
        """Leader, or a standby that reads the Lease (its watches are kopf's, warm either way)."""
        return self.leading() or self.elector.in_touch(self._clock())

    # ---------------------------------------------------------------- running
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="impala-copy leader election")

    async def stop(self, *, release: bool = True) -> None:
        """Stop trying; a leader stops leading first, then gives the Lease up (unless not `release`)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._act(leading=False)
        if release:
            await self._release()  # only a Lease this replica holds (and unchanged since it was read)

    async def _loop(self) -> None:
        period = self.elector.timing.retry_period
        while True:
            try:
                await asyncio.wait_for(self.try_once(), timeout=max(period, 1.0))
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failed request
                log.warning(
                    "leader election: could not read or write Lease %s: %s",
                    self.where,
                    exc or type(exc).__name__,
                )
            await self._act(leading=self.leading())
            await asyncio.sleep(period)

    async def try_once(self) -> None:
        """Read the Lease and send the claim the elector decides on, if any."""
        try:
            found: LeaseRecord | None = parse_lease(await self.client.get(LEASES, self.namespace, self.name))
        except ApiError as exc:
            if not exc.not_found:
                raise
            found = None
        self.elector.observe(found, self._clock())
        claim = self.elector.next_claim(self._clock(), self._wall())
        if claim is not None:
            await self._send(claim)
        self._tell_holder()

    async def _send(self, claim: Claim) -> None:
        sent_at = self._clock()
        body = lease_body(self.namespace, self.name, claim.record)
        try:
            if claim.create:
                answer = await self.client.create(LEASES, self.namespace, body, fenced=False)
            else:
                answer = await self.client.patch(LEASES, self.namespace, self.name, body, fenced=False)
        except ApiError as exc:
            if exc.conflict:  # another replica wrote first: read again next time
                log.debug("leader election: Lease %s changed under us (%s)", self.where, exc.reason)
                return
            raise
        record = parse_lease(answer)
        if record.holder == self.identity:
            self.elector.claimed(record, sent_at, self._clock())

    async def _release(self) -> None:
        record = self.elector.release(self._wall())
        if record is None:
            return
        body = lease_body(self.namespace, self.name, record)
        try:
            await asyncio.wait_for(
                self.client.patch(LEASES, self.namespace, self.name, body, fenced=False),
                timeout=max(self.elector.timing.retry_period, 1.0),
            )
            log.info("leader election: %s released Lease %s", self.identity, self.where)
        except Exception as exc:  # noqa: BLE001 - stopping goes on: the Lease then expires instead
            log.warning(
                "leader election: could not release Lease %s: %s", self.where, exc or type(exc).__name__
            )

    # ---------------------------------------------------------------- transitions
    async def _act(self, *, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        if leading:
            log.info("leader election: %s leads now (Lease %s)", self.identity, self.where)
            await self._on_lead()
        else:
            log.info("leader election: %s stopped leading (Lease %s)", self.identity, self.where)
            await self._on_standby()

    def _tell_holder(self) -> None:
        holder = self.elector.holder
        if holder == self._holder_told:
            return
        self._holder_told = holder
        if holder and holder != self.identity:
            log.info(
                "leader election: Lease %s is held by %s; %s stands by", self.where, holder, self.identity
            )
        elif not holder:
            log.info("leader election: Lease %s is free", self.where)


__all__ = ["LeaderElection", "lease_body"]
