"""Formats of times in placeholders: the .NET custom format letters ADF's formatDateTime reads.

    yyyy  year, 4 digits      MM  month 01-12      dd  day 01-31
    HH    hour 00-23          mm  minute 00-59     ss  second 00-59

Everything else in a format is a literal character, from a short list: digits, `-`, `_`, `.`, `/`,
`:`, space, `T` and `Z` (so `yyyy-MM-ddTHH:mm:ssZ` works). Other letters (`yy`, `M`, `hh`, `tt`,
`fff`, ...) and other characters (quotes, backslashes, braces) are refused by name: a format never
brings a character that needs escaping into SQL or a path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

MAX_FORMAT_LENGTH = 64
LITERAL_CHARACTERS = frozenset("0123456789-_./: TZ")

FIELDS: dict[str, Callable[[datetime], str]] = {
    "yyyy": lambda t: f"{t.year:04d}",
    "MM": lambda t: f"{t.month:02d}",
    "dd": lambda t: f"{t.day:02d}",
    "HH": lambda t: f"{t.hour:02d}",
    "mm": lambda t: f"{t.minute:02d}",
    "ss": lambda t: f"{t.second:02d}",
}
# A run of one letter (a field, or letters to refuse) or one other character.
_PART = re.compile(r"([A-Za-z])\1*|.", re.S)


def _parts(fmt: str) -> list[str]:
    """The fields and literal characters of a format, or ValueError naming what is not allowed."""
    if not fmt:
        raise ValueError("the format is empty (write e.g. yyyy-MM-dd, or no ':' at all)")
    if len(fmt) > MAX_FORMAT_LENGTH:
        raise ValueError(f"the format is longer than {MAX_FORMAT_LENGTH} characters")
    parts = [m.group() for m in _PART.finditer(fmt)]
    for part in parts:
        if part in FIELDS or set(part) <= LITERAL_CHARACTERS:
            continue
        if part[0].isalpha():
            raise ValueError(
                f"the format letters {part!r} are not supported: use yyyy, MM, dd, HH, mm, ss "
                "(and the literal characters T and Z)"
            )
        raise ValueError(
            f"the character {part!r} is not allowed in a format: literal characters are digits, "
            "'-', '_', '.', '/', ':', space, 'T' and 'Z'"
        )
    return parts


def check_format(fmt: str) -> None:
    """ValueError naming what is wrong with a format; nothing when it is fine."""
    _parts(fmt)


def format_time(value: datetime, fmt: str) -> str:
    """`value` written in `fmt` (checked first)."""
    return "".join(FIELDS[part](value) if part in FIELDS else part for part in _parts(fmt))


__all__ = ["FIELDS", "LITERAL_CHARACTERS", "MAX_FORMAT_LENGTH", "check_format", "format_time"]
