"""Cross-field rules, each declared once and enforced twice.

A `Rule` carries a CEL expression (written into the CRD as `x-kubernetes-validations`, judged by the
API server at `kubectl apply`) and the same rule as a Python predicate (judged by pydantic, used by the
CLI and the operator). A test evaluates every CEL rule with cel-python on the same manifests that
pydantic judges and checks the verdicts agree.

CEL sees the object as the API server stores it: a `null` dropped, every default of the CRD filled
in (`api/crd.py`; `api/defaulting.py` does the same for tests), so `has()` of a field with a default
is always true. A rule therefore reads a
field with a default by its value, on both sides (the Python predicate sees the model with the same
defaults), and asks "was it written" (`has()` in CEL, `written()` in Python) only of a field without
a default, whose absence the stored object keeps. `written()` refuses a field with a default, and a
test refuses a `has()` of one.

Rules that need other objects (a CopyActivity needs a table on its dataset or a source query) cannot
be CEL rules; they live in `api/resolve.py`, which the operator and `impala-copy validate` both call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import ConfigDict, model_validator
from pydantic_core import PydanticUndefined

from impala_copy.api.model import ApiModel


@dataclass(frozen=True)
class Rule:
    """One validation rule: CEL for the API server, a predicate for Python, one message for both."""

    cel: str
    message: str
    check: Callable[[Any], bool]
    field_path: str | None = None

    def crd_entry(self) -> dict[str, str]:
        entry = {"rule": self.cel, "message": self.message}
        if self.field_path:
            entry["fieldPath"] = self.field_path
        return entry


class RuleError(ValueError):
    """Raised by the model validator; its text is the rule's message."""


def _rules_into_schema(schema: dict[str, Any], cls: type) -> None:
    """Put a model's rules into its JSON schema, where the CRD generator finds them wherever it is used."""
    rules: tuple[Rule, ...] = getattr(cls, "RULES", ())
    if rules:
        schema["x-kubernetes-validations"] = [rule.crd_entry() for rule in rules]


class RuledModel(ApiModel):
    """A model that carries rules: validates them after field validation.

    Subclasses set `RULES`; the same tuple becomes `x-kubernetes-validations` in the JSON schema of the
    model, so the CRD generator attaches the rules wherever the model appears.
    """

    model_config = ConfigDict(json_schema_extra=_rules_into_schema)

    RULES: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        for rule in type(self).RULES:
            if not rule.check(self):
                raise RuleError(rule.message)
        return self


def written(model: Any, field: str) -> bool:
    """True when `field` (snake_case), a field without a default, was written (what CEL's `has()` sees).

    A field with a default is always present on the stored object: compare its value instead.
    """
    info = type(model).model_fields[field]
    if info.default_factory is not None or info.default not in (None, PydanticUndefined):
        raise TypeError(f"{type(model).__name__}.{field} has a default: read its value, not its presence")
    fields_set: set[str] = model.model_fields_set
    return field in fields_set and getattr(model, field) is not None
