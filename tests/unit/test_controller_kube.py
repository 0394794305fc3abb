"""The operator's declared API access (for the chart's RBAC) covers what it watches and writes.

In:  kube.API_ACCESS, the resources the handlers watch, the calls the client makes, the settings
     that decide whether kopf lists namespaces.
Out: every watched resource has get/list/watch, every written one its verbs; namespaced installs
     with plain names need no cluster-scoped access.
Faked: nothing; no server.
"""

from __future__ import annotations

import kopf

from impala_copy.controller import handlers
from impala_copy.controller.core.kube import (
    API_ACCESS,
    CONFIG_MAPS,
    EVENTS,
    JOBS,
    OURS,
    PODS,
    PVCS,
    SECRETS,
    ApiError,
    ResourceRef,
    _api_error,
    retry_seconds,
)
from impala_copy.controller.core.settings import Settings


def verbs(ref: ResourceRef, sub: str = "") -> set[str]:
    name = f"{ref.plural}/{sub}" if sub else ref.plural
    return {v for a in API_ACCESS if a.group == ref.group and a.resource == name for v in a.verbs}


def test_watched_resources_can_be_listed_and_watched() -> None:
    for ref in (*OURS.values(), JOBS, PODS, CONFIG_MAPS, PVCS):
        assert {"list", "watch"} <= verbs(ref), ref


def test_the_operator_has_no_access_to_secrets() -> None:
    assert verbs(SECRETS) == set()
    assert not [a for a in API_ACCESS if "secret" in a.resource]


def test_written_resources_have_their_verbs() -> None:
    assert {"create", "delete"} <= verbs(JOBS)
    assert "create" in verbs(EVENTS)
    for ref in OURS.values():
        assert "patch" in verbs(ref, "status"), ref


def test_every_access_says_why() -> None:
    for access in API_ACCESS:
        assert access.why
        assert access.verbs


def test_resource_paths() -> None:
    assert JOBS.path("ns", "j") == "/apis/batch/v1/namespaces/ns/jobs/j"
    assert OURS["CopyActivity"].path("ns", "a", "status") == (
        "/apis/impalacopy.io/v1alpha1/namespaces/ns/copyactivities/a/status"
    )
    assert EVENTS.path("ns") == "/api/v1/namespaces/ns/events"


def test_plain_namespace_names_turn_off_cluster_scans() -> None:
    assert not handlers.exact_namespaces(Settings())
    assert handlers.exact_namespaces(Settings(namespaces=("sales", "finance")))
    assert not handlers.exact_namespaces(Settings(namespaces=("team-*",)))
    assert not handlers.exact_namespaces(Settings(namespaces=("!kube-system",)))
    kopf_settings = kopf.OperatorSettings()
    handlers.configure_kopf(kopf_settings, Settings(namespaces=("sales",)))
    assert kopf_settings.scanning.disabled is True
    assert kopf_settings.peering.standalone is True
    assert kopf_settings.posting.enabled is False
    handlers.configure_kopf(kopf_settings, Settings())
    assert kopf_settings.scanning.disabled is False


def test_register_returns_a_runtime_and_registers_on_a_fresh_registry() -> None:
    registry = kopf.OperatorRegistry()
    runtime = handlers.register(registry, Settings())
    assert runtime.probe() == {"started": 0}


def test_a_namespace_being_deleted_is_recognised_from_the_api_servers_refusal() -> None:
    terminating = ApiError(
        403,
        "Forbidden",
        'events "x.1" is forbidden: unable to create new content in namespace sales because it is being '
        "terminated",
    )
    assert terminating.namespace_terminating
    assert not ApiError(403, "Forbidden", "jobs.batch is forbidden: User cannot create").namespace_terminating
    assert not ApiError(409, "AlreadyExists", "being terminated").namespace_terminating


def test_retry_after_is_read_from_the_header_or_the_status_details() -> None:
    status = '{"kind": "Status", "reason": "TooManyRequests", "message": "slow down", "code": 429}'
    assert _api_error(429, status, "3").retry_after == 3.0
    with_details = status.replace('"code"', '"details": {"retryAfterSeconds": 7}, "code"')
    assert _api_error(429, with_details).retry_after == 7.0
    for crafted in ("Wed, 21 Oct 2026 07:28:00 GMT", "-1", "nan", "inf", ""):
        assert _api_error(429, status, crafted).retry_after is None, crafted
    assert _api_error(429, "not json", "2").retry_after == 2.0
    assert retry_seconds(True) is None


def test_a_conflict_and_throttling_are_transient_other_refusals_are_not() -> None:
    assert ApiError(409, "Conflict", "the object has been modified").transient
    assert ApiError(429, "TooManyRequests", "").transient
    assert not ApiError(500, "InternalError", "").transient
    assert not ApiError(422, "Invalid", "").transient
