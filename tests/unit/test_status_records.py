"""What `impala-copy status` reads of an activity and how it prints it (cli/status.py), without a cluster.

In:  CopyActivity and LookupActivity objects as a list answer carries them, well-formed and crafted
     (status of the wrong types, huge and control-character text, no metadata).
Out: the ActivityState of each (missing or mistyped fields are None, never an exception); the next
     run taken from the retry, schedule, interval or window time; table cells escaped and bounded.
Faked: nothing (pure functions).
"""

from __future__ import annotations

from typing import Any

import pytest

from impala_copy.cli.status import CELL_LIMIT, activity_state, safe, table


@pytest.mark.parametrize(
    "status",
    [
        "Failed",
        ["a"],
        {"lastRun": "yesterday", "conditions": "none", "windows": [1]},
        {"phase": 3, "reason": {"x": 1}, "lastRun": {"rowsCopied": True, "attempt": "2"}},
    ],
)
def test_crafted_statuses_read_as_unknown_fields(status: Any) -> None:
    state = activity_state("CopyActivity", {"metadata": {"name": "x", "namespace": "ns"}, "status": status})
    assert (state.name, state.namespace) == ("x", "ns")
    assert (state.phase, state.rows, state.attempt, state.reason, state.last_run) == (None,) * 5


def test_the_next_run_is_the_retry_then_the_schedule_then_the_interval_then_the_window() -> None:
    def next_run(**status: Any) -> str | None:
        return activity_state("LookupActivity", {"status": status}).next_run

    assert next_run(nextRetryTime="r", nextScheduleTime="s", nextRunTime="i") == "r"
    assert next_run(nextScheduleTime="s", nextRunTime="i") == "s"
    assert next_run(nextRunTime="i", windows={"nextWindowTime": "w"}) == "i"
    assert next_run(windows={"nextWindowTime": "w"}) == "w"
    assert activity_state("LookupActivity", {"status": {"lastRun": {"rowsReturned": 3}}}).rows == 3
    assert activity_state("CopyActivity", {"status": {"lastRun": {"rowsReturned": 3}}}).rows is None


def test_cells_are_escaped_and_bounded() -> None:
    assert safe(None) == "-"
    assert safe("a\x1b[31mred\tb\u202eevil") == "a\\x1b[31mred\\tb\\u202eevil"
    assert len(safe("x" * 10_000)) == CELL_LIMIT
    assert safe("x" * 10_000).endswith("...")
    crafted = {"metadata": {"name": "n\nNAME"}, "status": {"reason": "r\r\x1b[2K"}}
    printed = table([activity_state("CopyActivity", crafted)])
    assert printed.splitlines()[1].split() == ["CopyActivity", "n\\nNAME", "-", "-", "-", "r\\r\\x1b[2K", "-"]
