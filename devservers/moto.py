"""A throw-away S3 endpoint on loopback: `moto_server` (moto's standalone server), for tests and benchmarks.

By default moto accepts any credentials. With `enforce_auth=True` (the default here) the server checks
SigV4 signatures against IAM users it knows: at start we create one user with an access key and an
`s3:*` policy (moto's INITIAL_NO_AUTH_ACTION_COUNT lets exactly those first calls through unsigned), so
a wrong secret key really fails with SignatureDoesNotMatch / InvalidAccessKeyId, as on AWS.
Objects live in the server's memory and are gone when it stops.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devservers.postgres import ServerStartError, free_port
from devservers.process import stop_process

REGION = "us-east-1"
# Unsigned calls moto lets through before it starts checking signatures: the three set-up calls below.
_SETUP_CALLS = 3


@dataclass
class MotoServer:
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str
    base: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def boto3_client(self, service: str = "s3", **overrides: Any) -> Any:
        import boto3  # type: ignore[import-untyped]

        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
        }
        kwargs.update(overrides)
        return boto3.client(service, **kwargs)

    def reset(self) -> None:
        """Drop every bucket and object (and the IAM user: only for servers without enforced auth)."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")  # noqa: S310 - loopback
        urllib.request.urlopen(req, timeout=30).read()  # noqa: S310

    def stop(self) -> None:
        proc, self.process = self.process, None
        stop_process(proc)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _moto_server_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("moto_server")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("moto_server")
    if found:
        return [found]
    raise ServerStartError("moto_server not found: install the test extras (make venv: moto[server])")


def _wait_port(server: MotoServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert server.process is not None
        if server.process.poll() is not None:
            log = (server.base / "log").read_text(errors="replace")[-2000:]
            raise ServerStartError(f"moto_server exited at start: {log}")
        try:
            socket.create_connection((server.host, server.port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ServerStartError(f"moto_server not listening after {timeout}s") from None
            time.sleep(0.05)


def start_moto(
    workdir: Path | None = None,
    *,
    port: int | None = None,
    enforce_auth: bool = True,
    start_timeout: float = 60.0,
) -> MotoServer:
    """Start moto_server on 127.0.0.1; with enforce_auth, create the IAM user whose keys it returns."""
    base = Path(tempfile.mkdtemp(prefix="moto-", dir=str(workdir) if workdir else None))
    server = MotoServer("127.0.0.1", port or free_port(), "", "", REGION, base)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = REGION
    if enforce_auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(_SETUP_CALLS)
    try:
        with open(base / "log", "wb") as log:
            server.process = subprocess.Popen(
                [*_moto_server_cmd(), "-H", server.host, "-p", str(server.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=base,
                env=env,
                start_new_session=True,
            )
        _wait_port(server, start_timeout)
        if enforce_auth:
            iam = server.boto3_client("iam", aws_access_key_id="setup", aws_secret_access_key="setup")  # noqa: S106 - unsigned set-up calls
            iam.create_user(UserName="copy-engine")
            key = iam.create_access_key(UserName="copy-engine")["AccessKey"]
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
            iam.put_user_policy(
                UserName="copy-engine", PolicyName="s3-all", PolicyDocument=json.dumps(policy)
            )
            server.access_key, server.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        else:
            server.access_key, server.secret_key = "testing", "testing"
    except BaseException:
        server.stop()
        raise
    return server
