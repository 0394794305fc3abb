"""The bodies of `impala-copy validate` and `impala-copy run` (cli.py declares their options).

Each returns the exit code and prints: results on stdout, progress and the one-line error on
stderr. Nothing escapes as a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from rich.console import Console

from impala_copy.cli import local, manifests, report

EXIT_INVALID = 1
EXIT_INTERRUPTED = 130

OutputFormat = Literal["text", "json"]


def validate(path: Path, namespace: str, *, out: Console | None = None, err: Console | None = None) -> int:
    out = out or Console(highlight=False, soft_wrap=True)
    err = err or Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        loaded = manifests.load(path, namespace)
    except FileNotFoundError as exc:
        err.print(report.error_line("FileNotFound", str(exc)), markup=False)
        return local.SetupError.exit_code
    errors = manifests.validate_all(loaded)
    if errors:
        for error in errors:
            out.print(str(error), markup=False)
        err.print(f"{len(errors)} error(s) in {len(loaded.files)} file(s)", markup=False)
        return EXIT_INVALID
    objects = len(loaded.entries) + len(loaded.secrets) + len(loaded.config_maps)
    out.print(f"{objects} object(s) in {len(loaded.files)} file(s): valid", markup=False)
    return 0


def run(
    path: Path,
    activity: str,
    *,
    namespace: str,
    volumes: list[str],
    volume_root: str,
    output: OutputFormat,
    out: Console | None = None,
    err: Console | None = None,
) -> int:
    out = out or Console(highlight=False, soft_wrap=True)
    err = err or Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        loaded = manifests.load(path, namespace)
        with report.live_progress(err, activity) as progress:
            _, outcome = local.run_activity(
                loaded,
                activity,
                namespace=namespace,
                volumes=local.parse_volumes(volumes),
                volume_root=volume_root,
                environ=os.environ,
                progress=progress,
            )
    except FileNotFoundError as exc:
        err.print(report.error_line("FileNotFound", str(exc)), markup=False)
        return local.SetupError.exit_code
    except local.SetupError as exc:
        err.print(report.error_line(exc.code, exc.message), markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print(
            report.error_line("Interrupted", "the copy was interrupted; nothing was published"), markup=False
        )
        return EXIT_INTERRUPTED
    summary = outcome.summary
    if output == "json":
        out.print(report.summary_json(summary), markup=False, highlight=False)
    else:
        out.print(report.summary_table(summary, title=f"CopyActivity {activity}"))
    if not summary.succeeded:
        first = summary.errors[0] if summary.errors else None
        err.print(
            report.error_line(
                first.code if first else "CopyFailed", first.message if first else "the copy failed"
            ),
            markup=False,
        )
    return outcome.exit_code
