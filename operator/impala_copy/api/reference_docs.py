"""docs/reference.md, generated from the models: every field of every kind, and where each rule is enforced.

`make generate` runs `python -m impala_copy.api.reference_docs --output docs/reference.md` (with the other
generators); a test fails when the committed file differs from what the models give.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from impala_copy.api.common import CATEGORY, GROUP_VERSION, Resource
from impala_copy.api.doc_output import write_page
from impala_copy.api.kinds import KINDS
from impala_copy.api.model import OPERATOR_SETTING, wire_schema

# The ADF object each kind stands for.
ADF_COUNTERPART: dict[str, str] = {
    "ImpalaLinkedService": "Impala linked service (`type: Impala`)",
    "ImpalaDataset": "Impala dataset (`type: ImpalaObject`)",
    "AmazonS3LinkedService": "Amazon S3 linked service (`type: AmazonS3`)",
    "AzureBlobStorageLinkedService": (
        "Azure Blob Storage / ADLS Gen2 linked service (`AzureBlobStorage`, `AzureBlobFS`)"
    ),
    "PostgreSqlLinkedService": "PostgreSQL linked service (`type: PostgreSqlV2`)",
    "ParquetDataset": "Parquet dataset (`type: Parquet`)",
    "DelimitedTextDataset": "Delimited text dataset (`type: DelimitedText`)",
    "JsonDataset": "JSON dataset (`type: Json`, `setOfObjects`)",
    "PostgreSqlTableDataset": "PostgreSQL table dataset (`type: PostgreSqlV2Table`)",
    "CopyActivity": "Copy activity with an `ImpalaSource`",
    "LookupActivity": "Lookup activity on an Impala dataset",
}

# ADF properties of a kind that have no field of the same name here, and what takes their place.
ADF_NOT_HERE: dict[str, list[tuple[str, str]]] = {
    "ImpalaLinkedService": [
        (
            "`connectVia`",
            "No integration runtime: the copy runs in a Job pod in the namespace of the activity, and "
            "reaches Impala over the cluster's network. Put the Job pods where Impala is reachable "
            "(`spec.job.nodeSelector`, network policies).",
        ),
        (
            "`trustedCertPath`",
            "`trustedCert`: a Secret or ConfigMap key holding the PEM bundle, mounted into the Job pod "
            "(ADF points at a file on the integration runtime).",
        ),
        (
            "`password` (SecureString / AzureKeyVaultSecret)",
            "`password.secretKeyRef`: a key of a Secret in the same namespace. The value never appears in "
            "the object, the Job spec, logs, events or status.",
        ),
        ("`encryptedCredential`", "Not needed: credentials live in Kubernetes Secrets."),
        (
            "`version` (1.0 / 2.0)",
            "One implementation; it takes the 2.0 properties (thriftTransportProtocol, "
            "enableServerCertificateValidation) next to the 1.0 ones.",
        ),
    ],
    "ImpalaDataset": [
        ("`schema` (the dataset's column list)", "`structure`, since `schema` holds the database name here."),
        ("`parameters`, `annotations`, `folder`", "Kubernetes labels and annotations."),
    ],
    "CopyActivity": [
        ("`typeProperties`", "Flattened into `spec` (source, sink, validateDataConsistency, ...)."),
        ("`dependsOn`, the pipeline", "Each activity stands alone; order them with Argo CD sync waves."),
        (
            "`parallelCopies`, `dataIntegrationUnits`, `enableStaging`",
            "One Job pod per run, sized with `spec.job.resources`.",
        ),
        (
            "`translator` (column mapping)",
            "Select and rename columns in `source.query`, or list them in the dataset's `structure`.",
        ),
    ],
    "LookupActivity": [("`typeProperties`", "Flattened into `spec` (dataset, source, firstRowOnly).")],
}

# Rules that need more than one object: checked when references are resolved (`api/resolve.py`).
CROSS_OBJECT_RULES: list[tuple[str, str]] = [
    (
        "A CopyActivity (and a LookupActivity) needs a table on its ImpalaDataset (`schema`/`table` or "
        "`tableName`) or a `source.query`.",
        "InvalidSpec",
    ),
    (
        "Every referenced dataset and linked service exists in the same namespace, with the kind named.",
        "ReferenceNotFound",
    ),
    (
        "Every referenced Secret exists and has the key named (its value is never read).",
        "SecretNotFound, SecretKeyNotFound",
    ),
    ("Every referenced ConfigMap exists and has the key named.", "ConfigMapNotFound, ConfigMapKeyNotFound"),
]

_ADF = re.compile(r"\s*\(ADF(?: v2)?: ([^()]*(?:\([^()]*\)[^()]*)*)\)")


@dataclass
class Row:
    path: str
    type: str
    required: bool
    default: str
    adf: str
    description: str


@dataclass
class RuleRow:
    path: str
    cel: str
    message: str


class _Walker:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.rules: list[RuleRow] = []

    def unwrap(self, node: dict[str, Any]) -> tuple[dict[str, Any], str | None, Any]:
        """(schema, description, default) of a property: refs resolved, optional (anyOf null) unwrapped;
        the default of a field an operator setting fills is that setting."""
        description = node.get("description")
        default = node.get("default")
        if OPERATOR_SETTING in node:
            default = _OperatorSetting(node[OPERATOR_SETTING])
        while True:
            if "$ref" in node:
                target = self.defs[node["$ref"].rsplit("/", 1)[1]]
                description = description or target.get("description")
                node = {**target, **{k: v for k, v in node.items() if k not in ("$ref", "description")}}
            elif "anyOf" in node:
                [inner] = [o for o in node["anyOf"] if o != {"type": "null"}]
                node = {**{k: v for k, v in node.items() if k != "anyOf"}, **inner}
            else:
                return node, description, default

    def type_text(self, node: dict[str, Any]) -> str:
        if "enum" in node or "const" in node:
            values = node.get("enum", [node.get("const")])
            return " \\| ".join(f"`{_visible(v)}`" for v in values)
        kind = node.get("type", "object")
        if kind == "array":
            items, _, _ = self.unwrap(node["items"])
            text = f"list of {self.type_text(items)}"
            bounds = _bounds(node.get("minItems"), node.get("maxItems"), "items")
            return f"{text} ({bounds})" if bounds else text
        if kind == "object":
            return self._object_text(node)
        if kind in ("integer", "number"):
            low = node.get("minimum", node.get("exclusiveMinimum"))
            high = node.get("maximum", node.get("exclusiveMaximum"))
            if low is not None and high is not None:
                return f"{kind}, {low}-{high}"
            if low is not None:
                return f"{kind}, ≥ {low}"
            return str(kind)
        if kind == "string":
            bounds = _bounds(node.get("minLength"), node.get("maxLength"), "chars")
            return f"string ({bounds})" if bounds else "string"
        return str(kind)

    def _object_text(self, node: dict[str, Any]) -> str:
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("x-kubernetes-int-or-string"):
            return "map of quantity (`500m`, `2`, `512Mi`, `4Gi`)"
        if isinstance(extra, dict) and extra:
            return f"map of {self.type_text(extra)}"
        if "properties" not in node:
            return "object (Kubernetes, as written)"
        return "object"

    def rows(self, node: dict[str, Any], prefix: str) -> Iterator[Row]:
        for rule in node.get("x-kubernetes-validations", []):
            self.rules.append(RuleRow(prefix, rule["rule"], rule["message"]))
        required = set(node.get("required", []))
        for name, prop in node.get("properties", {}).items():
            field, description, default = self.unwrap(prop)
            path = f"{prefix}.{name}"
            text = _one_line(description or "")
            adf = ""
            match = _ADF.search(text)
            if match:
                adf = match.group(1)
                text = _ADF.sub("", text, count=1)
            default_text = _default(default)
            if default_text:
                text = re.sub(rf"\s*Default {re.escape(default_text.strip('`'))}\.", "", text)
            if field.get("pattern"):
                text = f"{text.rstrip()} Pattern: `{field['pattern']}`.".strip()
            yield Row(path, self.type_text(field), name in required, default_text, adf, text.strip())
            if field.get("type") == "array":
                items, _, _ = self.unwrap(field["items"])
                if "properties" in items:
                    yield from self.rows(items, f"{path}[]")
            elif "properties" in field:
                yield from self.rows(field, path)


def _bounds(low: int | None, high: int | None, unit: str) -> str:
    if low is not None and high is not None:
        if low == high:
            return f"exactly {low} {unit.rstrip('s') if low == 1 else unit}"
        return f"{low}-{high} {unit}"
    if high is not None:
        return f"≤ {high} {unit}"
    if low:
        return f"≥ {low} {unit}"
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _visible(value: object) -> str:
    """A value as text on one line: control characters (a row delimiter `\\r\\n`) spelled as escapes."""
    return str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


@dataclass(frozen=True)
class _OperatorSetting:
    name: str


def _default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, _OperatorSetting):
        return f"operator's `{value.name}`"
    if value == {}:
        return "`{}`"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, str):
        return f"`{_visible(value)}`" if value else "`''`"
    if isinstance(value, int | float):
        return f"`{value}`"
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\\\\|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code_cell(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def _kind_rows(cls: type[Resource]) -> tuple[list[Row], list[Row], list[RuleRow]]:
    raw = wire_schema(cls)
    walker = _Walker(raw.get("$defs", {}))
    spec, _, _ = walker.unwrap(raw["properties"]["spec"])
    spec_rows = list(walker.rows(spec, "spec"))
    rules = walker.rules
    status, _, _ = walker.unwrap(raw["properties"]["status"])
    status_rows = list(_Walker(walker.defs).rows(status, "status"))
    return spec_rows, status_rows, rules


def _anchor(kind: str) -> str:
    return kind.lower()


def _intro(add: Callable[[str], None]) -> None:
    add("# API reference")
    add("")
    add("<!-- Generated from the models in operator/impala_copy/api by `make generate`. Do not edit. -->")
    add("")
    add(
        f"Every kind is in the API group and version `{GROUP_VERSION}`, namespaced, and listed by "
        f"`kubectl get {CATEGORY}`. Field names are ADF's where ADF has the property; the **ADF** column "
        "names the ADF property a field stands for. `kubectl explain <kind>.spec` shows the same "
        "descriptions."
    )
    add("")
    add(
        "**Defaults** are in the CRDs: the API server fills in every default of the **Default** column "
        "when an object is written, so `kubectl get -o yaml` shows them and `kubectl explain` names them; "
        "the CLI applies the same defaults to the manifests it reads. A default of `{}` (e.g. "
        "`spec.source`, `spec.policy`) makes the section present so its own fields' defaults apply. "
        '"operator\'s `job...`" means the field has no default in the CRD: when it is not written, the '
        "operator uses that setting of its Helm values. A field written as `null` counts as not written "
        "(it takes its default). References (`referenceName`, `secretKeyRef`, `configMapKeyRef`, "
        "`claimName`) never leave the namespace of the object."
    )
    add("")
    add("| Kind | Short names | ADF counterpart |")
    add("| --- | --- | --- |")
    for kind, cls in KINDS.items():
        short = ", ".join(f"`{n}`" for n in cls.KIND_INFO.short_names)
        add(f"| [{kind}](#{_anchor(kind)}) | {short} | {ADF_COUNTERPART[kind]} |")
    add("")


def _rules(add: Callable[[str], None], per_kind: dict[str, tuple[Any, Any, Any]]) -> None:
    add("## Validation rules and where they are enforced")
    add("")
    add(
        "Each rule is written once in the models (`operator/impala_copy/api`) and checked at the earliest "
        "point that can see what it needs:"
    )
    add("")
    add("| Where | What it checks | When |")
    add("| --- | --- | --- |")
    add(
        "| CRD schema (openAPIV3Schema) | types, enums, ranges (e.g. port 1-65535, maxRowsPerFile ≥ 1), "
        "lengths, patterns, unknown fields | `kubectl apply`, Argo CD sync, `helm install` |"
    )
    add(
        "| CRD rules (CEL `x-kubernetes-validations`) | the rules of one object, listed below | "
        "`kubectl apply`, Argo CD sync |"
    )
    add(
        "| pydantic models | the same schema and the same rules, with the same messages | "
        "`impala-copy validate`, `impala-copy run`, and the operator before it acts |"
    )
    add(
        "| reference resolution (`api/resolve.py`) | rules that span objects (below) | "
        "`impala-copy validate` and `run` across the files given; the operator sets a condition with the "
        "reason |"
    )
    add("")
    add(
        "The CEL rules see the object as the API server stores it, defaults filled in: a rule reads a field "
        "with a default by its value and asks whether a field was written (`has()`) only of fields without "
        "one. The pydantic twin of each rule does the same, and a test evaluates every CEL rule with "
        "cel-python on the stored form of the manifests pydantic judges and checks that the verdicts agree."
    )
    add("")
    add("Rules that need other objects cannot be CRD rules. They are checked when references are resolved:")
    add("")
    add("| Rule | Condition reason |")
    add("| --- | --- |")
    for text, reason in CROSS_OBJECT_RULES:
        add(f"| {text} | `{reason}` |")
    add("")
    add("Rules of one object (CRD CEL rule and pydantic):")
    add("")
    add("| Kind | On | Message |")
    add("| --- | --- | --- |")
    for kind, (_, _, rules) in per_kind.items():
        for rule in rules:
            add(f"| {kind} | `{rule.path}` | {_cell(rule.message)} |")


def _kind(add: Callable[[str], None], kind: str, cls: Any, rows: tuple[Any, Any, Any]) -> None:
    spec_rows, status_rows, rules = rows
    spec_cls = cls.model_fields["spec"].annotation
    doc = _ADF.sub("", _one_line((getattr(spec_cls, "__doc__", None) or "").split("\n\n")[0]))
    add("")
    add(f"## {kind}")
    add("")
    add(
        f"{_cell(doc)} ADF: {ADF_COUNTERPART[kind]}. "
        f"Short names: {', '.join(f'`{n}`' for n in cls.KIND_INFO.short_names)}."
    )
    add("")
    add("| Field | Type | Default | ADF | Description |")
    add("| --- | --- | --- | --- | --- |")
    for row in spec_rows:
        name = f"**`{row.path}`**" if row.required else f"`{row.path}`"
        adf = _code_cell(row.adf) if row.adf and " " not in row.adf else _cell(row.adf) or "—"
        add(f"| {name} | {row.type} | {row.default} | {adf} | {_cell(row.description)} |")
    add("")
    add("Fields in **bold** are required.")
    if rules:
        add("")
        add("Rules:")
        add("")
        for rule in rules:
            add(f"- on `{rule.path}`: {_cell(rule.message)} — `{rule.cel}`")
    if kind in ADF_NOT_HERE:
        add("")
        add("ADF properties with no field of that name:")
        add("")
        for prop, why in ADF_NOT_HERE[kind]:
            add(f"- {prop}: {why}")
    add("")
    add(f"Status of {kind} (written by the operator):")
    add("")
    add("| Field | Type | Description |")
    add("| --- | --- | --- |")
    for row in status_rows:
        add(f"| `{row.path}` | {row.type} | {_cell(row.description)} |")


def render() -> str:
    """The whole text of docs/reference.md."""
    out: list[str] = []
    _intro(out.append)
    per_kind = {kind: _kind_rows(cls) for kind, cls in KINDS.items()}
    _rules(out.append, per_kind)
    for kind, cls in KINDS.items():
        _kind(out.append, kind, cls, per_kind[kind])
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    write_page(render, "Write the API reference generated from the models.", argv)


if __name__ == "__main__":
    main()
