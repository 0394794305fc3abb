"""Cross-field rules, each declared once and enforced twice.

A `Rule` carries a CEL expression (written into the CRD as `x-kubernetes-validations`, judged by the
API server at `kubectl apply`) and the same rule as a Python predicate (judged by pydantic, used by the
CLI and the operator). A test evaluates every CEL rule with cel-python on the same manifests that
pydantic judges and checks the verdicts agree.

CEL sees the object as it was written: fields left out are absent (`has()` is false), because
defaults are applied in code, not by the API server. The Python predicate sees the model with its
defaults applied, and `model_fields_set` tells what was written (`written()`). A value written as
`null` counts as absent on both sides: the API server prunes nulls of non-nullable fields before it
runs the rules, and `written()` ignores None.

Rules that need other objects (a CopyActivity needs a table on its dataset or a source query) cannot
be CEL rules; they live in `api/resolve.py`, which the operator and `impala-copy validate` both call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import ConfigDict, model_validator

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
    """True when `field` (snake_case) was present in the input (what CEL's `has()` sees)."""
    fields_set: set[str] = getattr(model, "model_fields_set", set())
    return field in fields_set and getattr(model, field) is not None
