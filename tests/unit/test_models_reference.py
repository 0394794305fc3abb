"""docs/reference.md is generated from the models and lists every field of every kind.

In: the models (`api.kinds.KINDS`) rendered by `api.reference_docs`, and the committed docs/reference.md.
Out: the committed file equals the generated text; every spec and status field of every kind has a
row with its type, default and ADF name; every rule is listed with where it is enforced.
Faked: nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from impala_copy.api import reference_docs as reference
from impala_copy.api.crd import build_crds
from impala_copy.api.kinds import KINDS

ROOT = Path(__file__).resolve().parents[2]
TEXT = reference.render()


def _paths(node: dict, prefix: str) -> list[str]:  # type: ignore[type-arg]
    out = []
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}"
        out.append(path)
        if child.get("type") == "array" and "properties" in child.get("items", {}):
            out.extend(_paths(child["items"], f"{path}[]"))
        elif "properties" in child:
            out.extend(_paths(child, path))
    return out


def test_committed_reference_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "reference.md").read_bytes().decode("utf-8")
    assert committed == TEXT, "docs/reference.md is out of date with the models: run `make generate`"


def test_every_field_of_every_kind_has_a_row() -> None:
    for crd in build_crds().values():
        kind = crd["spec"]["names"]["kind"]
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        section = TEXT.split(f"\n## {kind}\n", 1)[1].split("\n## ", 1)[0]
        rows = set(re.findall(r"^\| \*{0,2}`([^`]+)`", section, flags=re.MULTILINE))
        expected = set(_paths(schema["spec"], "spec")) | set(_paths(schema["status"], "status"))
        assert sorted(expected - rows) == [], kind


def test_rows_carry_type_default_and_adf_name() -> None:
    assert (
        "| `spec.port` | integer, 1-65535 | `21050` | `port` | TCP port the Impala server listens on. |"
        in TEXT
    )
    assert (
        "| `spec.authenticationType` | `Anonymous` \\| `SASLUsername` \\| `UsernameAndPassword` \\| `Kerberos` | `Anonymous` | "
        "`authenticationType` |" in TEXT
    )
    assert "| `spec.trustedCert` | object |  | `trustedCertPath` |" in TEXT
    assert "| `spec.source.queryTimeout` | string | `02:00:00` | `queryTimeout` |" in TEXT
    assert "| `spec.policy.timeout` | string (≤ 16 chars) | `0.12:00:00` | `timeout` |" in TEXT
    assert "| **`spec.host`** | string (1-253 chars) |  | `host` |" in TEXT


def test_rules_and_where_they_are_enforced_are_documented() -> None:
    rules_section = TEXT.split("## Validation rules and where they are enforced", 1)[1].split("\n## ", 1)[0]
    for kind in KINDS:
        assert f"\n## {kind}\n" in TEXT
    messages = {
        rule["message"]
        for crd in build_crds().values()
        for rule in _all_rules(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    }
    for message in messages:
        assert message.replace("|", "\\|") in rules_section, message
    assert "needs a table on its ImpalaDataset" in rules_section
    assert "`InvalidSpec`" in rules_section
    assert "`kubectl apply`" in rules_section
    assert "`impala-copy validate`" in rules_section


def test_adf_properties_without_a_field_are_explained() -> None:
    section = TEXT.split("\n## ImpalaLinkedService\n", 1)[1].split("\n## ", 1)[0]
    assert "- `connectVia`: No integration runtime" in section
    assert "- `trustedCertPath`: `trustedCert`" in section


def test_every_kind_has_an_adf_counterpart() -> None:
    assert sorted(reference.ADF_COUNTERPART) == sorted(KINDS)


def _all_rules(node: dict) -> list[dict]:  # type: ignore[type-arg]
    rules = list(node.get("x-kubernetes-validations", []))
    for child in node.get("properties", {}).values():
        rules.extend(_all_rules(child))
    if "items" in node:
        rules.extend(_all_rules(node["items"]))
    return rules
