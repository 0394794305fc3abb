"""Leader election's pure part (core/lease.py) and its settings, with an injected clock.

In:  Lease objects as the API server returns them (and crafted ones), the time in seconds on a
     replica's own clock, the lease settings from environment variables.
Out: which replica claims the Lease when (create, renew, take over a released or expired lease, wait
     while another holds a live one), the records written, when a leader stops counting itself the
     leader, and the settings errors naming the variables.
Faked: the clock (plain numbers); no server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from impala_copy.controller.core.lease import Elector, LeaseRecord, Timing, lease_spec, parse_lease
from impala_copy.controller.core.settings import Settings, SettingsError

TIMING = Timing(lease_duration=15, renew_deadline=10.0, retry_period=2.0)
WALL = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)
STAMP = "2026-12-03T12:00:00.123456Z"


def lease(
    holder: str, rv: str = "1", duration: int = 15, renew: str = STAMP, transitions: int = 0
) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "impala-copy-operator", "namespace": "ops", "resourceVersion": rv},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "acquireTime": "2026-12-03T11:00:00.000000Z",
            "renewTime": renew,
            "leaseTransitions": transitions,
        },
    }


def test_a_missing_lease_is_created_with_this_replica_as_holder() -> None:
    elector = Elector("a", TIMING)
    elector.observe(None, now=100.0)
    claim = elector.next_claim(100.0, WALL)
    assert claim is not None
    assert claim.create
    assert lease_spec(claim.record) == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": STAMP,
        "renewTime": STAMP,
        "leaseTransitions": 0,
    }
    assert not elector.leading(100.0)
    elector.claimed(claim.record, sent_at=100.0, now=100.1)
    assert elector.leading(100.1)
    assert elector.holder == "a"


def test_a_live_lease_of_another_replica_is_left_alone_until_it_expires_on_our_clock() -> None:
    elector = Elector("b", TIMING)
    elector.observe(parse_lease(lease("a", rv="1")), now=0.0)
    assert elector.next_claim(0.0, WALL) is None
    # The holder renews: a changed record restarts the count, whatever time it says.
    elector.observe(parse_lease(lease("a", rv="2", renew="1999-01-01T00:00:00.000000Z")), now=10.0)
    assert elector.next_claim(24.9, WALL) is None
    # Unchanged for the holder's whole duration: taken over, one more transition.
    elector.observe(parse_lease(lease("a", rv="2", renew="1999-01-01T00:00:00.000000Z")), now=25.0)
    claim = elector.next_claim(25.0, WALL)
    assert claim is not None
    assert not claim.create
    assert (claim.record.holder, claim.record.transitions, claim.record.resource_version) == ("b", 1, "2")
    assert claim.record.acquire_time == STAMP


def test_the_holders_own_duration_counts() -> None:
    elector = Elector("b", TIMING)
    elector.observe(parse_lease(lease("a", duration=40)), now=0.0)
    assert elector.next_claim(39.0, WALL) is None
    assert elector.next_claim(40.0, WALL) is not None


def test_a_released_lease_is_taken_at_once() -> None:
    elector = Elector("b", TIMING)
    elector.observe(parse_lease(lease("a", rv="5", transitions=3)), now=0.0)
    elector.observe(parse_lease(lease("", rv="6", duration=1, transitions=3)), now=1.0)
    claim = elector.next_claim(1.0, WALL)
    assert claim is not None
    assert (claim.record.holder, claim.record.transitions, claim.record.duration) == ("b", 4, 15)


def test_the_leader_renews_and_stops_leading_at_the_renew_deadline_without_a_successful_renewal() -> None:
    elector = Elector("a", TIMING)
    elector.observe(parse_lease(lease("a", rv="7", transitions=2)), now=0.0)
    claim = elector.next_claim(0.0, WALL)
    assert claim is not None
    assert not claim.create
    assert (claim.record.holder, claim.record.transitions, claim.record.acquire_time) == (
        "a",
        2,
        "2026-12-03T11:00:00.000000Z",
    )
    elector.claimed(claim.record, sent_at=0.0, now=0.5)
    assert elector.leading(9.99)
    assert not elector.leading(10.0)  # renewals failed since: it stops before anyone may take over


def test_a_leader_that_sees_another_holder_stops_leading_at_once() -> None:
    elector = Elector("a", TIMING)
    elector.observe(None, now=0.0)
    claim = elector.next_claim(0.0, WALL)
    assert claim is not None
    elector.claimed(claim.record, sent_at=0.0, now=0.0)
    elector.observe(parse_lease(lease("b", rv="9")), now=1.0)
    assert not elector.leading(1.0)
    assert elector.next_claim(1.0, WALL) is None


def test_release_empties_the_holder_only_when_holding() -> None:
    elector = Elector("a", TIMING)
    elector.observe(parse_lease(lease("b")), now=0.0)
    assert elector.release(WALL) is None
    elector.observe(parse_lease(lease("a", rv="3", transitions=1)), now=0.0)
    released = elector.release(WALL)
    assert released is not None
    assert (released.holder, released.duration, released.transitions, released.resource_version) == (
        "",
        1,
        1,
        "3",
    )


def test_in_touch_while_the_lease_was_read_within_a_lease_duration() -> None:
    elector = Elector("a", TIMING)
    assert not elector.in_touch(0.0)
    elector.observe(parse_lease(lease("b")), now=0.0)
    assert elector.in_touch(14.9)
    assert not elector.in_touch(15.0)


@pytest.mark.parametrize(
    "spec",
    [
        {"holderIdentity": 7, "leaseDurationSeconds": "x", "leaseTransitions": -3, "renewTime": []},
        {"leaseDurationSeconds": -5},
        "not a spec",
    ],
)
def test_a_crafted_lease_reads_as_absent_fields(spec: Any) -> None:
    record = parse_lease({"metadata": {"resourceVersion": 12}, "spec": spec})
    assert record == LeaseRecord()
    elector = Elector("a", TIMING)
    elector.observe(record, now=0.0)
    claim = elector.next_claim(0.0, WALL)  # nobody holds it: taken
    assert claim is not None
    assert claim.record.holder == "a"


# ------------------------------------------------------------------ settings
def test_lease_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "IMPALA_COPY_LEASE_NAMESPACE": "impala-copy-system",
            "IMPALA_COPY_LEASE_NAME": "copy-operator",
            "IMPALA_COPY_LEASE_DURATION_SECONDS": "4",
            "IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS": "2.5",
            "IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS": "0.5",
        }
    )
    assert (settings.lease_namespace, settings.lease_name) == ("impala-copy-system", "copy-operator")
    assert settings.lease_timing == Timing(4, 2.5, 0.5)
    assert Settings.from_env({}).lease_namespace is None
    assert Settings.from_env({}).lease_timing == Timing(15, 10.0, 2.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS": "15"},
            "IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS must be less than IMPALA_COPY_LEASE_DURATION_SECONDS; "
            "got 15 and 15",
        ),
        (
            {"IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS": "10"},
            "IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS must be less than "
            "IMPALA_COPY_LEASE_RENEW_DEADLINE_SECONDS; got 10 and 10",
        ),
        ({"IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS": "soon"}, "must be a number of seconds; got 'soon'"),
        ({"IMPALA_COPY_LEASE_RETRY_PERIOD_SECONDS": "nan"}, "must be more than 0 seconds; got 'nan'"),
        (
            {"IMPALA_COPY_LEASE_DURATION_SECONDS": "0"},
            "IMPALA_COPY_LEASE_DURATION_SECONDS must be at least 1",
        ),
        (
            {"IMPALA_COPY_LEASE_NAMESPACE": "Ops/../x"},
            "IMPALA_COPY_LEASE_NAMESPACE: 'Ops/../x' is not a valid",
        ),
        ({"IMPALA_COPY_LEASE_NAME": ""}, "IMPALA_COPY_LEASE_NAME must not be empty"),
    ],
)
def test_bad_lease_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


# ------------------------------------------------------------------ the fence of the API client
async def test_a_replica_that_does_not_lead_sends_no_write() -> None:
    from impala_copy.controller.core.kube import JOBS, LEASES, ApiError, KubeClient, NotLeading

    client = KubeClient(agent="impala-copy-operator (replica-b_1)")
    client.may_write = lambda: False
    with pytest.raises(NotLeading, match="POST /apis/batch/v1/namespaces/ns/jobs: not sent"):
        await client.create(JOBS, "ns", {"metadata": {"name": "j"}})
    with pytest.raises(NotLeading):
        await client.delete(JOBS, "ns", "j")
    # Reads and the Lease's own writes are not fenced: they reach the (missing) login instead.
    with pytest.raises(ApiError, match="NotLoggedIn"):
        await client.get(JOBS, "ns", "j")
    with pytest.raises(ApiError, match="NotLoggedIn"):
        await client.patch(LEASES, "ns", "l", {"spec": {}}, fenced=False)
