"""`make demo`'s code path (scripts/demo.py) end to end, twice in a row.

In:  the manifests in examples/demo/, pointed at the session's Spark Thrift Server (CUSTOM password
     check, sample tables seeded) the way the demo points them at the server it starts, the Secret
     holding the session's password (the server's).
Out: the files of every CopyActivity under a temporary demo-output folder, read back (rows, names,
     header, JSON lines, additional columns); the printed per-activity summary; a second run gives
     the same files and nothing else.
Faked: nothing. (The demo's own server start and stop are the `start_sts` context manager the
     fixture also uses; the test shares the session's server instead of starting a second JVM.)
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from devservers.sts import ORDERS_ROWS, StsServer, orders_row
from rich.console import Console
from scripts import demo

from impala_copy.cli import manifests


@pytest.fixture(autouse=True)
def session_login(sts: StsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example Secret holds the session's password (the server's), as every Secret of the tests."""
    load = manifests.load
    secret = {("Secret", "demo-impala-credentials"): {"stringData.password": sts.users["alice"]}}

    def with_session_login(path: Path | str, namespace: str = "default", **options: Any) -> Any:
        return load(path, namespace, overrides={**(options.get("overrides") or {}), **secret})

    monkeypatch.setattr(manifests, "load", with_session_login)


def run(sts: StsServer, out: Path) -> str:
    buffer = io.StringIO()
    results = demo.run_demo(sts, out, Console(file=buffer, width=200, highlight=False))
    assert [(name, s.status) for name, s in results] == [
        ("orders-to-parquet", "Succeeded"),
        ("paid-orders-to-csv", "Succeeded"),
        ("all-types-to-json", "Succeeded"),
        ("orders-with-lineage", "Succeeded"),
    ]
    return buffer.getvalue()


def listing(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_demo_writes_every_example_output_and_can_run_again(sts: StsServer, tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    printed = run(sts, out)
    files = listing(out)
    assert files == [
        "all-types/json/part_00000.jsonl",
        "orders/lineage/orders.parquet",
        "orders/paid-csv/part_00000.csv",
        "orders/parquet/orders_00000.parquet",
        "orders/parquet/orders_00001.parquet",
        "orders/parquet/orders_00002.parquet",
    ]
    assert "✓ orders-to-parquet: 5,000 rows, 3 file(s)" in printed
    assert "✓ paid-orders-to-csv: 1,250 rows, 1 file(s)" in printed

    parts = sorted((out / "orders" / "parquet").iterdir())
    assert [pq.ParquetFile(p).metadata.num_rows for p in parts] == [2000, 2000, 1000]

    csv_lines = (out / "orders/paid-csv/part_00000.csv").read_text(encoding="utf-8").splitlines()
    paid = [orders_row(i) for i in range(1, ORDERS_ROWS + 1) if orders_row(i)["status"] == "paid"]
    assert csv_lines[0] == "order_id,customer,amount,ordered_at,note"
    assert len(csv_lines) == 1 + len(paid) == 1251
    first = paid[0]
    assert csv_lines[1] == (
        f"{first['order_id']},{first['customer']},{first['amount']},{first['ordered_at'].isoformat()},{first['note']}"
    )

    json_rows = [
        json.loads(line) for line in (out / "all-types/json/part_00000.jsonl").read_text().splitlines()
    ]
    assert sorted(r["id"] for r in json_rows) == [1, 2, 3, 4]

    lineage = pq.read_table(out / "orders/lineage/orders.parquet")
    assert lineage.num_rows == ORDERS_ROWS
    assert lineage.schema.names[-3:] == ["source_system", "source_table", "order_key"]
    assert set(lineage.column("source_system").to_pylist()) == {"impala-demo"}
    assert lineage.column("order_key").to_pylist() == lineage.column("order_id").to_pylist()

    first_run = {name: (out / name).stat().st_mtime_ns for name in files}
    run(sts, out)
    assert listing(out) == files  # the second run replaced the files: nothing added, nothing staged
    assert all((out / name).stat().st_mtime_ns > first_run[name] for name in files)
    assert [pq.ParquetFile(p).metadata.num_rows for p in parts] == [2000, 2000, 1000]
