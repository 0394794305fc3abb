"""The user documentation against the code it describes.

In:  README.md, docs/install.md, docs/argocd.md, docs/security.md, docs/kerberos.md, docs/troubleshooting.md; the
     reasons the operator declares (controller/core/constants.py CONDITION_REASONS) and the error codes of
     every engine error class; the CRDs' printer columns.
Out: every condition reason and engine error code has its own section in troubleshooting.md, and
     every section is a reason the code still sets; each reason of controller/core/constants.py
     `Reason` opens its section with the condition that carries it (`*Running=False...*`); every relative link (and #anchor) resolves; each
     `kubectl get` output shown in the README has the columns the CRD prints (`-o wide` included);
     the quick start stays the README's first section.
Faked: nothing (no cluster: outputs are compared by their columns, not produced).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
import yaml

import impala_copy.engine
from impala_copy.controller.core.constants import CONDITION_REASONS, ConditionType, Reason
from impala_copy.engine.errors import CopyError

ROOT = Path(__file__).resolve().parents[2]
TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"
OWN_DOCS = [
    ROOT / "README.md",
    ROOT / "docs" / "install.md",
    ROOT / "docs" / "argocd.md",
    ROOT / "docs" / "security.md",
    ROOT / "docs" / "kerberos.md",
    TROUBLESHOOTING,
]
SOURCES = ROOT / "operator" / "impala_copy"


def _engine_error_codes() -> set[str]:
    codes = set()
    for module in pkgutil.walk_packages(impala_copy.engine.__path__, "impala_copy.engine."):
        loaded = importlib.import_module(module.name)
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(cls, CopyError):
                codes.add(str(cls.code))
    return codes


def _documented_reasons() -> list[str]:
    return re.findall(r"^### `([A-Za-z]+)`$", TROUBLESHOOTING.read_text(), re.MULTILINE)


def test_every_reason_the_operator_sets_is_documented() -> None:
    documented = set(_documented_reasons())
    missing = (set(CONDITION_REASONS) | _engine_error_codes()) - documented
    assert not missing, f"docs/troubleshooting.md has no section for: {sorted(missing)}"


def test_every_documented_reason_is_one_the_code_sets() -> None:
    documented = _documented_reasons()
    assert len(documented) == len(set(documented)), "a reason has two sections"
    source = "\n".join(p.read_text() for p in SOURCES.rglob("*.py"))
    declared = set(CONDITION_REASONS) | _engine_error_codes()
    stale = [r for r in documented if r not in declared and f'"{r}"' not in source]
    assert not stale, f"docs/troubleshooting.md documents reasons no code sets: {stale}"


def _sections() -> dict[str, str]:
    """Reason -> the text of its troubleshooting section."""
    parts = re.split(r"^### `([A-Za-z]+)`$", TROUBLESHOOTING.read_text(), flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].split("\n## ")[0].strip() for i in range(1, len(parts), 2)}


def test_each_reason_of_the_operator_says_which_condition_carries_it() -> None:
    sections = _sections()
    types = [v for k, v in vars(ConditionType).items() if not k.startswith("_")]
    types += ["ClaimBound", "Truncated"]  # set by the dataset and lookup controllers
    condition = rf"(?:{'|'.join(types)})"
    carried = re.compile(rf"^\*{condition}(?:/{condition})?=(?:True|False|Unknown)")
    reasons = sorted(v for k, v in vars(Reason).items() if not k.startswith("_") and isinstance(v, str))
    assert {"Forbidden", "Invalid", "ApiError", "JobPending", "Resolved"} <= set(reasons)
    missing = [r for r in reasons if r not in sections]
    assert not missing, f"docs/troubleshooting.md has no section for: {missing}"
    vague = [r for r in reasons if not carried.match(sections[r])]
    assert not vague, f"these sections do not open with the condition that carries the reason: {vague}"


def _anchors(markdown: str) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("doc", OWN_DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        assert resolved.exists(), f"{doc.name}: link to {target} points nowhere"
        if anchor:
            assert anchor in _anchors(resolved.read_text()), f"{doc.name}: no heading for #{anchor} in {path}"


# ------------------------------------------------------------------ kubectl get outputs in the README
def _crd_columns() -> dict[str, tuple[list[str], list[str]]]:
    """Every name a resource is known by (plural, singular, short names) -> (columns, -o wide columns)."""
    out = {}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        names = crd["spec"]["names"]
        cols = crd["spec"]["versions"][0].get("additionalPrinterColumns", [])
        normal = ["NAME", *(c["name"].upper() for c in cols if c.get("priority", 0) == 0)]
        wide = ["NAME", *(c["name"].upper() for c in cols)]
        for name in [names["plural"], names["singular"], *names.get("shortNames", [])]:
            out[name] = (normal, wide)
    return out


def _outputs(markdown: str) -> list[tuple[str, list[str]]]:
    """(command, header columns) of each `$ kubectl ... get ...` shown with its output."""
    lines = markdown.splitlines()
    found = []
    for i, line in enumerate(lines[:-1]):
        if line.startswith("$ kubectl ") and " get " in line and "jsonpath" not in line:
            found.append((line, re.split(r" {2,}", lines[i + 1].strip())))
    return found


def test_readme_kubectl_get_outputs_have_the_crd_columns() -> None:
    columns = _crd_columns()
    shown = _outputs((ROOT / "README.md").read_text())
    checked = 0
    for command, header in shown:
        resource = command.split(" get ", 1)[1].split()[0]
        if resource not in columns:
            continue  # a built-in kind (jobs)
        normal, wide = columns[resource]
        expected = wide if "-o wide" in command else normal
        assert header == expected, f"{command}: header {header}, the CRD prints {expected}"
        checked += 1
    kinds = {c.split(" get ", 1)[1].split()[0] for c, _ in shown}
    assert {"impalalinkedservices", "impaladatasets", "parquetdatasets", "copyactivities"} <= kinds
    assert checked >= 5


def test_readme_starts_with_the_quick_start() -> None:
    sections = re.findall(r"^## (.+)$", (ROOT / "README.md").read_text(), re.MULTILINE)
    assert sections[0] == "Quick start"
    for section in ("What it is", "Install on a cluster", "A first copy, step by step", "Upgrading"):
        assert section in sections
