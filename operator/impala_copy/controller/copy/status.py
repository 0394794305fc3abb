"""A CopyActivity's status: what every running kind shows, plus `lastRun` with the engine's summary.

Pure. The Events of a change come from `core.status.status_events`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impala_copy.api.activities import CopyActivityStatus, LastRun
from impala_copy.api.summary import PARTITION_COUNTS_LISTED, RunError
from impala_copy.controller.core.constants import Reason
from impala_copy.controller.core.runs import Attempt
from impala_copy.controller.core.status import HIDDEN, RunView, attempt_fields, run_status


def last_run(attempt: Attempt, secure_output: bool) -> dict[str, Any]:
    """status.lastRun of an attempt: its Job, times, outcome and the engine's summary."""
    if attempt.recorded is not None and attempt.outcome.reason != Reason.JOB_DELETED:
        return dict(attempt.recorded)
    outcome = attempt.outcome
    summary = outcome.summary
    fields: dict[str, Any] = summary.model_dump() if summary is not None else {}
    # A partitioned copy's counts per partition: the first ones only, whatever the pod reported.
    fields["partitions"] = fields.get("partitions", [])[:PARTITION_COUNTS_LISTED]
    if secure_output:
        fields["output_paths"] = []
        fields["skipped_rows_log"] = []
        fields["errors"] = [
            RunError(code=e.code, message=HIDDEN) for e in (summary.errors if summary else [])
        ]
    if summary is None:
        fields["errors"] = []
    return LastRun.model_validate({**fields, **attempt_fields(attempt)}).to_wire()


def copy_activity_status(v: RunView, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole status of a CopyActivity (wire form), from what is observed now; `extra` adds fields
    kept by the kind (the watermark of an incremental copy, controller/copy/watermark.py)."""
    fields = {**run_status(v), **(extra or {})}
    conditions = fields.pop("conditions")
    latest = v.decision.latest
    fields["lastRun"] = last_run(latest, v.hide_messages) if latest is not None else None
    status = CopyActivityStatus.model_validate({**fields, "conditions": []}).to_wire()
    status["conditions"] = conditions
    return status
