"""The operator against the Kubernetes API emulator (kmock), for the operator benchmarks.

The operator runs in the benchmark's own process (kopf and every handler, as `impala-copy operator`
runs them), so that process's RSS and CPU time are the operator's. The emulator and the load
generator (the "driver") run in a child process: `script --driver READY OUT STOP [options]`, which
serves the emulator, writes its URL to READY, drives the load, writes its figures to OUT and serves
on until STOP exists (the operator would log lost watches otherwise).

What the driver has here:

- `prepare_emulator()`, so that the figures measure the operator, not the emulator: the emulator
  re-matches its whole request history on every request and scans every stored object to read one
  (quadratic in all), `linear_time_matching()` makes both lookups constant-time (same answers for the
  emulator's own routes); `versioned_events()` and `resumable_watches()` serve watches as a real API
  server does (a watch resumes from a resourceVersion, quiet watches get BOOKMARK events) where the
  emulator would replay every object at each of kopf's reconnections.
- `RequestTally`: every request the operator sent, counted by verb and resource; the Jobs it created
  and deleted. Counted requests are dropped from the emulator's history (it keeps every body).
- `JobController`: plays the Job controller, the kubelet and the garbage collector: each Job's pod
  terminates with the engine's summary after a delay, the Job completes, and the pods of deleted Jobs go.

What the operator's side has: `run_operator()`, which samples the operator's RSS while it runs, notes
its RSS and reconciliations at the driver's marks, and counts the WARNING and ERROR lines it logs
(those logged once it is asked to stop apart).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DRIVER_AGENT = "impala-copy-bench-driver"
WATCHED = (
    "impalalinkedservices", "impaladatasets", "amazons3linkedservices", "azureblobstoragelinkedservices",
    "postgresqllinkedservices", "parquetdatasets", "delimitedtextdatasets", "jsondatasets",
    "postgresqltabledatasets", "copyactivities", "lookupactivities", "jobs", "pods", "configmaps",
    "persistentvolumeclaims",
)  # fmt: skip
VERBS = {"LIST": "list", "WATCH": "watch", "FETCH": "get", "CREATE": "create", "UPDATE": "patch",
         "DELETE": "delete"}  # fmt: skip


# ------------------------------------------------------------------ the driver's side
def linear_time_matching() -> None:
    """A request always belongs to the emulator that received it: check a route's filters only; and
    read one object by its key instead of scanning every stored object."""
    from kmock._internal import dsl, k8s, rendering

    original = dsl.View.__contains__

    def contains(self: Any, item: Any) -> bool:
        if isinstance(item, rendering.Request):
            node = self
            while isinstance(node, (dsl.Filter, dsl.Priority)):
                if isinstance(node, dsl.Filter) and not node.criteria(item):
                    return False
                node = node._source
            if isinstance(node, dsl.Root):
                return True
        return bool(original(self, item))

    dsl.View.__contains__ = contains  # type: ignore[method-assign]
    scan = k8s.KubernetesEmulator._KubernetesEmulator__get_objs  # type: ignore[attr-defined]

    def get_objs(self: Any, request: Any, strict: bool) -> Any:
        if request.name is not None and request.resource is not None and request.namespace is not None:
            key = (request.resource, request.namespace, request.name)
            if key in self._objects:
                return [self._objects[key]]
        return scan(self, request, strict)

    k8s.KubernetesEmulator._KubernetesEmulator__get_objs = get_objs  # type: ignore[attr-defined]


_SEQUENCE = itertools.count(1)
LOG_SIZE = 50_000  # events of one resource kept for watches that resume
_LOGS: dict[int, collections.deque[tuple[int, dict[str, Any]]]] = {}  # id(bus) -> its recent events


def versioned_events() -> None:
    """Give every watch event a resourceVersion (one counter for all resources, as etcd's revision) and
    keep the recent events of each resource, so that a watch can resume from a version."""
    from kmock._internal import aiobus

    original = aiobus.Bus.put

    async def put(self: Any, *items: Any) -> None:
        stamped = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("object"), dict):
                seq = next(_SEQUENCE)
                obj = item["object"]
                meta = {**obj.get("metadata", {}), "resourceVersion": str(seq)}
                item = {**item, "object": {**obj, "metadata": meta}}
                _LOGS.setdefault(id(self), collections.deque(maxlen=LOG_SIZE)).append((seq, item))
            stamped.append(item)
        await original(self, *stamped)

    aiobus.Bus.put = put  # type: ignore[method-assign]


def resumable_watches(bookmark_after: float = 30.0) -> None:
    """Watches as a real API server serves them (the emulator ignores resourceVersion and replays every
    object on each watch):

    - a watch with the resourceVersion of an event resumes after that event: the events since, then
      the new ones, and no replay (kopf reconnects its watches every 330 s at most);
    - a watch quiet for `bookmark_after` seconds gets a BOOKMARK event (kopf asks for them; without
      one it reconnects a watch that has been quiet for 70 s)."""
    from kmock._internal import k8s

    original = k8s.KubernetesEmulator._serve_watch
    check = k8s.KubernetesEmulator._KubernetesEmulator__check  # type: ignore[attr-defined]

    def wanted(self: Any, request: Any, event: Any) -> bool:
        meta = event.get("object", {}).get("metadata", {})
        return bool(
            check(self, request, request.resource, meta.get("namespace"), meta.get("name"), strict=False)
        )

    async def resume(self: Any, request: Any, since: int) -> Any:
        yield b""
        bus = self._buses[request.resource]
        marker = await bus.mark()
        try:
            last = since
            for seq, event in list(_LOGS.get(id(bus), ())):
                if seq > since and wanted(self, request, event):
                    last = seq
                    yield event
            async for event in bus.stream(since=marker):
                seq = int(event.get("object", {}).get("metadata", {}).get("resourceVersion") or 0)
                if seq > last and wanted(self, request, event):
                    yield event
        finally:
            await bus.unmark(marker)

    def events(self: Any, request: Any) -> Any:
        since = request.params.get("resourceVersion", "")
        log = _LOGS.get(id(self._buses[request.resource]))
        if since.isdigit() and log is not None and (len(log) < LOG_SIZE or log[0][0] <= int(since) + 1):
            return resume(self, request, int(since))
        return original(self, request)  # the first watch after a list, or too old: every object

    async def serve_watch(self: Any, request: Any) -> Any:
        stream = events(self, request).__aiter__()
        pending = asyncio.ensure_future(stream.__anext__())
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=bookmark_after)
                if not done:
                    version = str(next(_SEQUENCE))
                    yield {
                        "type": "BOOKMARK",
                        "object": {"kind": "Bookmark", "metadata": {"resourceVersion": version}},
                    }
                    continue
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    return
                yield event
                pending = asyncio.ensure_future(stream.__anext__())
        finally:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending  # the stream's own step ends before the stream is closed
            await stream.aclose()

    k8s.KubernetesEmulator._serve_watch = serve_watch  # type: ignore[method-assign]


def prepare_emulator() -> None:
    """Before the emulator is created: constant-time lookups, watches that resume and get bookmarks."""
    linear_time_matching()
    versioned_events()
    resumable_watches()


def declare(kmock: Any) -> None:
    """What discovery shows: every kind the operator watches (the operator tests' declaration)."""
    from tests.operator.harness import declare_resources

    declare_resources(kmock)


async def wait_for_watches(kmock: Any, plurals: Iterable[str] = WATCHED) -> None:
    """Until the operator watches every kind it reconciles or reads (objects created earlier would be
    replayed). It watches no Secret: it never reads one."""
    deadline = time.monotonic() + 120
    while set(plurals) - {
        r.resource.plural for r in kmock if r.resource is not None and r.params.get("watch")
    }:
        if time.monotonic() > deadline:
            raise SystemExit("the operator did not open its watches within 120 s")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


def api_path(obj_or_kind: dict[str, Any] | str, namespace: str, name: str | None = None) -> str:
    """The URL of a kind's collection in a namespace (or of one object, with `name`)."""
    from tests.operator.harness import ALL

    kind = obj_or_kind if isinstance(obj_or_kind, str) else obj_or_kind["kind"]
    return str(ALL[kind].path(namespace, name))


async def call(kmock: Any, method: str, url: str, body: Any = None, *, missing_ok: bool = False) -> None:
    """One request of the driver (as kubectl or a Kubernetes controller would send it)."""
    async with kmock.request(method, url, json=body, headers={"User-Agent": DRIVER_AGENT}) as response:
        if response.status == 404 and missing_ok:
            return
        if response.status >= 400:
            raise SystemExit(f"{method} {url} failed: {response.status} {await response.text()}")


async def post_object(kmock: Any, obj: dict[str, Any]) -> None:
    """Create an object in its namespace, as kubectl would."""
    await call(kmock, "POST", api_path(obj, obj["metadata"]["namespace"]), obj)


async def gathered(coros: Iterable[Any], limit: int = 16) -> None:
    """Await every coroutine, at most `limit` at once (as a client with a connection pool would)."""
    gate = asyncio.Semaphore(limit)

    async def gated(coro: Any) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(gated(c) for c in coros))


def _resource_name(request: Any) -> str:
    name = getattr(request.resource, "plural", None) or str(request.url.path)
    return f"{name}/{request.subresource}" if request.subresource else name


@dataclass
class RequestTally:
    """The operator's requests (every request not sent by the driver), by verb and resource."""

    kmock: Any
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    created_jobs: list[dict[str, Any]] = field(default_factory=list)
    deleted_jobs: list[tuple[str, str]] = field(default_factory=list)
    job_owners: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (kind, ns, name) -> Jobs
    job_deletions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (ns, Job) -> DELETE requests
    driver_requests: int = 0

    def update(self) -> None:
        """Count the requests that arrived since the last call, and drop them from the history."""
        history = self.kmock._requests
        arrived, history[:] = list(history), []
        for request in arrived:
            if request.headers.get("User-Agent") == DRIVER_AGENT:
                self.driver_requests += 1
                continue
            action = request.action.value if request.action is not None else request.method.value
            verb = VERBS.get(action, action.lower())
            if verb == "list" and request.params.get("watch"):
                verb = "watch"
            self.counts[verb, _resource_name(request)] += 1
            if request.resource is not None and request.resource.plural == "jobs" and not request.subresource:
                if verb == "create" and isinstance(request.data, dict):
                    self.created_jobs.append(request.data)
                    self.job_owners[job_owner(request.data)] += 1
                elif verb == "delete":
                    self.deleted_jobs.append((request.namespace, request.name))
                    self.job_deletions[request.namespace, request.name] += 1

    def take(self) -> dict[str, int]:
        """The counts so far as `verb resource` -> requests (most first), and start again."""
        self.update()
        out = {f"{verb} {res}": n for (verb, res), n in self.counts.most_common()}
        self.counts = Counter()
        return out


def job_owner(job: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace, name) of the object whose run a Job is."""
    from impala_copy.controller.core.constants import LABEL_ACTIVITY, LABEL_KIND

    labels = job["metadata"].get("labels", {})
    return labels.get(LABEL_KIND, ""), job["metadata"]["namespace"], labels.get(LABEL_ACTIVITY, "")


def termination_message(job: dict[str, Any]) -> str:
    """What the engine of this Job's task reports when it succeeds."""
    from tests.operator import manifests

    from impala_copy.api.summary import ConnectionTestSummary, LookupSummary
    from impala_copy.controller.core.constants import LABEL_KIND
    from impala_copy.controller.core.timeutil import format_time, utcnow

    kind = job["metadata"]["labels"].get(LABEL_KIND)
    if kind == "ImpalaLinkedService":
        return ConnectionTestSummary(
            connected=True, reason="Connected", message="connected to the bench server",
            probed_at=format_time(utcnow()), duration_milliseconds=30.0, round_trip_milliseconds=3.0,
        ).to_termination_message()  # fmt: skip
    if kind == "LookupActivity":
        output = {"firstRow": {"max_id": 42}}
        return LookupSummary(
            status="Succeeded",
            rows=1,
            size_bytes=len(json.dumps(output)),
            duration_seconds=0.2,
            output=output,
        ).to_termination_message()
    return manifests.summary(rows=1000).to_termination_message()


class JobController:
    """Plays the Job controller, the kubelet and the garbage collector for the operator's Jobs: each
    Job's pod terminates with its task's summary `run_seconds` after the Job appeared, then the Job
    completes; when the operator deletes a Job (history limits), its pod goes too."""

    def __init__(self, kmock: Any, tally: RequestTally, run_seconds: float) -> None:
        self.kmock = kmock
        self.tally = tally
        self.run_seconds = run_seconds
        self.running: list[tuple[float, dict[str, Any]]] = []
        self.finished = 0
        self.pods: set[tuple[str, str]] = set()

    async def step(self) -> None:
        """Take the Jobs created and deleted since the last step; finish those whose time has come."""
        self.tally.update()
        now = time.monotonic()
        self.running += [(now + self.run_seconds, job) for job in self.tally.created_jobs]
        self.tally.created_jobs.clear()
        due = [job for at, job in self.running if at <= now]
        self.running = [(at, job) for at, job in self.running if at > now]
        gone, self.tally.deleted_jobs[:] = list(self.tally.deleted_jobs), []
        await gathered([self._finish(job) for job in due] + [self._collect(ns, name) for ns, name in gone])

    async def _finish(self, job: dict[str, Any]) -> None:
        from tests.operator import manifests

        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        pod = manifests.pod_for(job)
        pod["status"] = manifests.terminated(0, termination_message(job))
        await post_object(self.kmock, pod)
        self.pods.add((namespace, name))
        status = {"status": manifests.job_succeeded()}
        await call(self.kmock, "PATCH", api_path("Job", namespace, name) + "/status", status, missing_ok=True)
        self.finished += 1

    async def _collect(self, namespace: str, job_name: str) -> None:
        if (namespace, job_name) in self.pods:
            self.pods.discard((namespace, job_name))
            await call(self.kmock, "DELETE", api_path("Pod", namespace, f"{job_name}-x1"), missing_ok=True)


def status_of(kmock: Any, kind: str, namespace: str, name: str) -> dict[str, Any]:
    """The status of one object as stored by the emulator ({} when it has none)."""
    from tests.operator.harness import ALL

    ref = ALL[kind]
    key = (kmock.resource(ref.group, ref.version, ref.plural), namespace, name)
    try:
        obj = kmock.objects[key]
    except KeyError:
        return {}
    return dict(obj.get("status") or {})


def condition_status(status: dict[str, Any], type_: str) -> str | None:
    return next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == type_), None)


def mark(out_file: Path, name: str) -> None:
    """Tell the operator's side that the load reached a point: it notes its RSS and reconciliations."""
    (out_file.parent / f"mark-{name}").write_text(str(time.time()))


async def serve_until(stop_file: Path) -> None:
    while not stop_file.exists():
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------ the operator's side
def proc_status_mb(field_name: str) -> float:
    """A memory figure of this process from /proc (VmRSS: now; VmHWM: the peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class ProblemLog(logging.Handler):
    """Every WARNING and ERROR line the operator logs: counted, the first ones kept."""

    def __init__(self, keep: int = 20) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: list[str] = []
        self.keep = keep
        self.stopping = False  # lines logged once the operator is asked to stop are counted apart

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname} at stop" if self.stopping else record.levelname] += 1
        if len(self.first) < self.keep:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()[:300]}")


@dataclass
class OperatorRun:
    """What the driver reported, and the operator's own figures over the run."""

    result: dict[str, Any]
    cpu_seconds: float
    rss_at_start_mb: float
    peak_rss_mb: float
    rss_samples: list[tuple[float, float]]  # (wall clock time, RSS MB)
    reconciliations: int
    marks: dict[str, dict[str, float]]  # mark name -> at (wall clock), rss_mb, reconciliations
    log_problems: dict[str, int]
    first_problems: list[str]


def run_operator(
    script: Path, driver_args: list[str], *, sample_seconds: float = 5.0, **settings_changes: Any
) -> OperatorRun:
    """Run the operator here against a driver child process (`script --driver READY OUT STOP ...`)."""
    import kopf

    from impala_copy.controller import main as operator_main
    from impala_copy.controller.core.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="operator-bench-"))
    ready, out, stopped = work / "url", work / "result.json", work / "stopped"
    log_path = work / "driver.log"
    with log_path.open("w") as log:
        driver = subprocess.Popen(
            [sys.executable, str(script), "--driver", str(ready), str(out), str(stopped), *driver_args],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not ready.exists() or not ready.read_text():
            if driver.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        url = ready.read_text()
        settings = Settings(
            **{"liveness_endpoint": None, "resync_seconds": 0, "log_level": "WARNING", **settings_changes}
        )
        operator_main.configure_logging(settings)
        problems = ProblemLog()
        logging.getLogger().addHandler(problems)
        registry, runtime = operator_main.build(
            settings, login=lambda **_: kopf.ConnectionInfo(server=url, insecure=True)
        )
        stop = threading.Event()
        samples: list[tuple[float, float]] = []
        marks: dict[str, dict[str, float]] = {}
        baseline = proc_status_mb("VmRSS")

        def reconciliations() -> int:
            return runtime.queue.handled if runtime.queue is not None else 0

        def watch_driver() -> None:
            next_sample = 0.0
            while not out.exists() and driver.poll() is None:
                if time.monotonic() >= next_sample:
                    samples.append((time.time(), proc_status_mb("VmRSS")))
                    next_sample = time.monotonic() + sample_seconds
                for path in work.glob("mark-*"):
                    marks.setdefault(path.name[5:], {
                        "at": time.time(), "rss_mb": proc_status_mb("VmRSS"), "reconciliations": reconciliations(),
                    })  # fmt: skip
                stop.wait(0.2)
            problems.stopping = True
            stop.set()

        threading.Thread(target=watch_driver, daemon=True).start()
        started = time.process_time()
        try:
            asyncio.run(operator_main.serve(settings, registry, stop_flag=stop))
        finally:
            logging.getLogger().removeHandler(problems)
        cpu = time.process_time() - started
        handled = reconciliations()
        stopped.write_text("stopped")
        driver.wait(60)
    if driver.returncode != 0 or not out.exists():
        raise RuntimeError(f"the load driver failed: {log_path.read_text()[-3000:]}")
    return OperatorRun(
        result=json.loads(out.read_text()), cpu_seconds=cpu, rss_at_start_mb=baseline,
        peak_rss_mb=proc_status_mb("VmHWM"), rss_samples=samples, reconciliations=handled, marks=marks,
        log_problems=dict(problems.counts), first_problems=problems.first,
    )  # fmt: skip
