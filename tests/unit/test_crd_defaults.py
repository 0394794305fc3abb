"""The CRDs carry every default of the models, and what the API server stores means what was written.

In: the spec models of every kind, the generated CRDs, `api.defaulting` (the API server's pruning of
nulls and structural defaulting); every manifest of our kinds under examples/, the manifests of
tests/unit/test_rules_agreement.py and the operator tests' standard set.
Out: each non-null model default is a CRD `default` at the same path and each CRD default is a model
default (a nested model built from its defaults is `{}`); fields taken from the operator's settings
have none and say so; every default validates against its own schema and rules and sits where the
API server accepts one; defaulting follows the API server's steps (missing or null -> default, a
parent object that is not there gets no nested defaults); "apply then read back" (the stored object)
parses to the same effective spec (`model_dump`) as the manifest as written; no rule asks whether a
field with a default was written.
Faked: the API server, whose defaulting is reproduced by `api.defaulting` from the generated CRDs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from tests.operator.manifests import standard_set
from tests.unit.crd_checks import openapi, rule_passes
from tests.unit.test_rules_agreement import GOOD, copy_activity, impala_ls, lookup_activity

from impala_copy.api.activities import CopyActivitySpec
from impala_copy.api.defaulting import apply_defaults, stored_object
from impala_copy.api.impala import ImpalaLinkedServiceSpec
from impala_copy.api.kinds import KINDS, parse_resource
from impala_copy.api.model import OPERATOR_SETTING

ROOT = Path(__file__).resolve().parents[2]
# Fields that, when not written, take the operator's setting of this name (no CRD default).
OPERATOR_SETTINGS = {
    ("CopyActivity", "spec.successfulJobsHistoryLimit"): "job.successfulJobsHistoryLimit",
    ("CopyActivity", "spec.failedJobsHistoryLimit"): "job.failedJobsHistoryLimit",
}


# ------------------------------------------------------------------ models and CRDs agree
def _model_types(annotation: Any) -> list[type[BaseModel]]:
    args = getattr(annotation, "__args__", None)
    if args:
        return [t for a in args for t in _model_types(a)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _is_list(annotation: Any) -> bool:
    if getattr(annotation, "__origin__", None) is list:
        return True
    return any(_is_list(a) for a in getattr(annotation, "__args__", ()))


def _model_defaults(model: type[BaseModel], path: str) -> Iterator[tuple[str, Any]]:
    """(path, default as JSON) of every field with a non-null default, nested models included."""
    for name, info in model.model_fields.items():
        field_path = f"{path}.{info.alias or name}"
        if isinstance(info.json_schema_extra, dict) and OPERATOR_SETTING in info.json_schema_extra:
            yield field_path, OPERATOR_SETTING
        elif info.default_factory is not None and _model_types(info.annotation):
            yield field_path, {}
        elif info.default not in (None, PydanticUndefined):
            yield field_path, getattr(info.default, "value", info.default)
        for sub in _model_types(info.annotation):
            yield from _model_defaults(sub, f"{field_path}[*]" if _is_list(info.annotation) else field_path)


def _crd_nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _crd_nodes(child, f"{path}.{name}")
    if "items" in node:
        yield from _crd_nodes(node["items"], f"{path}[*]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _crd_nodes(node["additionalProperties"], f"{path}.*")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_model_default_is_a_crd_default_and_back(kind: str) -> None:
    spec_model = KINDS[kind].model_fields["spec"].annotation
    assert isinstance(spec_model, type)
    from_models = dict(_model_defaults(spec_model, "spec"))
    settings = {p for p, v in from_models.items() if v == OPERATOR_SETTING}
    assert settings == {p for k, p in OPERATOR_SETTINGS if k == kind}
    expected = {p: v for p, v in from_models.items() if p not in settings}
    in_crd = {
        p: n["default"] for p, n in _crd_nodes(openapi(kind)["properties"]["spec"], "spec") if "default" in n
    }
    assert in_crd == expected


def test_the_crds_show_the_defaults_of_the_issue() -> None:
    impala = openapi("ImpalaLinkedService")["properties"]["spec"]["properties"]
    assert (impala["port"]["default"], impala["authenticationType"]["default"]) == (21050, "Anonymous")
    assert (impala["enableSsl"]["default"], impala["enableServerCertificateValidation"]["default"]) == (
        False,
        True,
    )
    lookup = openapi("LookupActivity")["properties"]["spec"]["properties"]
    assert lookup["firstRowOnly"]["default"] is True
    assert lookup["source"]["default"] == {}
    assert lookup["source"]["properties"]["queryTimeout"]["default"] == "02:00:00"
    csv = openapi("DelimitedTextDataset")["properties"]["spec"]["properties"]
    assert csv["rowDelimiter"]["default"] == "\r\n"
    assert "default" not in csv["location"]["properties"]["folderPath"]


@pytest.mark.parametrize(("kind", "path"), sorted(OPERATOR_SETTINGS))
def test_operator_settings_have_no_crd_default_and_say_whose_value_they_take(kind: str, path: str) -> None:
    node = dict(_crd_nodes(openapi(kind)["properties"]["spec"], "spec"))[path]
    assert "default" not in node
    assert OPERATOR_SETTING not in node
    assert (
        f"Not written: the operator's setting (Helm value {OPERATOR_SETTINGS[kind, path]}"
        in node["description"]
    )
    # The job section, all of it the operator's settings when not written, has no default either.
    job = openapi("CopyActivity")["properties"]["spec"]["properties"]["job"]
    assert [p for p, n in _crd_nodes(job, "spec.job") if "default" in n] == []


def test_status_carries_no_default() -> None:
    for kind in KINDS:
        status = openapi(kind)["properties"]["status"]
        assert [p for p, n in _crd_nodes(status, "status") if "default" in n] == [], kind


# ------------------------------------------------------------------ defaults the API server accepts
def _strict(node: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in node.items() if k not in ("default", "x-kubernetes-validations")}
    if "properties" in out:
        out["properties"] = {k: _strict(v) for k, v in out["properties"].items()}
        out["additionalProperties"] = False
    if "items" in out:
        out["items"] = _strict(out["items"])
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_default_validates_against_its_own_schema_and_rules(kind: str) -> None:
    """What the API server checks of a CRD's defaults: the default as written (not defaulted further)
    is pruned (no unknown field), matches its schema and passes the node's CEL rules; no default sits
    under additionalProperties or where unknown fields are kept."""
    defaults = [(p, n) for p, n in _crd_nodes(openapi(kind), "") if "default" in n]
    for path, node in defaults:
        assert ".*" not in path
        assert not node.get("x-kubernetes-preserve-unknown-fields"), path
        errors = list(jsonschema.Draft4Validator(_strict(node)).iter_errors(node["default"]))
        assert errors == [], (path, errors)
        for rule in node.get("x-kubernetes-validations", []):
            assert rule_passes(rule["rule"], node["default"]), (path, rule["rule"])


# ------------------------------------------------------------------ the API server's defaulting steps
SCHEMA = {
    "type": "object",
    "properties": {
        "port": {"type": "integer", "default": 21050},
        "name": {"type": "string"},
        "policy": {
            "type": "object",
            "default": {},
            "properties": {"retry": {"type": "integer", "default": 0}, "note": {"type": "string"}},
        },
        "job": {"type": "object", "properties": {"ttl": {"type": "integer", "default": 60}}},
        "columns": {
            "type": "array",
            "items": {"type": "object", "properties": {"type": {"type": "string", "default": "string"}}},
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ({}, {"port": 21050, "policy": {"retry": 0}}),
        ({"port": None, "name": None}, {"port": 21050, "policy": {"retry": 0}}),
        ({"port": 1, "policy": {"note": "n"}}, {"port": 1, "policy": {"retry": 0, "note": "n"}}),
        ({"policy": None}, {"port": 21050, "policy": {"retry": 0}}),
        ({"job": {}}, {"port": 21050, "policy": {"retry": 0}, "job": {"ttl": 60}}),
        (
            {"columns": [{}, {"type": "int"}], "labels": {"a": "b"}},
            {
                "port": 21050,
                "policy": {"retry": 0},
                "columns": [{"type": "string"}, {"type": "int"}],
                "labels": {"a": "b"},
            },
        ),
    ],
)
def test_defaulting_follows_the_api_server(written: dict[str, Any], stored: dict[str, Any]) -> None:
    before = copy.deepcopy(written)
    assert apply_defaults(SCHEMA, written) == stored
    assert written == before  # the manifest itself is not changed


def test_stored_object_of_a_minimal_copy_activity() -> None:
    stored = stored_object(copy_activity())
    spec = stored["spec"]
    assert spec["source"] == {"type": "ImpalaSource", "queryTimeout": "02:00:00"}
    assert spec["policy"] == {
        "timeout": "0.12:00:00",
        "retry": 0,
        "retryIntervalInSeconds": 30,
        "secureInput": False,
        "secureOutput": False,
    }
    assert (spec["validateDataConsistency"], spec["enableSkipIncompatibleRow"]) == (False, False)
    assert spec["sink"] == {"type": "ParquetSink"}  # no defaults in the sink, no formatSettings made up
    assert "job" not in spec
    assert "successfulJobsHistoryLimit" not in spec
    assert "failedJobsHistoryLimit" not in spec


def test_a_kind_outside_the_api_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not a kind of this API: 'ConfigMap'"):
        stored_object({"apiVersion": "v1", "kind": "ConfigMap"})


# ------------------------------------------------------------------ apply, read back, same meaning
def _example_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if isinstance(doc, dict) and doc.get("kind") in KINDS:
                docs.append((f"{path.relative_to(ROOT)}#{i}", doc))
    return docs


MANIFESTS: dict[str, dict[str, Any]] = {
    **dict(_example_documents()),
    **{f"rules:{name}": obj for name, obj in GOOD.items()},
    **{
        f"operator:{obj['kind']}/{obj['metadata']['name']}": obj
        for obj in standard_set("pw")
        if obj["kind"] in KINDS
    },
    "lookup-null-source": lookup_activity(source=None, firstRowOnly=None),
    "impala-null-fields": impala_ls(port=None, authenticationType=None, username=None),
}


def test_the_manifests_cover_every_kind() -> None:
    assert {obj["kind"] for obj in MANIFESTS.values()} == set(KINDS)
    assert len([name for name in MANIFESTS if name.startswith("examples/")]) >= 20


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_apply_then_read_back_gives_the_same_effective_spec(name: str) -> None:
    written = MANIFESTS[name]
    stored = stored_object(written)
    as_written = parse_resource(copy.deepcopy(written))
    read_back = parse_resource(stored)
    assert read_back.model_dump() == as_written.model_dump()
    # Fields that take an operator setting when not written are written on both or on neither.
    spec, spec_read_back = as_written.spec, read_back.spec
    if isinstance(spec, CopyActivitySpec):
        for field in ("successful_jobs_history_limit", "failed_jobs_history_limit"):
            assert (field in spec_read_back.model_fields_set) == (field in spec.model_fields_set)


# ------------------------------------------------------------------ rules read defaulted fields by value
_HAS = re.compile(r"\bhas\(self((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\)")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_rule_asks_whether_a_field_with_a_default_was_written(kind: str) -> None:
    """On the stored object such a field is always there: `has()` of it would always be true."""
    asked = []
    for path, node in _crd_nodes(openapi(kind), ""):
        for rule in node.get("x-kubernetes-validations", []):
            for match in _HAS.finditer(rule["rule"]):
                target = node
                for name in match.group(1).lstrip(".").split("."):
                    target = target["properties"][name]
                asked.append((path, match.group(1), "default" in target))
    assert [a for a in asked if a[2]] == []


def test_written_refuses_a_field_with_a_default() -> None:
    from impala_copy.api.rules import written

    spec = ImpalaLinkedServiceSpec(host="impala")
    with pytest.raises(TypeError, match=r"ImpalaLinkedServiceSpec.port has a default: read its value"):
        written(spec, "port")
    assert written(spec, "username") is False
