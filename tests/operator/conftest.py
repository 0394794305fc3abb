"""Fixtures of the operator tests: the API emulator with our resources declared, the operator
running against it, the test's side of the cluster, and a capture of every log line.

In:  kmock's `kmock` fixture (a stateful Kubernetes API emulator on a loopback port), of the class
     admission.AdmittingEmulator: it refuses what a real API server's admission would (owner
     references the operator's RBAC does not allow, refusals a test injects) before storing anything.
Out: `cluster` (a harness.Cluster), `operator` (the running operator), `logs` (log lines). After every
     test, the `cluster` fixture hands everything the emulator received and holds (but the test's
     Secrets) to the session's leak check, and asserts that the operator sent no request to any
     Secret URL.
Faked: the API server (kmock: no validation beyond admission.py, no garbage collection, no Job
controller; tests play the Job controller and the kubelet by writing pods and Job status, or by
running a Job's container as a local process with Cluster.run_pod, tests/operator/kubelet.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.fixtures.leak_check import LeakWatch
from tests.operator.admission import AdmittingEmulator
from tests.operator.harness import Cluster, LogCapture, OperatorThread, declare_resources, start_operator
from tests.operator.leak_search import emulator_texts
from tests.operator.operator_process import OperatorProcess


@pytest.fixture
def kmock_options() -> dict[str, Any]:
    """kmock's fixture builds this class (instead of its plain KubernetesEmulator)."""
    return {"cls": AdmittingEmulator}


@pytest.fixture(autouse=True)
async def no_operator_outlives_its_test(kmock: Any) -> AsyncIterator[None]:
    """Stops an operator (thread or process) a failed test left running and lets go of the requests
    the emulator holds, before the emulator goes (set up after kmock, so torn down before it)."""
    yield
    kmock.release_holds()
    for process in list(OperatorProcess.started):
        await process.kill()
    leftover, OperatorThread.started[:] = list(OperatorThread.started), []
    for operator in leftover:
        await operator.stop()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(previous)


@pytest.fixture
async def cluster(kmock: Any, leak_watch: LeakWatch) -> AsyncIterator[Cluster]:
    declare_resources(kmock)
    cluster = Cluster(kmock)
    yield cluster
    leak_watch.see_all(emulator_texts(cluster))
    # The operator holds no right on Secrets: in no test does it ever ask for one.
    assert cluster.secret_requests() == []


@pytest.fixture
async def operator(kmock: Any, cluster: Cluster, logs: LogCapture) -> AsyncIterator[OperatorThread]:
    running = await start_operator(kmock)
    yield running
    await running.stop()
