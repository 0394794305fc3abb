"""The product as a user runs it: manifests on disk and `impala-copy run` as a process of its own.

    docs = copy_manifests(ctx, table="mixed_1m", target=parquet_on_volume())
    tree = run_cli(ctx, docs, ["--parallel", "4"])   # ProcessTree: every process, its CPU and peak RSS

The cases built on it measure the whole process, start-up included (interpreter, imports, manifests,
plan), the way a Job pod pays it. Our package is byte-compiled first (`byte_compile`), as it is in the
image: where PYTHONDONTWRITEBYTECODE is set, every start would otherwise compile it from source.

While the command runs, every process under it is sampled from /proc every `SAMPLE_SECONDS`: its
CPU time (user + system) and its peak RSS (`VmHWM`, the kernel's own high-water mark, so no peak is
missed between samples). The CPU time of a process is its last sample: what it used in its last
`SAMPLE_SECONDS` is not seen (the command's total, from its resource usage, is exact).
"""

from __future__ import annotations

import compileall
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.framework import ROOT, Context

SAMPLE_SECONDS = 0.05
API = "impalacopy.io/v1alpha1"
INDEX_ENV = "JOB_COMPLETION_INDEX"


def byte_compile() -> None:
    """Compile the package's modules (into their __pycache__ folders, as in the image) before any
    case is timed; cheap when they are up to date."""
    compileall.compile_dir(ROOT / "operator" / "impala_copy", quiet=1)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "operator")
    return env


def source_docs(ctx: Context, table: str) -> list[dict[str, Any]]:
    """The login Secret, ImpalaLinkedService and ImpalaDataset of `bench.<table>` on the case's server."""
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bench-login"},
         "stringData": {"password": ctx.password}},
        {"apiVersion": API, "kind": "ImpalaLinkedService", "metadata": {"name": "bench"},
         "spec": {"host": ctx.host, "port": ctx.port, "authenticationType": "UsernameAndPassword",
                  "username": ctx.user, "password": {"secretKeyRef": {"name": "bench-login", "key": "password"}}}},
        {"apiVersion": API, "kind": "ImpalaDataset", "metadata": {"name": "source"},
         "spec": {"linkedServiceName": {"referenceName": "bench"}, "schema": "bench", "table": table}},
    ]  # fmt: skip


def volume_dataset(kind: str = "ParquetDataset") -> dict[str, Any]:
    """A file dataset on the claim `out` (the CLI maps it to a folder with --volume)."""
    return {
        "apiVersion": API, "kind": kind, "metadata": {"name": "target"},
        "spec": {"location": {"type": "PersistentVolumeClaimLocation", "claimName": "out", "folderPath": "data"}},
    }  # fmt: skip


def copy_activity(output_kind: str, sink: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """The CopyActivity `copy` from `source` into `target`."""
    return {
        "apiVersion": API, "kind": "CopyActivity", "metadata": {"name": "copy"},
        "spec": {"inputs": [{"referenceName": "source"}], "outputs": [{"referenceName": "target", "kind": output_kind}],
                 "sink": sink, **spec},
    }  # fmt: skip


@dataclass
class ProcessStats:
    pid: int
    parent: int
    index: int | None  # JOB_COMPLETION_INDEX of a partition's process, None for others
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass
class ProcessTree:
    """What one command and the processes under it used."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cpu_seconds: float  # the command and every process it waited for (exact)
    peak_rss_mb: float  # the largest of them
    command_peak_rss_mb: float = 0.0  # the command's own process, sampled
    processes: dict[int, ProcessStats] = field(default_factory=dict)  # every process under the command
    pid: int = 0

    @property
    def partitions(self) -> list[ProcessStats]:
        """The command's partition processes (its children with JOB_COMPLETION_INDEX; their own short
        helper processes inherit the variable and are left out), by index."""
        parts = (p for p in self.processes.values() if p.index is not None and p.parent == self.pid)
        return sorted(parts, key=lambda p: (p.index or 0, p.pid))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _sample(pid: int, stats: dict[int, ProcessStats]) -> None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return
    entry = stats.get(pid)
    if entry is None:
        entry = stats[pid] = ProcessStats(pid, int(fields[1]), _index_of(pid))
    entry.cpu_seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            entry.peak_rss_mb = max(entry.peak_rss_mb, int(line.split()[1]) / 1024.0)


def _index_of(pid: int) -> int | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(INDEX_ENV.encode() + b"="):
            value = item.split(b"=", 1)[1]
            return int(value) if value.isdigit() else None
    return None


def _watch(root: int, stats: dict[int, ProcessStats], done: threading.Event) -> None:
    while not done.is_set():
        pending, seen = [root], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            _sample(pid, stats)
            pending.extend(_children(pid))
        done.wait(SAMPLE_SECONDS)


def run_cli(
    ctx: Context, docs: list[dict[str, Any]], extra_args: list[str], timeout: float = 900.0
) -> ProcessTree:
    """`impala-copy run -f <docs> -a copy --volume out=<workdir>/volume -o json` + extra_args, measured."""
    import yaml

    folder = Path(ctx.workdir)
    (folder / "manifests.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    (folder / "volume").mkdir(exist_ok=True)
    command = [
        sys.executable, "-m", "impala_copy.cli", "run", "-f", str(folder / "manifests.yaml"), "-a", "copy",
        "--volume", f"out={folder / 'volume'}", "-o", "json", *extra_args,
    ]  # fmt: skip
    stats: dict[int, ProcessStats] = {}
    done = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, env=_env(), cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watcher = threading.Thread(target=_watch, args=(proc.pid, stats, done), daemon=True)
    watcher.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        done.set()
        proc.kill()
        watcher.join()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = stats.pop(proc.pid, ProcessStats(proc.pid, os.getpid(), None))
    return ProcessTree(
        returncode=proc.returncode, stdout=stdout, stderr=stderr, seconds=seconds,
        cpu_seconds=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        peak_rss_mb=after.ru_maxrss / 1024.0, command_peak_rss_mb=own.peak_rss_mb, processes=stats, pid=proc.pid,
    )  # fmt: skip
