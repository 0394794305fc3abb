"""The partition-plan task: a CopyPlan with `partitioning` in, a PartitionPlanSummary out.

    connect -> plan the partitions (engine/partition_plan.py) -> PartitionPlanSummary (exit code 0)

A failure is a summary with status Failed and the error's code and message (scrubbed of the run's
secret values; with policy.secureInput a message that may quote the query becomes a fixed text),
with the exit code of the error (2: a configuration error, retrying is pointless). Partitions whose
predicates and labels do not fit the termination message lose their labels; if they still do not
fit, the plan fails with PartitionPlanTooLarge (exit code 2: lower parallelCopies). With
policy.secureOutput no label is reported (a label shows values of the data, e.g. a partition key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from impala_copy.api.plan import CopyPlan, Partition
from impala_copy.api.summary import PartitionPlanSummary, RunError, visible_failure
from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_OK, CopyError
from impala_copy.engine.partition_plan import plan_partitions
from impala_copy.engine.run_values import run_values, with_trigger_time
from impala_copy.engine.secrets import Scrubber
from impala_copy.engine.source.hs2 import connect


def partition_plan_summary(plan: CopyPlan, secrets: Mapping[str, str]) -> tuple[PartitionPlanSummary, int]:
    """Plan the partitions of `plan`: the summary and the exit code (never raises for a CopyError)."""
    plan = with_trigger_time(plan)
    scrub = Scrubber.of({ref.env: secrets[ref.env] for ref in plan.secret_refs() if ref.env in secrets})
    try:
        with connect(plan.impala, secrets) as session:
            partitions = plan_partitions(session, plan, run_values(plan))
    except CopyError as err:
        return failed(scrub.error(err), secure_input=plan.secure_input)
    except Exception as exc:  # noqa: BLE001 - reported in the summary, never a bare traceback
        return failed(scrub.error(CopyError(f"unexpected {type(exc).__name__}: {exc}")), secure_input=False)
    return fitted(partitions, labels=not plan.secure_output)


def failed(err: CopyError, *, secure_input: bool) -> tuple[PartitionPlanSummary, int]:
    code, message = visible_failure(err.code, err.message, secure_input=secure_input)
    return PartitionPlanSummary(status="Failed", error=RunError(code=code, message=message)), err.exit_code


def fitted(partitions: list[Partition], *, labels: bool = True) -> tuple[PartitionPlanSummary, int]:
    """The summary of `partitions`, without labels when they would not fit (or are not wanted); Failed
    when nothing fits."""
    summary = PartitionPlanSummary(partitions=[p.to_wire() for p in partitions])
    if labels and _fits(summary):
        return summary, EXIT_OK
    bare = PartitionPlanSummary(
        partitions=[p.model_copy(update={"label": None}).to_wire() for p in partitions]
    )
    if _fits(bare):
        return bare, EXIT_OK
    return PartitionPlanSummary.model_validate_json(bare.to_termination_message()), EXIT_CONFIGURATION


def _fits(summary: PartitionPlanSummary) -> bool:
    return bool(json.loads(summary.to_termination_message())["status"] == "Succeeded")


__all__ = ["failed", "fitted", "partition_plan_summary"]
