"""Writing placeholders (api/placeholders.py) with the run's values: into a query, into plain text.

In a query (`render_sql`) each placeholder becomes a SQL literal of its type, never spliced user text:

    where it stands         a time                                  formatted time / runId
    in SQL code             CAST('2026-12-01 00:00:00' AS TIMESTAMP) '2026-12-01' (a string literal)
    in a '...' or "..."     2026-12-01 00:00:00 (the bare value)     2026-12-01 (the bare value)
    in `...` or a comment   the bare value, as in a string

The bare value inside a string literal is what ADF's idiom `'@{trigger().outputs.windowStartTime}'`
needs; it is escaped for that literal (it is our own value, never user data). A time's bare value is
the same text as in the TIMESTAMP literal, so `ts >= '{windowStart}'` and `ts >= {windowStart}`
compare alike on Impala and Spark. A value that cannot stand where it is (a control character, a
backtick in an identifier, `*/` in a comment) is refused.

In plain text (`render_text`: a file path, an additional column's value) a time without a format is
RFC 3339 (`2026-12-01T00:00:00Z`); a rendered path is checked by api/path_templates.py.

A `SqlFragment` (SQL the engine built) is written as it is, in SQL code only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from impala_copy.api.placeholders import (
    NAMES,
    Found,
    PlaceholderError,
    SqlFragment,
    Value,
    Where,
    find,
    shown,
)
from impala_copy.api.time_formats import format_time


class MissingValue(PlaceholderError):
    """A placeholder the run has no value for."""

    def __init__(self, found: Found, field: str) -> None:
        self.found = found
        super().__init__(f"{shown(found.text)} in {field} has no value: {NAMES[found.name].without}")


def render_sql(query: str, values: Mapping[str, Value], *, field: str = "source.query") -> str:
    """The query with every placeholder written as a SQL literal of its type (see the module)."""
    return _render(query, find(query, sql=True), values, field)


def render_text(template: str, values: Mapping[str, Value], *, field: str) -> str:
    """Plain text (a path, not yet checked as one; a column value) with its placeholders' values."""
    return _render(template, find(template, sql=False), values, field)


def _render(text: str, found: list[Found], values: Mapping[str, Value], field: str) -> str:
    pieces: list[str] = []
    pos = 0
    for item in found:
        value = values.get(item.name)
        if value is None:
            raise MissingValue(item, field)
        pieces += [text[pos : item.start], _written(item, value)]
        pos = item.end
    pieces.append(text[pos:])
    return "".join(pieces)


def _written(item: Found, value: Value) -> str:
    if isinstance(value, SqlFragment):
        if item.where != Where.CODE:
            raise PlaceholderError(
                f"{item.text} is SQL built by the engine: write it in SQL code, not in a quoted string, "
                "an identifier, a comment, a path or a column value"
            )
        return value.sql
    if isinstance(value, datetime):
        utc = value.astimezone(UTC)
        if item.format is not None:
            text = format_time(utc, item.format)
        else:
            text = rfc3339(utc) if item.where == Where.TEXT else sql_time(utc)
        if item.where == Where.CODE:
            literal = string_literal(text)
            return literal if item.format is not None else f"CAST({literal} AS TIMESTAMP)"
    else:
        text = value
        if item.where == Where.CODE:
            return string_literal(text)
    return _bare(item, text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _bare(item: Found, text: str) -> str:
    """The value as written inside a string literal, an identifier, a comment or plain text."""
    if _CONTROL.search(text):
        raise PlaceholderError(f"the value of {item.text} contains a control character")
    if item.where == Where.STRING:
        return escape_string(text, item.quote)
    if item.where == Where.IDENTIFIER and "`" in text:
        raise PlaceholderError(f"the value of {item.text} contains a backtick: it cannot be in `...`")
    if item.where == Where.COMMENT and "*/" in text:
        raise PlaceholderError(f"the value of {item.text} contains */: it cannot be in a comment")
    return text


def escape_string(text: str, quote: str) -> str:
    """Text escaped for a SQL string literal in `quote` (Impala and Hive/Spark read backslash escapes)."""
    return text.replace("\\", "\\\\").replace(quote, "\\" + quote)


def string_literal(text: str) -> str:
    """A single-quoted SQL string literal holding `text`."""
    return "'" + escape_string(text, "'") + "'"


def sql_time(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]`: the text Impala and Spark both read as a TIMESTAMP."""
    text = format_time(value, "yyyy-MM-dd HH:mm:ss")
    return f"{text}.{value.microsecond:06d}".rstrip("0") if value.microsecond else text


def rfc3339(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS[.ffffff]Z` of a UTC time."""
    text = format_time(value, "yyyy-MM-ddTHH:mm:ss")
    return (f"{text}.{value.microsecond:06d}".rstrip("0") if value.microsecond else text) + "Z"


__all__ = [
    "MissingValue",
    "escape_string",
    "render_sql",
    "render_text",
    "rfc3339",
    "sql_time",
    "string_literal",
]
