"""Stopping a server process the same way for every dev server."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process(
    proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 30
) -> None:
    """Send `sig`, wait up to `timeout` seconds, then kill: the process is gone when this returns."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def kill_process_group(proc: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    """SIGKILL a server started with `start_new_session=True` and every process of its group (a crash:
    no shutdown, nothing flushed by the server itself); it is gone when this returns."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout)
