"""The bodies of `impala-copy validate` and `impala-copy run` (cli/app.py declares their options).

Each returns the exit code and prints: results on stdout, progress and the one-line error on
stderr (cli/failures.py), everything escaped (cli/report.py). Nothing escapes as a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from rich.console import Console

from impala_copy.api.summary import RunSummary
from impala_copy.cli import local, manifests, report
from impala_copy.cli.failures import one_line_errors, stderr_console, stdout_console
from impala_copy.cli.watermark_state import WatermarkOptions, store_watermark, with_low_watermark

EXIT_INVALID = 1

OutputFormat = Literal["text", "json"]


def validate(path: Path, namespace: str, *, out: Console | None = None, err: Console | None = None) -> int:
    out = out or stdout_console()
    err = err or stderr_console()
    with one_line_errors(err) as failure:
        local.check_namespace(namespace)
        loaded = manifests.load(path, namespace)
    if failure.exit_code is not None:
        return failure.exit_code
    errors = manifests.validate_all(loaded)
    if errors:
        for error in errors:
            report.say(out, error)
        report.say(err, f"{len(errors)} error(s) in {len(loaded.files)} file(s)")
        return EXIT_INVALID
    objects = len(loaded.entries) + len(loaded.secrets) + len(loaded.config_maps)
    report.say(out, f"{objects} object(s) in {len(loaded.files)} file(s): valid")
    return 0


def run(
    path: Path,
    activity: str,
    *,
    namespace: str,
    volumes: list[str],
    volume_root: str,
    output: OutputFormat,
    times: local.RunTimes | None = None,
    watermark: WatermarkOptions | None = None,
    parallel: int | None = None,
    out: Console | None = None,
    err: Console | None = None,
) -> int:
    out = out or stdout_console()
    err = err or stderr_console()
    options = watermark or WatermarkOptions()
    with one_line_errors(err, interrupted="the copy was interrupted; nothing was published") as failure:
        loaded = local.load_manifests(path, namespace)
        with report.live_progress(err, activity) as progress:
            plan, outcome = local.run_activity(
                loaded,
                activity,
                namespace=namespace,
                volumes=local.parse_volumes(volumes),
                volume_root=volume_root,
                environ=os.environ,
                progress=progress,
                times=times,
                prepare=lambda resolved: with_low_watermark(resolved, options),
                parallel=parallel,
            )
    if failure.exit_code is not None:
        return failure.exit_code
    summary = outcome.summary
    _report(out, err, summary, activity, output)
    if options.state_file is not None:
        with one_line_errors(err) as failure:
            store_watermark(plan, summary, options.state_file)
        if failure.exit_code is not None:
            return failure.exit_code
    return outcome.exit_code


def _report(out: Console, err: Console, summary: RunSummary, activity: str, output: OutputFormat) -> None:
    """Print the summary, and the first error on stderr."""
    if output == "json":
        report.say(out, report.summary_json(summary), newlines=True)
    else:
        out.print(report.summary_table(summary, title=f"CopyActivity {activity}"))
    if not summary.succeeded:
        first = summary.errors[0] if summary.errors else None
        code, message = (first.code, first.message) if first else ("CopyFailed", "the copy failed")
        report.say(err, report.error_line(code, message))
