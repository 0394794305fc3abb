"""Placeholders: the run's window, trigger time, scheduled time and id in a query or a file path.

Our spelling is `{name}` or `{name:format}`; ADF's spellings of the same values are understood too,
so a query pasted from ADF works unchanged:

    {windowStart}     @{trigger().outputs.windowStartTime}   start of the run's window (inclusive)
    {windowEnd}       @{trigger().outputs.windowEndTime}     end of the run's window (exclusive)
    {triggerTime}     @{pipeline().TriggerTime}, @{trigger().startTime}
    {scheduledTime}   @{trigger().scheduledTime}             the cron or window time the run is for
    {runId}           @{pipeline().RunId}
    {windowStart:yyyy-MM-dd}  @{formatDateTime(trigger().outputs.windowStartTime, 'yyyy-MM-dd')}

Only these names are placeholders: any other `{...}` (a regular expression's `a{2}`, JSON text) is
left as written. Anything else that looks like an ADF expression (`@{...}`, `@pipeline()...`,
`@activity(...)`) is an error naming it: it is never sent to Impala.

A format is made of yyyy, MM, dd, HH, mm, ss (.NET's custom format letters, as ADF's formatDateTime
reads them) and literal characters (api/time_formats.py); times are in UTC.

`find` reads a query as SQL: it knows which placeholder stands in a string literal ('...' or "...",
with backslash escapes), a quoted identifier (`...`) or a comment (-- or /* */), which decides how it
is written (api/placeholder_rendering.py). A placeholder is matched before the SQL around it, so the
quotes of an ADF format inside a string literal ('@{formatDateTime(..., 'yyyy')}') do not end it.

The engine may add values of its own that are already safe SQL (`SqlFragment`, e.g. a predicate it
built): a name of kind `sql` in NAMES. ADF's `?AdfDynamicRangePartitionCondition` is one: where a
DynamicRange partition's predicate goes (api/partitions.py); it has no `{...}` spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from impala_copy.api.partitions import PARTITION_CONDITION
from impala_copy.api.time_formats import check_format

WINDOW_START = "windowStart"
WINDOW_END = "windowEnd"
TRIGGER_TIME = "triggerTime"
SCHEDULED_TIME = "scheduledTime"
RUN_ID = "runId"
INCREMENTAL_RANGE_NAME = "incrementalRange"  # the range predicate of an incremental copy
# The predicate of a DynamicRange partition: named by ADF's hook itself, which `{...}` cannot spell.
PARTITION_CONDITION_NAME = PARTITION_CONDITION

# Longest piece of a query or path quoted in a message.
SHOWN_CHARACTERS = 80


class PlaceholderError(ValueError):
    """A placeholder that cannot be used, or an expression that is not one: the message names it."""


class ValueKind(StrEnum):
    TIME = "time"  # a datetime
    TEXT = "text"  # a str
    SQL = "sql"  # a SqlFragment the engine built


class Needs(StrEnum):
    """What a spec needs for a placeholder to have a value."""

    NOTHING = "nothing"
    SCHEDULE = "schedule"  # spec.schedule (cron or window)
    WINDOW = "window"  # spec.schedule.window


@dataclass(frozen=True)
class Name:
    """One placeholder name: the kind of its value, what it needs, its ADF spellings, why it may lack."""

    kind: ValueKind
    needs: Needs
    adf: tuple[str, ...] = ()
    without: str = "this run has no value for it"


NAMES: dict[str, Name] = {
    WINDOW_START: Name(
        ValueKind.TIME,
        Needs.WINDOW,
        ("trigger().outputs.windowStartTime",),
        "this run has no window (runs of spec.schedule.window have one; `impala-copy run` takes "
        "--window-start and --window-end)",
    ),
    WINDOW_END: Name(
        ValueKind.TIME,
        Needs.WINDOW,
        ("trigger().outputs.windowEndTime",),
        "this run has no window (runs of spec.schedule.window have one; `impala-copy run` takes "
        "--window-start and --window-end)",
    ),
    TRIGGER_TIME: Name(ValueKind.TIME, Needs.NOTHING, ("pipeline().TriggerTime", "trigger().startTime")),
    SCHEDULED_TIME: Name(
        ValueKind.TIME,
        Needs.SCHEDULE,
        ("trigger().scheduledTime",),
        "this run was not started by its schedule (`impala-copy run` takes --scheduled-time)",
    ),
    RUN_ID: Name(ValueKind.TEXT, Needs.NOTHING, ("pipeline().RunId",)),
    # Needs source.incremental: the rules of ImpalaSource refuse it without (api/activities.py).
    INCREMENTAL_RANGE_NAME: Name(
        ValueKind.SQL, Needs.NOTHING, without="only an incremental copy (source.incremental) has a range"
    ),
    # Needs source.partitionOption DynamicRange: the rules of ImpalaSource refuse it without.
    PARTITION_CONDITION_NAME: Name(
        ValueKind.SQL,
        Needs.NOTHING,
        without="only a DynamicRange partitioned copy (source.partitionOption) has a partition predicate",
    ),
}


@dataclass(frozen=True)
class SqlFragment:
    """SQL the engine built itself (a predicate, a literal): written into a query as it is."""

    sql: str


Value = datetime | str | SqlFragment


class Where(StrEnum):
    """What surrounds a placeholder."""

    CODE = "code"  # SQL outside any literal or comment
    STRING = "string"  # inside a '...' or "..." string literal
    IDENTIFIER = "identifier"  # inside a `...` quoted identifier
    COMMENT = "comment"  # inside -- ... or /* ... */
    TEXT = "text"  # plain text: a file path, an additional column's value


@dataclass(frozen=True)
class Found:
    """One placeholder in a text: its name, format, text as written, where it stands."""

    name: str
    format: str | None
    text: str
    start: int
    end: int
    where: Where
    quote: str = ""  # the quote character of the string literal it stands in


def shown(text: str) -> str:
    """A piece of a query or path as a message quotes it (shortened)."""
    return repr(text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "...")


# ------------------------------------------------------------------------------------------ finding

_TOKENS = (
    r"(?P<hook>" + re.escape(PARTITION_CONDITION) + r")|"
    r"(?P<ours>\{(?P<name>[A-Za-z]+)(?::(?P<fmt>[^{}]*))?\})"
    r"|(?P<adf>@\{)"
    r"|(?P<call>@[A-Za-z_][A-Za-z0-9_]*\s*\()"
)
# Lexer states of a query: what ends them (the token patterns are searched for in every state).
_SCANNERS: dict[str, re.Pattern[str]] = {
    "code": re.compile(_TOKENS + r"|(?P<open>['\"`]|--|/\*)"),
    "'": re.compile(_TOKENS + r"|(?P<skip>\\.)|(?P<close>')", re.S),
    '"': re.compile(_TOKENS + r"|(?P<skip>\\.)|(?P<close>\")", re.S),
    "`": re.compile(_TOKENS + r"|(?P<close>`)"),
    "--": re.compile(_TOKENS + r"|(?P<close>\n)"),
    "/*": re.compile(_TOKENS + r"|(?P<close>\*/)"),
    "text": re.compile(_TOKENS),
}
_WHERE = {
    "code": Where.CODE,
    "'": Where.STRING,
    '"': Where.STRING,
    "`": Where.IDENTIFIER,
    "--": Where.COMMENT,
    "/*": Where.COMMENT,
    "text": Where.TEXT,
}
# A whole ADF call as a message names it: @name(...) and what follows (.property, [index], ?.property).
_CALL = re.compile(r"@[A-Za-z_]\w*\s*\((?:[^()]|\([^()]*\))*\)(?:\??\.\w+|\[[^\]]*\])*")


def find(text: str, *, sql: bool) -> list[Found]:
    """Every placeholder of a query (`sql=True`: SQL literals, identifiers and comments tracked) or a text.

    PlaceholderError names the first expression that is not a supported placeholder, or a bad format.
    """
    state = "code" if sql else "text"
    pos = 0
    found: list[Found] = []
    while (match := _SCANNERS[state].search(text, pos)) is not None:
        pos = match.end()
        if match.group("hook"):
            found.append(
                Found(
                    PARTITION_CONDITION_NAME,
                    None,
                    match.group(),
                    match.start(),
                    pos,
                    _WHERE[state],
                    _quote(state),
                )
            )
        elif match.group("ours"):
            if match.group("name") in NAMES:
                found.append(_ours(match, state))
            else:
                pos = match.start() + 1  # not ours: left as written
        elif match.group("adf"):
            found.append(_interpolation(text, match.start(), state))
            pos = found[-1].end
        elif match.group("call"):
            call = _CALL.match(text, match.start())
            raise unsupported(call.group() if call else text[match.start() :])
        elif match.groupdict().get("open"):
            state = match.group("open")
        elif match.groupdict().get("close"):
            state = "code"
    return found


def _ours(match: re.Match[str], state: str) -> Found:
    name, fmt = match.group("name"), match.group("fmt")
    text = match.group("ours")
    _check_format(name, fmt, text)
    return Found(name, fmt, text, match.start(), match.end(), _WHERE[state], _quote(state))


def _quote(state: str) -> str:
    return state if state in ("'", '"') else ""


def _check_format(name: str, fmt: str | None, text: str) -> None:
    if fmt is None:
        return
    if NAMES[name].kind != ValueKind.TIME:
        raise PlaceholderError(f"{shown(text)}: {{{name}}} takes no format (only times do)")
    try:
        check_format(fmt)
    except ValueError as exc:
        raise PlaceholderError(f"{shown(text)}: {exc}") from None


def _interpolation(text: str, start: int, state: str) -> Found:
    """`@{expression}` at `start`: one of ADF's spellings of a placeholder, or PlaceholderError."""
    end = _interpolation_end(text, start)
    written = text[start:end]
    name, fmt = adf_placeholder(written[2:-1], written)
    _check_format(name, fmt, written)
    return Found(name, fmt, written, start, end, _WHERE[state], _quote(state))


def _interpolation_end(text: str, start: int) -> int:
    """The index after the `}` that closes `@{` at `start` (ADF strings in '...' skipped)."""
    depth, quoted = 0, False
    for i in range(start + 1, len(text)):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    raise PlaceholderError(f"the ADF expression {shown(text[start:])} has no closing '}}'")


# ADF spelling (lower case, no white space) -> placeholder name.
_ADF_NAMES: dict[str, str] = {
    re.sub(r"\s+", "", spelling).lower(): name for name, info in NAMES.items() for spelling in info.adf
}
_ADF_FORMAT = re.compile(
    r"formatDateTime\s*\(\s*(?P<ref>[^,]+?)\s*,\s*(?:'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\")\s*\)",
    re.IGNORECASE,
)


def adf_placeholder(expression: str, written: str) -> tuple[str, str | None]:
    """(name, format) of an ADF expression (the inside of `@{...}`), or PlaceholderError naming `written`."""
    expression = expression.strip()
    name = _ADF_NAMES.get(re.sub(r"\s+", "", expression).lower())
    if name is not None:
        return name, None
    call = _ADF_FORMAT.fullmatch(expression)
    if call is not None:
        name = _ADF_NAMES.get(re.sub(r"\s+", "", call.group("ref")).lower())
        if name is not None and NAMES[name].kind == ValueKind.TIME:
            fmt = call.group("single") if call.group("single") is not None else call.group("double")
            return name, fmt
    raise unsupported(written)


def unsupported(written: str) -> PlaceholderError:
    hint = ""
    if re.search(r"pipeline\s*\(\s*\)\s*\.\s*parameters", written, re.IGNORECASE):
        hint = " (pipeline parameters do not exist here: use the trigger's value itself)"
    return PlaceholderError(
        f"the ADF expression {shown(written)} is not supported{hint}: use {{windowStart}}, {{windowEnd}}, "
        "{triggerTime}, {scheduledTime} or {runId} (a time with a format: {windowStart:yyyy-MM-dd}), "
        "or ADF's spelling of one of them, e.g. @{trigger().outputs.windowStartTime}"
    )


__all__ = [
    "NAMES",
    "PARTITION_CONDITION_NAME",
    "RUN_ID",
    "SCHEDULED_TIME",
    "TRIGGER_TIME",
    "WINDOW_END",
    "WINDOW_START",
    "Found",
    "Name",
    "Needs",
    "PlaceholderError",
    "SqlFragment",
    "Value",
    "ValueKind",
    "Where",
    "adf_placeholder",
    "find",
    "shown",
    "unsupported",
]
