"""The watermark of an incremental copy run from the CLI: `--watermark VALUE` and `--state-file PATH`.

The state file is a small JSON object the user names:

    {"activity": "orders", "column": "order_id", "watermark": "1042", "runId": "local-...", "time": "..."}

It is read before the run (a missing file: the run starts at initialValue) and replaced atomically
(a temporary file in the same folder, then a rename) only after a run that succeeded, i.e. after the
sink committed; a failed or interrupted run leaves it as it was. `--watermark` sets the low watermark of
this run (it wins over the file), like the operator's impalacopy.io/reset-watermark annotation.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from impala_copy.api.incremental import IncrementalPlan, watermark_text_problem
from impala_copy.api.plan import CopyPlan
from impala_copy.api.summary import RunSummary
from impala_copy.cli.local import SetupError

STATE_FILE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class WatermarkOptions:
    """What the command line says about the watermark."""

    watermark: str | None = None
    state_file: Path | None = None

    @property
    def given(self) -> bool:
        return self.watermark is not None or self.state_file is not None


def _invalid(message: str) -> SetupError:
    return SetupError("InvalidArgument", message)


def read_state(path: Path, column: str) -> str | None:
    """The watermark a state file holds for `column` (None when the file does not exist yet)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(STATE_FILE_LIMIT + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _invalid(f"--state-file {str(path)!r} cannot be read: {exc.strerror}") from None
    if len(raw) > STATE_FILE_LIMIT:
        raise _invalid(f"--state-file {str(path)!r} is larger than {STATE_FILE_LIMIT} bytes")
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _invalid(f"--state-file {str(path)!r} is not a JSON object") from None
    value = data.get("watermark") if isinstance(data, dict) else None
    if not isinstance(value, str) or watermark_text_problem(value):
        raise _invalid(f'--state-file {str(path)!r} holds no valid "watermark" text')
    if data.get("column") != column:
        raise _invalid(
            f"--state-file {str(path)!r} holds a watermark of column {str(data.get('column'))!r}, not of "
            f"{column!r}: pass --watermark, or name another state file"
        )
    return value


def with_low_watermark(plan: CopyPlan, options: WatermarkOptions) -> CopyPlan:
    """The plan with the run's low watermark from --watermark, else the state file, else initialValue."""
    if not options.given:
        return plan
    if plan.incremental is None:
        raise _invalid(
            f"--watermark and --state-file apply to an incremental copy; CopyActivity {plan.activity!r} "
            "has no source.incremental"
        )
    low = options.watermark
    if low is not None:
        problem = watermark_text_problem(low)
        if problem:
            raise _invalid(f"--watermark: {problem}")
    elif options.state_file is not None:
        low = read_state(options.state_file, plan.incremental.column)
    if low is None:
        return plan
    incremental = IncrementalPlan(column=plan.incremental.column, low=low, lookback=plan.incremental.lookback)
    return plan.model_copy(update={"incremental": incremental})


def store_watermark(plan: CopyPlan, summary: RunSummary, path: Path) -> bool:
    """Write a succeeded run's new watermark to the state file atomically; False: nothing to write."""
    if plan.incremental is None or not summary.succeeded or summary.watermark is None:
        return False
    state = {
        "activity": plan.activity,
        "column": plan.incremental.column,
        "watermark": summary.watermark,
        "runId": plan.run_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    try:
        _replace(path, json.dumps(state, indent=2) + "\n")
    except OSError as exc:
        raise SetupError(
            "StateFileNotWritten",
            f"the copy committed but --state-file {str(path)!r} could not be written ({exc.strerror}); "
            f"the new watermark is {summary.watermark}",
        ) from None
    return True


def _replace(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path` (all or nothing)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


__all__ = ["WatermarkOptions", "read_state", "store_watermark", "with_low_watermark"]
