"""Every manifest under examples/ is accepted as `kubectl apply` would accept it.

In: each YAML document of each file under examples/ (any depth).
Out: a document of one of our kinds parses with pydantic (`parse_resource`, as the CLI judges it),
validates against its generated CRD's openAPIV3Schema in strict mode (an unknown field is an error)
and passes every CEL rule of the CRD; any other document (Secret, ConfigMap, PersistentVolumeClaim,
...) validates against the Kubernetes 1.37 schemas (kubernetes-validate, strict).
Faked: the API server, whose schema and CEL checks are reproduced from the generated CRDs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from tests.unit.crd_checks import cel_verdicts, schema_errors

from impala_copy.api.kinds import KINDS, SpecError, parse_resource

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _documents() -> list[tuple[str, int, Any]]:
    docs = []
    for path in sorted([*EXAMPLES.rglob("*.yaml"), *EXAMPLES.rglob("*.yml")]):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if doc is not None:
                docs.append((str(path.relative_to(ROOT)), i, doc))
    return docs


DOCUMENTS = _documents()


def test_examples_folder_holds_only_manifests() -> None:
    """Any file in examples/ is YAML (or a README), so none escapes the checks below."""
    others = [
        p
        for p in (EXAMPLES.rglob("*") if EXAMPLES.is_dir() else [])
        if p.is_file()
        and p.suffix not in {".yaml", ".yml"}
        and p.name.lower() not in {"readme.md", ".gitkeep"}
    ]
    assert others == []


@pytest.mark.parametrize(
    ("path", "index"),
    [(path, index) for path, index, _ in DOCUMENTS] or [pytest.param("examples", -1, id="no-examples-yet")],
)
def test_example_is_accepted_by_its_schema(path: str, index: int) -> None:
    if index < 0:
        assert DOCUMENTS == []
        return
    doc = next(d for p, i, d in DOCUMENTS if p == path and i == index)
    assert isinstance(doc, dict), f"{path} document {index} is not a mapping"
    kind = doc.get("kind")
    if doc.get("apiVersion", "").startswith("impalacopy.io/"):
        assert kind in KINDS, f"{path}: unknown kind {kind!r}"
        try:
            parse_resource(doc)
        except SpecError as exc:
            pytest.fail(f"{path}: {exc}")
        assert schema_errors(doc) == [], path
        failed = [(v.path, v.message, v.error) for v in cel_verdicts(doc) if not v.passed]
        assert failed == [], path
    else:
        try:
            kubernetes_validate.validate(doc, "1.37", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path}: {kind}/{doc.get('metadata', {}).get('name')}: {exc.message}")
