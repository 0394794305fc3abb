"""`impala-copy status` against the API emulator, run as a user runs it (a process with a kubeconfig).

In:  CopyActivity and LookupActivity objects in two namespaces on kmock, with statuses as the operator
     writes them (succeeded on a schedule, failed and waiting for a retry, a lookup running, one never
     reconciled) and one whose status carries terminal control characters; a kubeconfig naming the
     emulator with a bearer token; the emulator refusing a list with 403; a kubeconfig naming a closed
     port; no kubeconfig at all.
Out: the exact table printed for the context's namespace, `-A` and `-o wide`; `-o json` records for
     another context's namespace (--context); for each failure exit code 1 and one line on stderr
     naming the cause (forbidden with the server's message, cannot reach the cluster, no kubeconfig);
     control characters printed escaped; the token nowhere.
Faked: the API server (kmock); the operator does not run (the statuses are written by the test).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.operator import manifests
from tests.operator.harness import Cluster

NS = manifests.NS
OTHER_NS = "team-b"
TOKEN = f"status-token-{secrets.token_hex(8)}"

DAILY = {
    "phase": "Succeeded",
    "reason": "RunSucceeded",
    "lastRun": {
        "status": "Succeeded",
        "trigger": "schedule",
        "attempt": 1,
        "startTime": "2026-12-03T02:00:03Z",
        "completionTime": "2026-12-03T02:00:41Z",
        "rowsCopied": 5000,
    },
    "lastSuccessfulTime": "2026-12-03T02:00:41Z",
    "nextScheduleTime": "2026-12-04T02:00:00Z",
}
HOURLY = {
    "phase": "Pending",
    "reason": "RetryScheduled",
    "conditions": [
        {
            "type": "Running",
            "status": "False",
            "reason": "RetryScheduled",
            "message": "attempt 1 failed (Unreachable); attempt 2 starts at 2026-12-03T11:05:00Z",
        }
    ],
    "lastRun": {
        "status": "Failed",
        "reason": "Unreachable",
        "trigger": "create",
        "attempt": 1,
        "startTime": "2026-12-03T11:00:00Z",
        "completionTime": "2026-12-03T11:00:04Z",
        "rowsCopied": 0,
    },
    "nextRetryTime": "2026-12-03T11:05:00Z",
}
LOOKUP = {
    "phase": "Running",
    "reason": "JobRunning",
    "lastRun": {
        "status": "Running",
        "trigger": "interval",
        "attempt": 1,
        "startTime": "2026-12-03T11:59:00Z",
    },
    "nextRunTime": None,
}


def lookup(name: str) -> dict[str, Any]:
    return {
        "apiVersion": manifests.GV,
        "kind": "LookupActivity",
        "metadata": manifests.meta(name),
        "spec": {"dataset": {"referenceName": "orders"}},
    }


async def seed(cluster: Cluster) -> None:
    await cluster.apply(
        manifests.copy_activity("orders-daily"),
        manifests.copy_activity("orders-hourly"),
        lookup("max-id"),
        manifests.copy_activity("customers", namespace=OTHER_NS),
    )
    await cluster.patch_status("CopyActivity", "orders-daily", DAILY)
    await cluster.patch_status("CopyActivity", "orders-hourly", HOURLY)
    await cluster.patch_status("LookupActivity", "max-id", LOOKUP)


def kubeconfig(tmp_path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": server}}],
        "users": [{"name": "alice", "user": {"token": TOKEN}}],
        "contexts": [
            {"name": "emulator", "context": {"cluster": "emulator", "user": "alice", "namespace": NS}},
            {"name": "team-b", "context": {"cluster": "emulator", "user": "alice", "namespace": OTHER_NS}},
        ],
        "current-context": "emulator",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


async def run_status(config: Path | None, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["KUBECONFIG"] = str(config) if config else "/nonexistent/kubeconfig"
    env["HOME"] = str(config.parent if config else Path("/nonexistent"))  # no ~/.kube/config to fall back on
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "impala_copy.cli",
        "status",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    assert TOKEN not in out.decode() + err.decode()
    return process.returncode, out.decode(), err.decode()


def server(kmock: Any) -> str:
    return str(kmock.url).rstrip("/")


async def test_status_prints_each_activity_of_the_context_namespace(
    kmock: Any, cluster: Cluster, tmp_path: Path
) -> None:
    await seed(cluster)
    code, out, err = await run_status(kubeconfig(tmp_path, server(kmock)))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [re.split(r" {3,}", line) for line in lines] == [
        ["KIND", "NAME", "PHASE", "LAST RUN", "ROWS", "REASON", "NEXT RUN"],
        ["LookupActivity", "max-id", "Running", "2026-12-03T11:59:00Z (Running)", "-", "JobRunning", "-"],
        [
            "CopyActivity", "orders-daily", "Succeeded", "2026-12-03T02:00:41Z (Succeeded)", "5000",
            "RunSucceeded", "2026-12-04T02:00:00Z",
        ],
        [
            "CopyActivity", "orders-hourly", "Pending", "2026-12-03T11:00:04Z (Failed)", "0",
            "RetryScheduled", "2026-12-03T11:05:00Z",
        ],
    ]  # fmt: skip
    # Aligned as kubectl aligns: every cell starts where its header does.
    starts = [m.start() for m in re.finditer(r"(?:^|(?<= {3}))\S", lines[0])]
    for line in lines[1:]:
        assert [m.start() for m in re.finditer(r"(?:^|(?<= {3}))\S", line)] == starts


async def test_all_namespaces_wide_and_json(kmock: Any, cluster: Cluster, tmp_path: Path) -> None:
    await seed(cluster)
    config = kubeconfig(tmp_path, server(kmock))
    code, out, _ = await run_status(config, "--all-namespaces", "-o", "wide")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "NAMESPACE", "KIND", "NAME", "PHASE", "LAST", "RUN", "ROWS", "REASON", "NEXT", "RUN",
        "ATTEMPT", "TRIGGER", "LAST", "SUCCESS", "MESSAGE",
    ]  # fmt: skip
    assert [line.split()[:3] for line in lines[1:]] == [
        [NS, "LookupActivity", "max-id"],
        [NS, "CopyActivity", "orders-daily"],
        [NS, "CopyActivity", "orders-hourly"],
        [OTHER_NS, "CopyActivity", "customers"],
    ]
    assert re.split(r"\s{3,}", lines[3])[-4:] == [
        "1",
        "create",
        "-",
        "attempt 1 failed (Unreachable); attempt 2 starts at 2026-12-03T11:05:00Z",
    ]
    assert lines[4].split()[3:] == ["-"] * 9

    code, out, _ = await run_status(config, "--context", OTHER_NS, "-o", "json")  # that context's namespace
    assert code == 0
    assert json.loads(out) == [
        {
            "namespace": OTHER_NS,
            "kind": "CopyActivity",
            "name": "customers",
            "phase": None,
            "last_run": None,
            "last_run_status": None,
            "rows": None,
            "reason": None,
            "next_run": None,
            "attempt": None,
            "trigger": None,
            "last_success": None,
            "message": None,
        }
    ]


async def test_control_characters_in_a_status_are_printed_escaped(
    kmock: Any, cluster: Cluster, tmp_path: Path
) -> None:
    await cluster.apply(manifests.copy_activity("evil"))
    await cluster.patch_status(
        "CopyActivity", "evil", {"phase": "Failed", "reason": "\x1b[2J\x1b]0;owned\x07Boom"}
    )
    code, out, _ = await run_status(kubeconfig(tmp_path, server(kmock)))
    assert code == 0
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\\x1b[2J\\x1b]0;owned\\x07Boom" in out


async def test_a_forbidden_list_names_the_resource_the_namespace_and_the_server_message(
    kmock: Any, cluster: Cluster, tmp_path: Path
) -> None:
    message = (
        'copyactivities.impalacopy.io is forbidden: User "alice" cannot list resource "copyactivities" '
        'in API group "impalacopy.io" in the namespace "team-b"'
    )
    kmock.refuse(
        "GET", f"/apis/impalacopy.io/v1alpha1/namespaces/{OTHER_NS}/copyactivities", 403, "Forbidden", message
    )
    code, out, err = await run_status(kubeconfig(tmp_path, server(kmock)), "-n", OTHER_NS)
    assert (code, out) == (1, "")
    assert err == (
        "impala-copy status: forbidden: you may not list copyactivities.impalacopy.io in namespace team-b: "
        f"{message}\n"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_no_cluster_is_told_in_one_line(tmp_path: Path) -> None:
    code, out, err = await run_status(kubeconfig(tmp_path, f"http://127.0.0.1:{closed_port()}"))
    assert (code, out) == (1, "")
    assert err.startswith(
        "impala-copy status: cannot reach the cluster to list copyactivities.impalacopy.io: "
    )
    assert "Connection refused" in err
    assert len(err.splitlines()) == 1

    code, out, err = await run_status(None)
    assert (code, out) == (1, "")
    assert err == (
        "impala-copy status: no cluster to ask: no usable kubeconfig (KUBECONFIG or ~/.kube/config): "
        "Invalid kube-config file. No configuration found.\n"
    )
