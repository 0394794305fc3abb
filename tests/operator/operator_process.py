"""The operator as a process of its own: `python -m impala_copy.cli operator`, as a pod runs it, with a
kubeconfig pointing at the API emulator, so that a test can stop it for real (SIGKILL or SIGTERM).

`OperatorProcess(kmock, workdir, name)` starts it with its output in `workdir/<name>.log`;
`start()` returns once its watches are open. Every started process is in `started` until it has
ended: a test that fails before it ends one still gets it killed at teardown (conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from tests.operator import manifests
from tests.operator.harness import until

STOP_TIMEOUT = 30.0
# What kopf watches for the copy path; each must have a watch open before objects are applied.
WATCHED = ("copyactivities", "impaladatasets", "impalalinkedservices", "jobs", "pods")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
        "current-context": "emulator",
    }
    path.write_text(json.dumps(config))
    return path


def operator_env(kubeconfig_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "IMPALA_COPY_"))}
    env.update(
        KUBECONFIG=str(kubeconfig_path),
        IMPALA_COPY_RESYNC_SECONDS="0",
        IMPALA_COPY_CONNECTION_TESTS="false",
        **extra,
    )
    return env


class OperatorProcess:
    """One `impala-copy operator` process against the emulator, watching `manifests.NS`."""

    started: ClassVar[list[OperatorProcess]] = []

    def __init__(self, kmock: Any, workdir: Path, name: str = "operator", **env: str) -> None:
        self.kmock = kmock
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.env = operator_env(
            kubeconfig(workdir / "kubeconfig", str(kmock.url).rstrip("/")),
            IMPALA_COPY_POD_NAME=name,
            IMPALA_COPY_LIVENESS_ENDPOINT="",
            **env,
        )
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, watched: Iterable[str] = WATCHED) -> OperatorProcess:
        """Start the process; with `watched`, return once a new watch of each of them is open."""
        since = len(list(self.kmock))
        with self.log_path.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "impala_copy.cli", "operator",
                "--namespace", manifests.NS, "--log-level", "DEBUG",
                env=self.env, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        OperatorProcess.started.append(self)
        wanted = set(watched)
        await until(
            lambda: wanted <= self._watches(since) or not self.running,
            timeout=60,
            what=f"the watches of {self.name}",
        )
        assert self.running, f"{self.name} exited at start:\n{self.log[-3000:]}"
        await asyncio.sleep(0.2)
        return self

    def _watches(self, since: int) -> set[str]:
        return {
            r.resource.plural
            for r in list(self.kmock)[since:]
            if r.resource is not None and r.params.get("watch")
        }

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def kill(self) -> int:
        """SIGKILL: the process ends at once, whatever it was doing; returns its exit code."""
        return await self._end(signal.SIGKILL)

    async def stop(self) -> int:
        """SIGTERM: the process ends as a pod's termination would end it; returns its exit code."""
        return await self._end(signal.SIGTERM)

    async def _end(self, sig: signal.Signals) -> int:
        assert self.process is not None, f"{self.name} was never started"
        if self.process.returncode is None:
            self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        if self in OperatorProcess.started:
            OperatorProcess.started.remove(self)
        return code


__all__ = ["OperatorProcess", "free_port", "kubeconfig", "operator_env"]
