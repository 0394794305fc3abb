"""The registry of kinds and parsing of raw objects (manifests or API objects) into models."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from impala_copy.api.activities import CopyActivity, LookupActivity
from impala_copy.api.common import GROUP_VERSION, Resource
from impala_copy.api.datasets import (
    DelimitedTextDataset,
    JsonDataset,
    ParquetDataset,
    PostgreSqlTableDataset,
)
from impala_copy.api.impala import ImpalaDataset, ImpalaLinkedService
from impala_copy.api.stores import (
    AmazonS3LinkedService,
    AzureBlobStorageLinkedService,
    PostgreSqlLinkedService,
)

KINDS: dict[str, type[Resource]] = {
    cls.KIND_INFO.kind: cls
    for cls in (
        ImpalaLinkedService,
        ImpalaDataset,
        AmazonS3LinkedService,
        AzureBlobStorageLinkedService,
        PostgreSqlLinkedService,
        ParquetDataset,
        DelimitedTextDataset,
        JsonDataset,
        PostgreSqlTableDataset,
        CopyActivity,
        LookupActivity,
    )
}


class SpecError(ValueError):
    """An object that does not match its kind's schema or rules; `errors` are (field path, message)."""

    def __init__(self, kind: str, name: str, errors: list[tuple[str, str]]) -> None:
        self.kind = kind
        self.name = name
        self.errors = errors
        detail = "; ".join(f"{path}: {msg}" if path else msg for path, msg in errors)
        super().__init__(f"{kind}/{name}: {detail}")


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def validation_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) pairs in manifest terms (camelCase paths, rule messages without prefixes)."""
    result = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        result.append((_path(loc), msg))
    return result


def parse_resource(obj: dict[str, Any]) -> Resource:
    """Parse an object of one of our kinds; SpecError names the kind, the name and every bad field."""
    kind = str(obj.get("kind", ""))
    name = str((obj.get("metadata") or {}).get("name", ""))
    cls = KINDS.get(kind)
    if cls is None:
        raise SpecError(
            kind or "<no kind>", name, [("kind", f"unknown kind {kind!r}; expected one of {sorted(KINDS)}")]
        )
    if obj.get("apiVersion") != GROUP_VERSION:
        raise SpecError(
            kind, name, [("apiVersion", f"expected {GROUP_VERSION}, got {obj.get('apiVersion')!r}")]
        )
    # Status is written by the operator and is not judged here.
    body = {k: v for k, v in obj.items() if k != "status"}
    try:
        text = json.dumps(body, default=_json_scalar, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SpecError(kind, name, [("", f"not JSON data: {exc}")]) from None
    try:
        # Strict, on JSON, as the API server judges: no "21050" for an integer, no 1 for a boolean.
        return cls.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise SpecError(kind, name, validation_errors(exc)) from None


def _json_scalar(value: object) -> str | dict[Any, Any] | list[Any]:
    """YAML timestamps become text, as kubectl sends them; mappings and lists that are not dict and
    list (views of an API object) are copied; other non-JSON values are refused."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"a {type(value).__name__} value has no JSON form")
