"""What an object refers to, declared once on its spec and read by everything that follows references.

Each spec model with references has a `references()` method returning `Reference`s: another of our
objects (a dataset, a linked service), a Secret key, a ConfigMap key or a PersistentVolumeClaim, each
with the field that names it. The resolver (`api/resolve.py: check_references`), the operator's Ready
check, `impala-copy validate` and the Job's Secret references all read that one list, so a new kind or
field with a reference is declared in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

SECRET = "Secret"  # noqa: S105 - a kind, not a password
CONFIG_MAP = "ConfigMap"
PVC = "PersistentVolumeClaim"


@dataclass(frozen=True)
class Reference:
    """One reference: the kind and name of what is referred to, the key within it, the field naming it."""

    kind: str
    name: str
    field: str
    key: str | None = None

    @property
    def is_object(self) -> bool:
        """One of our kinds (checked, then followed further), not a Secret, ConfigMap or claim."""
        return self.kind not in (SECRET, CONFIG_MAP, PVC)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def key_fields(model: BaseModel) -> Iterator[tuple[str, Any]]:
    """(field name, value) of each field holding a Secret or ConfigMap key reference, in order."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if getattr(value, "secret_key_ref", None) or getattr(value, "config_map_key_ref", None):
            yield name, value


def key_references(model: BaseModel, prefix: str = "spec") -> Iterator[Reference]:
    """Every Secret and ConfigMap key a model's fields refer to (SecretValue, CertificateSource), in order."""
    for name, value in key_fields(model):
        field = f"{prefix}.{_camel(name)}"
        secret = getattr(value, "secret_key_ref", None)
        config_map = getattr(value, "config_map_key_ref", None)
        if secret is not None:
            yield Reference(SECRET, secret.name, f"{field}.secretKeyRef", secret.key)
        if config_map is not None:
            yield Reference(CONFIG_MAP, config_map.name, f"{field}.configMapKeyRef", config_map.key)


__all__ = ["CONFIG_MAP", "PVC", "SECRET", "Reference", "key_fields", "key_references"]
