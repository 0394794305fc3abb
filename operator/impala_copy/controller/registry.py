"""Which controller reconciles which kind: one entry per kind of api/kinds.py.

A new kind that only refers to others gets a ReadyController; a new kind that runs something gets
its own controller package (like copy/, lookup/, connection/) built on core/run_plan.py.
"""

from __future__ import annotations

from impala_copy.controller.connection.controller import ConnectionController
from impala_copy.controller.copy.controller import CopyController
from impala_copy.controller.core.controller import KindController
from impala_copy.controller.core.kube import OUR_KINDS
from impala_copy.controller.core.ready import ReadyController
from impala_copy.controller.lookup.controller import LookupController

_RUNNING: dict[str, KindController] = {
    c.kind: c for c in (CopyController(), LookupController(), ConnectionController())
}
CONTROLLERS: dict[str, KindController] = {
    kind: _RUNNING.get(kind) or ReadyController(kind) for kind in OUR_KINDS
}

__all__ = ["CONTROLLERS"]
