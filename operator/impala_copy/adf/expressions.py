"""ADF expressions in text values: which are kept as written, which are substituted, which are reported.

ADF writes dynamic content as `{"value": "...", "type": "Expression"}` or as text starting with `@`;
inside text, `@{...}` interpolates and `@@` is a literal `@`. The trigger's times are kept exactly as
ADF spells them in interpolations (`KEPT`): impala-copy fills them in from the run's window or
scheduled time. `pipeline().parameters.X` is replaced by what the trigger passes for X, or by X's
default value. Any other expression (`activity(...)`, `variables(...)`, functions such as
`formatDateTime`) cannot be carried over and is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from impala_copy.adf.arm import Unresolved
from impala_copy.api.placeholders import NAMES, PlaceholderError, adf_placeholder

# The ADF spellings impala-copy fills in itself (api/placeholders.py), as written inside @{...}; their
# formatDateTime(..., 'format') forms are kept too.
KEPT = tuple(spelling for name in NAMES.values() for spelling in name.adf)
_INTERPOLATION = re.compile(r"@\{([^{}]*)\}")
_PARAMETER = re.compile(r"^pipeline\(\)\.parameters\.([A-Za-z0-9_]+)$")
KEPT_TEXT = ", ".join(f"@{{{k}}}" for k in KEPT)


class Unmappable(ValueError):
    """A value that cannot be carried over; the message is the reason shown in the report."""


def unwrap(value: Any) -> Any:
    """The text of an ADF Expression object (`{"value": ..., "type": "Expression"}`), else the value.
    An ARM value that could not be evaluated is Unmappable."""
    if isinstance(value, Unresolved):
        raise Unmappable(value.message)
    if isinstance(value, dict) and value.get("type") == "Expression" and isinstance(value.get("value"), str):
        return value["value"]
    return value


def has_expression(text: str) -> bool:
    return (text.startswith("@") and not text.startswith("@@")) or "@{" in text


def keep(text: str, bindings: Mapping[str, str]) -> str:
    """`text` with pipeline parameters bound and the trigger's times kept; Unmappable for the rest.

    `bindings` maps a pipeline parameter name to its replacement text (an interpolation of KEPT, or a
    literal value)."""
    if text.startswith("@@"):
        return text[1:]
    if text.startswith("@") and not text.startswith("@{"):
        text = "@{" + text[1:].strip() + "}"
    unsupported: list[str] = []

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if _filled_in(inner):
            return "@{" + inner + "}"
        parameter = _PARAMETER.match(inner)
        if parameter and parameter.group(1) in bindings:
            return bindings[parameter.group(1)]
        unsupported.append(inner)
        return match.group(0)

    result = _INTERPOLATION.sub(replace, text)
    if unsupported:
        raise Unmappable(_reason(unsupported[0]))
    return result.replace("@@", "@")


def _filled_in(expression: str) -> bool:
    """True when impala-copy fills `expression` (the inside of @{...}) in from the run itself."""
    try:
        adf_placeholder(expression, expression)
    except PlaceholderError:
        return False
    return True


def _reason(expression: str) -> str:
    shown = expression if len(expression) <= 120 else expression[:117] + "..."
    if expression.startswith("activity("):
        return (
            f"the expression @{{{shown}}} reads another activity's output: impala-copy activities stand "
            "alone; for a watermark (Lookup + Copy + stored procedure) use spec.source.incremental "
            "(docs/incremental.md)"
        )
    if _PARAMETER.match(expression):
        return f"the pipeline parameter in @{{{shown}}} has no value from a trigger and no default"
    return (
        f"the expression @{{{shown}}} is not supported: only {KEPT_TEXT} and their "
        "formatDateTime(..., 'format') forms are kept as written"
    )


def binding(value: Any) -> str | None:
    """What a trigger passes for a pipeline parameter, as replacement text; None for an expression
    that is not one of the trigger's times."""
    try:
        value = unwrap(value)
    except Unmappable:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str) and not (isinstance(value, str) and has_expression(value)):
        return str(value)
    if isinstance(value, str):
        try:
            return keep(value, {})
        except Unmappable:
            return None
    return None
