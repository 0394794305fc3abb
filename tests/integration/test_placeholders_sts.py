"""Placeholders of the run against the Spark Thrift Server: windows in the query and in the paths.

In:  manifests a user would write: a CopyActivity on tumbling windows whose source.query reads
     demo.orders between {windowStart} and {windowEnd} (ours, or ADF's spellings pasted from ADF) into
     a Parquet dataset (on a claim, on S3 in moto, on Azure Blob in Azurite) whose folderPath or
     fileNamePrefix holds {windowStart:...}, with an additional column holding the window; a
     LookupActivity with {triggerTime} and {scheduledTime}; each run given its window as `impala-copy run` gives it
     (--window-start / --window-end, as a function call and as a real subprocess).
Out: the Parquet files of each window read back: exactly the order ids whose ordered_at falls in the
     window (compared with devservers.sts.orders_row), one folder or prefix per window, a re-run of a
     window replacing only its own files; the lookup's output; `validate`'s exit code and message.
Faked: nothing. The servers are the session fixtures `sts` (session time zone UTC), `s3`, `azurite`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from devservers.azurite import AzuriteServer
from devservers.moto import MotoServer
from devservers.sts import ORDERS_ROWS, StsServer, orders_row
from rich.console import Console
from tests.integration.copy_docs import CLAIM, copy, files, impala, impala_on, obj, table, write
from tests.integration.object_store_cases import data_keys
from tests.integration.sink_cases import activity, impala_docs, plan_from
from tests.integration.test_sink_azure import AzureContainer
from tests.integration.test_sink_s3 import S3Bucket

from impala_copy.api.plan import CopyPlan
from impala_copy.api.schedule import RunContext
from impala_copy.api.summary import RunSummary
from impala_copy.cli import lookup_commands, manifests
from impala_copy.cli.local import LocalLayout, RunTimes, build_plan, secrets_for
from impala_copy.engine.errors import EXIT_OK
from impala_copy.engine.run import execute, run_copy
from impala_copy.engine.run_values import run_values
from impala_copy.engine.source.sql import build_select

DAY1 = ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")
DAY2 = ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z")
WINDOWS = {"window": {"startTime": "2024-01-01T00:00:00Z", "frequency": "Day", "interval": 1}}
OURS = (
    "SELECT order_id, ordered_at, {runId} AS run FROM demo.orders "
    "WHERE ordered_at >= {windowStart} AND ordered_at < {windowEnd}"
)
# The same query as ADF users write it: the window times interpolated into SQL string literals.
ADF = (
    "SELECT order_id, ordered_at, '@{pipeline().RunId}' AS run FROM demo.orders "
    "WHERE ordered_at >= '@{trigger().outputs.windowStartTime}' "
    "AND ordered_at < '@{trigger().outputs.windowEndTime}' "
    "AND order_date >= '@{formatDateTime(trigger().outputs.windowStartTime, 'yyyy-MM-dd')}'"
)


def expected_ids(window: tuple[str, str], extra: Any = None) -> list[int]:
    start, end = (datetime.fromisoformat(t.removesuffix("Z")) for t in window)
    rows = (orders_row(i) for i in range(1, ORDERS_ROWS + 1))
    return [r["order_id"] for r in rows if start <= r["ordered_at"] < end and (extra is None or extra(r))]


def windowed_copy(
    server: StsServer | None, query: str, *, folder: str, prefix: str | None = None
) -> list[dict[str, Any]]:
    """A windowed CopyActivity `copy` of `query` into Parquet files under `folder` (no server: validate only)."""
    return [
        *(impala_on(server) if server else impala("127.0.0.1", 9)),
        table("source", None, None),
        files("ParquetDataset", "target", folder),
        copy(
            "copy",
            "source",
            "ParquetDataset",
            "target",
            format_settings={"fileNamePrefix": prefix} if prefix else None,
            source={
                "query": query,
                "additionalColumns": [
                    {"name": "window", "value": "{windowStart}/@{trigger().outputs.windowEndTime}"}
                ],
            },
            schedule=WINDOWS,
        ),
    ]


def window_plan(tmp: Path, docs: list[dict[str, Any]], window: tuple[str, str], run_id: str) -> CopyPlan:
    loaded = manifests.load(write(tmp / "manifests", docs))
    assert not loaded.errors, [str(e) for e in loaded.errors]
    (tmp / "volume").mkdir(exist_ok=True)
    layout = LocalLayout(cert_dir=str(tmp / "certs"), volumes={CLAIM: str(tmp / "volume")})
    times = RunTimes(window_start=window[0], window_end=window[1], trigger_time="2024-01-05T00:00:00Z")
    return build_plan(loaded, "default", "copy", layout, run_id=run_id, times=times)


def run_window(tmp: Path, docs: list[dict[str, Any]], window: tuple[str, str], run_id: str) -> RunSummary:
    plan = window_plan(tmp, docs, window, run_id)
    loaded = manifests.load(tmp / "manifests")
    summary = run_copy(plan, secrets_for(plan, loaded, {}))
    assert summary.succeeded, summary.errors
    return summary


def published(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def rows_in(paths: list[Path]) -> list[dict[str, Any]]:
    return sorted((r for p in paths for r in pq.read_table(p).to_pylist()), key=lambda r: r["order_id"])


def test_each_window_copies_exactly_its_rows_into_its_own_folder(sts: StsServer, tmp_path: Path) -> None:
    docs = windowed_copy(sts, OURS, folder="orders/dt={windowStart:yyyy-MM-dd}")
    first = run_window(tmp_path, docs, DAY1, "w1")
    second = run_window(tmp_path, docs, DAY2, "w2")
    volume = tmp_path / "volume" / "orders"
    assert sorted(p.name for p in volume.iterdir()) == ["dt=2024-01-01", "dt=2024-01-02"]
    for window, summary, day, run in (
        (DAY1, first, "dt=2024-01-01", "w1"),
        (DAY2, second, "dt=2024-01-02", "w2"),
    ):
        rows = rows_in(published(volume / day))
        assert [r["order_id"] for r in rows] == expected_ids(window)
        assert {r["run"] for r in rows} == {run}
        assert {r["window"] for r in rows} == {"/".join(window)}
        assert summary.rows_copied == len(rows) > 20
        assert summary.output_paths == [str(volume / day / "part_00000.parquet")]


def test_a_rerun_of_one_window_replaces_only_that_windows_folder(sts: StsServer, tmp_path: Path) -> None:
    docs = windowed_copy(sts, OURS, folder="orders/dt={windowStart:yyyy-MM-dd}")
    run_window(tmp_path, docs, DAY1, "w1")
    run_window(tmp_path, docs, DAY2, "w2")
    day2 = tmp_path / "volume" / "orders" / "dt=2024-01-02" / "part_00000.parquet"
    before = (day2.read_bytes(), day2.stat().st_mtime_ns)
    # The re-run reads fewer rows (a changed query): its folder holds exactly the new result.
    narrower = windowed_copy(sts, OURS + " AND quantity > 5", folder="orders/dt={windowStart:yyyy-MM-dd}")
    run_window(tmp_path, narrower, DAY1, "w1-again")
    rows = rows_in(published(tmp_path / "volume" / "orders" / "dt=2024-01-01"))
    assert [r["order_id"] for r in rows] == expected_ids(DAY1, lambda r: r["quantity"] > 5)
    assert {r["run"] for r in rows} == {"w1-again"}
    assert (day2.read_bytes(), day2.stat().st_mtime_ns) == before


def test_windows_sharing_a_folder_keep_apart_by_their_file_name_prefix(
    sts: StsServer, tmp_path: Path
) -> None:
    docs = windowed_copy(sts, OURS, folder="orders", prefix="orders_{windowStart:yyyyMMdd}")
    run_window(tmp_path, docs, DAY1, "w1")
    run_window(tmp_path, docs, DAY2, "w2")
    run_window(tmp_path, docs, DAY1, "w1-again")
    folder = tmp_path / "volume" / "orders"
    assert [p.name for p in published(folder)] == [
        "orders_20240101_00000.parquet",
        "orders_20240102_00000.parquet",
    ]
    assert [r["order_id"] for r in rows_in([folder / "orders_20240101_00000.parquet"])] == expected_ids(DAY1)
    assert {r["run"] for r in rows_in([folder / "orders_20240101_00000.parquet"])} == {"w1-again"}
    assert [r["order_id"] for r in rows_in([folder / "orders_20240102_00000.parquet"])] == expected_ids(DAY2)


def test_a_query_pasted_from_adf_copies_the_same_rows(sts: StsServer, tmp_path: Path) -> None:
    ours = window_plan(tmp_path / "ours", windowed_copy(sts, OURS, folder="o"), DAY2, "w2")
    adf = window_plan(tmp_path / "adf", windowed_copy(sts, ADF, folder="a"), DAY2, "w2")
    assert build_select(adf.source, run_values(adf)) == (
        "SELECT order_id, ordered_at, 'w2' AS run FROM demo.orders "
        "WHERE ordered_at >= '2024-01-02 00:00:00' AND ordered_at < '2024-01-03 00:00:00' "
        "AND order_date >= '2024-01-02'"
    )
    assert build_select(ours.source, run_values(ours)) == (
        "SELECT order_id, ordered_at, 'w2' AS run FROM demo.orders "
        "WHERE ordered_at >= CAST('2024-01-02 00:00:00' AS TIMESTAMP) "
        "AND ordered_at < CAST('2024-01-03 00:00:00' AS TIMESTAMP)"
    )
    for name, plan in (("o", ours), ("a", adf)):
        loaded = manifests.load(tmp_path / ("ours" if name == "o" else "adf") / "manifests")
        assert run_copy(plan, secrets_for(plan, loaded, {})).succeeded
    ours_rows = rows_in(published(tmp_path / "ours" / "volume" / "o"))
    adf_rows = rows_in(published(tmp_path / "adf" / "volume" / "a"))
    assert ours_rows == adf_rows
    assert [r["order_id"] for r in adf_rows] == expected_ids(DAY2)


def test_a_lookup_reads_its_trigger_and_scheduled_times(sts: StsServer, tmp_path: Path) -> None:
    query = (
        "SELECT count(*) AS n, {scheduledTime} AS due, '@{formatDateTime(pipeline().TriggerTime, 'yyyy-MM-dd')}' "
        "AS day FROM demo.orders WHERE ordered_at < {triggerTime}"
    )
    docs = [
        *impala_on(sts),
        table("source", "demo", "orders"),
        obj(
            "LookupActivity",
            "look",
            {
                "dataset": {"referenceName": "source"},
                "source": {"query": query},
                "schedule": {"cron": "0 3 * * *"},
            },
        ),
    ]
    out, err = io.StringIO(), io.StringIO()
    code = lookup_commands.lookup(
        write(tmp_path, docs),
        "look",
        namespace="default",
        times=RunTimes(trigger_time="2024-01-03T03:00:00+01:00", scheduled_time="2024-01-03T02:00:00Z"),
        environ={},
        out=out,
        err=Console(file=err),
    )
    assert code == 0, err.getvalue()
    cutoff = datetime(2024, 1, 3, 2, 0, 0)
    expected = sum(1 for i in range(1, ORDERS_ROWS + 1) if orders_row(i)["ordered_at"] < cutoff)
    assert json.loads(out.getvalue()) == {
        "firstRow": {"n": expected, "due": "2024-01-03T02:00:00", "day": "2024-01-03"}
    }


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICP_SECRET_")}
    return subprocess.run(
        [sys.executable, "-m", "impala_copy.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_impala_copy_run_takes_the_window_on_its_command_line(sts: StsServer, tmp_path: Path) -> None:
    path = write(tmp_path / "m", windowed_copy(sts, ADF, folder="orders/{windowStart:yyyy/MM/dd}"))
    volume = tmp_path / "volume"
    result = cli(
        "run", "-f", str(path), "-a", "copy", "--volume", f"{CLAIM}={volume}", "-o", "json",
        "--window-start", "2024-01-01T00:00:00Z", "--window-end", "2024-01-02T00:00:00Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["outputPaths"] == [str(volume / "orders/2024/01/01/part_00000.parquet")]
    assert [r["order_id"] for r in rows_in(published(volume / "orders/2024/01/01"))] == expected_ids(DAY1)

    missing = cli("run", "-f", str(path), "-a", "copy", "--volume", f"{CLAIM}={volume}")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "error: InvalidConfiguration: '@{trigger().outputs.windowStartTime}' in source.query has no value: "
        "this run has no window (runs of spec.schedule.window have one; `impala-copy run` takes "
        "--window-start and --window-end)"
    )


def test_validate_names_an_unsupported_adf_expression_and_a_placeholder_without_schedule(
    tmp_path: Path,
) -> None:
    docs = windowed_copy(
        None,
        "SELECT * FROM demo.orders WHERE ordered_at > '@{activity('LookupOld').output.firstRow.wm}'",
        folder="o",
    )
    result = cli("validate", "-f", str(write(tmp_path / "a", docs)))
    assert result.returncode == 1
    assert (
        "CopyActivity/copy: spec.source.query: the ADF expression "
        "\"@{activity('LookupOld').output.firstRow.wm}\" is not supported: use {windowStart}"
    ) in result.stdout

    unscheduled = windowed_copy(None, OURS, folder="o")
    del unscheduled[-1]["spec"]["schedule"]
    result = cli("validate", "-f", str(write(tmp_path / "b", unscheduled)))
    assert result.returncode == 1
    assert (
        "CopyActivity/copy: spec.source.query: CopyActivity 'copy': '{windowStart}' in source.query needs "
        "spec.schedule.window: only the run of a tumbling window has a window start and end"
    ) in result.stdout


def test_windows_into_s3_and_azure_each_get_their_own_folder(
    tmp_path: Path,
    sts: StsServer,
    s3: MotoServer,
    s3_bucket: str,
    azurite: AzuriteServer,
    azure_container: str,
) -> None:
    for name, store in (("s3", S3Bucket(s3, s3_bucket)), ("azure", AzureContainer(azurite, azure_container))):
        docs = [
            *impala_docs(sts.host, sts.port),
            *store.docs("ParquetDataset", folder="orders/dt={windowStart:yyyy-MM-dd}"),
            activity("ParquetDataset", {"type": "ParquetSink"}, source={"query": OURS}, schedule=WINDOWS),
        ]
        for window, run_id in ((DAY1, "w1"), (DAY2, "w2"), (DAY1, "w1-again")):
            plan, secrets = plan_from(tmp_path / name / run_id, docs, run_id=run_id)
            context = RunContext(trigger_time=window[1], window_start=window[0], window_end=window[1])
            outcome = execute(plan.model_copy(update={"run_context": context}), secrets)
            assert outcome.exit_code == EXIT_OK, outcome.summary.errors
        keys = ["orders/dt=2024-01-01/part_00000.parquet", "orders/dt=2024-01-02/part_00000.parquet"]
        assert data_keys(store, "orders/") == keys, name
        for key, window, run in zip(keys, (DAY1, DAY2), ("w1-again", "w2"), strict=True):
            rows = pq.read_table(io.BytesIO(store.read(key))).to_pylist()
            assert sorted(r["order_id"] for r in rows) == expected_ids(window), name
            assert {r["run"] for r in rows} == {run}, name
