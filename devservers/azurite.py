"""A throw-away Azure Blob endpoint on loopback: Azurite's blob service (npm `azurite`), for tests.

`make tools` installs Azurite into `.tools/azurite` (override with env AZURITE_BLOB). The server keeps
blobs in memory (`--inMemoryPersistence`) and checks Shared Key signatures of the well-known
development account `devstoreaccount1`, so a wrong account key really fails. `--skipApiVersionCheck`
is needed because the Azure SDKs send API versions newer than Azurite knows.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devservers.postgres import ServerStartError, free_port
from devservers.process import stop_process

ACCOUNT_NAME = "devstoreaccount1"
# Azurite's published development-account key (the same in every Azurite install, documented by Microsoft).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO_ROOT = Path(__file__).resolve().parent.parent


def azurite_blob_bin() -> Path:
    env = os.environ.get("AZURITE_BLOB")
    path = Path(env) if env else REPO_ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if not path.exists():
        raise ServerStartError(f"azurite-blob not found at {path}: run `make tools` (npm install azurite)")
    return path


@dataclass
class AzuriteServer:
    host: str
    port: int
    base: Path
    account_name: str = ACCOUNT_NAME
    account_key: str = ACCOUNT_KEY
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def blob_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{self.account_name}"

    def connection_string(self, account_key: str | None = None) -> str:
        key = account_key if account_key is not None else self.account_key
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};AccountKey={key};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def blob_service(self, **kwargs: Any) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string(), **kwargs)

    def stop(self) -> None:
        proc, self.process = self.process, None
        stop_process(proc)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> AzuriteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_azurite(
    workdir: Path | None = None,
    *,
    port: int | None = None,
    memory_limit_mb: int = 2048,
    start_timeout: float = 60.0,
    location: Path | None = None,
) -> AzuriteServer:
    """Start azurite-blob on 127.0.0.1 with in-memory storage, or with its blobs and metadata in the
    folder `location` (a server started again on the same folder and port sees the same blobs)."""
    exe = azurite_blob_bin()
    base = Path(tempfile.mkdtemp(prefix="azurite-", dir=str(workdir) if workdir else None))
    server = AzuriteServer("127.0.0.1", port or free_port(), base)
    storage = (
        ["--inMemoryPersistence", "--extentMemoryLimit", str(memory_limit_mb)]
        if location is None
        else ["--location", str(location)]
    )
    try:
        with open(base / "log", "wb") as log:
            server.process = subprocess.Popen(
                [
                    str(exe),
                    "--blobHost",
                    server.host,
                    "--blobPort",
                    str(server.port),
                    *storage,
                    "--disableTelemetry",
                    "--silent",
                    "--skipApiVersionCheck",
                    "--loose",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=base,
                start_new_session=True,
            )
        deadline = time.monotonic() + start_timeout
        while True:
            if server.process.poll() is not None:
                raise ServerStartError(
                    f"azurite exited at start: {(base / 'log').read_text(errors='replace')[-2000:]}"
                )
            try:
                socket.create_connection((server.host, server.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerStartError(f"azurite not listening after {start_timeout}s") from None
                time.sleep(0.05)
    except BaseException:
        server.stop()
        raise
    return server
