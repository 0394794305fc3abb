"""The run summary: what the engine reports when a run ends (ADF copy activity output names).

In a Job the engine writes it as JSON to the termination message (`/dev/termination-log`, 4 KiB at
most); from the CLI it is printed. The operator turns it into `status.lastRun`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from impala_copy.api.common import ApiModel

TERMINATION_MESSAGE_LIMIT = 4096


class RunError(ApiModel):
    """An error of a run: a stable code and a readable message (never a secret value)."""

    code: str = Field(
        description="Stable error code, e.g. AuthenticationFailed, TableNotFound, SinkWriteFailed."
    )
    message: str = Field(description="Readable message.")


class RunSummary(ApiModel):
    """Counters and outcome of one run, with ADF's copy-output names."""

    status: str = Field(default="Succeeded", description="Succeeded or Failed.")
    rows_read: int = Field(default=0, description="Rows read from Impala (ADF: rowsRead).")
    rows_copied: int = Field(default=0, description="Rows written to the sink (ADF: rowsCopied).")
    rows_skipped: int = Field(default=0, description="Incompatible rows skipped (ADF: rowsSkipped).")
    skipped_rows_log: list[str] = Field(
        default_factory=list,
        description="First incompatible rows skipped, 'row N: reason' (at most 20).",
    )
    data_read: int = Field(
        default=0, description="Bytes of row data read from Impala, as Arrow buffers (ADF: dataRead)."
    )
    data_written: int = Field(default=0, description="Bytes written to the sink (ADF: dataWritten).")
    files_written: int = Field(default=0, description="Files written (ADF: filesWritten).")
    copy_duration: float = Field(default=0.0, description="Seconds from start to commit (ADF: copyDuration).")
    throughput: float = Field(default=0.0, description="Rows per second over copyDuration.")
    errors: list[RunError] = Field(default_factory=list, description="Errors; empty when the run succeeded.")
    output_paths: list[str] = Field(
        default_factory=list, description="Files or tables written (may be truncated)."
    )
    watermark: str | None = Field(default=None, description="New high watermark of an incremental copy.")
    partition: int | None = Field(default=None, description="Partition index of a partitioned copy.")
    consistency_verified: bool | None = Field(
        default=None,
        description="validateDataConsistency outcome: rows read == copied == rows in the output.",
    )

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded" and not self.errors

    def to_termination_message(self, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
        """Compact JSON that fits the termination message: lists and messages are cut, never the counters."""
        data: dict[str, Any] = self.to_wire()
        text = json.dumps(data, separators=(",", ":"))
        if len(text.encode()) <= limit:
            return text
        data["outputPaths"] = data.get("outputPaths", [])[:3]
        data["skippedRowsLog"] = [r[:200] for r in data.get("skippedRowsLog", [])[:3]]
        for err in data.get("errors", []):
            err["message"] = err["message"][:512]
        data["errors"] = data.get("errors", [])[:3]
        text = json.dumps(data, separators=(",", ":"))
        if len(text.encode()) <= limit:
            return text
        data.pop("outputPaths", None)
        data.pop("skippedRowsLog", None)
        for err in data.get("errors", []):
            err["message"] = err["message"][:128]
        return json.dumps(data, separators=(",", ":"))[:limit]


def aggregate(summaries: list[RunSummary]) -> RunSummary:
    """One summary for a run made of several partitions (a single partition passes through)."""
    if len(summaries) == 1:
        return summaries[0]
    total = RunSummary(
        status="Succeeded" if all(s.succeeded for s in summaries) else "Failed",
        rows_read=sum(s.rows_read for s in summaries),
        rows_copied=sum(s.rows_copied for s in summaries),
        rows_skipped=sum(s.rows_skipped for s in summaries),
        skipped_rows_log=[r for s in summaries for r in s.skipped_rows_log][:20],
        data_read=sum(s.data_read for s in summaries),
        data_written=sum(s.data_written for s in summaries),
        files_written=sum(s.files_written for s in summaries),
        copy_duration=max((s.copy_duration for s in summaries), default=0.0),
        errors=[e for s in summaries for e in s.errors],
        output_paths=[p for s in summaries for p in s.output_paths],
    )
    total.throughput = total.rows_copied / total.copy_duration if total.copy_duration else 0.0
    watermarks = [s.watermark for s in summaries if s.watermark is not None]
    total.watermark = max(watermarks) if watermarks else None
    return total
