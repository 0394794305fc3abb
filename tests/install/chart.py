"""Rendering the Helm chart with the helm binary `make tools` installs into .tools/bin.

`render(values)` runs `helm template` with a values file and returns the parsed objects; `lint`
runs `helm lint --strict`. A missing helm binary fails the calling test with the command to run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "impala-copy-operator"
HELM = ROOT / ".tools" / "bin" / "helm"
RELEASE = "copy"
NAMESPACE = "impala-copy-system"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `make tools`", pytrace=False)
    result = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return result


def _values_file(tmp_path: Path, values: dict[str, Any] | None) -> list[str]:
    if not values:
        return []
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return ["-f", str(path)]


def render(tmp_path: Path, values: dict[str, Any] | None = None, chart: Path = CHART) -> list[dict[str, Any]]:
    """Every object `helm template` renders, parsed."""
    out = helm(
        "template", RELEASE, str(chart), "--namespace", NAMESPACE, *_values_file(tmp_path, values)
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def render_error(tmp_path: Path, values: dict[str, Any]) -> str:
    """The error `helm template` prints for values it refuses (fails the test when it accepts them)."""
    result = helm("template", RELEASE, str(CHART), *_values_file(tmp_path, values), check=False)
    if result.returncode == 0:
        pytest.fail(f"helm template accepted {values}", pytrace=False)
    return result.stderr


def lint(tmp_path: Path, values: dict[str, Any] | None = None) -> str:
    return helm("lint", "--strict", str(CHART), *_values_file(tmp_path, values)).stdout


def render_notes(tmp_path: Path, values: dict[str, Any] | None = None) -> str:
    """NOTES.txt as `helm install` prints it (helm template skips it: render it inside a ConfigMap)."""
    copy = tmp_path / "chart"
    shutil.copytree(CHART, copy)
    notes = (copy / "templates" / "NOTES.txt").read_text()
    wrapped = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
    wrapped += "".join(f"    {line}\n" for line in notes.splitlines())
    (copy / "templates" / "notes-as-configmap.yaml").write_text(wrapped)
    objects = render(tmp_path, values, chart=copy)
    (notes_cm,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "notes"]
    return str(notes_cm["data"]["notes"])


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]
