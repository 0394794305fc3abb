"""The LookupActivity examples run with `impala-copy lookup` against the Spark Thrift Server.

In:  examples/demo/ copied to a temporary folder with `demo-impala` pointed at the `sts` server (the
     same override `make demo` makes in memory), then each LookupActivity of
     examples/demo/40-lookup-activities.yaml run by the CLI in a subprocess.
Out: the printed output JSON compared with the sample data (devservers.sts.orders_row), exit codes,
     and the one-line errors of an unknown activity and a wrong password.
Faked: nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from devservers.sts import ORDERS_ROWS, StsServer, orders_row
from tests import session_password

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "demo"


def examples_for(server: StsServer, folder: Path, password: str = session_password.PASSWORD) -> Path:
    shutil.copytree(EXAMPLES, folder)
    path = folder / "00-impala.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    for doc in docs:
        if doc["kind"] == "ImpalaLinkedService" and doc["metadata"]["name"] == "demo-impala":
            doc["spec"] |= {"host": server.host, "port": server.port}
        if doc["kind"] == "Secret":
            doc["stringData"]["password"] = password
    path.write_text(yaml.safe_dump_all(docs))
    return folder


def lookup(folder: Path, activity: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", "lookup", "-f", str(folder), "--activity", activity],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_the_examples_are_lookup_activities_of_the_demo() -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "40-lookup-activities.yaml").read_text()))
    assert [d["metadata"]["name"] for d in docs] == [
        "orders-high-watermark",
        "orders-by-status",
        "orders-all-rows",
    ]
    assert {d["kind"] for d in docs} == {"LookupActivity"}


def test_high_watermark_prints_the_first_row(sts: StsServer, tmp_path: Path) -> None:
    folder = examples_for(sts, tmp_path / "demo")
    done = lookup(folder, "orders-high-watermark")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    last = orders_row(ORDERS_ROWS)
    assert json.loads(done.stdout) == {
        "firstRow": {
            "high_watermark": last["ordered_at"].isoformat(),
            "last_order_id": ORDERS_ROWS,
            "orders": ORDERS_ROWS,
        }
    }


def test_orders_by_status_prints_every_row(sts: StsServer, tmp_path: Path) -> None:
    folder = examples_for(sts, tmp_path / "demo")
    done = lookup(folder, "orders-by-status")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    counts: dict[str, int] = defaultdict(int)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for order_id in range(1, ORDERS_ROWS + 1):
        row = orders_row(order_id)
        counts[row["status"]] += 1
        totals[row["status"]] += row["amount"]
    output: dict[str, Any] = json.loads(done.stdout)
    assert output["count"] == 4
    assert [r["status"] for r in output["value"]] == sorted(counts)
    for r in output["value"]:
        assert r["orders"] == counts[r["status"]]
        assert Decimal(r["total"]) == totals[r["status"]]


def test_all_rows_of_the_dataset_table(sts: StsServer, tmp_path: Path) -> None:
    folder = examples_for(sts, tmp_path / "demo")
    done = lookup(folder, "orders-all-rows")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    output = json.loads(done.stdout)
    assert output["count"] == ORDERS_ROWS
    by_id = {r["order_id"]: r for r in output["value"]}
    assert by_id[2] == {
        "order_id": 2, "customer": "Björn", "amount": "0.37", "quantity": 2, "unit_price": 0.125, "status": "paid",
        "ordered_at": orders_row(2)["ordered_at"].isoformat(), "order_date": orders_row(2)["order_date"].isoformat(),
        "express": False, "note": "note 1",
    }  # fmt: skip
    assert done.stderr == ""


def test_errors_are_one_line(sts: StsServer, tmp_path: Path) -> None:
    folder = examples_for(sts, tmp_path / "demo", password=session_password.variant("wrong"))
    done = lookup(folder, "orders-by-status")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: AuthenticationFailed: ")
    assert len(done.stderr.strip().splitlines()) == 1
    done = lookup(folder, "no-such-lookup")
    assert done.returncode == 2
    assert (
        "error: ReferenceNotFound: LookupActivity 'no-such-lookup' not found in namespace 'default'"
        in done.stderr
    )
