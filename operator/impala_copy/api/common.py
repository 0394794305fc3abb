"""Building blocks shared by every custom resource: the model base, references, conditions.

Field names follow ADF where ADF has the property, and Kubernetes API conventions for everything
Kubernetes-shaped. Every model serialises with camelCase aliases; Python code uses snake_case.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field

# Re-exported: every module of the API takes its model base from here.
from impala_copy.api.model import ApiModel as ApiModel
from impala_copy.api.model import OpenModel as OpenModel
from impala_copy.api.references import Reference
from impala_copy.api.rules import Rule, RuledModel, written

API_GROUP = "impalacopy.io"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"
# Every kind is listed by `kubectl get impalacopy`.
CATEGORY = "impalacopy"

# A DNS-1123 subdomain (Kubernetes' rule for most object names): dot-separated labels of lowercase
# letters, digits and '-', each starting and ending with a letter or digit; at most 253 characters.
NAME_MAX = 253
_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
NAME_PATTERN = rf"^{_LABEL}(\.{_LABEL})*$"
NAME_MESSAGE = (
    "must be a lowercase RFC 1123 subdomain: at most 253 characters, dot-separated parts of a-z, 0-9 "
    "and '-', each starting and ending with a letter or digit (e.g. 'sales-2024.eu')"
)
# A namespace is a DNS-1123 label: one such part, at most 63 characters.
NAMESPACE_MAX = 63
NAMESPACE_PATTERN = rf"^{_LABEL}$"
NAMESPACE_MESSAGE = (
    "must be a lowercase RFC 1123 label: at most 63 characters of a-z, 0-9 and '-', starting and ending "
    "with a letter or digit"
)
# A key in a Secret or ConfigMap (Kubernetes' rule): letters, digits, '-', '_' and '.', not '.' and not
# starting with '..' (a key becomes a file name where the Secret is mounted).
KEY_PATTERN = r"^(\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*)$"
KEY_MAX = 253
KEY_MESSAGE = (
    "must be a valid key: at most 253 letters, digits, '-', '_' and '.', not '.' or '..' and not "
    "starting with '..'"
)


def is_object_name(value: str) -> bool:
    """True for a DNS-1123 subdomain (see NAME_PATTERN)."""
    return len(value) <= NAME_MAX and re.fullmatch(NAME_PATTERN, value) is not None


def is_namespace(value: str) -> bool:
    """True for a DNS-1123 label (see NAMESPACE_PATTERN)."""
    return len(value) <= NAMESPACE_MAX and re.fullmatch(NAMESPACE_PATTERN, value) is not None


def is_key(value: str) -> bool:
    """True for a Secret or ConfigMap key (see KEY_PATTERN)."""
    return len(value) <= KEY_MAX and re.fullmatch(KEY_PATTERN, value) is not None


def _object_name(value: str) -> str:
    if value and not is_object_name(value):
        raise ValueError(NAME_MESSAGE)
    return value


def _namespace(value: str | None) -> str | None:
    if value and not is_namespace(value):
        raise ValueError(NAMESPACE_MESSAGE)
    return value


# metadata.name of every kind: a DNS-1123 subdomain, with a message that says so. (Empty means
# "not given": the manifest loader reports a missing name itself.)
ObjectName = Annotated[str, AfterValidator(_object_name)]


class SecretKeySelector(ApiModel):
    """A key of a Secret in the same namespace as the object that refers to it."""

    name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN, description="Name of the Secret."
    )
    key: str = Field(
        min_length=1, max_length=KEY_MAX, pattern=KEY_PATTERN, description="Key inside the Secret."
    )


class ConfigMapKeySelector(ApiModel):
    """A key of a ConfigMap in the same namespace as the object that refers to it."""

    name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN, description="Name of the ConfigMap."
    )
    key: str = Field(
        min_length=1, max_length=KEY_MAX, pattern=KEY_PATTERN, description="Key inside the ConfigMap."
    )


class SecretValue(ApiModel):
    """A secret value (ADF SecureString / Azure Key Vault secret): always a reference to a Secret key."""

    secret_key_ref: SecretKeySelector = Field(description="The Secret key holding the value.")


class CertificateSource(RuledModel):
    """A PEM certificate bundle in a Secret or a ConfigMap key. Exactly one of the two is set."""

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            cel="has(self.secretKeyRef) != has(self.configMapKeyRef)",
            message="set exactly one of secretKeyRef and configMapKeyRef",
            check=lambda m: written(m, "secret_key_ref") != written(m, "config_map_key_ref"),
        ),
    )

    secret_key_ref: SecretKeySelector | None = Field(
        default=None, description="A Secret key holding PEM certificates."
    )
    config_map_key_ref: ConfigMapKeySelector | None = Field(
        default=None, description="A ConfigMap key holding PEM certificates."
    )


class LinkedServiceReference(ApiModel):
    """ADF LinkedServiceReference: the name of a linked service in the same namespace."""

    reference_name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN, description="Name of the linked service."
    )


class Condition(ApiModel):
    """A Kubernetes-style status condition."""

    type: str = Field(description="Condition type, e.g. Ready, Running, Succeeded, Failed, Connected.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the last transition.")
    message: str = Field(default="", description="Human-readable details.")
    last_transition_time: str | None = Field(
        default=None, description="RFC 3339 time of the last status change."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this condition reflects."
    )


class ObjectMeta(OpenModel):
    """The part of metadata the models read; everything else passes through."""

    name: ObjectName = Field(default="", description="Object name.")
    namespace: Annotated[str | None, AfterValidator(_namespace)] = Field(
        default=None, description="Object namespace."
    )
    generation: int | None = None
    uid: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class KindInfo(BaseModel):
    """What the CRD generator needs to know about one kind."""

    kind: str
    plural: str
    singular: str
    short_names: list[str]
    printer_columns: list[dict[str, Any]] = []


class Resource(ApiModel):
    """A namespaced custom resource: apiVersion, kind, metadata, spec, status."""

    KIND_INFO: ClassVar[KindInfo]

    api_version: Literal["impalacopy.io/v1alpha1"] = Field(
        default="impalacopy.io/v1alpha1", description="impalacopy.io/v1alpha1"
    )
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @property
    def name(self) -> str:
        return self.metadata.name

    def references(self) -> list[Reference]:
        """What this object refers to, as its spec declares it (api/references.py)."""
        spec = getattr(self, "spec", None)
        found = getattr(spec, "references", None)
        return list(found()) if callable(found) else []

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"
