"""`status.windows` of a CopyActivity with tumbling windows: a bounded record of which windows ran.

Small whatever the number of windows: `completedThrough` stands for every window up to a time, and
only the exceptions are listed (windows in progress or done out of order in `open`, windows failed for
good in `failed`, the newest `FAILED_LIMIT` of them). A restart reads it back, with the Jobs it sees,
and neither repeats nor skips a window.
"""

from __future__ import annotations

from pydantic import Field

from impala_copy.api.model import ApiModel
from impala_copy.api.runs import AttemptRecord

FAILED_LIMIT = 100  # failed windows listed; older ones stay counted in failedCount
AHEAD_LIMIT = 100  # windows that may start past the oldest window not finished yet


class WindowRun(AttemptRecord):
    """One window and its newest attempt (each window is a run of its own: runId, attempt, Job)."""

    start: str = Field(description="RFC 3339 start of the window (inclusive).")
    end: str = Field(description="RFC 3339 end of the window (exclusive).")
    next_retry_time: str | None = Field(default=None, description="When the window's next attempt starts.")


class WindowsStatus(ApiModel):
    """Which windows ran: every window up to completedThrough, then the exceptions."""

    completed_through: str | None = Field(
        default=None,
        description="Every window ending at or before this time has finished: it succeeded unless it is "
        f"listed in failed (or was dropped from that list, which keeps the newest {FAILED_LIMIT}).",
    )
    last_window_end: str | None = Field(default=None, description="End of the newest window that succeeded.")
    next_window_time: str | None = Field(
        default=None,
        description="When the next window not started yet may run (its end plus delay); in the past "
        "while a backfill waits for maxConcurrency. None once endTime is reached.",
    )
    succeeded_count: int = Field(default=0, description="Windows that succeeded.")
    failed_count: int = Field(default=0, description="Windows failed for good (retries exhausted).")
    running_count: int = Field(default=0, description="Windows whose Job is pending or running now.")
    last_run_id: str | None = Field(default=None, description="The newest run (window attempt) started.")
    open: list[WindowRun] = Field(
        default_factory=list,
        description="Windows started and not covered by completedThrough: pending, running, waiting for "
        "a retry, or succeeded while an older window has not finished. Oldest first.",
    )
    failed: list[WindowRun] = Field(
        default_factory=list,
        description=f"Windows failed for good, oldest first: the newest {FAILED_LIMIT}, and any whose "
        "failed Job is still kept.",
    )
    handled_rerun_window: str | None = Field(
        default=None, description="Value of the rerun-window annotation last acted upon."
    )
    rerun_window_message: str | None = Field(
        default=None, description="What became of that value: the window re-run, or why not."
    )


__all__ = ["AHEAD_LIMIT", "FAILED_LIMIT", "WindowRun", "WindowsStatus"]
