"""Run one CopyPlan end to end and report it as a RunSummary (ADF copy-output names).

    the query and the sink paths with the run's placeholders rendered (engine.run_values)
    -> create the sink (configuration and store checked before Impala is touched)
    -> connect (engine.hs2) -> an incremental copy reads its range first (engine.source.watermark)
    -> run build_select(plan.source) (or select_range) with source.queryTimeout; a partitioned copy
       reads only its partition: `partition=index` chooses plan.partitions[index], whose predicate goes
       into the read (engine/source/sql.py)
    -> stream batches into the sink (engine.pipeline), within policy.timeout
    -> commit: validateDataConsistency counts the rows back from the written output before it is published
    -> RunSummary (with the new watermark of an incremental copy: reported only after the commit)

One index of a partitioned copy (`partition` = its index): the sink stages the output and publishes
nothing (sinks.create_partition_sink), then `seal()` leaves the index's RunSummary (with `partition`
set) beside its staged output; the commit step (engine/commit_run.py) publishes the whole run.

`run_copy` never raises for a CopyError: a failed run is a summary with status Failed and
`errors[].code/message`; nothing of a failed run is published. Any other exception is reported the
same way with the code `CopyFailed`. Every message is scrubbed of the run's secret values
(engine/secrets.py), and with policy.secureInput a server message that may quote the query becomes
a fixed text (api/summary.py `visible_failure`). Ctrl-C / SIGTERM (KeyboardInterrupt, SystemExit) abort the
sink (engine.pipeline.transfer) and propagate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from impala_copy.api.partitions import PARTITION_INDEX_ENV
from impala_copy.api.plan import CopyPlan, Partition
from impala_copy.api.summary import RunError, RunSummary, visible_failure
from impala_copy.engine.errors import EXIT_OK, ConfigurationError, CopyError
from impala_copy.engine.interfaces import PartitionSinkWriter, SinkResult, SinkWriter
from impala_copy.engine.pipeline import Counters, ProgressCallback, transfer
from impala_copy.engine.run_values import rendered_columns, rendered_sink, run_values, with_trigger_time
from impala_copy.engine.secrets import Scrubber
from impala_copy.engine.sinks import create_partition_sink, create_sink
from impala_copy.engine.source.hs2 import connect
from impala_copy.engine.source.sql import ALL_ROWS, build_select
from impala_copy.engine.source.watermark import IncrementalRange, read_range, select_range


@dataclass(frozen=True)
class RunOutcome:
    """The summary and the process exit code it implies (engine/errors.py)."""

    summary: RunSummary
    exit_code: int


def run_copy(
    plan: CopyPlan, secrets: Mapping[str, str], *, progress: ProgressCallback | None = None
) -> RunSummary:
    """Run the plan; a failure is a summary with status Failed, never an exception."""
    return execute(plan, secrets, progress=progress).summary


def execute(
    plan: CopyPlan,
    secrets: Mapping[str, str],
    *,
    progress: ProgressCallback | None = None,
    partition: int | None = None,
) -> RunOutcome:
    """Run the plan (or one index of a partitioned plan) and tell the exit code too."""
    started = time.monotonic()
    plan = with_trigger_time(plan)
    counters = Counters()
    # Sources and sinks scrub their own errors; this catches what reaches the summary another way.
    scrub = Scrubber.of({ref.env: secrets[ref.env] for ref in plan.secret_refs() if ref.env in secrets})
    try:
        chosen = chosen_partition(plan, partition)
        copied = _copy(plan, secrets, counters, progress, started, partition, _predicate(plan, chosen))
        summary = _succeeded(plan, counters, started, copied.result, partition)
        if copied.watermark is not None and plan.incremental is not None:
            summary.watermark, summary.watermark_column = copied.watermark, plan.incremental.column
        if partition is not None:
            _seal(copied.sink, summary)
    except CopyError as err:
        return RunOutcome(_failed(plan, counters, started, scrub.error(err), partition), err.exit_code)
    except Exception as exc:  # noqa: BLE001 - reported in the summary, never a bare traceback
        unexpected = scrub.error(CopyError(f"unexpected {type(exc).__name__}: {exc}"))
        return RunOutcome(_failed(plan, counters, started, unexpected, partition), unexpected.exit_code)
    return RunOutcome(summary, EXIT_OK)


@dataclass(frozen=True)
class _Copied:
    result: SinkResult
    watermark: str | None  # the new watermark of an incremental copy (None: unchanged)
    sink: SinkWriter


def _seal(sink: SinkWriter, summary: RunSummary) -> None:
    """Record a staged index as finished; a seal that fails removes the index's staged attempt."""
    assert isinstance(sink, PartitionSinkWriter), "a partition's sink seals"
    try:
        sink.seal(summary)
    except BaseException:
        sink.abort()
        raise


def chosen_partition(plan: CopyPlan, index: int | None) -> Partition | None:
    """The partition this process reads (None: the whole source), or ConfigurationError for an index
    the plan does not have, or none given for a partitioned copy."""
    if index is None:
        if plan.partitioning is not None:
            raise ConfigurationError(
                f"a partitioned copy reads one partition per process: {PARTITION_INDEX_ENV} must hold "
                "its index"
            )
        return None
    if not 0 <= index < len(plan.partitions):
        raise ConfigurationError(
            f"partition {index} is not in the plan, which has {len(plan.partitions)} (0 to "
            f"{len(plan.partitions) - 1})"
        )
    return plan.partitions[index]


def _predicate(plan: CopyPlan, chosen: Partition | None) -> str | None:
    """The SQL predicate of the partition read (all rows: a partition of a partitioned copy without one)."""
    if chosen is None or plan.partitioning is None:
        return None
    return chosen.predicate or ALL_ROWS


def _copy(
    plan: CopyPlan,
    secrets: Mapping[str, str],
    counters: Counters,
    progress: ProgressCallback | None,
    started: float,
    partition: int | None,
    predicate: str | None = None,
) -> _Copied:
    """Copy and commit (an index of a partitioned copy: stage; `predicate` selects its rows)."""
    values = run_values(plan)
    sql = build_select(plan.source, values, predicate=predicate) if plan.incremental is None else None
    extra = rendered_columns(plan.source.additional_columns, values)
    rendered = plan.model_copy(update={"sink": rendered_sink(plan.sink, values)})
    sink: SinkWriter = (
        create_sink(rendered, secrets)
        if partition is None
        else create_partition_sink(rendered, secrets, partition)
    )
    with connect(plan.impala, secrets) as session:
        rows: IncrementalRange | None = None
        if plan.incremental is not None:
            rows = read_range(session, plan.source, plan.incremental, values)
            sql = select_range(plan.source, rows, values)
        assert sql is not None
        source = session.query(sql, timeout_seconds=plan.source.query_timeout_seconds)
        try:
            result = transfer(
                source,
                sink,
                extra,
                deadline=started + plan.timeout_seconds,
                counters=counters,
                verify=plan.validate_data_consistency,
                progress=progress,
                started=started,
            )
        finally:
            source.close()  # cancels the query when the copy stopped early
    # transfer() returned: the sink has committed, so the new watermark may be reported.
    return _Copied(result, rows.new_watermark if rows is not None else None, sink)


def _base(counters: Counters, started: float, partition: int | None) -> RunSummary:
    duration = time.monotonic() - started
    return RunSummary(
        rows_read=counters.rows_read,
        data_read=counters.data_read,
        copy_duration=round(duration, 3),
        partition=partition,
    )


def _succeeded(
    plan: CopyPlan, counters: Counters, started: float, result: SinkResult, partition: int | None
) -> RunSummary:
    summary = _base(counters, started, partition)
    summary.rows_copied = result.rows_written
    summary.rows_skipped = result.rows_skipped
    summary.skipped_rows_log = result.skipped_rows
    summary.data_written = result.bytes_written
    summary.files_written = result.files_written
    summary.output_paths = result.output_paths
    summary.throughput = (
        round(result.rows_written / summary.copy_duration, 1) if summary.copy_duration else 0.0
    )
    if plan.validate_data_consistency:
        # The sink raised ConsistencyCheckFailed on a mismatch; None when it cannot count its output back.
        summary.consistency_verified = True if result.rows_verified is not None else None
    return summary


def _failed(
    plan: CopyPlan, counters: Counters, started: float, err: CopyError, partition: int | None
) -> RunSummary:
    summary = _base(counters, started, partition)
    summary.status = "Failed"
    code, message = visible_failure(err.code, err.message, secure_input=plan.secure_input)
    summary.errors = [RunError(code=code, message=message)]
    if plan.validate_data_consistency and err.code == "DataConsistencyCheckFailed":
        summary.consistency_verified = False
    return summary
