"""What the operator and the engine pod agree on: exit codes and where the summary is written.

The engine exits 0 when the run succeeded, 1 when it failed and a retry may help, 2 when it failed
on a configuration error a retry cannot fix (the Job's podFailurePolicy fails at once on it). The
summary goes to the termination message file, which the kubelet copies into the pod's status.
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_TRANSIENT: Final = 1
EXIT_CONFIGURATION: Final = 2
TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"
ENGINE_CONTAINER: Final = "engine"

__all__ = ["ENGINE_CONTAINER", "EXIT_CONFIGURATION", "EXIT_OK", "EXIT_TRANSIENT", "TERMINATION_MESSAGE_PATH"]
