"""Running the operator: logging, the kopf registry, and kopf's main loop until a signal stops it.

kopf runs standalone (no peering objects: replicas elect a leader on a Lease instead,
core/leader_election.py), on all namespaces or the listed ones, with a liveness endpoint.
SIGTERM/SIGINT stop it cleanly: watches close, workers finish, the cleanup handler runs (and the
leader releases its Lease).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import kopf

from impala_copy.controller.core.metrics import MetricsServerError
from impala_copy.controller.core.runtime import Runtime
from impala_copy.controller.core.settings import Settings, log_level_number
from impala_copy.controller.handlers import LoginFn, register

_FORMATS = {"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}


class TransientApiErrors(logging.Filter):
    """An API server that is busy or starting (429 Too Many Requests) is retried by kopf and recovers:
    its ERROR and WARNING lines are logged at INFO."""

    MARKERS = ("TooManyRequests", "429", "storage is (re)initializing")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO and record.name.startswith("kopf"):
            text = record.getMessage()
            if any(marker in text for marker in self.MARKERS):
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class UnreadyProbe(logging.Filter):
    """A replica that is not ready fails its probe handler `leader` (the endpoint answers 500): one
    WARNING naming the cause, not an ERROR and the web server's traceback at every probe."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "kopf.activities.probe" and "Activity 'leader' failed" in record.getMessage():
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        elif record.name == "aiohttp.server" and record.exc_info:
            error = record.exc_info[1]
            cause = error.__cause__ if error is not None else None
            if type(error).__name__ == "ActivityError" and type(cause).__name__ == "PermanentError":
                return False
        return True


def configure_logging(settings: Settings) -> None:
    """The operator logs what it does (Jobs created, status changes, errors), not every event it sees:
    kopf's per-object lines ("Handler ... succeeded" for each watched object) only with DEBUG."""
    debug = settings.log_level == "DEBUG"
    kopf.configure(
        debug=debug,
        quiet=settings.log_level in ("WARNING", "ERROR"),
        log_format=_FORMATS[settings.log_format],
        log_prefix=None,
    )
    root = logging.getLogger()
    root.setLevel(log_level_number(settings.log_level))
    logging.getLogger("kopf.objects").setLevel(logging.DEBUG if debug else logging.WARNING)
    for handler in root.handlers:
        handler.addFilter(TransientApiErrors())
        handler.addFilter(UnreadyProbe())


def build(settings: Settings, *, login: LoginFn | None = None) -> tuple[kopf.OperatorRegistry, Runtime]:
    """A registry with every handler, and the runtime they drive."""
    registry = kopf.OperatorRegistry()
    return registry, register(registry, settings, login=login)


async def serve(
    settings: Settings,
    registry: kopf.OperatorRegistry,
    *,
    stop_flag: Any = None,
    ready_flag: Any = None,
) -> None:
    """Run the operator in the current event loop until `stop_flag` is set or a signal arrives."""
    await kopf.operator(
        registry=registry,
        standalone=True,
        clusterwide=settings.clusterwide,
        namespaces=list(settings.namespaces),
        liveness_endpoint=settings.liveness_endpoint,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )


def run(settings: Settings) -> None:
    """The `impala-copy operator` command."""
    configure_logging(settings)
    where = ", ".join(settings.namespaces) if settings.namespaces else "all namespaces"
    log = logging.getLogger("impala_copy.controller")
    log.info("impala-copy operator starting: watching %s; Job image %s", where, settings.job.image)
    registry, runtime = build(settings)
    try:
        runtime.start_metrics()  # before kopf: a port in use stops the operator at once
    except MetricsServerError as exc:
        print(f"impala-copy operator: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.metrics_port is not None:
        log.info("serving Prometheus metrics on port %d at /metrics", settings.metrics_port)
    asyncio.run(serve(settings, registry))
