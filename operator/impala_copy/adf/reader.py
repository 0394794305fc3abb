"""Reading ADF JSON as ADF writes it into `AdfResource`s.

Accepted shapes:
- a single resource, `{"name": ..., "properties": {...}}`, as ADF's documentation shows it and as an
  ADF Git repository stores it (`linkedService/*.json`, `dataset/*.json`, `pipeline/*.json`,
  `trigger/*.json`; such files also carry `"type": "Microsoft.DataFactory/factories/..."`);
- an ARM template export (`resources` of type `Microsoft.DataFactory/factories/<linkedServices |
  datasets | pipelines | triggers>`, names like `[concat(parameters('factoryName'), '/name')]`), with
  its parameters' default values, overridden by a deployment parameters file given next to it.

A file that cannot be read (missing, not UTF-8, not JSON, too large or too deeply nested) stops the
import with `AdfInputError`; a readable document that is not one of these shapes is a finding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impala_copy.adf.arm import ArmContext, ArmError
from impala_copy.adf.findings import Findings

MAX_FILE_BYTES = 32 * 1024 * 1024
LINKED_SERVICE = "linkedService"
DATASET = "dataset"
PIPELINE = "pipeline"
TRIGGER = "trigger"
CATEGORIES = (LINKED_SERVICE, DATASET, PIPELINE, TRIGGER)
_FACTORY_TYPE = "microsoft.datafactory/factories"
# Resource types (ARM and Git files) and Git folder names -> category.
_TYPES = {
    "linkedservices": LINKED_SERVICE,
    "datasets": DATASET,
    "pipelines": PIPELINE,
    "triggers": TRIGGER,
}
_FOLDERS = {"linkedservice": LINKED_SERVICE, "dataset": DATASET, "pipeline": PIPELINE, "trigger": TRIGGER}
# What else a factory holds, and why it is not imported.
NOT_IMPORTED = {
    "integrationruntimes": "an integration runtime has no counterpart: copies run in Job pods in the "
    "namespace of the activity (see spec.job for where they run)",
    "dataflows": "data flows are not supported by impala-copy",
    "managedvirtualnetworks": "managed virtual networks have no counterpart: use network policies",
    "credentials": "credentials have no counterpart: identities come from the Job pod's service account",
    "globalparameters": "global parameters have no counterpart",
    "factories": "factory settings (global parameters, Git configuration) are not imported",
}


class AdfInputError(Exception):
    """Input that cannot be read at all: the message names the file and the problem."""


@dataclass(frozen=True)
class AdfResource:
    """One ADF resource: its category, ADF name, properties (ARM expressions evaluated) and origin."""

    category: str
    name: str
    properties: dict[str, Any]
    origin: str
    path: str  # JSON path of the resource object in its file: "$" or "$.resources[3]"

    @property
    def subject(self) -> str:
        return f"{self.category} {self.name!r}"


def read(paths: Iterable[Path], findings: Findings) -> list[AdfResource]:
    """Every resource under `paths` (files, or folders searched for *.json), sorted by category and name."""
    documents = [(str(file), _load(file)) for file in _files(paths)]
    values = _parameter_values(documents)
    resources: list[AdfResource] = []
    for origin, doc in documents:
        resources.extend(_resources(origin, doc, values, findings))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return _once(sorted(resources, key=lambda r: (order[r.category], r.name, r.origin, r.path)), findings)


def _once(resources: list[AdfResource], findings: Findings) -> list[AdfResource]:
    """The first of resources with the same category and name; the others are reported."""
    first: dict[tuple[str, str], AdfResource] = {}
    for resource in resources:
        key = (resource.category, resource.name)
        if key in first:
            kept = first[key]
            findings.add(
                resource.origin,
                resource.path,
                resource.subject,
                f"defined twice: the one in {kept.origin} at {kept.path} is imported",
            )
        else:
            first[key] = resource
    return list(first.values())


def _files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise AdfInputError(f"{path}: no such file or folder")
    if not found:
        raise AdfInputError("no *.json file found in " + ", ".join(str(p) for p in paths))
    return found


def _load(file: Path) -> Any:
    try:
        with file.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise AdfInputError(f"{file}: cannot be read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise AdfInputError(f"{file}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise AdfInputError(f"{file}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise AdfInputError(
            f"{file}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise AdfInputError(f"{file}: nested too deeply to be ADF JSON") from None


def _is_parameters_file(doc: Any) -> bool:
    return isinstance(doc, dict) and "deploymentParameters" in str(doc.get("$schema", ""))


def _parameter_values(documents: list[tuple[str, Any]]) -> dict[str, Any]:
    """Values of a deployment parameters file (`parameters: {name: {value: ...}}`), if one was given."""
    values: dict[str, Any] = {}
    for _, doc in documents:
        if _is_parameters_file(doc):
            for name, entry in (doc.get("parameters") or {}).items():
                if isinstance(entry, dict) and "value" in entry:
                    values[str(name)] = entry["value"]
    return values


def _resources(origin: str, doc: Any, values: dict[str, Any], findings: Findings) -> list[AdfResource]:
    if _is_parameters_file(doc):
        return []
    if isinstance(doc, dict) and isinstance(doc.get("resources"), list):
        return _arm_resources(origin, doc, values, findings)
    if isinstance(doc, dict) and isinstance(doc.get("name"), str) and isinstance(doc.get("properties"), dict):
        category = _category(doc, Path(origin).parent.name, "$", origin, findings)
        if category is None:
            return []
        return [AdfResource(category, doc["name"], doc["properties"], origin, "$")]
    findings.add(
        origin,
        "$",
        "document",
        "not an ADF resource ({name, properties}) or an ARM template (resources): not imported",
    )
    return []


def _category(doc: dict[str, Any], folder: str, path: str, origin: str, findings: Findings) -> str | None:
    """The category of a single resource: from its `type`, its Git folder, or its shape."""
    declared = str(doc.get("type", "")).lower()
    kind = declared.removeprefix(_FACTORY_TYPE + "/") if declared.startswith(_FACTORY_TYPE) else ""
    kind = kind or ("factories" if declared == _FACTORY_TYPE else "")
    if not kind and folder.lower() in _FOLDERS:
        return _FOLDERS[folder.lower()]
    if kind in _TYPES:
        return _TYPES[kind]
    subject = f"resource {doc.get('name')!r}"
    folder_kind = folder.lower() + "s"
    reason = NOT_IMPORTED.get(kind) or NOT_IMPORTED.get(folder_kind)
    if reason:
        findings.add(origin, path, subject, reason)
        return None
    if kind:
        findings.add(origin, path, subject, f"unknown resource type {doc.get('type')!r}: not imported")
        return None
    return _category_by_shape(doc["properties"])


def _category_by_shape(properties: dict[str, Any]) -> str:
    if "activities" in properties:
        return PIPELINE
    if str(properties.get("type", "")).endswith("Trigger"):
        return TRIGGER
    if "linkedServiceName" in properties:
        return DATASET
    return LINKED_SERVICE


def _arm_resources(
    origin: str, doc: dict[str, Any], values: dict[str, Any], findings: Findings
) -> list[AdfResource]:
    context = ArmContext(doc.get("parameters") or {}, values, doc.get("variables") or {})
    found: list[AdfResource] = []
    for index, resource in enumerate(doc["resources"]):
        path = f"$.resources[{index}]"
        if not isinstance(resource, dict):
            findings.add(origin, path, "resource", "not a JSON object: not imported")
            continue
        name = _arm_name(resource.get("name"), context)
        declared = str(resource.get("type", ""))
        kind = declared.lower().removeprefix(_FACTORY_TYPE + "/")
        subject = f"resource {name!r}"
        if kind in _TYPES and isinstance(resource.get("properties"), dict):
            properties = context.resolve(resource["properties"])
            found.append(AdfResource(_TYPES[kind], name, properties, origin, path))
        elif kind in NOT_IMPORTED or declared.lower() == _FACTORY_TYPE:
            findings.add(origin, path, subject, NOT_IMPORTED.get(kind, NOT_IMPORTED["factories"]))
        else:
            findings.add(origin, path, subject, f"unknown resource type {declared!r}: not imported")
    return found


def _arm_name(raw: Any, context: ArmContext) -> str:
    """The ADF name of an ARM resource: the last segment of `factory/name`."""
    try:
        value = context.evaluate(raw)
    except ArmError:
        # e.g. a factoryName without a default: the resource's own segment is still written literally.
        value = str(raw).rstrip("]").rstrip(")").split("/")[-1].strip("'") if raw else ""
    return str(value).split("/")[-1]
