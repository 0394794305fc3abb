"""A request the API server refuses, as the user reads it: reason, message, condition, Event.

In:  ApiError answers (403, 422, 500, 503) to a Job create or a status write; old statuses of a
     CopyActivity (Ready True or False, a finished run) and of an ImpalaLinkedService.
Out: the reason (Forbidden / Invalid / ApiError), the message quoting the server on one line, the
     status written (Running=False or Connected=Unknown; phase and status.reason of an activity; the
     other fields kept), the Warning Event; a repeated refusal changes nothing (no patch).
Faked: nothing; pure functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impala_copy.controller.core.kube import ApiError
from impala_copy.controller.core.refusals import refusal_event, refusal_reason, refused_status
from impala_copy.controller.core.status import EventSpec, condition, merge_patch

NOW = datetime(2026, 2, 2, 10, 0, 0, tzinfo=UTC)
FORBIDDEN = ApiError(
    403,
    "Forbidden",
    'jobs.batch "c-1-1" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a '
    "resource you can't set finalizers on: , <nil>",
)


@pytest.mark.parametrize(
    ("status", "reason"), [(403, "Forbidden"), (422, "Invalid"), (500, "ApiError"), (503, "ApiError")]
)
def test_the_reason_follows_the_http_status(status: int, reason: str) -> None:
    assert refusal_reason(ApiError(status, "x", "y")) == reason


def test_the_message_quotes_the_server_on_one_line() -> None:
    event = refusal_event("write the status", ApiError(500, "InternalError", "etcd\n  timed out\r\n"))
    assert event == EventSpec(
        "Warning",
        "ApiError",
        "the API server refused to write the status: 500 InternalError: etcd timed out "
        "(the operator tries again)",
    )


def finished_run_status() -> dict[str, object]:
    ready = condition([], "Ready", "True", "Resolved", "all references resolved", 1, NOW)
    idle = condition([], "Running", "False", "Idle", "no run in progress", 1, NOW)
    done = condition([], "Succeeded", "True", "RunSucceeded", "run 1: 5 rows", 1, NOW)
    return {
        "phase": "Succeeded",
        "reason": "RunSucceeded",
        "conditions": [ready, idle, done],
        "lastRun": {"runId": "1", "jobName": "c-1-1"},
    }


def test_an_activity_whose_job_is_refused_is_pending_with_the_refusal() -> None:
    old = finished_run_status()
    later = NOW + timedelta(minutes=5)
    status = refused_status("CopyActivity", old, "create Job c-2-1", FORBIDDEN, 2, later)
    assert (status["phase"], status["reason"], status["lastRun"]) == ("Pending", "Forbidden", old["lastRun"])
    [ready, running, succeeded] = status["conditions"]
    assert (ready, succeeded) == (old["conditions"][0], old["conditions"][2])  # type: ignore[index]
    assert running == {
        "type": "Running",
        "status": "False",
        "reason": "Forbidden",
        "message": f"the API server refused to create Job c-2-1: 403 Forbidden: {FORBIDDEN.message} "
        "(the operator tries again)",
        "lastTransitionTime": "2026-02-02T10:00:00Z",  # Running was False already
        "observedGeneration": 2,
    }
    # The next attempt meets the same answer: nothing to write.
    again = refused_status(
        "CopyActivity", status, "create Job c-2-1", FORBIDDEN, 2, later + timedelta(minutes=1)
    )
    assert merge_patch(status, again) == {}


def test_ready_false_explains_the_phase_first() -> None:
    not_ready = condition([], "Ready", "False", "SecretNotFound", "Secret 'x' was not found", 1, NOW)
    status = refused_status(
        "CopyActivity", {"conditions": [not_ready]}, "create Job c-1-1", FORBIDDEN, 1, NOW
    )
    assert (status["phase"], status["reason"]) == ("Pending", "SecretNotFound")


def test_a_linked_service_whose_test_job_is_refused_is_connected_unknown() -> None:
    old = {"conditions": [condition([], "Ready", "True", "Resolved", "", 1, NOW)]}
    status = refused_status("ImpalaLinkedService", old, "create Job impala-t1", FORBIDDEN, 1, NOW)
    assert "phase" not in status
    [_, connected] = status["conditions"]
    assert (connected["type"], connected["status"], connected["reason"]) == (
        "Connected",
        "Unknown",
        "Forbidden",
    )
