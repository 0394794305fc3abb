"""The examples a user copies from (examples/tls-password-parquet, query-to-csv, sasl-username-json,
http-transport): valid, and working against a real HiveServer2.

In:  each example folder as shipped; for the runs, a copy of it pointed at a Spark Thrift Server
     variant (host, port, and for TLS the server's CA in the CA Secret; SASLUsername logs in as the
     user the server accepts without a password), with the password in the environment variable the
     Job pod would get (the Secret manifests keep their placeholder).
Out: `impala-copy validate` accepts each folder on its own and all of examples/ together (names
     do not clash); `impala-copy run` copies each example's data: Parquet parts over TLS with a CA
     from a Secret, a query to gzip-compressed CSV with a header, SASLUsername to JSON Lines in
     parts, and the HTTP transport to one Parquet file; the files hold exactly the source rows.
Faked: Impala is the Spark Thrift Server (HiveServer2 protocol); the PVC is a local folder.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from devservers.sts import ALL_TYPES_EXPECTED, ORDERS_ROWS, StsServer, orders_row

from impala_copy.api.common import SecretKeySelector
from impala_copy.api.plan import secret_env_name

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CLI = ROOT / ".venv" / "bin" / "impala-copy"
OURS = ("tls-password-parquet", "query-to-csv", "sasl-username-json", "http-transport", "kerberos")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


@pytest.mark.parametrize("folder", OURS)
def test_example_folder_is_valid_on_its_own(folder: str) -> None:
    result = cli("validate", "-f", str(EXAMPLES / folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("file(s): valid")


def test_all_examples_are_valid_together() -> None:
    result = cli("validate", "-f", str(EXAMPLES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_examples_readme_lists_every_example_folder() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for folder in sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()):
        assert f"`{folder}/`" in readme, f"examples/README.md does not describe {folder}/"


# ------------------------------------------------------------------ running them
def _prepare(folder: str, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the example folder with `edit` applied to every document."""
    target = tmp_path / folder
    target.mkdir()
    for path in sorted((EXAMPLES / folder).glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for doc in docs:
            edit(doc)
        (target / path.name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return target


def _point_at(server: StsServer, **extra: Any) -> Callable[[dict[str, Any]], None]:
    """Host and port of the server; the user name the server knows (alice) unless `extra` says."""

    def edit(doc: dict[str, Any]) -> None:
        if doc["kind"] == "ImpalaLinkedService":
            doc["spec"].update(host=server.host, port=server.port, username="alice")
            doc["spec"].update(extra)

    return edit


def _run(
    folder: Path, activity: str, claim: str, out: Path, secrets: dict[tuple[str, str], str] | None = None
) -> dict[str, Any]:
    env = {secret_env_name(SecretKeySelector(name=n, key=k)): v for (n, k), v in (secrets or {}).items()}
    result = cli(
        "run", "-f", str(folder), "--activity", activity, "--volume", f"{claim}={out}", "-o", "json", env=env
    )
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    for value in env.values():
        assert value not in result.stdout + result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["status"] == "Succeeded", summary
    return summary


def test_tls_password_example_copies_to_parquet_parts(sts_tls: StsServer, tmp_path: Path) -> None:
    assert sts_tls.ca_pem is not None
    ca = sts_tls.ca_pem.read_text()

    def edit(doc: dict[str, Any]) -> None:
        _point_at(sts_tls)(doc)
        if doc["kind"] == "Secret" and doc["metadata"]["name"] == "tls-impala-ca":
            doc["stringData"]["ca.crt"] = ca  # the CA that signed the server's certificate

    folder = _prepare("tls-password-parquet", tmp_path, edit)
    out = tmp_path / "volume"
    summary = _run(
        folder,
        "tls-orders-to-parquet",
        "tls-exports",
        out,
        {("tls-impala-login", "password"): sts_tls.users["alice"]},
    )
    assert summary["rowsCopied"] == ORDERS_ROWS
    assert summary["consistencyVerified"] is True
    files = sorted(p.name for p in (out / "warehouse" / "orders").iterdir())
    assert files == ["orders_00000.parquet", "orders_00001.parquet", "orders_00002.parquet"]
    table = pq.read_table(out / "warehouse" / "orders")
    assert table.num_rows == ORDERS_ROWS
    assert sorted(table.column("order_id").to_pylist()) == list(range(1, ORDERS_ROWS + 1))


def test_tls_example_fails_with_the_placeholder_ca(sts_tls: StsServer, tmp_path: Path) -> None:
    folder = _prepare("tls-password-parquet", tmp_path, _point_at(sts_tls))
    env = {
        secret_env_name(SecretKeySelector(name="tls-impala-login", key="password")): sts_tls.users["alice"]
    }
    result = cli(
        "run",
        "-f",
        str(folder),
        "--activity",
        "tls-orders-to-parquet",
        "--volume",
        f"tls-exports={tmp_path / 'v'}",
        env=env,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "tls-impala-ca" in result.stderr or "TLSVerificationFailed" in result.stderr
    assert not any((tmp_path / "v").rglob("*.parquet"))


def test_query_example_copies_to_gzip_csv_with_a_header(sts: StsServer, tmp_path: Path) -> None:
    folder = _prepare("query-to-csv", tmp_path, _point_at(sts))
    out = tmp_path / "volume"
    summary = _run(
        folder, "csv-big-orders", "csv-exports", out, {("csv-impala-login", "password"): sts.users["alice"]}
    )
    expected = [orders_row(i) for i in range(1, ORDERS_ROWS + 1) if orders_row(i)["amount"] >= 900]
    assert expected, "the example's query should select some rows of demo.orders"
    assert summary["rowsCopied"] == len(expected)
    text = gzip.decompress((out / "reports" / "big-orders" / "big-orders.csv.gz").read_bytes()).decode(
        "utf-8"
    )
    lines = text.split("\n")
    assert lines[0] == "order_id,customer,amount,status,ordered_at,extracted_by"
    assert lines[-1] == ""
    rows = lines[1:-1]
    assert len(rows) == len(expected)
    first = rows[0].split(",")
    assert first[0] == str(expected[0]["order_id"])
    assert first[1] == expected[0]["customer"]
    assert first[2] == str(expected[0]["amount"])
    assert first[-1] == "impala-copy"


def test_sasl_username_example_copies_to_json_lines(sts: StsServer, tmp_path: Path) -> None:
    # The server accepts this user without a password: what SASLUsername sends.
    folder = _prepare("sasl-username-json", tmp_path, _point_at(sts, username=sts.any_password_user))
    out = tmp_path / "volume"
    summary = _run(folder, "sasl-all-types-to-json", "sasl-exports", out)
    assert summary["rowsCopied"] == len(ALL_TYPES_EXPECTED)
    files = sorted((out / "all-types").iterdir())
    assert [f.name for f in files] == ["all_types_00000.jsonl"]
    records = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [row["id"] for row in ALL_TYPES_EXPECTED]
    by_id = {r["id"]: r for r in records}
    assert by_id[1]["c_string"] == ALL_TYPES_EXPECTED[0]["c_string"]
    assert by_id[3]["c_string"] is None


def test_http_transport_example_copies_to_one_parquet_file(sts_http: StsServer, tmp_path: Path) -> None:
    assert sts_http.http_path == "cliservice"
    folder = _prepare("http-transport", tmp_path, _point_at(sts_http))
    out = tmp_path / "volume"
    summary = _run(
        folder,
        "http-orders-to-parquet",
        "http-exports",
        out,
        {("http-impala-login", "password"): sts_http.users["alice"]},
    )
    assert summary["rowsCopied"] == ORDERS_ROWS
    assert sorted(p.name for p in (out / "orders").iterdir()) == ["orders.parquet"]
    table = pq.read_table(out / "orders" / "orders.parquet")
    assert table.num_rows == ORDERS_ROWS
    assert (
        pq.ParquetFile(out / "orders" / "orders.parquet").metadata.row_group(0).column(0).compression
        == "ZSTD"
    )
    shutil.rmtree(out)
