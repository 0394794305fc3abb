"""An imported ADF pipeline runs: `import-adf`, `validate` and `run` as a user runs them (subprocesses).

In:  ADF JSON in the shapes of the Impala connector's documentation (Impala linked service with a
     SecureString password, ImpalaObject dataset, PostgreSqlV2 linked service and table dataset, a
     pipeline with a Copy activity reading an ImpalaSource), pointing at the test servers.
Out: exit codes; the CopyActivity's rows in PostgreSQL, value by value against demo.orders; the
     password never in any output.
Faked: nothing: the Spark Thrift Server (`sts`) and PostgreSQL (`pg`) are real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from devservers.postgres import PostgresServer
from devservers.sts import ORDERS_ROWS, StsServer, orders_row
from tests import session_password

from impala_copy.api.common import SecretKeySelector
from impala_copy.api.plan import secret_env_name

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
    )


def resource(folder: Path, name: str, properties: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "properties": properties}, indent=2))


def adf_factory(root: Path, sts: StsServer, pg: PostgresServer, database: str) -> None:
    resource(
        root / "linkedService",
        "Impala",
        {
            "type": "Impala",
            "typeProperties": {
                "host": sts.host,
                "port": sts.port,
                "authenticationType": "UsernameAndPassword",
                "username": "alice",
                "password": {"type": "SecureString", "value": "**********"},
            },
        },
    )
    resource(
        root / "linkedService",
        "Warehouse",
        {
            "type": "PostgreSqlV2",
            "typeProperties": {
                "server": pg.host,
                "port": pg.port,
                "database": database,
                "username": pg.user,
                "sslMode": 0,
                "password": {"type": "SecureString", "value": "**********"},
            },
        },
    )
    resource(
        root / "dataset",
        "Orders",
        {
            "type": "ImpalaObject",
            "linkedServiceName": {"referenceName": "Impala", "type": "LinkedServiceReference"},
            "typeProperties": {"schema": "demo", "table": "orders"},
        },
    )
    resource(
        root / "dataset",
        "OrdersCopy",
        {
            "type": "PostgreSqlV2Table",
            "linkedServiceName": {"referenceName": "Warehouse", "type": "LinkedServiceReference"},
            "typeProperties": {"schema": "public", "table": "orders_copy"},
        },
    )
    resource(
        root / "pipeline",
        "Load",
        {
            "activities": [
                {
                    "name": "Copy orders",
                    "type": "Copy",
                    "inputs": [{"referenceName": "Orders", "type": "DatasetReference"}],
                    "outputs": [{"referenceName": "OrdersCopy", "type": "DatasetReference"}],
                    "typeProperties": {
                        "source": {
                            "type": "ImpalaSource",
                            "query": "SELECT order_id, customer, amount FROM demo.orders",
                            "queryTimeout": "00:10:00",
                        },
                        "sink": {
                            "type": "AzurePostgreSqlSink",
                            "tableOption": "autoCreate",
                            "writeMethod": "CopyCommand",
                        },
                        "validateDataConsistency": True,
                    },
                }
            ]
        },
    )


def test_an_imported_copy_runs_from_impala_to_postgresql(
    sts: StsServer, pg: PostgresServer, pg_database: str, tmp_path: Path
) -> None:
    adf_factory(tmp_path / "factory", sts, pg, pg_database)
    out = tmp_path / "imported"
    imported = cli("import-adf", str(tmp_path / "factory"), "-o", str(out))
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr == ""  # everything was imported
    validated = cli("validate", "-f", str(out))
    assert validated.returncode == 0, validated.stdout + validated.stderr

    env = {
        secret_env_name(
            SecretKeySelector(name="impala-credentials", key="password")
        ): session_password.PASSWORD,
        secret_env_name(SecretKeySelector(name="warehouse-credentials", key="password")): pg.password,
    }
    readme = (out / "README.md").read_text()
    assert all(f"export {name}=" in readme for name in env)
    ran = cli("run", "-f", str(out), "-a", "load-copy-orders", "-o", "json", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    summary = json.loads(ran.stdout)
    assert (summary["rowsRead"], summary["rowsCopied"]) == (ORDERS_ROWS, ORDERS_ROWS)
    assert pg.password not in ran.stdout + ran.stderr

    with psycopg.connect(pg.uri_for(pg_database)) as conn:
        rows = conn.execute(
            "SELECT order_id, customer, amount FROM public.orders_copy ORDER BY order_id"
        ).fetchall()
    assert len(rows) == ORDERS_ROWS
    for order_id in (1, 2, ORDERS_ROWS):
        expected = orders_row(order_id)
        assert rows[order_id - 1] == (expected["order_id"], expected["customer"], expected["amount"])
