"""Running a copy with a fault injected part-way: the engine as `impala-copy run` runs it, and a callback
called once, after the batch that takes the rows written to `after_rows` (the sink has them by then)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from impala_copy.api.plan import CopyPlan
from impala_copy.engine.pipeline import Progress
from impala_copy.engine.run import RunOutcome, execute

BATCH_ROWS = 50_000  # the engine's rows per fetch (engine/source/hs2.py DEFAULT_BATCH_ROWS)


def generated_rows_query(rows: int) -> str:
    """A query of `rows` generated rows (two columns, no table needed), fetched in BATCH_ROWS batches."""
    return f"SELECT id, concat('row-', CAST(id AS STRING)) AS s FROM range({rows})"


def run_with_fault(
    plan: CopyPlan, secrets: Mapping[str, str], fault: Callable[[], None], *, after_rows: int
) -> RunOutcome:
    """Run the plan; `fault()` is called once rows_written reaches `after_rows` (asserted to happen)."""
    fired: list[int] = []

    def progress(p: Progress) -> None:
        if not fired and p.rows_written >= after_rows:
            fired.append(p.rows_written)
            fault()

    outcome = execute(plan, secrets, progress=progress)
    assert fired, f"the copy ended before the fault was injected: {outcome.summary.errors}"
    return outcome
