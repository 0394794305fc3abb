"""Leader election on a coordination.k8s.io/v1 Lease: the pure part (records and decisions, no I/O).

The rules are client-go's: a replica takes the Lease when nobody holds it, when its holder released it,
or when its record has not changed for the holder's `leaseDurationSeconds` as measured on this
replica's own clock (never by comparing clocks: `renewTime` is only compared for change). The holder
renews every retry period and counts itself the leader only until `renew deadline` after its last
successful write (measured from before the request was sent), which ends before any other replica may
take over. Every write carries the resourceVersion read, so of two replicas racing for the same
record the API server lets one through and answers 409 to the other.

`Elector` is the state machine; the caller gives it the clock (`now`: monotonic seconds, `wall`: the
time written into the record) and does the reads and writes (core/leader_election.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from impala_copy.controller.core.records import as_dict, as_int, as_str

_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class Timing:
    """How long a lease holds, how long its holder keeps trying to renew, how often everyone tries."""

    lease_duration: int = 15
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclass(frozen=True)
class LeaseRecord:
    """The spec of a Lease, and the resourceVersion it was read at."""

    holder: str = ""
    duration: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0
    resource_version: str = ""

    @property
    def held(self) -> bool:
        return bool(self.holder)

    def same_as(self, other: LeaseRecord) -> bool:
        """The same record (a holder that renews changes renewTime, hence the record)."""
        return replace(self, resource_version="") == replace(other, resource_version="")


def parse_lease(obj: Any) -> LeaseRecord:
    """A Lease object as read; a field of the wrong type (anyone may write a Lease) reads as absent."""
    spec = as_dict(as_dict(obj).get("spec"))
    duration = as_int(spec.get("leaseDurationSeconds"))
    transitions = as_int(spec.get("leaseTransitions"))
    return LeaseRecord(
        holder=as_str(spec.get("holderIdentity")) or "",
        duration=duration if duration is not None and duration > 0 else 0,
        acquire_time=as_str(spec.get("acquireTime")) or "",
        renew_time=as_str(spec.get("renewTime")) or "",
        transitions=transitions if transitions is not None and transitions >= 0 else 0,
        resource_version=as_str(as_dict(as_dict(obj).get("metadata")).get("resourceVersion")) or "",
    )


def micro_time(when: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return when.strftime(_MICRO)


def lease_spec(record: LeaseRecord) -> dict[str, Any]:
    return {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration,
        "acquireTime": record.acquire_time,
        "renewTime": record.renew_time,
        "leaseTransitions": record.transitions,
    }


@dataclass(frozen=True)
class Claim:
    """A write to make: create the Lease (no record yet) or update it from `record.resource_version`."""

    record: LeaseRecord
    create: bool


class Elector:
    """One replica's view of the election. Pure: the caller passes the time in and does the I/O."""

    def __init__(self, identity: str, timing: Timing) -> None:
        self.identity = identity
        self.timing = timing
        self.observed: LeaseRecord | None = None  # the newest record read or written
        self.observed_at: float | None = None  # when that record last changed, on our clock
        self.read_at: float | None = None  # when the Lease was last read or written
        self.renewed_at: float | None = None  # when our last successful claim was sent

    # ---------------------------------------------------------------- what is known
    def observe(self, record: LeaseRecord | None, now: float) -> None:
        """The Lease as read (None: it does not exist)."""
        if record is None or self.observed is None or not record.same_as(self.observed):
            self.observed_at = now
        self.observed = record
        self.read_at = now
        if record is None or record.holder != self.identity:
            self.renewed_at = None

    def claimed(self, record: LeaseRecord, sent_at: float, now: float) -> None:
        """A claim sent at `sent_at` was accepted; `record` is the Lease the server answered."""
        self.observe(record, now)
        self.renewed_at = sent_at

    @property
    def holder(self) -> str:
        return self.observed.holder if self.observed is not None else ""

    def leading(self, now: float) -> bool:
        """Whether this replica may act: it holds the Lease and renewed it within the renew deadline."""
        return self.renewed_at is not None and now - self.renewed_at < self.timing.renew_deadline

    def in_touch(self, now: float) -> bool:
        """The Lease was read or written within one lease duration (the API server answers)."""
        return self.read_at is not None and now - self.read_at < self.timing.lease_duration

    # ---------------------------------------------------------------- what to do
    def expired(self, now: float) -> bool:
        """The holder's lease ran out: its record did not change for its duration, on our clock."""
        record = self.observed
        if record is None or not record.held:
            return True
        assert self.observed_at is not None
        return now - self.observed_at >= (record.duration or self.timing.lease_duration)

    def _claim(self, wall: datetime) -> Claim:
        stamp = micro_time(wall)
        record = self.observed
        if record is None:
            fresh = LeaseRecord(self.identity, self.timing.lease_duration, stamp, stamp, 0)
            return Claim(fresh, create=True)
        if record.holder == self.identity:
            return Claim(replace(record, duration=self.timing.lease_duration, renew_time=stamp), False)
        taken = replace(
            record,
            holder=self.identity,
            duration=self.timing.lease_duration,
            acquire_time=stamp,
            renew_time=stamp,
            transitions=record.transitions + 1,
        )
        return Claim(taken, create=False)

    def next_claim(self, now: float, wall: datetime) -> Claim | None:
        """The claim to send now: renew our lease, create a missing one, take a free or expired one."""
        record = self.observed
        if record is not None and record.held and record.holder != self.identity and not self.expired(now):
            return None
        return self._claim(wall)

    def release(self, wall: datetime) -> LeaseRecord | None:
        """The record that gives the Lease up (holder emptied), when this replica holds it; from now on
        this replica does not lead."""
        record = self.observed
        if record is None or record.holder != self.identity:
            return None
        self.renewed_at = None  # giving the Lease up: no longer the leader from now on
        return replace(record, holder="", duration=1, renew_time=micro_time(wall))


__all__ = [
    "Claim",
    "Elector",
    "LeaseRecord",
    "Timing",
    "lease_spec",
    "micro_time",
    "parse_lease",
]
