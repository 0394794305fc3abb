"""An MIT Kerberos KDC on loopback, with its own realm, database and keytabs in one work folder.

Debian's `krb5-kdc` (krb5kdc, kdb5_util) and `krb5-admin-server` (kadmin.local) packages; no root
daemon, no port 88, no system file touched: the KDC reads `<workdir>/kdc/kdc.conf` (KRB5_KDC_PROFILE),
and clients read `<workdir>/krb5.conf` (KRB5_CONFIG; Java needs -Djava.security.krb5.conf instead).
`kadmin.local` works on the database files directly, so kadmind is not needed. Creating the realm
takes about 30 ms, the KDC listens about 60 ms after its start.

    kdc = start_kdc(Path("/tmp/krb"))
    keytab = kdc.add_principal("etl")          # exported to <workdir>/keytabs/etl.keytab
    ...
    kdc.stop()

Pitfalls (tested): `ktadd` re-keys the principal, so every keytab exported earlier stops working
(`export_keytab(..., rekey=False)` keeps the key); a KDC that accepts TCP but never answers blocks
a client for about 25 s, so "KDC unreachable" is tested with a port where nothing listens.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devservers.process import stop_process

REALM = "IMPALA.TEST"
MASTER_PASSWORD = "not-a-secret-master-pw"  # noqa: S105 - the throwaway database of a loopback test KDC
START_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client_conf(realm: str, kdc_port: int, *, timesync: bool = True) -> str:
    """A krb5.conf for clients of a KDC on 127.0.0.1:`kdc_port` (host `localhost` maps to `realm`)."""
    return f"""[libdefaults]
  default_realm = {realm}
  dns_lookup_realm = false
  dns_lookup_kdc = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  kdc_timesync = {1 if timesync else 0}
  ticket_lifetime = 10h
  renew_lifetime = 1d
[realms]
  {realm} = {{
    kdc = 127.0.0.1:{kdc_port}
  }}
[domain_realm]
  localhost = {realm}
"""


def _kdc_conf(workdir: Path, realm: str, port: int) -> str:
    kdc = workdir / "kdc"
    return f"""[kdcdefaults]
  kdc_listen = 127.0.0.1:{port}
  kdc_tcp_listen = 127.0.0.1:{port}
[realms]
  {realm} = {{
    database_name = {kdc}/principal
    key_stash_file = {kdc}/stash
    acl_file = {kdc}/kadm5.acl
    max_life = 10h
    max_renewable_life = 1d
    default_principal_flags = +preauth
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }}
[logging]
  kdc = FILE:{kdc}/kdc.log
  admin_server = FILE:{kdc}/kadmin.log
  default = FILE:{kdc}/krb5lib.log
"""


class KdcError(RuntimeError):
    """The realm could not be created or the KDC did not start; the message says why."""


@dataclass
class Kdc:
    """A running KDC and its realm. Principals are added and keytabs exported with kadmin.local."""

    workdir: Path
    realm: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def krb5_conf(self) -> Path:
        return self.workdir / "krb5.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the KDC and kadmin.local."""
        return {
            **os.environ,
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.workdir / "kdc" / "kdc.conf"),
        }

    def principal(self, name: str) -> str:
        return name if "@" in name else f"{name}@{self.realm}"

    def keytab_path(self, name: str) -> Path:
        return self.workdir / "keytabs" / (name.replace("/", "_") + ".keytab")

    def kadmin(self, query: str) -> str:
        """Run one kadmin.local query; KdcError with its output when it fails."""
        result = subprocess.run(
            ["kadmin.local", "-q", query], env=self.env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or "error" in result.stderr.lower():
            raise KdcError(f"kadmin.local -q {query!r} failed: {result.stderr.strip() or result.stdout}")
        return result.stdout

    def add_principal(self, name: str, *, max_life: str | None = None) -> Path:
        """Create a principal with a random key and export it to its own keytab (returned)."""
        self.kadmin(f"addprinc -randkey {self.principal(name)}")
        if max_life:
            self.kadmin(f'modprinc -maxlife "{max_life}" {self.principal(name)}')
        return self.export_keytab(name)

    def export_keytab(self, name: str, path: Path | None = None, *, rekey: bool = True) -> Path:
        """Export the principal's key to `path`; `rekey` (kadmin's default) makes every older keytab stale."""
        path = path or self.keytab_path(name)
        norandkey = "" if rekey else "-norandkey "
        self.kadmin(f"ktadd -k {path} {norandkey}{self.principal(name)}")
        return path

    def delete_principal(self, name: str) -> None:
        self.kadmin(f"delprinc -force {self.principal(name)}")

    def stop(self) -> None:
        proc, self.process = self.process, None
        stop_process(proc, timeout=10)

    @property
    def log(self) -> str:
        try:
            return (self.workdir / "kdc" / "kdc.log").read_text(errors="replace")
        except OSError:
            return "(no KDC log)"


def start_kdc(workdir: Path, realm: str = REALM) -> Kdc:
    """Create the realm's database in `workdir` and start krb5kdc on a free loopback port."""
    missing = [
        tool for tool in ("kdb5_util", "krb5kdc", "kadmin.local", "klist") if shutil.which(tool) is None
    ]
    if missing:
        raise KdcError(
            f"{', '.join(missing)} not found: install Debian's krb5-kdc, krb5-admin-server and krb5-user "
            "(make tools does)"
        )
    workdir = Path(workdir).resolve()
    for sub in ("kdc", "keytabs"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    kdc = Kdc(workdir=workdir, realm=realm, port=free_port())
    kdc.krb5_conf.write_text(client_conf(realm, kdc.port))
    (workdir / "kdc" / "kdc.conf").write_text(_kdc_conf(workdir, realm, kdc.port))
    (workdir / "kdc" / "kadm5.acl").write_text("")
    created = subprocess.run(
        ["kdb5_util", "create", "-s", "-r", realm, "-P", MASTER_PASSWORD],
        env=kdc.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if created.returncode != 0:
        raise KdcError(f"kdb5_util create failed: {created.stderr.strip()}")
    kdc.process = subprocess.Popen(
        ["krb5kdc", "-n"], env=kdc.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if kdc.process.poll() is not None:
            raise KdcError(f"krb5kdc exited with code {kdc.process.returncode}:\n{kdc.log[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", kdc.port), timeout=1).close()
            return kdc
        except OSError:
            if time.monotonic() > deadline:
                kdc.stop()
                raise KdcError(
                    f"krb5kdc not listening on port {kdc.port} after {START_TIMEOUT_SECONDS}s"
                ) from None
            time.sleep(0.05)


__all__ = ["REALM", "Kdc", "KdcError", "client_conf", "free_port", "start_kdc"]
