"""A throw-away PostgreSQL server on loopback, for tests, the demo and the benchmarks.

Uses the Debian `postgresql` package's binaries. PostgreSQL refuses to run as root, so when the
caller is root the server runs as the `postgres` user (created by the package) through
`subprocess(user=...)`; the postmaster is a direct child (no `pg_ctl` daemon), so it never outlives
the process that started it. Password authentication is scram-sha-256 for every connection (nothing
is trusted), the data lives in a temporary folder that `stop()` removes.

    with start_postgres(Path("/tmp/x")) as pg:
        psycopg.connect(pg.uri)           # superuser `tester`, password pg.password, database pg.database
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from devservers.process import kill_process_group, stop_process

DEFAULT_USER = "tester"
DEFAULT_PASSWORD = "pg-s3cret-pass"  # noqa: S105 - a throw-away local test server
DEFAULT_DATABASE = "postgres"


class ServerStartError(RuntimeError):
    """A dev server could not start; the message says why and where its log is."""


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def postgres_bin_dir() -> Path:
    """The newest installed /usr/lib/postgresql/<N>/bin (Debian layout), or PG_BIN_DIR."""
    env = os.environ.get("PG_BIN_DIR")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise ServerStartError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
            "install the Debian package `postgresql` (make tools)"
        )
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str
    base: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _as_user: dict[str, Any] = field(default_factory=dict, repr=False)
    extra_args: list[str] = field(default_factory=list, repr=False)

    @property
    def uri(self) -> str:
        return self.uri_for(self.database)

    def uri_for(self, database: str) -> str:
        password = quote(self.password, safe="")  # a password may hold characters URLs reserve
        return f"postgresql://{self.user}:{password}@{self.host}:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.base / "log"

    def create_database(self, name: str) -> None:
        """CREATE DATABASE over TCP (the server's own createdb binary)."""
        env = {**os.environ, "PGPASSWORD": self.password}
        subprocess.run(
            [
                str(postgres_bin_dir() / "createdb"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                name,
            ],
            check=True,
            capture_output=True,
            env=env,
        )

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the data folder."""
        proc, self.process = self.process, None
        stop_process(proc, signal.SIGINT)
        shutil.rmtree(self.base, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once (a crash: no shutdown, no checkpoint)."""
        kill_process_group(self.process)

    def restart(self, start_timeout: float = 60.0) -> None:
        """Start the server again on the same data folder and port (after `kill`: crash recovery)."""
        if self.process is not None and self.process.poll() is None:
            raise ServerStartError("the server is still running")
        _launch(self, start_timeout)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run_as() -> dict[str, Any]:
    """subprocess kwargs that drop root to the `postgres` user; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ServerStartError(
            "running as root but there is no `postgres` user: install the `postgresql` package"
        ) from exc
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def start_postgres(
    workdir: Path | None = None,
    *,
    port: int | None = None,
    user: str = DEFAULT_USER,
    password: str = DEFAULT_PASSWORD,
    database: str = DEFAULT_DATABASE,
    ssl_cert: Path | None = None,
    ssl_key: Path | None = None,
    start_timeout: float = 60.0,
) -> PostgresServer:
    """initdb a fresh cluster in a temp folder under `workdir` and start it on 127.0.0.1.

    When running as root the folder goes under the system temp dir instead (owned by `postgres`).
    With `ssl_cert`/`ssl_key` (PEM files) the server also accepts TLS connections.
    """
    bindir = postgres_bin_dir()
    as_user = _run_as()
    # As root the folder must be reachable by `postgres`: pytest's temp dirs are 0700 root, so use /tmp.
    parent = None if as_user or workdir is None else str(workdir)
    base = Path(tempfile.mkdtemp(prefix="pg-", dir=parent))
    server = PostgresServer("127.0.0.1", port or free_port(), user, password, database, base, None, as_user)
    try:
        os.chmod(base, 0o700)
        (base / "pw").write_text(password + "\n")
        extra: list[str] = []
        if ssl_cert and ssl_key:
            shutil.copy(ssl_cert, base / "server.crt")
            shutil.copy(ssl_key, base / "server.key")
            os.chmod(base / "server.key", 0o600)
            extra = [
                "-c",
                "ssl=on",
                "-c",
                f"ssl_cert_file={base}/server.crt",
                "-c",
                f"ssl_key_file={base}/server.key",
            ]
        if as_user:
            for p in base.iterdir():
                shutil.chown(p, "postgres", "postgres")
            shutil.chown(base, "postgres", "postgres")
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(base / "data"),
                "-U",
                user,
                f"--pwfile={base}/pw",
                "--auth=scram-sha-256",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            cwd=base,
            check=False,
            **as_user,
        )
        if init.returncode:
            raise ServerStartError(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")
        server.extra_args = extra
        _launch(server, start_timeout)
        if database != "postgres":
            server.create_database(database)
    except BaseException:
        server.stop()
        raise
    return server


def _launch(server: PostgresServer, start_timeout: float) -> None:
    """Start the postmaster on the server's data folder and port; return once it accepts connections."""
    bindir = postgres_bin_dir()
    base, as_user, extra = server.base, server._as_user, server.extra_args
    log = open(base / "log", "ab")  # noqa: SIM115 - owned by the child process
    server.process = subprocess.Popen(
        [
            str(bindir / "postgres"),
            "-D",
            str(base / "data"),
            "-p",
            str(server.port),
            "-k",
            str(base),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "synchronous_commit=off",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=base,
        start_new_session=True,
        **as_user,
    )
    log.close()
    deadline = time.monotonic() + start_timeout
    while True:
        if server.process.poll() is not None:
            raise ServerStartError(
                f"postgres exited at start: {server.log_path.read_text(errors='replace')[-2000:]}"
            )
        ready = subprocess.run(
            [str(bindir / "pg_isready"), "-q", "-h", server.host, "-p", str(server.port)], check=False
        )
        if ready.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise ServerStartError(f"postgres not ready after {start_timeout}s; log: {server.log_path}")
        time.sleep(0.05)


@contextlib.contextmanager
def running_postgres(workdir: Path | None = None, **kwargs: Any) -> Iterator[PostgresServer]:
    server = start_postgres(workdir, **kwargs)
    try:
        yield server
    finally:
        server.stop()
