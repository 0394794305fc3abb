"""`make bench`: start a local HiveServer2, create the benchmark tables, run every registered case.

    .venv/bin/python bench/run.py                  # everything (a few minutes)
    .venv/bin/python bench/run.py --only e_floor,d_parquet --repeat 3
    .venv/bin/python bench/run.py --only partitions  # every case of bench/partitions.py
    .venv/bin/python bench/run.py --port 10000     # reuse a running server (alice/secret)

Cases come from the other modules of bench/ (see bench/framework.py). Each runs in its own process;
the HiveServer2 starts only when a selected case reads a table (the operator cases read none);
the table of rows/s and peak RSS, and the targets with their verdicts, are printed and written to
bench/out/results.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "operator"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench import framework  # noqa: E402

SKIP_MODULES = {"run", "framework", "__init__"}


def load_modules() -> None:
    for path in sorted((ROOT / "bench").glob("*.py")):
        if path.stem not in SKIP_MODULES:
            importlib.import_module(f"bench.{path.stem}")


def _setup_context(host: str, port: int, user: str, password: str) -> framework.SetupContext:
    from impala.dbapi import connect

    def execute(statements: list[str]) -> None:
        conn = connect(host=host, port=port, auth_mechanism="PLAIN", user=user, password=password)
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)
        conn.close()

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = connect(host=host, port=port, auth_mechanism="PLAIN", user=user, password=password)
        cur = conn.cursor()
        cur.execute(sql)
        rows = list(cur.fetchall())
        conn.close()
        return rows

    return framework.SetupContext(host, port, user, password, execute, query)


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for dist in ("impyla", "thrift", "pyarrow", "pyspark", "pandas"):
        out[dist] = version(dist)
    try:
        import thrift.protocol.fastbinary  # noqa: F401

        out["thrift_fastbinary"] = "yes"
    except ImportError:
        out["thrift_fastbinary"] = "NO (pure-Python thrift decoding)"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", help="comma-separated case names or bench modules, e.g. partitions (default: all)"
    )
    parser.add_argument("--repeat", type=int, help="runs per case (default: each case's own setting)")
    parser.add_argument(
        "--batch-rows", type=int, default=50_000, help="rows per FetchResults (default 50000)"
    )
    parser.add_argument(
        "--port", type=int, help="use a running server on 127.0.0.1 (user alice, password secret)"
    )
    parser.add_argument(
        "--server-pid", type=int, help="with --port: the server's PID, to report its CPU time"
    )
    parser.add_argument("--out", default=str(framework.OUT / "results.json"))
    parser.add_argument("--child", nargs=2, metavar=("CASE", "CONTEXT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    load_modules()
    if args.child:
        framework.child_main(*args.child)
        return 0

    wanted = set(args.only.split(",")) if args.only else set()
    # A name is a case, or a module of bench/ (all of its cases): --only partitions.
    selected = [
        c for c in framework.CASES.values() if not wanted or wanted & {c.name, c.module.rsplit(".", 1)[-1]}
    ]
    if not selected:
        parser.error(f"no such case; known: {', '.join(framework.CASES)}")
    framework.OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    server = None
    host, user, password = "127.0.0.1", "alice", "secret"
    needs_server = any(c.table != framework.NO_TABLE for c in selected)
    if args.port or not needs_server:
        port = args.port or 0
    else:
        from devservers.sts import seed_sample_tables, start_sts

        print("starting the Spark Thrift Server...", flush=True)
        # Spark collects a whole result in its driver before the first fetch: 5M rows need 3g.
        server = start_sts(Path(tempfile.mkdtemp(prefix="sts-", dir=framework.OUT)), driver_memory="3g")
        seed_sample_tables(server)
        port = server.port
    server_pid = server.process.pid if server is not None and server.process is not None else args.server_pid
    try:
        setup = _setup_context(host, port, user, password)
        table_rows: dict[str, int] = {framework.NO_TABLE: 0}
        for name in dict.fromkeys(c.table for c in selected if c.table != framework.NO_TABLE):
            print(f"preparing table {name}...", flush=True)
            table_rows[name] = framework.TABLES[name](setup)
        results: list[framework.Result] = []
        for spec in selected:
            ctx = framework.Context(
                host=host, port=port, user=user, password=password, table=f"bench.{spec.table}",
                rows=table_rows[spec.table], workdir=str(framework.OUT / "work" / spec.name),
                batch_rows=args.batch_rows,
            )  # fmt: skip
            runs: list[dict[str, float]] = []
            error = None
            for i in range(args.repeat or spec.repeat):
                print(f"  {spec.name} run {i + 1}...", end=" ", flush=True)
                try:
                    outcome = framework.run_case(spec, ctx, server_pid=server_pid)
                except RuntimeError as exc:
                    error = str(exc)
                    print("FAILED", flush=True)
                    break
                runs.append(outcome)
                print(
                    f"{outcome['rows'] / outcome['seconds']:,.0f} rows/s, {outcome['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
            best = max(runs, key=lambda r: r["rows"] / r["seconds"]) if runs else {"rows": 0, "seconds": 0.0}
            results.append(
                framework.Result(
                    case=spec.name, label=spec.label, table=spec.table, rows=int(best["rows"]),
                    seconds=round(best["seconds"], 3),
                    rows_per_second=round(best["rows"] / best["seconds"], 1) if runs else 0.0,
                    peak_rss_mb=round(max((r["peak_rss_mb"] for r in runs), default=0.0), 1),
                    cpu_seconds=round(best.get("cpu_seconds", 0.0), 2),
                    server_cpu_seconds=(
                        round(best["server_cpu_seconds"], 2) if "server_cpu_seconds" in best else None
                    ),
                    runs=runs, error=error, checks=list(best.get("checks", [])), extra=best.get("extra", {}),
                )
            )  # fmt: skip
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)
    checks = framework.evaluate(results)
    print()
    print(framework.format_table(results))
    print()
    print(framework.format_checks(checks))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "bench/run.py", *(argv or sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), **_versions()},
        "batch_rows": args.batch_rows,
        "results": [asdict(r) for r in results],
        "checks": checks,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nwritten to {args.out} ({report['wall_seconds']}s)")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
