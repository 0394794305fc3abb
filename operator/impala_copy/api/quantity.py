"""Kubernetes resource quantities (`250m`, `1.5Gi`, `2`, `1e3`) as exact numbers, for comparing them.

The grammar is the API server's (k8s.io/apimachinery resource.Quantity): an optional sign, a decimal
number, then one binary suffix (Ki Mi Gi Ti Pi Ei), one decimal suffix (n u m k M G T P E) or a
decimal exponent (e3, E-2). JSON numbers are quantities too (`cpu: 2` in YAML). Anything else, such
as spaces, other digits than 0-9, `ki` or `NaN`, is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exponent>[eE][+-]?[0-9]{1,4})|(?P<suffix>[KMGTPE]i|[numkMGTPE]))?",
    re.ASCII,
)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


class QuantityError(ValueError):
    """A value that is not a Kubernetes quantity."""


def parse_quantity(value: object) -> Fraction:
    """The exact value of a quantity written as a string or a JSON number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise QuantityError(f"{value!r} is not a Kubernetes quantity")
        return Fraction(Decimal(repr(value)))
    match = _QUANTITY.fullmatch(value)
    if match is None:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 4Gi)")
    number = Fraction(Decimal(match["number"]))
    if match["exponent"]:
        return number * Fraction(10) ** int(match["exponent"][1:])
    suffix = match["suffix"]
    if suffix in _BINARY:
        return number * Fraction(2) ** _BINARY[suffix]
    if suffix:
        return number * Fraction(10) ** _DECIMAL[suffix]
    return number


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)
    except QuantityError:
        return False
    return True
