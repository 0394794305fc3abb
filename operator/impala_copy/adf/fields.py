"""The shape of a mapping table: ADF property path -> our field, with a converter.

A `KindMap` is the table of one kind; `apply` reads an ADF object through it. Every property of the
object is accounted for: mapped by a `FieldMap`, reported by a `Dropped` entry (with its reason), or
`quiet` (organisation in ADF Studio only, documented in the generated page). Anything else is reported
as a property with no counterpart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from impala_copy.adf.expressions import Unmappable, has_expression, unwrap


class Importer(Protocol):
    """What a converter may ask of the import in progress."""

    def secret(self, key: str, value: Any) -> dict[str, Any]:
        """A secretKeyRef for `value` (SecureString, Key Vault reference or text) under `key`."""

    def certificate(self, path: str) -> dict[str, Any]:
        """A certificate source for a file path on the integration runtime (trustedCertPath)."""

    def reference(self, category: str, value: Any) -> dict[str, Any]:
        """Our reference (`referenceName`, and `kind` for a sink dataset) for an ADF reference."""

    def text(self, value: str) -> str:
        """Text with its ADF expressions kept, bound or refused (adf/expressions.py)."""


@dataclass
class Context:
    """One object being converted: the import, the object's name, where it is in its file."""

    importer: Importer
    name: str
    base: str  # JSON path of the ADF object read, e.g. $.properties
    data: Mapping[str, Any] = field(default_factory=dict)  # the ADF object read (set by `apply`)


Converter = Callable[[Any, Context], Any]


@dataclass(frozen=True)
class FieldMap:
    """ADF property `adf` (dotted, under the object read) -> our field `ours` (dotted, in the manifest).

    `ours == ""`: the value is checked but sets nothing. A converter returning a dict for `ours ==
    "spec"` merges it into the spec."""

    adf: str
    ours: str
    convert: Converter
    note: str = ""


@dataclass(frozen=True)
class Dropped:
    """A known ADF property with no counterpart: reported with `reason` when present."""

    adf: str
    reason: str


@dataclass(frozen=True)
class KindMap:
    """The table of one kind: which ADF `types` it reads, into which of our kinds, field by field."""

    title: str
    types: tuple[str, ...]
    kind: str
    fields: tuple[FieldMap, ...]
    dropped: tuple[Dropped, ...] = ()
    quiet: tuple[str, ...] = ()
    constants: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What `apply` made: the body (spec, metadata) and the problems, as (ADF path, reason)."""

    body: dict[str, Any]
    problems: list[tuple[str, str]]
    # Values that could not be converted: the object would say something else than in ADF.
    failed: int = 0


def get_path(data: Any, dotted: str) -> tuple[bool, Any]:
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        node = node.setdefault(part, {})
    if isinstance(value, dict) and isinstance(node.get(leaf), dict):
        node[leaf].update(value)
    else:
        node[leaf] = value


def apply(table: KindMap, data: Mapping[str, Any], ctx: Context) -> Outcome:
    """`data` (an ADF object) read through `table`."""
    ctx.data = data
    body: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    failed = 0
    for ours, value in table.constants.items():
        set_path(body, ours, value)
    for entry in table.fields:
        present, value = get_path(data, entry.adf)
        if not present or value is None:
            continue
        try:
            converted = entry.convert(value, ctx)
        except Unmappable as exc:
            problems.append((entry.adf, str(exc)))
            failed += 1
            continue
        if entry.ours and converted is not None:
            set_path(body, entry.ours, converted)
    for dropped in table.dropped:
        present, value = get_path(data, dropped.adf)
        # A feature written as disabled (enableStaging: false) loses nothing.
        if present and value is not False and value not in (None, [], {}, ""):
            problems.append((dropped.adf, dropped.reason))
    problems.extend(
        (path, "has no counterpart in impala-copy: not imported") for path in _unknown(table, data)
    )
    return Outcome(body, problems, failed)


def _unknown(table: KindMap, data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Paths of properties of `data` that the table neither maps, reports nor keeps quiet about."""
    known = {f.adf for f in table.fields} | {d.adf for d in table.dropped} | set(table.quiet)
    found: list[str] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if path in known:
            continue
        if isinstance(value, dict) and any(k.startswith(path + ".") for k in known):
            found.extend(_unknown(table, value, path + "."))
        elif value not in (None, [], {}, ""):
            found.append(path)
    return found


# ------------------------------------------------------------------------------------------ converters


def _scalar(value: Any) -> Any:
    value = unwrap(value)
    if isinstance(value, str) and has_expression(value):
        raise Unmappable(f"the expression {_short(value)!r} is not supported here: write the value")
    return value


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def plain(value: Any, ctx: Context) -> Any:
    """As written."""
    value = _scalar(value)
    if not isinstance(value, str | int | float | bool):
        raise Unmappable(f"expected a single value, found {type(value).__name__}")
    return value


def text(value: Any, ctx: Context) -> str:
    """Text; the trigger's times are kept, pipeline parameters bound (see Expressions)."""
    value = unwrap(value)
    if not isinstance(value, str):
        raise Unmappable(f"expected text, found {type(value).__name__}")
    return ctx.importer.text(value)


def integer(value: Any, ctx: Context) -> int:
    """A whole number (also written as text)."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Unmappable(f"expected a whole number, found {value!r}")
    try:
        return int(value)
    except ValueError:
        raise Unmappable(f"expected a whole number, found {_short(str(value))!r}") from None


def boolean(value: Any, ctx: Context) -> bool:
    """true or false (also written as text)."""
    value = _scalar(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise Unmappable(f"expected true or false, found {_short(str(value))!r}")


def choice(mapping: Mapping[str, Any]) -> Converter:
    """One of the ADF values in `mapping` (case-insensitive) -> our value."""
    lowered = {k.lower(): v for k, v in mapping.items()}

    def convert(value: Any, ctx: Context) -> Any:
        written = plain(value, ctx)
        if str(written).lower() not in lowered:
            allowed = ", ".join(mapping)
            raise Unmappable(f"{_short(str(written))!r} has no counterpart (impala-copy takes {allowed})")
        return lowered[str(written).lower()]

    convert.__doc__ = "One of " + ", ".join(f"{k} -> {v}" for k, v in mapping.items())
    return convert


def secret(key: str) -> Converter:
    """A SecureString, an Azure Key Vault secret reference or text -> a Secret key reference."""

    def convert(value: Any, ctx: Context) -> dict[str, Any]:
        return ctx.importer.secret(key, value)

    convert.__doc__ = f"a key `{key}` of the Secret `<linked-service>-credentials` (never the value)"
    return convert


def certificate(value: Any, ctx: Context) -> dict[str, Any]:
    """A ConfigMap key holding the PEM file."""
    path = plain(value, ctx)
    return ctx.importer.certificate(str(path))


def reference(category: str) -> Converter:
    """An ADF LinkedServiceReference / DatasetReference -> the referenced object's new name."""

    def convert(value: Any, ctx: Context) -> dict[str, Any]:
        return ctx.importer.reference(category, value)

    convert.__doc__ = f"the new name of the referenced {category}"
    return convert


def keyed(value: Any, ctx: Context) -> Any:
    """Checked only: the value was read with another field."""
    return None
