"""Writes the Argo CD settings of impala-copy from the Lua scripts next to this file.

    .venv/bin/python deploy/argocd/generate.py          # write argocd-cm.yaml and argo-cd-values.yaml
                                                        # (`make generate` runs it with the other generators)
    .venv/bin/python deploy/argocd/generate.py --check  # exit 1 when the files are not up to date

The same health check (health.lua) serves every kind of the API group; the run-now action
(actions/run-now/*.lua) is offered on the activities. Kinds come from the models, so a new kind gets
its health check the next time this runs (a test fails until it does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from impala_copy.api.common import API_GROUP
from impala_copy.api.kinds import KINDS

HERE = Path(__file__).resolve().parent
ACTION_KINDS = ("CopyActivity", "LookupActivity")
ACTION_NAME = "run-now"
HEADER = "# Generated from deploy/argocd/*.lua by deploy/argocd/generate.py (`make generate`). Do not edit.\n"


def _block(text: str, indent: int) -> str:
    """`text` as the lines of a YAML literal block at `indent` spaces."""
    pad = " " * indent
    return "".join(f"{pad}{line}\n" if line.strip() else "\n" for line in text.rstrip("\n").split("\n"))


def _read(name: str) -> str:
    return (HERE / name).read_text()


def customizations(indent: int) -> str:
    """The argocd-cm data entries, each key at `indent` spaces."""
    pad = " " * indent
    health = _read("health.lua")
    action_config = (
        "discovery.lua: |\n"
        + _block(_read(f"actions/{ACTION_NAME}/discovery.lua"), 2)
        + "definitions:\n"
        + f"  - name: {ACTION_NAME}\n"
        + "    action.lua: |\n"
        + _block(_read(f"actions/{ACTION_NAME}/action.lua"), 6)
    )
    out = []
    for kind in sorted(KINDS):
        out.append(
            f"{pad}resource.customizations.health.{API_GROUP}_{kind}: |\n" + _block(health, indent + 2)
        )
    for kind in ACTION_KINDS:
        out.append(
            f"{pad}resource.customizations.actions.{API_GROUP}_{kind}: |\n"
            + _block(action_config, indent + 2)
        )
    return "".join(out)


def argocd_cm() -> str:
    return (
        HEADER
        + "# Merge into Argo CD's settings:\n"
        + "#   kubectl -n argocd patch configmap argocd-cm --type merge \\\n"
        + "#     --patch-file deploy/argocd/argocd-cm.yaml\n"
        + "apiVersion: v1\n"
        + "kind: ConfigMap\n"
        + "metadata:\n"
        + "  name: argocd-cm\n"
        + "  namespace: argocd\n"
        + "  labels:\n"
        + "    app.kubernetes.io/name: argocd-cm\n"
        + "    app.kubernetes.io/part-of: argocd\n"
        + "data:\n"
        + customizations(2)
    )


def argo_cd_values() -> str:
    return (
        HEADER
        + "# Values for the argo-cd Helm chart (argo/argo-cd), merged with yours:\n"
        + "#   helm upgrade argocd argo/argo-cd --reuse-values -f deploy/argocd/argo-cd-values.yaml\n"
        + "configs:\n"
        + "  cm:\n"
        + customizations(4)
    )


OUTPUTS = {"argocd-cm.yaml": argocd_cm, "argo-cd-values.yaml": argo_cd_values}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, render in OUTPUTS.items():
        path = HERE / name
        text = render()
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(
            f"out of date: {', '.join(stale)}; run `make generate`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
