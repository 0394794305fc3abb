"""The import: ADF resources -> manifests, Secret templates and findings (see adf/__init__.py).

Linked services first, then datasets, then triggers, then pipelines: each step refers to what the
previous ones made. Every object made is checked with the API's own models (`parse_resource`); one
that does not pass is not written, and why is reported with the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from impala_copy.adf import mapping
from impala_copy.adf.activities import import_pipelines
from impala_copy.adf.expressions import Unmappable, keep, unwrap
from impala_copy.adf.fields import Context, KindMap, apply
from impala_copy.adf.findings import Findings
from impala_copy.adf.names import NameBook
from impala_copy.adf.reader import DATASET, LINKED_SERVICE, TRIGGER, AdfResource
from impala_copy.adf.secrets import CA_KEY, CONFIG_MAP, SECRET, Template, certificate_source, key_source
from impala_copy.adf.triggers import TriggerPlan, plan_trigger
from impala_copy.api.common import GROUP_VERSION
from impala_copy.api.kinds import SpecError, parse_resource

ADF_NAME_ANNOTATION = "impalacopy.io/adf-name"
ADF_DESCRIPTION_ANNOTATION = "impalacopy.io/adf-description"
SINK_KINDS = ("ParquetDataset", "DelimitedTextDataset", "JsonDataset", "PostgreSqlTableDataset")
KEY_VAULT = "AzureKeyVault"


@dataclass
class Manifest:
    """One object made: its manifest and the ADF resource it came from."""

    kind: str
    name: str
    doc: dict[str, Any]
    origin: str
    path: str


@dataclass
class ImportResult:
    manifests: list[Manifest] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    namespace: str | None = None


@dataclass
class Made:
    """What an ADF linked service or dataset became (our kind and name), for references to it."""

    kind: str
    name: str


class Import:
    """One import in progress; implements adf/fields.Importer for the object being converted."""

    def __init__(self, findings: Findings, namespace: str | None) -> None:
        self.result = ImportResult(findings=findings, namespace=namespace)
        self.names = NameBook()
        self.made: dict[str, dict[str, Made]] = {LINKED_SERVICE: {}, DATASET: {}}
        self.failed: dict[str, set[str]] = {LINKED_SERVICE: set(), DATASET: set()}
        self.vaults: dict[str, str] = {}
        self.templates: dict[tuple[str, str], Template] = {}
        self.owner: AdfResource | None = None
        self.owner_name = ""
        self.bindings: dict[str, str] = {}
        self.written: set[tuple[str, str]] = set()
        self.subject = ""

    # ------------------------------------------------------------------ Importer (adf/fields.py)

    def secret(self, key: str, value: Any) -> dict[str, Any]:
        owner = self._owner()
        source = key_source(key, value, owner.name, self.vaults)
        template = self._template(SECRET, f"{self.owner_name}-credentials")
        template.keys[key] = source
        return {"secretKeyRef": {"name": template.name, "key": key}}

    def certificate(self, path: str) -> dict[str, Any]:
        template = self._template(CONFIG_MAP, f"{self.owner_name}-ca")
        template.keys[CA_KEY] = certificate_source(path)
        return {"configMapKeyRef": {"name": template.name, "key": CA_KEY}}

    def reference(self, category: str, value: Any) -> dict[str, Any]:
        value = unwrap(value)
        name = value.get("referenceName") if isinstance(value, dict) else None
        name = unwrap(name)
        if not isinstance(name, str) or name.startswith("@"):
            raise Unmappable(f"a {category} reference must name it (referenceName), not compute it")
        made = self.made[category].get(name)
        if made is None:
            why = (
                "was not imported (see its own items)"
                if name in self.failed[category]
                else "is not in the input"
            )
            raise Unmappable(f"{category} {name!r} {why}")
        if category == DATASET and made.kind in SINK_KINDS:
            return {"referenceName": made.name, "kind": made.kind}
        return {"referenceName": made.name}

    def text(self, value: str) -> str:
        return keep(value, self.bindings)

    def _owner(self) -> AdfResource:
        assert self.owner is not None
        return self.owner

    def _template(self, kind: str, wanted: str) -> Template:
        owner = self._owner()
        name = self.names.claim(kind, owner.name, wanted)
        template = self.templates.get((kind, name))
        if template is None:
            template = self.templates[(kind, name)] = Template(kind, name, owner.name)
        return template

    # ------------------------------------------------------------------ making objects

    def build(
        self,
        table: KindMap,
        data: dict[str, Any],
        source: tuple[AdfResource, str, str],
        extra: dict[str, Any] | None = None,
    ) -> Manifest | None:
        """The manifest of `data` read through `table`; None (and findings) when it does not validate.

        `source` is (resource, the object's ADF identity, JSON path of `data`)."""
        resource, identity, base = source
        outcome = apply(table, data, Context(self, self.owner_name, base))
        for path, reason in outcome.problems:
            self.report(resource, f"{base}.{path}", reason)
        if outcome.failed:
            self.report(
                resource,
                base,
                f"not imported: {table.kind} {self.owner_name!r}: a value above cannot be carried over",
            )
            return None
        annotations = {ADF_NAME_ANNOTATION: identity}
        if isinstance(data.get("description"), str) and data["description"]:
            annotations[ADF_DESCRIPTION_ANNOTATION] = data["description"]
        metadata: dict[str, Any] = {"name": self.owner_name, "annotations": annotations}
        if self.result.namespace:
            metadata["namespace"] = self.result.namespace
        doc = {"apiVersion": GROUP_VERSION, "kind": table.kind, "metadata": metadata, **outcome.body}
        spec = doc.setdefault("spec", {})
        for key, value in (extra or {}).items():
            spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
        problems = self._problems(doc)
        for path, message in problems:
            where = f"{path}: " if path else ""
            self.report(resource, base, f"not imported: {table.kind} {self.owner_name!r}: {where}{message}")
        if problems:
            return None
        made = Manifest(table.kind, self.owner_name, doc, resource.origin, base)
        self.result.manifests.append(made)
        self.written.add((table.kind, self.owner_name))
        return made

    def _problems(self, doc: dict[str, Any]) -> list[tuple[str, str]]:
        """Why `doc` cannot be written: the API's own checks, and references to objects not written."""
        try:
            parsed = parse_resource(doc)
        except SpecError as exc:
            return exc.errors
        return [
            (ref.field, f"refers to {ref.kind} {ref.name!r}, which was not imported as one")
            for ref in parsed.references()
            if ref.is_object and (ref.kind, ref.name) not in self.written
        ]

    def discard_templates(self, owner: str) -> None:
        """Forget the templates of an object that was not imported."""
        for key in [k for k, t in self.templates.items() if t.owner == owner]:
            del self.templates[key]

    def report(self, resource: AdfResource, path: str, reason: str) -> None:
        subject = self.subject if resource is self.owner and self.subject else resource.subject
        self.result.findings.add(resource.origin, path, subject, reason)

    def start(self, resource: AdfResource, kind: str, identity: str, wanted: str, subject: str = "") -> None:
        """Begin an object of `kind` for ADF `identity` (named `subject` in the report): its name is
        claimed now."""
        self.owner = resource
        self.subject = subject
        before = len(self.names.collisions)
        self.owner_name = self.names.claim(kind, identity, wanted)
        self.bindings = {}
        for _, mine, first, name in self.names.collisions[before:]:
            self.report(
                resource,
                f"{resource.path}.name",
                f"{kind} name collision: {mine!r} and {first!r} "
                f"both become {name.rsplit('-', 1)[0]!r}; {mine!r} is named {name!r}",
            )

    # ------------------------------------------------------------------ linked services and datasets

    def resource(self, resource: AdfResource, tables: Sequence[KindMap]) -> None:
        """A linked service or dataset: read through the table of its type, or reported."""
        base = f"{resource.path}.properties"
        kind = resource.properties.get("type")
        if resource.category == LINKED_SERVICE and kind == KEY_VAULT:
            self.report(
                resource,
                base,
                "a Key Vault linked service: the secrets it holds become Kubernetes "
                "Secrets (see the README's commands)",
            )
            return
        table = next((t for t in tables if kind in t.types), None)
        if table is None:
            self.failed[resource.category].add(resource.name)
            self.report(resource, f"{base}.type", _no_counterpart(resource.category, kind, tables))
            return
        self.start(resource, table.kind, resource.name, resource.name)
        if self.build(table, resource.properties, (resource, resource.name, base)) is None:
            self.failed[resource.category].add(resource.name)
            self.discard_templates(resource.name)
            return
        self.made[resource.category][resource.name] = Made(table.kind, self.owner_name)


def _no_counterpart(category: str, kind: Any, tables: Sequence[KindMap]) -> str:
    known = ", ".join(t for table in tables for t in table.types)
    return f"{category} type {str(kind)[:80]!r} has no counterpart in impala-copy (it imports {known})"


def import_resources(
    resources: Sequence[AdfResource], findings: Findings, namespace: str | None
) -> ImportResult:
    """The whole import of `resources` (sorted by category and name, as adf/reader.read returns them)."""
    state = Import(findings, namespace)
    for resource in resources:
        if resource.category == LINKED_SERVICE and resource.properties.get("type") == KEY_VAULT:
            url = unwrap((resource.properties.get("typeProperties") or {}).get("baseUrl"))
            state.vaults[resource.name] = url if isinstance(url, str) else ""
    for resource in resources:
        if resource.category == LINKED_SERVICE:
            state.resource(resource, mapping.LINKED_SERVICES)
    for resource in resources:
        if resource.category == DATASET:
            state.resource(resource, mapping.DATASETS)
    plans: list[TriggerPlan] = []
    for resource in resources:
        if resource.category == TRIGGER:
            plan = plan_trigger(resource, findings)
            if plan is not None:
                plans.append(plan)
    import_pipelines(state, resources, plans)
    state.result.templates.extend(t for _, t in sorted(state.templates.items()))
    return state.result
