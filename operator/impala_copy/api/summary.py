"""The summaries the engine reports when a task ends, one per task of `impala-copy engine --task`.

- copy: `RunSummary` (ADF copy activity output names); the operator turns it into `status.lastRun`.
- lookup: `LookupSummary`, with ADF's output itself when it fits, else `frames` (api/lookup_frames.py).
- connection-test: `ConnectionTestSummary`, the `Connected` condition of an ImpalaLinkedService.

In a Job the engine writes one as compact JSON to the termination message (`/dev/termination-log`,
4 KiB at most); from the CLI it is printed.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError

from impala_copy.api.common import ApiModel
from impala_copy.api.lookup_frames import ResultFrames

TERMINATION_MESSAGE_LIMIT = 4096
# The reasons of a connection test (the `Connected` condition's reason).
CONNECTION_TEST_REASONS = (
    "Connected",
    "AuthenticationFailed",
    "TLSVerificationFailed",
    "Unreachable",
    "Timeout",
    "ServerError",
    "InvalidConfiguration",
)


# Error codes whose message is the server's own, which may quote the SQL text of the run.
QUERY_ECHOING_CODES = frozenset({"QueryFailed", "TableNotFound"})
SECURE_INPUT_MESSAGE = "the server rejected the query (its message is hidden by policy.secureInput)"


def visible_failure(code: str, message: str, *, secure_input: bool) -> tuple[str, str]:
    """An error as a summary, status, Events and logs show it (copy and lookup alike).

    With policy.secureInput, a message that may quote the query becomes a fixed text; the code stays.
    """
    if secure_input and code in QUERY_ECHOING_CODES:
        return code, SECURE_INPUT_MESSAGE
    return code, message


class RunError(ApiModel):
    """An error of a run: a stable code and a readable message (never a secret value)."""

    code: str = Field(
        description="Stable error code, e.g. AuthenticationFailed, TableNotFound, SinkWriteFailed."
    )
    message: str = Field(description="Readable message.")


# Per-partition counts listed in a summary (a termination message holds 4 KiB).
PARTITION_COUNTS_LISTED = 32


class PartitionCount(ApiModel):
    """What one partition of a partitioned copy read and wrote."""

    index: int = Field(description="Partition index (the Indexed Job's completion index).")
    rows_read: int = Field(default=0, description="Rows read by this partition.")
    rows_copied: int = Field(default=0, description="Rows this partition staged.")
    data_read: int = Field(default=0, description="Bytes of row data read.")
    data_written: int = Field(default=0, description="Bytes staged.")
    files_written: int = Field(default=0, description="Files staged (file sinks).")
    copy_duration: float = Field(default=0.0, description="Seconds the partition took.")


class PartitionPlanSummary(ApiModel):
    """What `impala-copy engine --task partition-plan` reports: the partitions, or why there are none."""

    task: Literal["partition-plan"] = "partition-plan"
    status: Literal["Succeeded", "Failed"] = "Succeeded"
    partitions: list[dict[str, Any]] = Field(
        default_factory=list, description="The planned slices, as api.plan.Partition wire forms."
    )
    error: RunError | None = None

    def to_termination_message(self, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
        """Compact JSON; a plan that does not fit fails (never a cut list of partitions)."""
        text = _compact(self.to_wire())
        if len(text.encode()) > limit:
            failed = PartitionPlanSummary(
                status="Failed",
                error=RunError(
                    code="PartitionPlanTooLarge",
                    message=f"the {len(self.partitions)} partitions' predicates do not fit the {limit}-byte "
                    "termination message: lower parallelCopies",
                ),
            )
            return _compact(failed.to_wire())
        return text


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
    watermark: str | None = Field(
        default=None,
        description="New watermark of an incremental copy, reported after the sink committed (absent when "
        "no row was above the old one).",
    )
    watermark_column: str | None = Field(default=None, description="The column the watermark is of.")
    partition: int | None = Field(default=None, description="Partition index of a partitioned copy.")
    partitions: list[PartitionCount] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="A partitioned copy: counts per partition (the first PARTITION_COUNTS_LISTED).",
    )
    consistency_verified: bool | None = Field(
        default=None,
        description="validateDataConsistency outcome: rows read == copied == rows in the output.",
    )

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded" and not self.errors

    def to_termination_message(self, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
        """Compact JSON that fits the termination message: lists and messages are cut, never the counters
        (per-partition counts are cut last, from the end)."""
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
        text = json.dumps(data, separators=(",", ":"))
        # A partitioned run's per-partition counts go last (the totals stay): the first ones that fit.
        while len(text.encode()) > limit and data.get("partitions"):
            data["partitions"] = data["partitions"][:-1]
            text = json.dumps(data, separators=(",", ":"))
        return text[:limit]


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
    # Partitions of one run share the high mark read at its start: their watermarks are equal.
    total.watermark = watermarks[0] if watermarks else None
    total.watermark_column = next((s.watermark_column for s in summaries if s.watermark_column), None)
    return total


def _compact(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _fit(data: dict[str, Any], message: tuple[str, ...], limit: int) -> str:
    """Compact JSON of `data` within `limit` bytes, cutting the text at the path `message` if needed."""
    text = _compact(data)
    if len(text.encode()) <= limit:
        return text
    *parents, key = message
    holder: Any = data
    for name in parents:
        holder = holder.get(name) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or not isinstance(holder.get(key), str):
        raise ValueError(f"the summary does not fit the {limit}-byte termination message")
    value: str = holder[key]
    low, high = 0, len(value)  # the longest prefix that fits, found by bisection
    while low < high:
        mid = (low + high + 1) // 2
        holder[key] = value[:mid] + "..."
        if len(_compact(data).encode()) <= limit:
            low = mid
        else:
            high = mid - 1
    holder[key] = value[:low] + "..."
    text = _compact(data)
    if len(text.encode()) > limit:
        raise ValueError(f"the summary does not fit the {limit}-byte termination message")
    return text


class ConnectionTestSummary(ApiModel):
    """What `impala-copy engine --task connection-test` reports: the `Connected` condition's content."""

    task: Literal["connection-test"] = "connection-test"
    connected: bool = Field(description="True when connect, login, SELECT 1 and close all worked.")
    reason: str = Field(description="One of CONNECTION_TEST_REASONS.")
    message: str = Field(description="Readable outcome naming the server (never a secret value).")
    probed_at: str = Field(description="RFC 3339 UTC time the test started.")
    duration_milliseconds: float = Field(description="Connect, login, SELECT 1 and close.")
    round_trip_milliseconds: float | None = Field(
        default=None, description="SELECT 1 round trip of a successful test."
    )

    def to_termination_message(self, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
        """Compact JSON by alias, at most `limit` bytes (the message is cut if needed)."""
        return _fit(self.to_wire(), ("message",), limit)


class LookupSummary(ApiModel):
    """What `impala-copy engine --task lookup` reports.

    The output travels in `output` when the whole message stays within the termination message's
    4 KiB; otherwise `frames` describes the log lines that carry it (api/lookup_frames.py).
    """

    task: Literal["lookup"] = "lookup"
    status: Literal["Succeeded", "Failed"] = Field(description="Succeeded or Failed.")
    rows: int = Field(default=0, description="Rows in the output.")
    truncated: bool = Field(default=False, description="The query returned more rows than the output holds.")
    size_bytes: int = Field(default=0, description="UTF-8 length of the output's compact JSON.")
    duration_seconds: float = Field(default=0.0, description="Connect, query, fetch and close.")
    error: RunError | None = Field(default=None, description="Why the lookup failed.")
    output: dict[str, Any] | None = Field(default=None, description="ADF's output, when it fits here.")
    frames: ResultFrames | None = Field(default=None, description="The output's frames in the pod log.")

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded" and self.error is None

    def fits(self, limit: int = TERMINATION_MESSAGE_LIMIT) -> bool:
        """Whether the whole summary, as it is, fits the termination message."""
        return len(_compact(self.to_wire()).encode()) <= limit

    def to_termination_message(self, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
        """Compact JSON by alias within `limit` bytes: an error message is cut, an output never is.

        Raises ValueError when an output does not fit: it must go through `frames` instead.
        """
        return _fit(self.to_wire(), ("error", "message"), limit)


TaskSummary = TypeVar("TaskSummary", "ConnectionTestSummary", "LookupSummary")


def read_summary(text: str, model: type[TaskSummary]) -> TaskSummary | None:
    """A task's summary from a termination message, or None when the message is not that task's summary."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("task") != model.model_fields["task"].default:
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None
