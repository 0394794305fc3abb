"""Judging an object the way the API server does, from the generated CRDs, without an API server.

- `schema_errors`: the object against the CRD's openAPIV3Schema with `jsonschema` (OpenAPI 3.0 is the
  draft-4 dialect), in the strict mode of `kubectl apply` (an unknown field is an error, except where
  the schema keeps unknown fields).
- `cel_verdicts`: every `x-kubernetes-validations` rule of the schema evaluated with cel-python on the
  part of the object it sits on, with the field path of that part spelled like the CLI's errors
  (`spec.source`, `spec.outputs[0]`).

Both judge the object the API server would store (`api.defaulting.stored_object`: nulls pruned, the
CRD's defaults applied), since the API server validates after defaulting.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import celpy
import jsonschema
from celpy import celtypes

from impala_copy.api.crd import build_crds
from impala_copy.api.defaulting import stored_object


@cache
def crds_by_kind() -> dict[str, dict[str, Any]]:
    return {crd["spec"]["names"]["kind"]: crd for crd in build_crds().values()}


def openapi(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = crds_by_kind()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _strict(node: dict[str, Any], path: str = "") -> dict[str, Any]:
    """The schema with unknown fields refused where the API server would prune them (never in metadata)."""
    out = dict(node)
    if "properties" in out:
        out["properties"] = {k: _strict(v, f"{path}.{k}") for k, v in out["properties"].items()}
        if not out.get("x-kubernetes-preserve-unknown-fields") and path != ".metadata":
            out["additionalProperties"] = False
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(out["additionalProperties"])
    if "items" in out:
        out["items"] = _strict(out["items"])
    return out


@cache
def _validator(kind: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(_strict(copy.deepcopy(openapi(kind))))


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def schema_errors(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) for every schema error of an object of one of our kinds."""
    errors = _validator(obj["kind"]).iter_errors(stored_object(obj))
    return sorted((_path(e.absolute_path), e.message) for e in errors)


@cache
def _program(rule: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def compiles(rule: str) -> bool:
    try:
        _program(rule)
    except Exception:
        return False
    return True


def rule_passes(rule: str, value: Any) -> bool:
    """One CEL rule on one value, as the API server judges a default against the rules of its node."""
    result = _program(rule).evaluate({"self": celpy.json_to_cel(value)})
    return isinstance(result, celtypes.BoolType) and bool(result)


@dataclass(frozen=True)
class Verdict:
    path: str
    rule: str
    message: str
    passed: bool
    error: str | None = None


def _nodes(schema: dict[str, Any], value: Any, path: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
    yield path, schema, value
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from _nodes(sub, child, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and "items" in schema:
        for i, child in enumerate(value):
            yield from _nodes(schema["items"], child, f"{path}[{i}]")


def cel_verdicts(obj: dict[str, Any]) -> list[Verdict]:
    """Every rule of the object's CRD that applies to a part of the object, and its verdict."""
    verdicts = []
    for path, schema, value in _nodes(openapi(obj["kind"]), stored_object(obj), ""):
        for rule in schema.get("x-kubernetes-validations", []):
            try:
                result = _program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
            except Exception as exc:  # an evaluation error fails the request on the API server too
                verdicts.append(Verdict(path, rule["rule"], rule["message"], False, repr(exc)))
                continue
            if isinstance(result, celtypes.BoolType):
                verdicts.append(Verdict(path, rule["rule"], rule["message"], bool(result)))
            else:
                verdicts.append(Verdict(path, rule["rule"], rule["message"], False, repr(result)))
    return verdicts


def cel_failures(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((v.path, v.message) for v in cel_verdicts(obj) if not v.passed)
