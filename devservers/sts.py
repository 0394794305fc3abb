"""A local HiveServer2 endpoint: the Spark Thrift Server shipped in the `pyspark` wheel, on loopback.

It stands in for Impala in tests, the demo and the benchmarks. Every server gets its own work folder
(in-memory Derby metastore, warehouse, logs, TLS keystore), a free loopback port, the UTC session time
zone and a quiet log4j2 configuration. `start_sts` returns once a `SELECT 1` succeeds.

Authentication modes:
- CUSTOM: the password checker in `devservers/sts_auth/` (alice/secret checked for real; "bob" is
  accepted with any or no password, for SASL username-only logins). Clients log in with SASL PLAIN.
- NOSASL: no SASL at all (the Anonymous authenticationType).
- NONE: SASL PLAIN without a password check.
- KERBEROS: SASL GSSAPI (SPNEGO over HTTP) against a KDC (devservers/kdc.py): `kerberos=` names the
  server's principal and keytab and the krb5.conf; the server checks nothing else. Hadoop must be in
  secure mode (`hadoop.security.authentication=kerberos`) and Java reads krb5.conf only from
  `-Djava.security.krb5.conf` (it ignores KRB5_CONFIG); without either the server exits at start
  ("Kerberos principal should have 3 parts", "Unable to locate KDC"). Clients connect to host
  127.0.0.1 with the principal's host (`localhost`) given separately.

    with start_sts(Path("/tmp/sts"), tls=True) as server:
        seed_sample_tables(server)
        impala.dbapi.connect(**sts_connect_kwargs(server, "alice"))
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
AUTH_SOURCE = ROOT / "devservers" / "sts_auth" / "StaticPasswdAuth.java"
AUTH_JAR = ROOT / ".tools" / "sts-auth.jar"
AUTH_CLASS = "sts.StaticPasswdAuth"

USERS = {"alice": "secret"}
ANY_PASSWORD_USER = "bob"  # noqa: S105 - a user name
HTTP_PATH = "cliservice"
KEYSTORE_PASSWORD = "changeit"  # noqa: S105 - a throwaway keystore of a loopback test server
START_TIMEOUT_SECONDS = 240.0

AuthMode = Literal["CUSTOM", "NOSASL", "NONE", "KERBEROS"]


@dataclass(frozen=True)
class KerberosSetup:
    """The Kerberos side of a KERBEROS server: its principal and keytab, and the client used to seed it."""

    service_principal: str  # e.g. hive/localhost@IMPALA.TEST
    service_keytab: Path
    krb5_conf: Path
    client_principal: str
    client_keytab: Path

    @property
    def service_name(self) -> str:
        return self.service_principal.partition("/")[0]

    @property
    def service_host(self) -> str:
        return self.service_principal.partition("/")[2].partition("@")[0]


LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.sts.name = org.apache.spark.sql.hive.thriftserver.HiveThriftServer2
logger.sts.level = info
logger.cli.name = org.apache.hive.service.cli.thrift.ThriftCLIService
logger.cli.level = info
"""


class StsStartError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


@dataclass
class StsServer:
    """A running Spark Thrift Server. Use as a context manager, or call stop()."""

    workdir: Path
    host: str
    port: int
    auth: AuthMode
    tls: bool
    http: bool
    process: subprocess.Popen[bytes] | None = None
    http_path: str = HTTP_PATH
    ca_pem: Path | None = None
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    any_password_user: str = ANY_PASSWORD_USER
    kerberos: KerberosSetup | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "sts.log"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the JVM and wait for it (exit code 143); kill it if it hangs."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def __enter__(self) -> StsServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def pyspark_home() -> Path:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise StsStartError("pyspark is not installed (make venv installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


def ensure_auth_jar() -> Path:
    """The compiled password checker; built here when `make tools` has not built it yet."""
    if AUTH_JAR.exists() and AUTH_JAR.stat().st_mtime >= AUTH_SOURCE.stat().st_mtime:
        return AUTH_JAR
    classes = AUTH_JAR.parent / "sts-auth-classes"
    classes.mkdir(parents=True, exist_ok=True)
    jars = pyspark_home() / "jars"
    subprocess.run(
        ["javac", "-nowarn", "-cp", f"{jars}/*", "-d", str(classes), str(AUTH_SOURCE)],
        check=True,
        capture_output=True,
    )
    tmp = AUTH_JAR.with_suffix(f".{os.getpid()}.tmp")
    subprocess.run(["jar", "cf", str(tmp), "-C", str(classes), "."], check=True, capture_output=True)
    tmp.replace(AUTH_JAR)
    return AUTH_JAR


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_keystore(workdir: Path, *, hosts_san: str = "ip:127.0.0.1") -> tuple[Path, Path]:
    """A self-signed server certificate (PKCS12 keystore) and its PEM, valid only for `hosts_san`.

    The default certificate names 127.0.0.1 only, so connecting as "localhost" is a hostname mismatch.
    """
    keystore, pem = workdir / "sts.p12", workdir / "ca.pem"
    for path in (keystore, pem):
        path.unlink(missing_ok=True)
    common = ["-keystore", str(keystore), "-storetype", "PKCS12", "-storepass", KEYSTORE_PASSWORD]
    subprocess.run(
        ["keytool", "-genkeypair", "-alias", "sts", "-keyalg", "RSA", "-keysize", "2048", "-validity", "3650",
         "-dname", "CN=127.0.0.1, O=impala-copy test server", "-ext", f"SAN={hosts_san}",
         "-keypass", KEYSTORE_PASSWORD, *common],
        check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["keytool", "-exportcert", "-alias", "sts", "-rfc", "-file", str(pem), *common],
        check=True,
        capture_output=True,
    )
    return keystore, pem


def _die_with_parent() -> None:
    """Run in the child before exec: the JVM gets SIGTERM if the Python process that started it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _command(
    server: StsServer, keystore: Path | None, driver_memory: str, extra_conf: Mapping[str, str]
) -> list[str]:
    w = server.workdir
    hive = {
        "hive.server2.thrift.bind.host": server.host,
        "hive.server2.authentication": server.auth,
    }
    java_options = f"-Dderby.system.home={w} -Djava.io.tmpdir={w / 'tmp'}"
    if server.auth == "CUSTOM":
        hive["hive.server2.custom.authentication.class"] = AUTH_CLASS
        java_options += f" -Dsts.password={server.users['alice']}"
    krb = server.kerberos
    if server.auth == "KERBEROS" and krb is not None:
        hive |= {
            "hive.server2.authentication.kerberos.principal": krb.service_principal,
            "hive.server2.authentication.kerberos.keytab": str(krb.service_keytab),
        }
        java_options += f" -Djava.security.krb5.conf={krb.krb5_conf}"
        extra_conf = {"spark.hadoop.hadoop.security.authentication": "kerberos", **extra_conf}
    if server.http:
        hive |= {
            "hive.server2.transport.mode": "http",
            "hive.server2.thrift.http.port": str(server.port),
            "hive.server2.thrift.http.path": server.http_path,
        }
    else:
        hive["hive.server2.thrift.port"] = str(server.port)
    if keystore is not None:
        hive |= {
            "hive.server2.use.SSL": "true",
            "hive.server2.keystore.path": str(keystore),
            "hive.server2.keystore.password": KEYSTORE_PASSWORD,
        }
    conf = {
        "spark.ui.enabled": "false",
        "spark.sql.warehouse.dir": str(w / "warehouse"),
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": java_options,
        "spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:derby:memory:metastore;create=true",
        "spark.sql.shuffle.partitions": "2",
        **extra_conf,
    }
    cmd = [
        str(pyspark_home() / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--master", "local[2]",
        "--driver-memory", driver_memory,
        "--driver-class-path", str(ensure_auth_jar()),
    ]  # fmt: skip
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    for key, value in hive.items():
        cmd += ["--hiveconf", f"{key}={value}"]
    return cmd


def sts_connect_kwargs(
    server: StsServer,
    user: str | None = "alice",
    password: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `impala.dbapi.connect` that reach this server (the CA is verified under TLS);
    the password defaults to the server's own for `user`."""
    if password is None and user is not None:
        password = server.users.get(user)
    kwargs: dict[str, Any] = {"host": server.host, "port": server.port, "timeout": 30}
    if server.auth == "NOSASL":
        kwargs["auth_mechanism"] = "NOSASL"
    elif server.kerberos is not None:
        krb = server.kerberos
        kwargs |= {
            "auth_mechanism": "GSSAPI",
            "kerberos_service_name": krb.service_name,
            "krb_host": krb.service_host,
        }
    else:
        kwargs |= {"auth_mechanism": "PLAIN", "user": user, "password": password}
    if server.tls:
        kwargs |= {"use_ssl": True, "ca_cert": str(server.ca_pem), "verify_cert": True}
    if server.http:
        kwargs |= {"use_http_transport": True, "http_path": server.http_path}
        kwargs.pop("timeout")  # impyla's HTTP transport takes no timeout
    return kwargs


@contextlib.contextmanager
def client_environment(server: StsServer) -> Iterator[None]:
    """For a KERBEROS server: this process's Kerberos client logs in as the seeding principal, with a
    ticket cache of its own, for the duration of the block (the variables are restored after it)."""
    krb = server.kerberos
    if krb is None:
        yield
        return
    names = ("KRB5_CONFIG", "KRB5CCNAME", "KRB5_CLIENT_KTNAME")
    saved = {name: os.environ.get(name) for name in names}
    os.environ |= {
        "KRB5_CONFIG": str(krb.krb5_conf),
        "KRB5CCNAME": f"FILE:{server.workdir / 'seed.ccache'}",
        "KRB5_CLIENT_KTNAME": str(krb.client_keytab),
    }
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wait_ready(server: StsServer, timeout: float) -> None:
    with client_environment(server):
        _poll_ready(server, timeout)


def _poll_ready(server: StsServer, timeout: float) -> None:
    from impala.dbapi import connect

    for name in ("thrift.transport.TSocket", "impala.hiveserver2", "impala._thrift_api", "thrift_sasl"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while True:
        if server.process is None or server.process.poll() is not None:
            code = None if server.process is None else server.process.returncode
            server.process = None
            raise StsStartError(
                f"Spark Thrift Server exited (code {code}) before accepting connections; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        try:
            conn = connect(**sts_connect_kwargs(server))
            try:
                cur = conn.cursor()
                cur.execute("SELECT 1")
                cur.fetchall()
                cur.close()
            finally:
                conn.close()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            server.stop()
            raise StsStartError(
                f"Spark Thrift Server not ready after {timeout:.0f}s (last error: {last_error}); "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        time.sleep(0.5)


def start_sts(
    workdir: Path,
    *,
    auth: AuthMode = "CUSTOM",
    tls: bool = False,
    http: bool = False,
    port: int | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
    driver_memory: str = "1g",
    conf: Mapping[str, str] | None = None,
    kerberos: KerberosSetup | None = None,
    hive_conf: Mapping[str, str] | None = None,
    password: str = USERS["alice"],
) -> StsServer:
    """Start a Spark Thrift Server in `workdir` and wait until it answers `SELECT 1`.

    With CUSTOM authentication, user alice logs in with `password` (tests use their session's).

    The server collects a whole result in its driver before the first fetch (Spark's default), so
    results of millions of rows need a larger `driver_memory` (the benchmarks use 3g for 5M rows).
    `conf` adds Spark settings (`--conf key=value`), `hive_conf` HiveServer2 settings (`--hiveconf`).
    """
    workdir = Path(workdir).resolve()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    (workdir / "conf").mkdir(exist_ok=True)
    (workdir / "conf" / "log4j2.properties").write_text(LOG4J2)
    server = StsServer(
        workdir=workdir,
        host="127.0.0.1",
        port=port or free_port(),
        auth=auth,
        tls=tls,
        http=http,
        kerberos=kerberos,
        users={"alice": password},
    )
    keystore = None
    if tls:
        keystore, server.ca_pem = make_keystore(workdir)
    env = dict(os.environ)
    env |= {
        "SPARK_HOME": str(pyspark_home()),
        "SPARK_CONF_DIR": str(workdir / "conf"),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": env.get("PYSPARK_PYTHON", "python3"),
    }
    env.pop("SPARK_PRINT_LAUNCH_COMMAND", None)
    with open(server.log_path, "wb") as log:
        command = _command(server, keystore, driver_memory, dict(conf or {}))
        for key, value in (hive_conf or {}).items():
            command += ["--hiveconf", f"{key}={value}"]
        server.process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


# ------------------------------------------------------------------------------------------ sample data

ORDERS_ROWS = 5000
_CUSTOMERS = ("Ana", "Björn", "Chloé", "Dmitri", "Eun-ji", "Fatima", "Gonçalo", "Hiroshi")
_STATUSES = ("new", "paid", "shipped", "cancelled")
_ORDERS_T0_MICROS = 1_704_067_200_000_000  # 2024-01-01 00:00:00 UTC
_ORDERS_STEP_MICROS = 3_600_123_457


def _sql_array(values: tuple[str, ...]) -> str:
    return "array(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


ORDERS_DDL = (
    "CREATE TABLE demo.orders USING parquet AS SELECT "
    "id + 1 AS order_id, "
    f"element_at({_sql_array(_CUSTOMERS)}, CAST(id % 8 + 1 AS INT)) AS customer, "
    "CAST((id * 37 % 100000) / 100.0 AS DECIMAL(12,2)) AS amount, "
    "CAST(id % 10 + 1 AS INT) AS quantity, "
    "(id % 1000) / 8.0D AS unit_price, "
    f"element_at({_sql_array(_STATUSES)}, CAST(id % 4 + 1 AS INT)) AS status, "
    f"timestamp_micros({_ORDERS_T0_MICROS} + id * {_ORDERS_STEP_MICROS}) AS ordered_at, "
    f"to_date(timestamp_micros({_ORDERS_T0_MICROS} + id * {_ORDERS_STEP_MICROS})) AS order_date, "
    "id % 3 = 0 AS express, "
    "CASE WHEN id % 10 = 0 THEN NULL ELSE concat('note ', CAST(id AS STRING)) END AS note "
    f"FROM range({ORDERS_ROWS})"
)

ORDERS_COLUMNS = (
    "order_id", "customer", "amount", "quantity", "unit_price", "status", "ordered_at", "order_date",
    "express", "note",
)  # fmt: skip


def orders_row(order_id: int) -> dict[str, Any]:
    """The expected values of one row of demo.orders (order_id 1..ORDERS_ROWS), as Python objects."""
    i = order_id - 1
    micros = _ORDERS_T0_MICROS + i * _ORDERS_STEP_MICROS
    ts = datetime(1970, 1, 1) + timedelta(microseconds=micros)
    return {
        "order_id": order_id,
        "customer": _CUSTOMERS[i % 8],
        "amount": (Decimal(i * 37 % 100000) / 100).quantize(Decimal("0.01")),
        "quantity": i % 10 + 1,
        "unit_price": (i % 1000) / 8.0,
        "status": _STATUSES[i % 4],
        "ordered_at": ts,
        "order_date": ts.date(),
        "express": i % 3 == 0,
        "note": None if i % 10 == 0 else f"note {i}",
    }


ALL_TYPES_DDL = (
    "CREATE TABLE demo.all_types ("
    "id INT, c_boolean BOOLEAN, c_tinyint TINYINT, c_smallint SMALLINT, c_int INT, c_bigint BIGINT, "
    "c_float FLOAT, c_double DOUBLE, c_decimal DECIMAL(10,2), c_decimal38 DECIMAL(38,10), "
    "c_decimal_int DECIMAL(9,0), c_string STRING, c_varchar VARCHAR(20), c_char CHAR(5), "
    "c_timestamp TIMESTAMP, c_date DATE, c_binary BINARY, "
    "c_array ARRAY<INT>, c_map MAP<STRING,INT>, c_struct STRUCT<x: INT, y: STRING>"
    ") USING parquet"
)

ALL_TYPES_COLUMNS = (
    "id", "c_boolean", "c_tinyint", "c_smallint", "c_int", "c_bigint", "c_float", "c_double", "c_decimal",
    "c_decimal38", "c_decimal_int", "c_string", "c_varchar", "c_char", "c_timestamp", "c_date", "c_binary",
    "c_array", "c_map", "c_struct",
)  # fmt: skip

# One SQL literal tuple per row, and the values a client must read back (complex types as JSON text,
# CHAR padded to its length, FLOAT as the nearest float32).
ALL_TYPES_SQL_ROWS = (
    "(1, true, 1, 300, 70000, 5000000000, CAST(1.5 AS FLOAT), 3.141592653589793D, 12345678.90BD, "
    "CAST('1234567890123456789012345678.0123456789' AS DECIMAL(38,10)), 42BD, "
    "'héllo wörld ✓ 日本語 🎉', 'varchar ü', 'ab', TIMESTAMP'2024-02-29 12:34:56.123456', DATE'2024-02-29', "
    "X'00FF10', array(1, 2, 3), map('a', 1, 'b', 2), named_struct('x', 1, 'y', 'z'))",
    "(2, false, -128, -32768, -2147483648, -9223372036854775808L, CAST(-2.25 AS FLOAT), -1.0E300D, "
    "-99999999.99BD, CAST('-9999999999999999999999999999.9999999999' AS DECIMAL(38,10)), -999999999BD, "
    "'', 'x', 'abcde', TIMESTAMP'1900-01-01 00:00:00.000001', DATE'1900-01-01', X'', "
    "array(), map(), named_struct('x', -1, 'y', ''))",
    "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL)",
    "(4, true, 127, 32767, 2147483647, 9223372036854775807L, CAST(3.4028235E38 AS FLOAT), "
    "1.7976931348623157E308D, 0.01BD, CAST('0.0000000001' AS DECIMAL(38,10)), 0BD, "
    "'line1\nline2\t\"quoted\" ''single'' \\\\ back,comma;semi', 'ÅÄÖ', 'é', "
    "TIMESTAMP'2038-01-19 03:14:07.999999', DATE'9999-12-31', X'DEADBEEF', "
    "array(NULL, 5), map('k', CAST(NULL AS INT)), named_struct('x', CAST(NULL AS INT), 'y', 'ü'))",
)

ALL_TYPES_EXPECTED: tuple[dict[str, Any], ...] = (
    {
        "id": 1, "c_boolean": True, "c_tinyint": 1, "c_smallint": 300, "c_int": 70000, "c_bigint": 5000000000,
        "c_float": 1.5, "c_double": 3.141592653589793, "c_decimal": Decimal("12345678.90"),
        "c_decimal38": Decimal("1234567890123456789012345678.0123456789"), "c_decimal_int": Decimal("42"),
        "c_string": "héllo wörld ✓ 日本語 🎉", "c_varchar": "varchar ü", "c_char": "ab   ",
        "c_timestamp": datetime(2024, 2, 29, 12, 34, 56, 123456), "c_date": date(2024, 2, 29),
        "c_binary": b"\x00\xff\x10", "c_array": "[1,2,3]", "c_map": '{"a":1,"b":2}',
        "c_struct": '{"x":1,"y":"z"}',
    },
    {
        "id": 2, "c_boolean": False, "c_tinyint": -128, "c_smallint": -32768, "c_int": -2147483648,
        "c_bigint": -9223372036854775808, "c_float": -2.25, "c_double": -1.0e300,
        "c_decimal": Decimal("-99999999.99"),
        "c_decimal38": Decimal("-9999999999999999999999999999.9999999999"),
        "c_decimal_int": Decimal("-999999999"), "c_string": "", "c_varchar": "x", "c_char": "abcde",
        "c_timestamp": datetime(1900, 1, 1, 0, 0, 0, 1), "c_date": date(1900, 1, 1), "c_binary": b"",
        "c_array": "[]", "c_map": "{}", "c_struct": '{"x":-1,"y":""}',
    },
    {"id": 3, **dict.fromkeys(ALL_TYPES_COLUMNS[1:])},
    {
        "id": 4, "c_boolean": True, "c_tinyint": 127, "c_smallint": 32767, "c_int": 2147483647,
        "c_bigint": 9223372036854775807, "c_float": 3.4028234663852886e38, "c_double": 1.7976931348623157e308,
        "c_decimal": Decimal("0.01"), "c_decimal38": Decimal("0.0000000001"), "c_decimal_int": Decimal("0"),
        "c_string": "line1\nline2\t\"quoted\" 'single' \\ back,comma;semi",
        "c_varchar": "ÅÄÖ", "c_char": "é    ",
        "c_timestamp": datetime(2038, 1, 19, 3, 14, 7, 999999), "c_date": date(9999, 12, 31),
        "c_binary": b"\xde\xad\xbe\xef", "c_array": "[null,5]", "c_map": '{"k":null}',
        "c_struct": '{"x":null,"y":"ü"}',
    },
)  # fmt: skip

EMPTY_TABLE_DDL = (
    "CREATE TABLE demo.empty_table (id INT, name STRING, amount DECIMAL(10,2), created TIMESTAMP) "
    "USING parquet"
)

SAMPLE_STATEMENTS = (
    "CREATE DATABASE IF NOT EXISTS demo",
    "DROP TABLE IF EXISTS demo.orders",
    "DROP TABLE IF EXISTS demo.all_types",
    "DROP TABLE IF EXISTS demo.empty_table",
    ORDERS_DDL,
    ALL_TYPES_DDL,
    "INSERT INTO demo.all_types VALUES " + ", ".join(ALL_TYPES_SQL_ROWS),
    EMPTY_TABLE_DDL,
)


def execute_statements(server: StsServer, statements: tuple[str, ...] | list[str]) -> None:
    """Run DDL/DML through impyla as alice (never fetches: Spark returns no result schema for DDL)."""
    from impala.dbapi import connect

    with client_environment(server):
        conn = connect(**sts_connect_kwargs(server))
        try:
            cur = conn.cursor()
            for statement in statements:
                cur.execute(statement)
            cur.close()
        finally:
            conn.close()


def seed_sample_tables(server: StsServer) -> None:
    """Create the database `demo` with orders (5000 rows), all_types (every type, 4 rows) and empty_table."""
    execute_statements(server, SAMPLE_STATEMENTS)


__all__ = [
    "ALL_TYPES_COLUMNS",
    "ALL_TYPES_EXPECTED",
    "ANY_PASSWORD_USER",
    "ORDERS_COLUMNS",
    "ORDERS_ROWS",
    "USERS",
    "AuthMode",
    "KerberosSetup",
    "StsServer",
    "StsStartError",
    "client_environment",
    "execute_statements",
    "make_keystore",
    "orders_row",
    "seed_sample_tables",
    "start_sts",
    "sts_connect_kwargs",
]
