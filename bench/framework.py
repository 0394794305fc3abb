"""A small benchmark framework: modules register cases, run.py runs each case in its own process.

A bench module (any `bench/*.py` other than run.py and this file) registers:

    @case("e_floor", "(e) HS2 FetchResults loop, decode only", table="mixed_1m")
    def floor(ctx: Context) -> int:        # returns the rows it processed
        ...

    @table_setup("mixed_1m")
    def make_table(ctx: SetupContext) -> None: ...   # creates the table once per server

    target("d_parquet", "e_floor", 0.8)              # rows/s of d_parquet >= 0.8 x rows/s of e_floor
    rss_limit("d_parquet", 250)                      # peak RSS of d_parquet < 250 MB
    rss_flat("d_parquet", "d_parquet_5m", 25)        # peak RSS grows by < 25 MB from one to the other
    cpu_limit("d_process", 1.0)                      # CPU seconds per million rows <= 1.0

A case that reads no table (the operator benchmarks) names `table=NO_TABLE`; one that measures itself
(it runs its own load and judges its own targets) is registered with `self_measured_case(...)`, and its
module's `main()` is `bench_main(...)`: the same measurement alone, from the command line.

Each case runs in a fresh Python process (`run.py --child`), timed inside the process around the case
function (imports excluded), and its peak RSS is the child's `ru_maxrss` from `os.wait4`. A case that
runs the product as processes of its own (`impala-copy run`) returns `Measured(rows, extra)`: its
CPU time then includes its finished child processes, and `extra` may set `peak_rss_mb` (the peak of
the measured process instead of the case's own) and any figures the report lists under the case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
NO_TABLE = "operator_none"  # the table of cases that read none (no HiveServer2 needed)


@dataclass
class Context:
    """What a case gets: where the server is, which table, a scratch folder for its output."""

    host: str
    port: int
    user: str
    password: str
    table: str  # qualified, e.g. bench.mixed_1m
    rows: int  # rows the table holds
    workdir: str
    batch_rows: int = 50_000
    options: dict[str, Any] = field(default_factory=dict)

    def impyla_kwargs(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "auth_mechanism": "PLAIN",
            "user": self.user,
            "password": self.password,
        }


@dataclass
class SetupContext:
    host: str
    port: int
    user: str
    password: str
    execute: Callable[[list[str]], None]
    query: Callable[[str], list[tuple[Any, ...]]]


@dataclass
class Case:
    name: str
    label: str
    func: CaseFunc
    table: str
    repeat: int = 1
    module: str = ""
    timeout: float = 900.0  # seconds before the case's process is killed


@dataclass
class Measured:
    """What a case returns when it measures more than its row count (see the module docstring)."""

    rows: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    case: str
    baseline: str
    min_ratio: float


@dataclass
class Result:
    case: str
    label: str
    table: str
    rows: int
    seconds: float
    rows_per_second: float
    peak_rss_mb: float
    cpu_seconds: float = 0.0  # CPU time of this process (all threads) inside the case
    server_cpu_seconds: float | None = None  # CPU time the HiveServer2 process used meanwhile
    runs: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)  # a self-measuring case's own verdicts
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_per_million_rows(self) -> float:
        return self.cpu_seconds * 1_000_000 / self.rows if self.rows else 0.0


CaseFunc = Callable[[Context], "int | Measured"]
CASES: dict[str, Case] = {}
TABLES: dict[str, Callable[[SetupContext], int]] = {}
TARGETS: list[Target] = []
RSS_LIMITS: dict[str, float] = {}
RSS_FLAT: list[tuple[str, str, float]] = []
CPU_LIMITS: dict[str, float] = {}
CHILD_CHECKS: list[dict[str, Any]] = []  # in a case's process: the verdicts of a self-measuring case


def case(
    name: str, label: str, *, table: str, repeat: int = 1, timeout: float = 900.0
) -> Callable[[CaseFunc], CaseFunc]:
    def register(func: CaseFunc) -> CaseFunc:
        if name in CASES:
            raise ValueError(f"benchmark case {name!r} registered twice")
        CASES[name] = Case(name, label, func, table, repeat, func.__module__, timeout)
        return func

    return register


def table_setup(name: str) -> Callable[[Callable[[SetupContext], int]], Callable[[SetupContext], int]]:
    """Register the function that creates table `name` (returns its row count)."""

    def register(func: Callable[[SetupContext], int]) -> Callable[[SetupContext], int]:
        TABLES[name] = func
        return func

    return register


TABLES[NO_TABLE] = lambda ctx: 0


def target(case_name: str, baseline: str, min_ratio: float) -> None:
    TARGETS.append(Target(case_name, baseline, min_ratio))


def rss_limit(case_name: str, megabytes: float) -> None:
    RSS_LIMITS[case_name] = megabytes


def rss_flat(small: str, large: str, max_growth_mb: float) -> None:
    RSS_FLAT.append((small, large, max_growth_mb))


def cpu_limit(case_name: str, seconds_per_million_rows: float) -> None:
    CPU_LIMITS[case_name] = seconds_per_million_rows


# ------------------------------------------------------------------------------------- child process


def child_main(case_name: str, context_json: str) -> None:
    """Run one case in this process and print its timing as the last line of stdout."""
    import resource

    ctx = Context(**json.loads(context_json))
    func = CASES[case_name].func
    before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    outcome = func(ctx)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        (a.ru_utime - b.ru_utime) + (a.ru_stime - b.ru_stime)
        for a, b in ((after, before), (children_after, children_before))
    )
    measured = outcome if isinstance(outcome, Measured) else Measured(outcome)
    report = {
        "rows": measured.rows, "seconds": seconds, "cpu_seconds": cpu, "extra": measured.extra,
        "checks": CHILD_CHECKS,
    }  # fmt: skip
    print(json.dumps(report), flush=True)


def process_cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) a process has used so far, from /proc; None when unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_case(spec: Case, ctx: Context, *, server_pid: int | None = None) -> dict[str, Any]:
    """Run a case in a child process; its rows, seconds, CPU seconds, peak RSS (MB) and server CPU."""
    workdir = Path(ctx.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--child", spec.name, json.dumps(asdict(ctx))]
    stdout_path = workdir.parent / f"{spec.name}.stdout"
    stderr_path = workdir.parent / f"{spec.name}.stderr"
    server_cpu_before = process_cpu_seconds(server_pid)
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        deadline = time.monotonic() + spec.timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    shutil.rmtree(workdir, ignore_errors=True)
    lines = stdout_path.read_text().strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(stderr_path.read_text().strip().splitlines()[-15:])
        raise RuntimeError(f"case {spec.name} failed (exit {proc.returncode}):\n{tail}")
    outcome = json.loads(lines[-1])
    outcome["peak_rss_mb"] = outcome["extra"].pop("peak_rss_mb", usage.ru_maxrss / 1024.0)  # Linux: KiB
    server_cpu_after = process_cpu_seconds(server_pid)
    if server_cpu_before is not None and server_cpu_after is not None:
        outcome["server_cpu_seconds"] = server_cpu_after - server_cpu_before
    return outcome


# ------------------------------------------------------------------------------------------ report


def format_table(results: list[Result]) -> str:
    head = f"{'case':<16} {'what':<58} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'CPU s':>7} {'peak RSS MB':>12}"
    lines = [head, "-" * len(head)]
    for r in results:
        server_cpu = "" if r.server_cpu_seconds is None else f"{r.server_cpu_seconds:.2f}"
        if r.error:
            lines.append(f"{r.case:<16} {r.label[:52]:<52} FAILED: {r.error.splitlines()[0][:60]}")
            continue
        lines.append(
            f"{r.case:<16} {r.label[:52]:<52} {r.rows:>9} {r.seconds:>8.2f} {r.rows_per_second:>10,.0f} "
            f"{r.cpu_seconds:>6.2f} {server_cpu:>12} {r.peak_rss_mb:>11.0f}"
        )
    for r in results:
        if r.extra and not r.error:
            per_million = {"cpu_s_per_1m_rows": round(r.cpu_per_million_rows, 2)}
            if r.server_cpu_seconds is not None and r.rows:
                per_million["server_cpu_s_per_1m_rows"] = round(r.server_cpu_seconds * 1_000_000 / r.rows, 2)
            figures = {**per_million, **r.extra}
            lines.append(f"  {r.case}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    return "\n".join(lines)


def evaluate(results: list[Result]) -> list[dict[str, Any]]:
    """Every registered target with its measured value and verdict."""
    by_name = {r.case: r for r in results if not r.error}
    checks: list[dict[str, Any]] = []
    for t in TARGETS:
        if t.case in by_name and t.baseline in by_name:
            ratio = by_name[t.case].rows_per_second / by_name[t.baseline].rows_per_second
            checks.append(
                {"check": f"{t.case} / {t.baseline} rows/s", "value": round(ratio, 2), "target": f">= {t.min_ratio}",
                 "met": ratio >= t.min_ratio}
            )  # fmt: skip
    for name, limit in RSS_LIMITS.items():
        if name in by_name:
            rss = by_name[name].peak_rss_mb
            checks.append(
                {
                    "check": f"{name} peak RSS MB",
                    "value": round(rss),
                    "target": f"< {limit:g}",
                    "met": rss < limit,
                }
            )
    for r in results:
        checks += [{**c, "check": f"{r.case}: {c['check']}"} for c in r.checks if not r.error]
    for name, limit in CPU_LIMITS.items():
        if name in by_name:
            per_million = by_name[name].cpu_per_million_rows
            checks.append(
                {
                    "check": f"{name} CPU s per 1M rows",
                    "value": round(per_million, 2),
                    "target": f"<= {limit:g}",
                    "met": per_million <= limit,
                }
            )
    for small, large, growth in RSS_FLAT:
        if small in by_name and large in by_name:
            delta = by_name[large].peak_rss_mb - by_name[small].peak_rss_mb
            checks.append(
                {"check": f"peak RSS {large} - {small} MB", "value": round(delta, 1), "target": f"< {growth:g}",
                 "met": delta < growth}
            )  # fmt: skip
    return checks


def format_checks(checks: list[dict[str, Any]]) -> str:
    lines = [f"{'check':<52} {'value':>8} {'target':>9}  verdict", "-" * 80]
    for c in checks:
        lines.append(
            f"{c['check']:<52} {c['value']!s:>8} {c['target']:>9}  {'met' if c['met'] else 'MISSED'}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------ self-measuring cases


def check(name: str, value: Any, target_text: str, met: bool) -> dict[str, Any]:
    """One verdict of a self-measuring case, as `evaluate` gives them (printed by `format_checks`)."""
    return {"check": name, "value": value, "target": target_text, "met": bool(met)}


def save_result(stem: str, result: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{stem}.json"
    path.write_text(json.dumps(result, indent=2))
    return path


def with_checks(lines: list[str], result: dict[str, Any]) -> str:
    """A report: the case's own lines, then its verdicts."""
    return "\n".join([*lines, "", format_checks(result["checks"])])


def self_measured_case(
    name: str,
    label: str,
    measure: Callable[[], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    *,
    out: str,
    rows: str,
    rss_target_mb: float | None = None,
    timeout: float = 900.0,
) -> None:
    """Register a case of `make bench` that runs `measure()` in the case's process, writes its result to
    bench/out/<out>.json, prints its report and counts `result[rows]` as its rows."""

    def run(ctx: Context) -> int:
        result = measure()
        save_result(out, result)
        print(report(result), file=sys.stderr)
        CHILD_CHECKS.extend(result["checks"])
        return int(result[rows])

    run.__module__ = getattr(measure, "__module__", __name__)
    case(name, label, table=NO_TABLE, timeout=timeout)(run)
    if rss_target_mb is not None:
        rss_limit(name, rss_target_mb)


def bench_main(
    doc: str,
    options: dict[str, int | float],
    measure: Callable[..., dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    *,
    out: str,
    drive: Callable[..., Awaitable[None]] | None = None,
) -> int:
    """A bench module run alone: `--option value` for each of `options` (name -> default), passed to
    `measure` (and, in the driver child process of an operator benchmark, to `drive(READY, OUT, STOP,
    **options)`); the result is written to bench/out/<out>.json and reported; exit 1 when a target
    is missed."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for option, default in options.items():
        parser.add_argument(f"--{option.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--driver", nargs=3, metavar=("READY", "OUT", "STOP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    values = {option: getattr(args, option) for option in options}
    if args.driver:
        assert drive is not None, "this benchmark has no driver"
        asyncio.run(drive(*(Path(p) for p in args.driver), **values))
        return 0
    result = measure(**values)
    save_result(out, result)
    print(report(result))
    return 0 if all(c["met"] for c in result["checks"]) else 1
