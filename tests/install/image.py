"""Building and running the container image with podman, as `make image` does.

`build_image()` runs `make image` once per test session (podman's layer cache makes a rebuild with
unchanged sources quick); `podman(...)` runs podman with the project's containers.conf (.tools/).
A missing podman fails the calling test with the command to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/impala-copy:test"
CONTAINERS_CONF = ROOT / ".tools" / "containers.conf"


def _env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run `make tools`", pytrace=False)
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env={**_env(), **(env or {})}
    )


def build_image() -> str:
    """Build IMAGE from the work tree (`make image`); fails the test with make's output."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run `make tools`", pytrace=False)
    result = subprocess.run(
        ["make", "--no-print-directory", "image", f"IMAGE={IMAGE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
    )
    if result.returncode != 0:
        pytest.fail(f"make image failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}", pytrace=False)
    return IMAGE
