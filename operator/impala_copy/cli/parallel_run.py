"""`impala-copy run` of a partitioned copy: the operator's three steps, on this machine.

    plan     in this process: the partition-plan task (engine/partition_task.py) fills plan.partitions
    copy     one local process per partition, at most `parallel` at once, each the pod's command
             (`python -m impala_copy.engine.main copy`) with the pod's environment: the plan in
             IMPALA_COPY_PLAN, the partition's index in JOB_COMPLETION_INDEX, the secrets in their
             variables, its summary written to a termination-log file of its own
    commit   in this process, once every partition has succeeded (engine/commit_run.py)

A partition that fails fails the run: the commit does not run, nothing is published, and the run's
summary names the failed partitions (the first one's error, its exit code). Ctrl-C stops every running
process (SIGTERM, as Kubernetes stops a pod) before it is raised again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from impala_copy.api.partitions import PARTITION_INDEX_ENV
from impala_copy.api.plan import PLAN_ENV, TASK_COPY, CopyPlan, Partition
from impala_copy.api.summary import PartitionCount, RunError, RunSummary
from impala_copy.engine.commit_run import commit_run
from impala_copy.engine.errors import EXIT_TRANSIENT
from impala_copy.engine.main import TERMINATION_LOG_ENV
from impala_copy.engine.partition_task import partition_plan_summary
from impala_copy.engine.run import RunOutcome

# How often the running processes are looked at.
POLL_SECONDS = 0.05
# What a copy process runs: the pod's command, without the CLI around it.
ENGINE_COMMAND = (sys.executable, "-m", "impala_copy.engine.main", TASK_COPY)


@dataclass(frozen=True)
class IndexOutcome:
    """How one partition's process ended."""

    index: int
    summary: RunSummary
    exit_code: int


def run_partitioned(
    plan: CopyPlan, secrets: Mapping[str, str], parallel: int, environ: Mapping[str, str]
) -> RunOutcome:
    """Plan, copy every partition in its own process (at most `parallel` at once), commit."""
    planned, code = partition_plan_summary(plan, secrets)
    if planned.status != "Succeeded":
        error = planned.error or RunError(code="PartitionPlanFailed", message="the partition plan failed")
        return RunOutcome(RunSummary(status="Failed", errors=[error]), code)
    plan = plan.model_copy(update={"partitions": [Partition.model_validate(p) for p in planned.partitions]})
    outcomes = run_indexes(plan, secrets, parallel, environ)
    failed = [o for o in outcomes if o.exit_code != 0 or o.summary.status != "Succeeded"]
    if failed:
        return RunOutcome(failed_run(outcomes, failed), failed[0].exit_code or EXIT_TRANSIENT)
    return commit_run(plan, secrets)


def run_indexes(
    plan: CopyPlan, secrets: Mapping[str, str], parallel: int, environ: Mapping[str, str]
) -> list[IndexOutcome]:
    """Run the copy task of every partition as a local process, at most `parallel` at once."""
    waiting = list(range(len(plan.partitions)))
    running: dict[int, subprocess.Popen[bytes]] = {}
    done: list[IndexOutcome] = []
    with tempfile.TemporaryDirectory(prefix="impala-copy-partitions-") as folder:
        base = {**environ, **secrets, PLAN_ENV: plan.model_dump_json(by_alias=True)}
        try:
            while waiting or running:
                while waiting and len(running) < max(1, parallel):
                    index = waiting.pop(0)
                    running[index] = _start(base, index, Path(folder))
                for index, process in list(running.items()):
                    if process.poll() is not None:
                        del running[index]
                        done.append(_ended(index, process.returncode, Path(folder)))
                time.sleep(POLL_SECONDS if running else 0)
        except BaseException:
            _stop(running)
            raise
    return sorted(done, key=lambda o: o.index)


def _log(folder: Path, index: int) -> Path:
    return folder / f"partition-{index:05d}.json"


def _start(base: Mapping[str, str], index: int, folder: Path) -> subprocess.Popen[bytes]:
    env = {**base, PARTITION_INDEX_ENV: str(index), TERMINATION_LOG_ENV: str(_log(folder, index))}
    return subprocess.Popen(ENGINE_COMMAND, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _ended(index: int, exit_code: int, folder: Path) -> IndexOutcome:
    try:
        summary = RunSummary.model_validate(json.loads(_log(folder, index).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        message = f"the process of partition {index} ended with exit code {exit_code} and no summary"
        summary = RunSummary(status="Failed", errors=[RunError(code="CopyFailed", message=message)])
        exit_code = exit_code or EXIT_TRANSIENT
    return IndexOutcome(index, summary, exit_code)


def _stop(running: Mapping[int, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every process still running (those this run started), then wait for them."""
    for process in running.values():
        process.terminate()
    for process in running.values():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def failed_run(outcomes: list[IndexOutcome], failed: list[IndexOutcome]) -> RunSummary:
    """The run's summary when partitions failed: what was read, the failed partitions, the first error."""
    first = failed[0]
    errors = first.summary.errors or [RunError(code="CopyFailed", message="the partition failed")]
    names = ", ".join(str(o.index) for o in failed)
    message = f"{len(failed)} of {len(outcomes)} partitions failed ({names}); nothing was published. "
    return RunSummary(
        status="Failed",
        rows_read=sum(o.summary.rows_read for o in outcomes),
        data_read=sum(o.summary.data_read for o in outcomes),
        errors=[
            RunError(code=e.code, message=message + f"Partition {first.index}: {e.message}") for e in errors
        ],
        partitions=[_count(o) for o in outcomes],
    )


def _count(outcome: IndexOutcome) -> PartitionCount:
    s = outcome.summary
    return PartitionCount(
        index=outcome.index,
        rows_read=s.rows_read,
        rows_copied=s.rows_copied,
        data_read=s.data_read,
        data_written=s.data_written,
        files_written=s.files_written,
        copy_duration=s.copy_duration,
    )


__all__ = ["ENGINE_COMMAND", "IndexOutcome", "failed_run", "run_indexes", "run_partitioned"]
