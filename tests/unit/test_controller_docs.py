"""docs/operator.md keeps up with the code: settings, reasons, Events and API access.

In:  docs/operator.md and the operator's declared settings (ENV_VARS), the condition and Event
     reasons the copy reconciliation uses (constants.py), and API access (kube.API_ACCESS).
Out: every variable with its default, every such reason and every resource the operator uses
     appear in the page (lookups and connection tests are documented in docs/lookup.md).
Faked: nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from impala_copy.controller.core import constants
from impala_copy.controller.core.kube import API_ACCESS
from impala_copy.controller.core.settings import ENV_VARS

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC = (DOCS / "operator.md").read_text()
CONTROLLER = Path(constants.__file__).parent
# The modules that decide a CopyActivity's and the linked services' and datasets' Ready status.
COPY_MODULES = (
    "status.py",
    "outcome.py",
    "readiness.py",
    "runs.py",
    "reconcile.py",
    "refusals.py",
    "constants.py",
)


def copy_reasons() -> set[str]:
    """Every Reason.X / EventReason.X the copy modules use, and the reasons of stuck pods."""
    names: set[str] = set()
    for module in COPY_MODULES:
        text = (CONTROLLER / module).read_text()
        names |= {getattr(constants.Reason, n) for n in re.findall(r"\bReason\.([A-Z_]+)", text)}
        names |= {getattr(constants.EventReason, n) for n in re.findall(r"\bEventReason\.([A-Z_]+)", text)}
    return names | set(constants.STUCK_WAITING_REASONS)


def test_every_setting_is_documented_with_its_default() -> None:
    for var in ENV_VARS:
        default = f"`{var.default}`" if var.default else "(empty)"
        assert f"| `{var.name}` | {default} |" in DOC, var.name


def test_every_reason_and_event_is_documented() -> None:
    reasons = copy_reasons()
    assert {"Resolved", "RunSucceeded", "OOMKilled", "RunStarted", "PodNotStarting"} <= reasons
    for reason in sorted(reasons):
        assert f"`{reason}`" in DOC, reason


def test_every_api_access_is_documented() -> None:
    for access in API_ACCESS:
        group = access.group or '""'
        row = f"| `{group}` | `{access.resource}` | {', '.join(access.verbs)} |"
        assert row in DOC, access
