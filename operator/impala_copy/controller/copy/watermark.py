"""`status.watermark` of an incremental CopyActivity: where the next run starts. Pure.

Level-based like the rest of the status: each reconciliation starts from the watermark last written and
- takes the watermark of the newest succeeded run newer than the one that set it (a run reports its
  watermark only after its sink committed; a failed or deleted run reports none, so the next run copies
  the same range again);
- applies the `impalacopy.io/reset-watermark` annotation once per value, when no run is in progress
  (a run in progress finishes first, then the reset replaces what it stored); a value that is not a
  watermark is refused with a Warning Event and handled all the same;
- forgets a watermark of another column (the spec's column changed) and starts again at initialValue.
If the status is lost (the object deleted and created again), the next run starts at initialValue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from impala_copy.api.activities import CopyActivity
from impala_copy.api.incremental import IncrementalPlan, Watermark, watermark_text_problem
from impala_copy.api.plan import CopyPlan
from impala_copy.controller.core.constants import ANNOTATION_RESET_WATERMARK, EventReason
from impala_copy.controller.core.outcome import SUCCEEDED
from impala_copy.controller.core.records import Meta, as_dict, as_str
from impala_copy.controller.core.runs import Attempt, latest_attempt
from impala_copy.controller.core.status import EventSpec
from impala_copy.controller.core.timeutil import format_time


@dataclass(frozen=True)
class WatermarkState:
    """The watermark and the reset annotation's value as status shows them, and Events to post."""

    watermark: Watermark | None
    handled_reset: str | None
    events: tuple[EventSpec, ...] = ()

    def status_fields(self) -> dict[str, Any]:
        """`watermark` and `handledResetWatermark` in wire form (None drops them from status)."""
        return {
            "watermark": self.watermark.to_wire() if self.watermark else None,
            "handledResetWatermark": self.handled_reset,
        }

    def low(self, plan: CopyPlan) -> CopyPlan:
        """The plan of a new run: its low watermark is the stored one (else initialValue, as resolved)."""
        if plan.incremental is None or self.watermark is None:
            return plan
        incremental = IncrementalPlan(
            column=plan.incremental.column, low=self.watermark.value, lookback=plan.incremental.lookback
        )
        return plan.model_copy(update={"incremental": incremental})


def _stored(old: Mapping[str, Any], column: str | None) -> Watermark | None:
    """status.watermark as last written (of `column`, when one is given), or None."""
    try:
        stored = Watermark.model_validate(as_dict(old.get("watermark")))
    except ValidationError:
        return None
    return stored if column is None or stored.column == column else None


def _run_number(watermark: Watermark | None) -> int:
    text = watermark.run_id if watermark else None
    return int(text) if text and text.isdigit() else 0


def reported(attempt: Attempt) -> tuple[str, str] | None:
    """(watermark, column) a succeeded attempt reported: from its summary, or from status.lastRun."""
    if attempt.outcome.state != SUCCEEDED:
        return None
    summary = attempt.outcome.summary
    if summary is not None:
        value, column = summary.watermark, summary.watermark_column
    else:
        recorded = as_dict(attempt.recorded)
        value, column = as_str(recorded.get("watermark")), as_str(recorded.get("watermarkColumn"))
    return (value, column) if value is not None and column is not None else None


def _advanced(stored: Watermark | None, attempts: Sequence[Attempt], column: str) -> Watermark | None:
    """The watermark of the newest succeeded run after the one that set `stored`, else `stored`."""
    newer = sorted((a for a in attempts if a.run_number > _run_number(stored)), key=lambda a: a.key)
    for attempt in reversed(newer):
        found = reported(attempt)
        if found is not None and found[1] == column:
            return Watermark(
                value=found[0],
                column=column,
                run_id=str(attempt.run_number),
                time=attempt.outcome.completion_time,
            )
    return stored


def watermark_state(
    activity: CopyActivity | None,
    meta: Meta,
    old: Mapping[str, Any],
    attempts: Sequence[Attempt],
    now: datetime,
) -> WatermarkState:
    """status.watermark from the status last written, the runs seen and the reset annotation."""
    handled = as_str(old.get("handledResetWatermark"))
    if activity is None:  # not parsed now: keep what status says until the spec is valid again
        return WatermarkState(_stored(old, None), handled)
    incremental = activity.spec.source.incremental
    if incremental is None:
        return WatermarkState(None, handled)
    column = incremental.column
    current = _advanced(_stored(old, column), attempts, column)
    wanted = meta.annotations.get(ANNOTATION_RESET_WATERMARK)
    latest = latest_attempt(attempts)
    if wanted is None or wanted == handled or (latest is not None and not latest.outcome.finished):
        return WatermarkState(current, handled)
    problem = watermark_text_problem(wanted)
    if problem is not None:
        message = f"{ANNOTATION_RESET_WATERMARK}: {problem}; the watermark is unchanged"
        event = EventSpec("Warning", EventReason.INVALID_WATERMARK_RESET, message)
        return WatermarkState(current, wanted, (event,))
    reset = Watermark(
        value=wanted,
        column=column,
        run_id=str(latest.run_number) if latest is not None else None,
        time=format_time(now),
        reset=True,
    )
    message = f"watermark of column {column!r} set to {wanted!r}: the next run copies the rows above it"
    return WatermarkState(reset, wanted, (EventSpec("Normal", EventReason.WATERMARK_RESET, message),))


__all__ = ["WatermarkState", "reported", "watermark_state"]
