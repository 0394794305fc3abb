"""CustomResourceDefinitions generated from the models: one per kind in `api.kinds.KINDS`.

The models' JSON schema (pydantic) becomes a structural `openAPIV3Schema`:
- every `$ref` is inlined, `title` is dropped, `anyOf: [X, null]` becomes an optional X (the API
  server prunes a `null` of a non-nullable field, and the models read None as "not written");
- every default of the spec models is a structural `default` (a nested model built from its own
  defaults gets `default: {}`, see `api.model.WireSchema`), so the API server stores it and
  `kubectl get -o yaml` shows it; a field marked `operator_setting` gets none (the operator fills it
  in); each description also says the default, for `kubectl explain`. Status carries no default;
- `const` becomes a one-value `enum`, a string enum gets a `maxLength` (CEL cost estimates);
- a Kubernetes quantity (`api.quantity.Quantity`) is `x-kubernetes-int-or-string` with the API
  server's pattern, as core/v1 quantities are in CRDs;
- `dict[str, Any]` (affinity, tolerations, the Lookup output) becomes an object with
  `x-kubernetes-preserve-unknown-fields`; the status root keeps unknown fields too, for the
  bookkeeping the operator framework stores there;
- each model's `RULES` (put into its JSON schema by `RuledModel`) stay where the model appears, as
  `x-kubernetes-validations`.

`impala-copy crds --output DIR` writes `DIR/<plural>.yaml` and the same bytes into the Helm chart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from impala_copy.api.common import API_GROUP, API_VERSION, CATEGORY, NAME_MAX, NAME_PATTERN, Resource
from impala_copy.api.kinds import KINDS
from impala_copy.api.model import OPERATOR_SETTING, wire_schema

HEADER = "# Generated from the models in operator/impala_copy/api by `make generate`. Do not edit.\n"
CHART_CRD_DIR = Path("charts/impala-copy-operator/crds")

DEFAULTS_NOTE = (
    "The API server fills in every default shown here; a field whose description names an operator "
    "setting stays unwritten and takes the operator's value."
)
STATUS_DESCRIPTION = (
    "Observed state, written by the operator. Fields not described here are the operator framework's "
    "bookkeeping and are kept as written."
)

# Keys of a schema node, in the order they are written (anything else follows, sorted).
_KEY_ORDER = (
    "description",
    "type",
    "format",
    "default",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
)
# JSON-schema keys with no place in a CRD (or dropped on purpose: title, examples); `default` is
# written by `_Converter` where it belongs.
_DROPPED = {"title", "default", "examples", "$defs", "discriminator", OPERATOR_SETTING}


class SchemaError(ValueError):
    """The models use a JSON-schema construct the CRD generator cannot express structurally."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _default_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value if value else "'' (empty)"
    return None


def _crd_default(node: dict[str, Any]) -> Any:
    """The structural default of a schema node: its model default, unless an operator setting fills it."""
    return None if OPERATOR_SETTING in node else node.get("default")


def _describe(node: dict[str, Any], description: str | None, with_default: bool) -> str | None:
    """The description, with its default spelled out when the field has one and does not say it."""
    value = _crd_default(node) if with_default else None
    default = _default_text(value) if value is not None else None
    if description is None:
        return f"Default {default}." if default is not None else None
    description = _one_line(description)
    if default is not None and "default" not in description.lower():
        description = f"{description.rstrip('.')}. Default {default}."
    return description


class _Converter:
    """Turns one pydantic JSON schema into a structural OpenAPI v3 schema."""

    def __init__(self, defs: dict[str, Any], *, with_defaults: bool = True) -> None:
        self.defs = defs
        self.with_defaults = with_defaults

    def _resolve(self, ref: str) -> dict[str, Any]:
        prefix = "#/$defs/"
        if not ref.startswith(prefix) or ref[len(prefix) :] not in self.defs:
            raise SchemaError(f"cannot resolve {ref}")
        target: dict[str, Any] = self.defs[ref[len(prefix) :]]
        return target

    def _inline(self, node: dict[str, Any], description: str | None) -> tuple[dict[str, Any], str | None]:
        """A `$ref` replaced by its target (the field's own description and default win)."""
        if "$ref" not in node:
            return node, description
        target = dict(self._resolve(node.pop("$ref")))
        own = description
        description = own or target.pop("description", None)
        target.pop("description", None)
        merged = {
            **target,
            **{k: v for k, v in node.items() if k != "default"},
            "default": node.get("default"),
        }
        return merged, description

    def _optional(self, node: dict[str, Any], description: str | None, path: str) -> dict[str, Any]:
        """`anyOf: [X, null]` as an optional X (the API server prunes a null of a non-nullable field)."""
        options = [o for o in node.pop("anyOf") if o != {"type": "null"}]
        if len(options) != 1:
            raise SchemaError(f"{path}: a union of {len(options)} types has no structural form")
        inner = dict(options[0])
        merged = {**node, **inner, "description": description or inner.get("description")}
        if "default" in node:
            merged["default"] = node["default"]
        return merged

    def convert(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        node = dict(node)
        node, description = self._inline(node, node.pop("description", None))
        if "anyOf" in node:
            return self.convert(self._optional(node, description, path), path)
        for key in ("oneOf", "allOf", "not", "prefixItems"):
            if key in node:
                raise SchemaError(f"{path}: {key} has no structural form")
        out: dict[str, Any] = {}
        text = _describe(node, description, self.with_defaults)
        if text:
            out["description"] = text
        if self.with_defaults and _crd_default(node) is not None:
            out["default"] = _crd_default(node)
        for key, value in node.items():
            if key not in _DROPPED:
                self._keyword(out, key, value, path)
        return _finished(out, path)

    def _keyword(self, out: dict[str, Any], key: str, value: Any, path: str) -> None:
        """One JSON-schema keyword in its structural form."""
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out["properties"] = {name: self.convert(child, f"{path}.{name}") for name, child in value.items()}
        elif key == "items":
            out["items"] = self.convert(value, f"{path}[*]")
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif value is not False:  # False: properties alone say it; unknown fields are pruned or refused
                out["additionalProperties"] = self.convert(value, f"{path}.*")
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        else:
            out[key] = value


def _finished(out: dict[str, Any], path: str) -> dict[str, Any]:
    """An object without fields keeps unknown fields; a string enum gets a maxLength (CEL cost)."""
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if out.get("type") == "string" and "enum" in out and "maxLength" not in out:
        out["maxLength"] = max(len(str(v)) for v in out["enum"])
    if "type" not in out and not (
        out.get("x-kubernetes-preserve-unknown-fields") or out.get("x-kubernetes-int-or-string")
    ):
        raise SchemaError(f"{path}: no type")
    return _ordered(out)


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    head = [k for k in _KEY_ORDER if k in node]
    tail = sorted(k for k in node if k not in _KEY_ORDER)
    out = {k: node[k] for k in head + tail}
    if "x-kubernetes-validations" in out:
        out["x-kubernetes-validations"] = [
            {k: rule[k] for k in ("rule", "message", "fieldPath", "reason") if k in rule}
            for rule in out["x-kubernetes-validations"]
        ]
    return out


def _first_sentence_doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    return _one_line(doc.split("\n\n")[0])


def openapi_schema(cls: type[Resource]) -> dict[str, Any]:
    """The structural openAPIV3Schema of one kind."""
    raw = wire_schema(cls)
    converter = _Converter(raw.get("$defs", {}))
    props = raw["properties"]
    spec = converter.convert(props["spec"], "spec")
    spec["description"] = f"{spec.get('description', 'Desired state.').rstrip('.')}. {DEFAULTS_NOTE}"
    spec = _ordered(spec)
    # Status is written by the operator: its model defaults say nothing to a reader.
    status = _Converter(converter.defs, with_defaults=False).convert(props["status"], "status")
    status["description"] = STATUS_DESCRIPTION
    status["x-kubernetes-preserve-unknown-fields"] = True
    status = _ordered(status)
    spec_cls = cls.model_fields["spec"].annotation
    kind_doc = _first_sentence_doc(spec_cls) if isinstance(spec_cls, type) else ""
    return {
        "description": f"{cls.KIND_INFO.kind}: {kind_doc}" if kind_doc else cls.KIND_INFO.kind,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string",
            },
            "kind": {
                "description": "Kind is the REST resource this object represents.",
                "type": "string",
            },
            # The API server only checks that a custom resource's name is a path segment: ask for a
            # DNS-1123 subdomain, as for built-in kinds (the only metadata constraint a CRD may set).
            "metadata": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": NAME_MAX, "pattern": NAME_PATTERN}},
            },
            "spec": spec,
            "status": status,
        },
    }


def build_crd(cls: type[Resource]) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    info = cls.KIND_INFO
    columns = [
        {
            k: column[k]
            for k in ("name", "type", "jsonPath", "description", "priority", "format")
            if k in column
        }
        for column in info.printer_columns
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{info.plural}.{API_GROUP}",
            "labels": {
                "app.kubernetes.io/name": "impala-copy-operator",
                "app.kubernetes.io/part-of": "impala-copy",
            },
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": openapi_schema(cls)},
                }
            ],
        },
    }


def build_crds() -> dict[str, dict[str, Any]]:
    """Every CRD, by plural name."""
    return {cls.KIND_INFO.plural: build_crd(cls) for cls in KINDS.values()}


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, no aliases."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


_NUMBER_LIKE = re.compile(r"^[-+0-9.:_]+$")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Strings with control characters (a row delimiter) double-quoted, so `\\r\\n` reads as written;
    strings made of digits and colons (`02:00:00`) quoted, so no YAML 1.1 reader takes them for numbers."""
    style = '"' if any(ord(ch) < 32 for ch in value) else "'" if _NUMBER_LIKE.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render(crd: dict[str, Any]) -> str:
    """The YAML text of one CRD file (header comment included)."""
    body = yaml.dump(
        crd, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=110, allow_unicode=True
    )
    return HEADER + body


def rendered_files() -> dict[str, str]:
    """File name -> text, for every CRD."""
    return {f"{plural}.yaml": render(crd) for plural, crd in sorted(build_crds().items())}


def write_crds(*outputs: Path) -> list[Path]:
    """Write every CRD into each folder (created if missing); remove generated files of removed kinds."""
    files = rendered_files()
    written: list[Path] = []
    for out in outputs:
        out.mkdir(parents=True, exist_ok=True)
        for stale in sorted(out.glob("*.yaml")):
            if stale.name not in files and stale.read_text(encoding="utf-8").startswith(HEADER):
                stale.unlink()
        for name, text in files.items():
            path = out / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def all_in_one() -> str:
    """Every CRD as one multi-document YAML stream (for `impala-copy crds | kubectl apply -f -`)."""
    return "".join(("---\n" if i else "") + text for i, text in enumerate(rendered_files().values()))


_SELF_FIELD = re.compile(r"\bself((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(\()?")


def rule_fields(cel: str) -> list[list[str]]:
    """The field chains a rule reads from `self` (`self.location.type` -> [location, type]); a method
    call at the end of a chain (`self.folderPath.contains(...)`) is not a field."""
    chains = []
    for match in _SELF_FIELD.finditer(cel):
        chain = match.group(1).lstrip(".").split(".")
        if match.group(2):
            chain = chain[:-1]
        if chain:
            chains.append(chain)
    return chains
