"""The commit step of a partitioned copy (`impala-copy engine --task commit`): publish the whole run.

In:  the CopyPlan with every partition (the same plan every index pod ran); each index has staged
     its output and left a marker (sinks/partition_staging.py, sinks/postgresql_partitions.py).
Out: the run's RunSummary: totals over every index (rowsRead, rowsCopied, rowsSkipped, dataRead),
     the published output (dataWritten, filesWritten, outputPaths), per-partition counts
     (`partitions`), consistencyVerified; copyDuration is the slowest index's.

The sink does the work (`engine.sinks.commit_partitions`): files publish through one `_COMMIT.json`
(sinks/partitioned_files.py), PostgreSQL merges the indexes' staging tables into the target in one
transaction. An index without staged output fails the step (`PartitionsIncomplete`, exit code 2)
and nothing is published. Run twice (a restart), the step publishes once and reports the same
summary again. Like `engine.run.execute`, it never raises for a CopyError and scrubs every message
of the run's secret values.
"""

from __future__ import annotations

from collections.abc import Mapping

from impala_copy.api.plan import CopyPlan
from impala_copy.api.summary import RunError, RunSummary, visible_failure
from impala_copy.engine.errors import EXIT_OK, CopyError
from impala_copy.engine.run import RunOutcome
from impala_copy.engine.secrets import Scrubber
from impala_copy.engine.sinks import commit_partitions


def commit_run(plan: CopyPlan, secrets: Mapping[str, str]) -> RunOutcome:
    """Publish every index's staged output; the run's summary and the exit code."""
    scrub = Scrubber.of({ref.env: secrets[ref.env] for ref in plan.secret_refs() if ref.env in secrets})
    try:
        summary = commit_partitions(plan, secrets)
    except CopyError as err:
        return RunOutcome(_failed(plan, scrub.error(err)), err.exit_code)
    except Exception as exc:  # noqa: BLE001 - reported in the summary, never a bare traceback
        unexpected = scrub.error(CopyError(f"unexpected {type(exc).__name__} in the commit step: {exc}"))
        return RunOutcome(_failed(plan, unexpected), unexpected.exit_code)
    return RunOutcome(summary, EXIT_OK)


def _failed(plan: CopyPlan, err: CopyError) -> RunSummary:
    code, message = visible_failure(err.code, err.message, secure_input=plan.secure_input)
    summary = RunSummary(status="Failed", errors=[RunError(code=code, message=message)])
    if plan.validate_data_consistency and err.code == "DataConsistencyCheckFailed":
        summary.consistency_verified = False
    return summary
