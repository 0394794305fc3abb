"""Kubernetes resource quantities (`250m`, `1.5Gi`, `2`, `1e3`) as exact numbers, for comparing them,
and the field types of resource names and quantities the models use.

The grammar is the API server's (k8s.io/apimachinery resource.Quantity): an optional sign, a decimal
number, then one binary suffix (Ki Mi Gi Ti Pi Ei), one decimal suffix (n u m k M G T P E) or a
decimal exponent (e3, E-2). JSON numbers are quantities too (`cpu: 2` in YAML). Anything else, such
as spaces, other digits than 0-9, `ki` or `NaN`, is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator, StrictInt, StrictStr, WithJsonSchema

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


def _checked_quantity(value: str | int | float) -> str | int | float:
    parse_quantity(value)
    return value


# A resource name: cpu, memory, ephemeral-storage, hugepages-2Mi, or a prefixed one (nvidia.com/gpu).
RESOURCE_NAME_RE = re.compile(
    r"(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?", re.ASCII
)


def _checked_resource_name(name: str) -> str:
    if not RESOURCE_NAME_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not a resource name (cpu, memory, ephemeral-storage, ...)")
    return name


# The API server's pattern of a quantity written as text (as in the CRDs of core/v1 quantities).
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
ResourceName = Annotated[str, AfterValidator(_checked_resource_name)]
# A quantity in a settings file (a JSON number may have a fraction: 0.5).
SettingQuantity = Annotated[str | int | float, AfterValidator(_checked_quantity)]
# A quantity in a manifest: text or a whole number, as the API server takes an int-or-string quantity.
Quantity = Annotated[
    StrictStr | StrictInt,
    AfterValidator(_checked_quantity),
    WithJsonSchema({"x-kubernetes-int-or-string": True, "pattern": QUANTITY_PATTERN}),
]
