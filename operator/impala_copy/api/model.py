"""The model base of every custom resource: camelCase on the wire, unknown fields rejected, and the
defaults the CRDs carry.

Defaults are structural: the API server applies a field's default when the field is missing or
`null`, so a model reads `null` as "not written" and takes its default the same way. A field whose
value, when not written, is one of the operator's settings (`operator_setting`) has no default in
the CRD: the object keeps it unwritten and the operator fills it in.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

# The JSON-schema key that marks a field whose unwritten value is an operator setting; the CRD
# generator drops the field's default and the reference names the setting.
OPERATOR_SETTING = "x-operator-setting"


def operator_setting(name: str) -> dict[str, Any]:
    """`json_schema_extra` of a field that, when not written, takes the operator's setting `name`
    (a Helm value such as `job.successfulJobsHistoryLimit`)."""
    return {OPERATOR_SETTING: name}


class ApiModel(BaseModel):
    """Base of every model of the API: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
        use_enum_values=True,
        # Validators are built when a model is first used, not when its module is imported: a copy
        # pod uses a few of the API's models, and building all of them cost it about 0.2 CPU s.
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_written(cls, data: Any) -> Any:
        """A field written as `null` is not written, as the API server stores it (it prunes a null of
        a non-nullable field, or replaces it with the field's default)."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data

    def to_wire(self) -> dict[str, Any]:
        """The JSON shape as it appears in a manifest (aliases, no unset optional fields)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class OpenModel(ApiModel):
    """A model that passes through fields it does not own (object metadata)."""

    model_config = ConfigDict(extra="allow")


class WireSchema(GenerateJsonSchema):
    """The JSON schema of a model as the CRDs and the reference show it.

    A field whose default is built by its model class (`default_factory=ImpalaSource`, every field of
    which has a default) gets `default: {}`: the API server then fills the nested defaults in.
    """

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if isinstance(factory, type) and issubclass(factory, ApiModel):
            json_schema = self.generate_inner(schema["schema"])
            return {**json_schema, "default": {}}
        return super().default_schema(schema)


def wire_schema(cls: type[BaseModel], mode: JsonSchemaMode = "validation") -> dict[str, Any]:
    """The JSON schema of `cls` with camelCase names and the defaults the CRDs carry."""
    return cls.model_json_schema(by_alias=True, mode=mode, schema_generator=WireSchema)
