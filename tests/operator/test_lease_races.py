"""The election loop against the API emulator, on a clock the test moves: races, expiry, fencing.

In:  three LeaderElection instances (A, B, C), each with its own API client pointed at the emulator,
     sharing a clock the test sets; their rounds (`try_once`) run at the times the test chooses,
     two at once where they race. A replica's readiness is read through `Runtime.leadership` too.
Out: of replicas racing for a missing or an expired Lease exactly one becomes the holder (the API
     server answers 409 to the other's create or stale patch); a live lease is left alone; the
     leader stops leading at its renew deadline, before a standby may take over at the lease
     duration; the Lease's record (holder, transitions) after each step; a released Lease is taken
     in the next round.
Faked: the clock; the API server (kmock with resourceVersions on Leases, admission.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import kopf

from impala_copy.controller.core.kube import KubeClient
from impala_copy.controller.core.leader_election import LeaderElection
from impala_copy.controller.core.lease import Timing
from tests.operator.harness import Cluster

NS, NAME = "impala-copy-system", "impala-copy-operator"
TIMING = Timing(lease_duration=15, renew_deadline=10.0, retry_period=2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def nothing() -> None:
    return None


def replica(kmock: Any, identity: str, clock: Clock) -> LeaderElection:
    client = KubeClient(agent=f"impala-copy-operator ({identity})")
    client.use(kopf.ConnectionInfo(server=str(kmock.url).rstrip("/"), insecure=True))
    wall = lambda: datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # noqa: E731 - never compared
    return LeaderElection(
        client, NS, NAME, identity, TIMING, on_lead=nothing, on_standby=nothing, clock=clock, wall=wall
    )


def spec(cluster: Cluster) -> dict[str, Any]:
    return dict(cluster.get("Lease", NAME, NS)["spec"])


def conflicts(kmock: Any) -> int:
    return int(kmock.lease_conflicts)


def versions(kmock: Any) -> int:
    return int(kmock.lease_versions)


async def test_races_expiry_and_release(kmock: Any, cluster: Cluster) -> None:
    clock = Clock()
    a, b, c = (replica(kmock, name, clock) for name in ("a", "b", "c"))
    try:
        # No Lease yet: A and B race to create it; one wins, the other's create is refused.
        await asyncio.gather(a.try_once(), b.try_once())
        leaders = [r.identity for r in (a, b) if r.leading()]
        assert len(leaders) == 1
        assert spec(cluster)["holderIdentity"] == leaders[0]
        assert spec(cluster)["leaseTransitions"] == 0
        assert conflicts(kmock) == 1
        leader, standby = (a, b) if leaders == ["a"] else (b, a)

        # A live lease: the standby and a newcomer read it and leave it; the leader renews.
        clock.now = 1.0
        await asyncio.gather(leader.try_once(), standby.try_once(), c.try_once())
        assert [r.leading() for r in (leader, standby, c)] == [True, False, False]
        assert spec(cluster)["holderIdentity"] == leader.identity
        assert c.elector.holder == leader.identity

        # The leader goes silent. It stops counting itself the leader at its renew deadline...
        clock.now = 10.9
        assert leader.leading()
        clock.now = 11.0
        assert not leader.leading()
        # ... and the others may take over only at the lease duration after they saw the last renewal.
        clock.now = 15.9
        await asyncio.gather(standby.try_once(), c.try_once())
        assert spec(cluster)["holderIdentity"] == leader.identity
        clock.now = 16.0
        await asyncio.gather(standby.try_once(), c.try_once())  # they race with the same resourceVersion
        winners = [r for r in (standby, c) if r.leading()]
        assert len(winners) == 1
        assert spec(cluster)["holderIdentity"] == winners[0].identity
        assert spec(cluster)["leaseTransitions"] == 1
        assert conflicts(kmock) == 2

        # The old leader wakes up: it reads the new holder and writes nothing.
        before = versions(kmock)
        await leader.try_once()
        assert not leader.leading()
        assert versions(kmock) == before

        # The new leader stops gracefully: it releases the Lease, taken in the next round.
        new = winners[0]
        await new.stop(release=True)
        assert spec(cluster)["holderIdentity"] == ""
        assert not new.leading()
        clock.now = 16.5
        await leader.try_once()
        assert leader.leading()
        assert spec(cluster)["holderIdentity"] == leader.identity
        assert spec(cluster)["leaseTransitions"] == 2
    finally:
        for r in (a, b, c):
            await r.client.close()
