"""The summaries of the lookup and connection-test tasks as the termination message carries them.

In:  LookupResults (small, just over the inline size, 4 MiB), failures with long messages,
     ProbeResults of each reason (engine/probe.py).
Out: the exact compact JSON (camelCase, task, fields), its size (always <= 4096 bytes), where the
     output goes (inline or frames that decode back to it), the reasons and exit codes.
Faked: nothing (pure functions).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from impala_copy.api.lookup_frames import decode_frames
from impala_copy.api.plan import TASK_CONNECTION_TEST, TASK_LOOKUP, TASKS
from impala_copy.api.summary import (
    CONNECTION_TEST_REASONS,
    TERMINATION_MESSAGE_LIMIT,
    ConnectionTestSummary,
    LookupSummary,
    RunError,
)
from impala_copy.engine.lookup import LookupResult, dumps, lookup_summary
from impala_copy.engine.probe import ProbeResult

PROBED_AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def result_of(output: dict[str, Any], rows: int, *, truncated: bool = False) -> LookupResult:
    return LookupResult(
        output=output, rows=rows, truncated=truncated, size_bytes=len(dumps(output).encode()),
        duration_seconds=0.12345,
    )  # fmt: skip


def test_the_task_names() -> None:
    assert TASKS == ("copy", "lookup", "connection-test", "partition-plan", "commit")
    assert LookupSummary(status="Failed").task == TASK_LOOKUP
    assert (
        ConnectionTestSummary(
            connected=True, reason="Connected", message="", probed_at="", duration_milliseconds=0
        ).task
        == TASK_CONNECTION_TEST
    )


def test_a_small_output_travels_in_the_termination_message() -> None:
    output = {"firstRow": {"high_watermark": "2024-07-27T10:58:35.210000", "orders": 5000, "name": "日本"}}
    summary, lines = lookup_summary(result_of(output, 1))
    assert lines == []
    message = summary.to_termination_message()
    assert json.loads(message) == {
        "task": "lookup",
        "status": "Succeeded",
        "rows": 1,
        "truncated": False,
        "sizeBytes": len(dumps(output).encode()),
        "durationSeconds": 0.123,
        "output": output,
    }
    assert "日本" in message  # UTF-8, not \\u escapes
    assert LookupSummary.model_validate_json(message) == summary


def test_an_output_that_would_overflow_4_kib_goes_to_frames() -> None:
    rows = [{"id": i, "name": f"customer {i:04d}"} for i in range(200)]
    output = {"count": 200, "value": rows}
    summary, lines = lookup_summary(result_of(output, 200, truncated=True))
    assert summary.output is None
    assert summary.frames is not None
    message = summary.to_termination_message()
    assert len(message.encode()) <= TERMINATION_MESSAGE_LIMIT
    wire = json.loads(message)
    assert (wire["rows"], wire["truncated"], wire["frames"]["chunks"]) == (200, True, len(lines))
    log = "\n".join(["2026-01-02 INFO lookup started", *lines, message])
    frames = LookupSummary.model_validate_json(message).frames
    assert frames is not None
    assert json.loads(decode_frames(log, frames)) == output


def test_the_inline_limit_is_the_whole_message() -> None:
    """The output stays inline up to the byte where the whole message reaches 4096 bytes."""

    def output_of(n: int) -> dict[str, Any]:
        return {"firstRow": {"s": "x" * n}}

    n = 3900
    while lookup_summary(result_of(output_of(n), 1))[0].output is not None:
        n += 1
    inline = lookup_summary(result_of(output_of(n - 1), 1))[0]
    assert len(inline.to_termination_message().encode()) == TERMINATION_MESSAGE_LIMIT
    framed, lines = lookup_summary(result_of(output_of(n), 1))
    assert (framed.output, len(lines)) == (None, 1)


def test_a_4_mib_output_gives_a_small_termination_message() -> None:
    output = {"count": 4000, "value": [{"id": i, "s": f"{i:07d}" * 141} for i in range(4000)]}
    assert len(dumps(output).encode()) > 4_000_000
    summary, lines = lookup_summary(result_of(output, 4000))
    assert len(summary.to_termination_message().encode()) < 400
    assert json.loads(decode_frames("\n".join(lines), summary.frames)) == output  # type: ignore[arg-type]


def test_a_failed_lookup_cuts_its_message_to_fit() -> None:
    summary = LookupSummary(status="Failed", error=RunError(code="QueryFailed", message="é" * 10_000))
    message = summary.to_termination_message()
    assert len(message.encode()) <= TERMINATION_MESSAGE_LIMIT
    error = json.loads(message)["error"]
    assert error["code"] == "QueryFailed"
    assert error["message"].endswith("...")
    assert len(error["message"]) > 1000


def test_an_output_never_silently_disappears() -> None:
    summary = LookupSummary(status="Succeeded", output={"firstRow": {"s": "x" * 5000}})
    assert not summary.fits()
    with pytest.raises(ValueError, match="does not fit the 4096-byte termination message"):
        summary.to_termination_message()


def probe_result(reason: str, message: str = "m", *, connected: bool = False) -> ProbeResult:
    return ProbeResult(
        connected=connected, reason=reason, message=message, probed_at=PROBED_AT,
        duration_milliseconds=12.34567, round_trip_milliseconds=1.5 if connected else None,
    )  # fmt: skip


def test_a_connection_test_summary_from_a_probe() -> None:
    summary = probe_result("Connected", "Connected to h:21050 as alice", connected=True).to_summary()
    assert json.loads(summary.to_termination_message()) == {
        "task": "connection-test",
        "connected": True,
        "reason": "Connected",
        "message": "Connected to h:21050 as alice",
        "probedAt": "2026-01-02T03:04:05Z",
        "durationMilliseconds": 12.346,
        "roundTripMilliseconds": 1.5,
    }
    failed = probe_result("AuthenticationFailed").to_summary()
    assert "roundTripMilliseconds" not in json.loads(failed.to_termination_message())


@pytest.mark.parametrize(
    ("probe_reason", "reason"),
    [*((r, r) for r in CONNECTION_TEST_REASONS), ("SecretMissing", "InvalidConfiguration")],
)
def test_every_reason_is_one_of_the_contract(probe_reason: str, reason: str) -> None:
    summary = probe_result(probe_reason, "Secret 'impala-login' key 'password' is not available").to_summary()
    assert summary.reason == reason
    assert summary.message == "Secret 'impala-login' key 'password' is not available"


def test_a_long_connection_message_is_cut_to_fit() -> None:
    summary = probe_result("ServerError", "server said: " + "\x01" * 5000).to_summary()
    message = summary.to_termination_message()
    assert len(message.encode()) <= TERMINATION_MESSAGE_LIMIT
    assert json.loads(message)["message"].startswith("server said: \x01")
    assert json.loads(message)["message"].endswith("...")


def test_an_empty_first_row_output_is_kept_as_an_empty_object() -> None:
    summary, lines = lookup_summary(result_of({}, 0))
    assert lines == []
    wire = json.loads(summary.to_termination_message())
    assert (wire["output"], wire["rows"], wire["sizeBytes"]) == ({}, 0, 2)
