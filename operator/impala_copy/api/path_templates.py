"""File paths with placeholders: a file dataset's folderPath and fileName, a sink's fileNamePrefix.

    folderPath: orders/dt={windowStart:yyyy-MM-dd}      ->  orders/dt=2026-12-01
    fileName:   orders_{windowStart:yyyyMMddHH}.parquet ->  orders_2026120100.parquet

A rendered path goes through the same rules as a literal one (api/paths.py): no leading '/', no '.'
or '..' segment, no `_temporary` segment, no '\\' or control character; a fileName or a
fileNamePrefix stays one segment (no '/'), and a fileNamePrefix keeps to letters, digits, '_', '.'
and '-'. So a format may put '/' into a folderPath (`{windowStart:yyyy/MM/dd}`), never into a name.

A template is checked when its object is read (`check_template`: its placeholders are known, their
formats valid, and it renders, with sample values, to a path the rules accept); the engine renders
it with the run's values and checks the result again (`render_template`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from impala_copy.api.paths import (
    NOT_PREFIX_CHARACTER,
    Check,
    file_name_checks,
    folder_checks,
    path_problem,
)
from impala_copy.api.placeholder_rendering import render_text
from impala_copy.api.placeholders import (
    RUN_ID,
    SCHEDULED_TIME,
    TRIGGER_TIME,
    WINDOW_END,
    WINDOW_START,
    PlaceholderError,
    Value,
    find,
    shown,
)


@dataclass(frozen=True)
class PathField:
    """A path field that may hold placeholders, and the rules its rendered value must keep."""

    wire: str
    checks: tuple[Check, ...]


FOLDER_PATH = PathField("folderPath", folder_checks("folderPath"))
FILE_NAME = PathField("fileName", file_name_checks("fileName"))
FILE_NAME_PREFIX = PathField(
    "fileNamePrefix",
    (
        *file_name_checks("fileNamePrefix", characters=False),
        (NOT_PREFIX_CHARACTER, "fileNamePrefix may hold only letters, digits, '_', '.' and '-'"),
    ),
)

# Values a template is tried with when it is checked.
SAMPLE_VALUES: dict[str, Value] = {
    WINDOW_START: datetime(2026, 12, 1, tzinfo=UTC),
    WINDOW_END: datetime(2026, 12, 2, tzinfo=UTC),
    TRIGGER_TIME: datetime(2026, 12, 2, 0, 5, tzinfo=UTC),
    SCHEDULED_TIME: datetime(2026, 12, 2, tzinfo=UTC),
    RUN_ID: "run-20261202-000500",
}


def render_template(template: str, field: PathField, values: Mapping[str, Value]) -> str:
    """The path with its placeholders rendered, or PlaceholderError naming the template and the rule."""
    rendered = render_text(template, values, field=field.wire)
    problem = "it is empty" if not rendered else path_problem(rendered, field.checks)
    if problem is not None:
        raise PlaceholderError(f"{field.wire} {shown(template)} renders to {shown(rendered)}: {problem}")
    return rendered


def check_template(template: str, field: PathField) -> str:
    """`template` when its placeholders are valid and it renders to an allowed path; else ValueError.

    A path without placeholders is left to the rules of its model (api/paths.py), which judge it as is.
    """
    if find(template, sql=False):
        render_template(template, field, SAMPLE_VALUES)
    return template


__all__ = [
    "FILE_NAME",
    "FILE_NAME_PREFIX",
    "FOLDER_PATH",
    "SAMPLE_VALUES",
    "PathField",
    "check_template",
    "render_template",
]
