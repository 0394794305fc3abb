"""Manifests on disk: load YAML (a file or a folder, multi-document), parse, resolve, validate.

What is read:
- our kinds (apiVersion impalacopy.io/...), parsed with `api.kinds.parse_resource`;
- v1 Secret (`data` base64, `stringData` text, stringData wins) and v1 ConfigMap (`data`, `binaryData`);
- anything else (a Namespace, a Deployment...) is skipped.
Files are read with limits (cli/manifest_yaml.py: size, nesting, alias expansion, duplicate keys);
a symbolic link to a file outside the folder is refused; every name and namespace must follow
Kubernetes' rules, and Secret and ConfigMap keys too. Errors that make it unclear which objects the
files define (an unreadable file, a bad name, an object defined twice) carry `stops_run`: a local
run refuses to start on them (`impala-copy validate` lists them like any other error).
An object without metadata.namespace lands in the default namespace given to `load` (as with
`kubectl apply -n`). `FileCatalog` implements `api.resolve.Catalog` for one namespace, so the CLI
resolves references exactly like the operator does. `validate_all` reports every problem with its
file, kind/name and field path.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from impala_copy.api.activities import CopyActivity, LookupActivity
from impala_copy.api.common import (
    API_GROUP,
    KEY_MESSAGE,
    NAME_MESSAGE,
    NAMESPACE_MESSAGE,
    Resource,
    is_key,
    is_namespace,
    is_object_name,
)
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.resolve import (
    Layout,
    ResolutionError,
    check_reference,
    resolve_copy,
    resolve_lookup,
)
from impala_copy.cli.manifest_yaml import ManifestYamlError, read_documents

YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class ManifestError:
    """One problem: where (file, kind/name, field path) and what."""

    file: str
    kind: str
    name: str
    path: str
    message: str
    # True when the files do not say for sure which objects exist (see the module docstring).
    stops_run: bool = False

    def __str__(self) -> str:
        what = f"{self.kind}/{self.name}" if self.kind else "(document)"
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}: {what}: {where}{self.message}"


@dataclass
class Entry:
    """One of our objects as found on disk: parsed, or the SpecError that says why not."""

    file: str
    kind: str
    name: str
    namespace: str
    resource: Resource | None = None
    error: SpecError | None = None


@dataclass
class KeyedData:
    """A Secret or ConfigMap: its values as bytes (never printed)."""

    file: str
    name: str
    namespace: str
    values: dict[str, bytes] = field(default_factory=dict)


@dataclass
class ManifestSet:
    """Everything loaded from a path."""

    entries: dict[tuple[str, str, str], Entry] = field(default_factory=dict)  # (namespace, kind, name)
    secrets: dict[tuple[str, str], KeyedData] = field(default_factory=dict)  # (namespace, name)
    config_maps: dict[tuple[str, str], KeyedData] = field(default_factory=dict)
    errors: list[ManifestError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def catalog(self, namespace: str) -> FileCatalog:
        return FileCatalog(self, namespace)

    def of_kind(self, kind: str) -> list[Entry]:
        """Objects of one kind, in the order of the files and documents."""
        return [e for (_, k, _), e in self.entries.items() if k == kind]

    def secret_value(self, namespace: str, name: str, key: str) -> bytes | None:
        data = self.secrets.get((namespace, name))
        return None if data is None else data.values.get(key)

    def config_map_value(self, namespace: str, name: str, key: str) -> bytes | None:
        data = self.config_maps.get((namespace, name))
        return None if data is None else data.values.get(key)


class FileCatalog:
    """`api.resolve.Catalog` over a ManifestSet, for one namespace."""

    def __init__(self, manifests: ManifestSet, namespace: str) -> None:
        self.manifests = manifests
        self.namespace = namespace

    def get(self, kind: str, name: str) -> Resource | None:
        entry = self.manifests.entries.get((self.namespace, kind, name))
        if entry is None:
            return None
        if entry.error is not None:
            raise entry.error
        return entry.resource

    def secret_keys(self, name: str) -> set[str] | None:
        data = self.manifests.secrets.get((self.namespace, name))
        return None if data is None else set(data.values)

    def config_map_keys(self, name: str) -> set[str] | None:
        data = self.manifests.config_maps.get((self.namespace, name))
        return None if data is None else set(data.values)


# ------------------------------------------------------------------------------------------ loading


class NoManifestsError(Exception):
    """A folder without any *.yaml or *.yml file."""

    code = "NoManifests"


def yaml_files(path: Path) -> list[Path]:
    """The YAML files of a path: the file itself, or every *.yaml / *.yml below a folder (sorted)."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in YAML_SUFFIXES)
        if not found:
            raise NoManifestsError(f"{path}: no *.yaml or *.yml file in this folder")
        return found
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"{path}: no such file or folder")


def _outside(file: Path, folder: Path) -> bool:
    """True for a file of `folder` that is a symbolic link to a file outside it."""
    return folder.is_dir() and not file.resolve().is_relative_to(folder.resolve())


# (kind, name) -> {dotted field path: value}, e.g. {("ImpalaLinkedService", "x"): {"spec.port": 10001}}
Overrides = Mapping[tuple[str, str], Mapping[str, Any]]


def load(
    path: Path | str, namespace: str = DEFAULT_NAMESPACE, *, overrides: Overrides | None = None
) -> ManifestSet:
    """Load every manifest under `path`; problems go to `.errors` (loading never stops at the first).

    `overrides` set fields of named objects before they are parsed (the demo points the example
    linked service at the server it started), as `kubectl patch` would on the cluster.
    """
    result = ManifestSet()
    for file in yaml_files(Path(path)):
        result.files.append(str(file))
        documents = _read(result, file, Path(path))
        for index, doc in enumerate(documents):
            if doc is None:
                continue
            if overrides and isinstance(doc, dict):
                _override(doc, overrides)
            _add(result, str(file), index, doc, namespace)
    return result


def _read(result: ManifestSet, file: Path, root: Path) -> list[Any]:
    """The documents of one file; [] and an error (that stops a run) when it cannot be read."""
    if _outside(file, root):
        message = f"a symbolic link to a file outside {root}: refused"
        result.errors.append(ManifestError(str(file), "", "", "", message, stops_run=True))
        return []
    try:
        return read_documents(file)
    except ManifestYamlError as exc:
        result.errors.append(
            ManifestError(str(file), "", "", f"line {exc.line}", exc.message, stops_run=True)
        )
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        message = f"not valid YAML: {_one_line(exc)}"
        result.errors.append(ManifestError(str(file), "", "", "", message, stops_run=True))
    except OSError as exc:
        message = f"cannot be read: {exc.strerror or type(exc).__name__}"
        result.errors.append(ManifestError(str(file), "", "", "", message, stops_run=True))
    return []


def _override(doc: dict[str, Any], overrides: Overrides) -> None:
    name = str(_mapping(doc.get("metadata")).get("name", ""))
    for dotted, value in overrides.get((str(doc.get("kind", "")), name), {}).items():
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _add(result: ManifestSet, file: str, index: int, doc: Any, default_namespace: str) -> None:
    if not isinstance(doc, dict):
        result.errors.append(
            ManifestError(
                file, "", "", f"document {index + 1}", "a manifest must be a mapping (apiVersion, kind, ...)"
            )
        )
        return
    api_version = str(doc.get("apiVersion", ""))
    kind = str(doc.get("kind", ""))
    metadata = _mapping(doc.get("metadata"))
    name = metadata.get("name") or ""
    namespace = metadata.get("namespace") or default_namespace
    problem = _name_problem(name, namespace)
    if problem:
        path, message = problem
        shown = name if isinstance(name, str) else ""
        result.errors.append(ManifestError(file, kind, shown, path, message, stops_run=bool(name)))
        return
    if api_version.split("/")[0] == API_GROUP:
        _add_resource(result, Entry(file, kind, name, namespace), doc)
    elif api_version == "v1" and kind in ("Secret", "ConfigMap"):
        _add_keyed(result, file, kind, name, namespace, doc)


def _name_problem(name: object, namespace: object) -> tuple[str, str] | None:
    """(field path, message) when a document's name or namespace breaks Kubernetes' rules."""
    if not name:
        return "metadata.name", "is required"
    if not isinstance(name, str):
        return "metadata.name", "must be a string"
    if not is_object_name(name):
        return "metadata.name", NAME_MESSAGE
    if not isinstance(namespace, str) or not is_namespace(namespace):
        return "metadata.namespace", NAMESPACE_MESSAGE
    return None


def _add_resource(result: ManifestSet, entry: Entry, doc: dict[str, Any]) -> None:
    key = (entry.namespace, entry.kind, entry.name)
    if key in result.entries:
        first = result.entries[key].file
        message = f"defined twice (also in {first})"
        result.errors.append(
            ManifestError(entry.file, entry.kind, entry.name, "metadata.name", message, stops_run=True)
        )
        return
    try:
        entry.resource = parse_resource(doc)
    except SpecError as exc:
        entry.error = exc
        for path, message in exc.errors:
            result.errors.append(ManifestError(entry.file, entry.kind, entry.name, path, message))
    result.entries[key] = entry


def _add_keyed(
    result: ManifestSet, file: str, kind: str, name: str, namespace: str, doc: dict[str, Any]
) -> None:
    target = result.secrets if kind == "Secret" else result.config_maps
    if (namespace, name) in target:
        first = target[(namespace, name)].file
        message = f"defined twice (also in {first})"
        result.errors.append(ManifestError(file, kind, name, "metadata.name", message, stops_run=True))
        return
    data = KeyedData(file, name, namespace)
    encoded_field, text_field = ("data", "stringData") if kind == "Secret" else ("binaryData", "data")
    bad = [
        (f"{f}[{key!r}]", KEY_MESSAGE if not _is_key(key) else "must be a string")
        for f in (encoded_field, text_field)
        for key, value in _mapping(doc.get(f)).items()
        if not _is_key(key) or not isinstance(value, str)
    ]
    for path, message in bad:
        result.errors.append(ManifestError(file, kind, name, path, message, stops_run=True))
    if bad:
        return
    for key, value in _mapping(doc.get(encoded_field)).items():
        try:
            data.values[str(key)] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            result.errors.append(
                ManifestError(file, kind, name, f"{encoded_field}.{key}", "is not valid base64")
            )
    for key, value in _mapping(doc.get(text_field)).items():
        data.values[str(key)] = str(value).encode("utf-8")
    target[(namespace, name)] = data


def _is_key(key: object) -> bool:
    return isinstance(key, str) and is_key(key)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------------------------------- validating


def validate_all(manifests: ManifestSet) -> list[ManifestError]:
    """Schema and rule errors (from loading) plus every reference that does not resolve."""
    errors = list(manifests.errors)
    broken = {(e.namespace, e.kind, e.name) for e in manifests.entries.values() if e.error is not None}
    for entry in manifests.entries.values():
        if entry.resource is None:
            continue
        catalog = manifests.catalog(entry.namespace)
        for path, message in _reference_problems(catalog, entry.resource, broken):
            errors.append(ManifestError(entry.file, entry.kind, entry.name, path, message))
    return errors


def _reference_problems(
    catalog: FileCatalog, obj: Resource, broken: set[tuple[str, str, str]]
) -> list[tuple[str, str]]:
    """(field path, message) for each of `obj`'s own references that does not resolve (api/references.py).

    A reference to an object that exists but is itself invalid is not reported again here: the
    invalid object carries its own errors; so do the references of the objects referred to.
    """
    ns = catalog.namespace
    referrer = f"{obj.kind} {obj.name!r}"
    problems: list[tuple[str, str]] = []
    for ref in obj.references():
        if ref.is_object:
            if (ns, ref.kind, ref.name) not in broken and catalog.manifests.entries.get(
                (ns, ref.kind, ref.name)
            ) is None:
                problems.append((ref.field, f"{ref.kind} {ref.name!r} not found in namespace {ns!r}"))
            continue
        try:
            check_reference(catalog, ref, referrer)
        except ResolutionError as exc:
            problems.append((ref.field, exc.message))
    if isinstance(obj, CopyActivity | LookupActivity) and not problems:
        _chain(catalog, obj, problems)
    return problems


def _chain(catalog: FileCatalog, obj: CopyActivity | LookupActivity, problems: list[tuple[str, str]]) -> None:
    """Resolve an activity's whole chain; report what only the activity sees (e.g. no table and no query)."""
    try:
        if isinstance(obj, CopyActivity):
            resolve_copy(catalog, obj, run_id="validate", layout=Layout())
        else:
            resolve_lookup(catalog, obj, run_id="validate", layout=Layout())
    except SpecError:
        pass  # an invalid object down the chain: reported on that object
    except ResolutionError as exc:
        if not _reported_elsewhere(exc):
            problems.append(("spec.source.query" if "source.query" in exc.message else "spec", exc.message))


def _reported_elsewhere(exc: ResolutionError) -> bool:
    """Missing objects, Secrets and keys down the chain are reported on the object that refers to them."""
    return exc.reason in (
        "ReferenceNotFound",
        "SecretNotFound",
        "SecretKeyNotFound",
        "ConfigMapNotFound",
        "ConfigMapKeyNotFound",
    )


def error_lines(errors: Iterable[ManifestError]) -> list[str]:
    return [str(e) for e in errors]
