"""`impala-copy engine`: the entry point of the Job pod.

In:  the CopyPlan as JSON in the environment variable IMPALA_COPY_PLAN; each secret in the
     environment variable its SecretRef names (`valueFrom.secretKeyRef` in the Job); CA files at the
     paths its CertRefs name.
Out: the RunSummary as compact JSON, written to the termination message file (`/dev/termination-log`,
     or the file named by IMPALA_COPY_TERMINATION_LOG; at most 4 KiB) and printed on stdout;
     progress lines on stderr; exit code 0 (succeeded), 1 (failed, a retry may help) or
     2 (failed, configuration: retrying is pointless).
SIGTERM (the Job or pod being deleted) aborts the run like a failure: nothing is published.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from types import FrameType

from pydantic import ValidationError

from impala_copy.api.plan import PLAN_ENV, CopyPlan
from impala_copy.api.summary import RunError, RunSummary
from impala_copy.engine.errors import EXIT_CONFIGURATION, EXIT_TRANSIENT
from impala_copy.engine.pipeline import Progress

TERMINATION_LOG_ENV = "IMPALA_COPY_TERMINATION_LOG"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
PROGRESS_EVERY_SECONDS = 10.0

log = logging.getLogger("impala_copy.engine")


class Terminated(BaseException):
    """SIGTERM arrived: stop the run (sinks abort on BaseException)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def load_plan(environ: Mapping[str, str]) -> CopyPlan:
    raw = environ.get(PLAN_ENV)
    if not raw:
        raise ValueError(f"environment variable {PLAN_ENV} is not set: it must hold the CopyPlan as JSON")
    try:
        return CopyPlan.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(
            f"{PLAN_ENV} is not a valid CopyPlan ({exc.error_count()} errors; {where}: {first['msg']})"
        ) from None


def secrets_from(plan: CopyPlan, environ: Mapping[str, str]) -> dict[str, str]:
    """The plan's secrets found in the environment; a missing one fails later, naming its Secret and key."""
    return {ref.env: environ[ref.env] for ref in plan.secret_refs() if ref.env in environ}


class ProgressLog:
    """Logs a progress line at most every PROGRESS_EVERY_SECONDS."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_SECONDS:
            self._last = now
            log.info(
                "progress rows=%d rowsPerSecond=%.0f dataRead=%d",
                p.rows_written,
                p.rows_per_second,
                p.data_read,
            )


def write_termination_message(summary: RunSummary, environ: Mapping[str, str]) -> str:
    message = summary.to_termination_message()
    path = environ.get(TERMINATION_LOG_ENV, DEFAULT_TERMINATION_LOG)
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(message)
    except OSError as exc:
        log.warning("cannot write the termination message to %s: %s", path, exc)
    return message


def run(environ: Mapping[str, str]) -> int:
    """The engine's whole job; returns the exit code."""
    from impala_copy.engine.run import execute  # imports the HiveServer2 client only when there is work

    try:
        plan = load_plan(environ)
    except ValueError as exc:
        failed = RunSummary(status="Failed", errors=[RunError(code="InvalidConfiguration", message=str(exc))])
        print(write_termination_message(failed, environ))
        return EXIT_CONFIGURATION
    log.info("run %s of CopyActivity %s/%s started", plan.run_id, plan.namespace, plan.activity)
    try:
        outcome = execute(plan, secrets_from(plan, environ), progress=ProgressLog())
        summary, code = outcome.summary, outcome.exit_code
    except (Terminated, KeyboardInterrupt):
        summary = RunSummary(
            status="Failed", errors=[RunError(code="Terminated", message="the run was stopped by a signal")]
        )
        code = EXIT_TRANSIENT
    if plan.secure_output:
        summary.output_paths = []
    log.info(
        "run %s %s: rowsCopied=%d filesWritten=%d copyDuration=%.1fs",
        plan.run_id, summary.status, summary.rows_copied, summary.files_written, summary.copy_duration,
    )  # fmt: skip
    print(write_termination_message(summary, environ), flush=True)
    return code


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    return run(os.environ)


if __name__ == "__main__":
    sys.exit(main())
