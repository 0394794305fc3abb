"""Rules that keep written paths inside their location: folderPath, fileName, fileNamePrefix.

Each rule is a `Rule` (CEL for the API server, the same regular expression in Python), so
`kubectl apply` and `impala-copy validate` refuse the same paths with the same message:
- no character that is a control character (NUL included) or a backslash, and no '/' in a name;
- folderPath is relative (no leading '/');
- no '.' or '..' segment, so nothing climbs out of the volume, bucket or container;
- no segment named like the staging folder (`_temporary`) of the file sinks' commit protocol.
`a...b` or `x..y` inside a name stay legal: only whole segments are judged.

The file sinks check again where they write (engine/sinks/confined.py): the rules are the first line.
"""

from __future__ import annotations

import re

from impala_copy.api.rules import Rule, written

# The staging folder of the file sinks (engine/sinks/commit.py takes its name from here).
STAGING_DIR = "_temporary"

CONTROL_OR_BACKSLASH = r"[\\\x00-\x1f\x7f-\x9f]"
CONTROL_BACKSLASH_OR_SLASH = r"[/\\\x00-\x1f\x7f-\x9f]"
DOT_SEGMENT = r"(^|/)[.][.]?(/|$)"
STAGING_SEGMENT = rf"(^|/){STAGING_DIR}(/|$)"
LEADING_SLASH = r"^/"
# What fileNamePrefix may hold once its placeholders are rendered.
NOT_PREFIX_CHARACTER = r"[^A-Za-z0-9_.\-]"


def _cel_string(regex: str) -> str:
    """A CEL string literal whose value is `regex`."""
    return "'" + regex.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _forbid(field: str, wire: str, regex: str, message: str) -> Rule:
    """A rule: when `wire` (camelCase) is written, it has no match of `regex`."""
    return Rule(
        cel=f"!has(self.{wire}) || !self.{wire}.matches({_cel_string(regex)})",
        message=message,
        check=lambda m: not written(m, field) or re.search(regex, getattr(m, field)) is None,
    )


Check = tuple[str, str]  # (regular expression a path must not match, the message when it does)


def folder_checks(wire: str) -> tuple[Check, ...]:
    """What a relative folder below a location (folderPath) must not match."""
    return (
        (LEADING_SLASH, f"{wire} must be relative: no leading '/'"),
        (CONTROL_OR_BACKSLASH, f"{wire} must not contain '\\' or control characters"),
        (DOT_SEGMENT, f"{wire} must not have a '.' or '..' segment"),
        (STAGING_SEGMENT, f"{wire} must not have a segment named {STAGING_DIR} (the staging folder)"),
    )


def file_name_checks(wire: str, *, characters: bool = True) -> tuple[Check, ...]:
    """What one path segment (fileName, fileNamePrefix) must not match. `characters=False` where a
    pattern already limits them."""
    checks: tuple[Check, ...] = (
        (DOT_SEGMENT, f"{wire} must not be '.' or '..'"),
        (STAGING_SEGMENT, f"{wire} must not be {STAGING_DIR} (the staging folder)"),
    )
    if not characters:
        return checks
    return ((CONTROL_BACKSLASH_OR_SLASH, f"{wire} must not contain '/', '\\' or control characters"), *checks)


def folder_rules(field: str, wire: str) -> tuple[Rule, ...]:
    """A relative folder below a location (folderPath)."""
    return tuple(_forbid(field, wire, regex, message) for regex, message in folder_checks(wire))


def file_name_rules(field: str, wire: str, *, characters: bool = True) -> tuple[Rule, ...]:
    """One path segment (fileName, fileNamePrefix)."""
    checks = file_name_checks(wire, characters=characters)
    return tuple(_forbid(field, wire, regex, message) for regex, message in checks)


def path_problem(value: str, checks: tuple[Check, ...]) -> str | None:
    """The message of the first check `value` breaks (a path after its placeholders were rendered)."""
    return next((message for regex, message in checks if re.search(regex, value)), None)


def unsafe_segment(name: str) -> str | None:
    """Why `name` cannot be one segment of a path a sink writes, or None when it can."""
    if not name:
        return "is empty"
    if re.search(CONTROL_BACKSLASH_OR_SLASH, name):
        return "contains '/', '\\' or a control character"
    if name in (".", ".."):
        return "is '.' or '..'"
    return None
