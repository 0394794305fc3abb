"""`impala-copy operator` as a process: kubeconfig login, --namespace, liveness, metrics, clean stop.

In:  the command started as a separate process with KUBECONFIG pointing at the API emulator,
     `--namespace sales`, `--liveness` and IMPALA_COPY_METRICS_PORT on free loopback ports;
     CopyActivities in two namespaces.
Out: a Job in the watched namespace only; the liveness endpoint answering 200 with the operator's
     probe; /metrics counting the run started in the watched namespace only; exit code 0 soon after
     SIGTERM, without a traceback; a bad setting, and a metrics port in use, refused with exit
     code 2 and a message naming the variable.
Faked: the API server (kmock). With plain namespace names the operator lists no namespaces (kmock
     could not serve that list anyway).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.operator import manifests
from tests.operator.harness import Cluster, until
from tests.operator.operator_process import free_port, kubeconfig, operator_env

STOP_TIMEOUT = 30


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except OSError:
        return 0, ""


async def test_operator_command_end_to_end(kmock: Any, cluster: Cluster, tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))
    port = free_port()
    metrics_port = free_port()
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "impala_copy.cli",
            "operator",
            "--namespace",
            "sales",
            "--liveness",
            f"http://127.0.0.1:{port}/healthz",
            "--log-level",
            "DEBUG",
            env=operator_env(config, IMPALA_COPY_METRICS_PORT=str(metrics_port)),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        healthz = f"http://127.0.0.1:{port}/healthz"
        status, body = await until(
            lambda: (r := get(healthz))[0] == 200 and r, timeout=60, what="the liveness endpoint"
        )
        assert status == 200
        assert json.loads(body)["queue"]["started"] == 1
        await until(
            lambda: (
                {"copyactivities", "jobs"}
                <= {r.resource.plural for r in kmock if r.resource and r.params.get("watch")}
            ),
            timeout=30,
            what="the operator's watches",
        )
        await asyncio.sleep(0.2)
        for namespace in ("sales", "other"):
            await cluster.apply(*manifests.standard_set(manifests.random_password(), namespace=namespace))
        await until(lambda: cluster.jobs("sales"), timeout=30, what="a Job in the watched namespace")
        await asyncio.sleep(1.0)
        assert len(cluster.jobs("sales")) == 1
        assert cluster.jobs("other") == []
        assert cluster.all("CopyActivity", "other")[0].get("status") is None
        status, metrics = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200
        started = (
            'impala_copy_runs_started_total{kind="CopyActivity",name="copy-orders",'
            'namespace="sales",trigger="create"} 1.0'
        )
        assert started in metrics.splitlines()
        assert 'namespace="other"' not in metrics
        assert 'impala_copy_active_runs{kind="CopyActivity",namespace="sales"} 1.0' in metrics
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
    output = log.read_text()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output
    assert "impala-copy operator starting: watching sales" in output


async def test_bad_setting_is_refused_with_the_variable_name(tmp_path: Path) -> None:
    env = operator_env(tmp_path / "missing-kubeconfig", IMPALA_COPY_WORKERS="none")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "impala_copy.cli",
        "operator",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "IMPALA_COPY_WORKERS must be a whole number; got 'none'" in err.decode()
    assert "Traceback" not in err.decode() + out.decode()


async def test_metrics_port_in_use_is_refused_with_the_variable_name(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))  # the operator binds all addresses too
        busy.listen()
        port = busy.getsockname()[1]
        env = operator_env(tmp_path / "missing-kubeconfig", IMPALA_COPY_METRICS_PORT=str(port))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "impala_copy.cli",
            "operator",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert f"IMPALA_COPY_METRICS_PORT: cannot serve metrics on port {port}" in err.decode()
    assert "Traceback" not in err.decode() + out.decode()
