"""What the operator logs: its own actions and errors, not every watch event; transient 429s quietly.

In:  the logging set up by `impala-copy operator` (controller/main.configure_logging) at INFO and at
     DEBUG, and log records as kopf writes them (per-object handler lines, a 429 while the API
     server's storage initialises, the failed readiness probe of a replica that is not ready).
Out: which records reach the log and at which level.
Faked: nothing; the records are made the way kopf makes them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import kopf
import pytest
from kopf._core.engines.activities import ActivityError

from impala_copy.controller.core.settings import Settings
from impala_copy.controller.main import TransientApiErrors, configure_logging


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    objects_level = logging.getLogger("kopf.objects").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("kopf.objects").setLevel(objects_level)


def handled(settings: Settings) -> list[logging.LogRecord]:
    configure_logging(settings)
    collect = Collect()
    collect.addFilter(TransientApiErrors())
    logging.getLogger().addHandler(collect)
    logging.getLogger("kopf.objects").info("Handler 'changed_secret' succeeded.")
    logging.getLogger("kopf.objects").error("Handler 'changed_copyactivity' failed with an exception.")
    logging.getLogger("kopf._cogs.clients.watching").error(
        "Request failed: APITooManyRequestsError('storage is (re)initializing')"
    )
    logging.getLogger("impala_copy.controller").info("default/orders: created Job orders-1-1")
    return collect.records


def test_at_info_only_what_the_operator_did_and_errors(restore_logging: None) -> None:
    records = handled(Settings(log_level="INFO"))
    lines = [(r.levelname, r.getMessage()) for r in records]
    assert ("INFO", "Handler 'changed_secret' succeeded.") not in lines
    assert ("ERROR", "Handler 'changed_copyactivity' failed with an exception.") in lines
    assert ("INFO", "Request failed: APITooManyRequestsError('storage is (re)initializing')") in lines
    assert ("INFO", "default/orders: created Job orders-1-1") in lines


def test_debug_shows_every_event(restore_logging: None) -> None:
    records = handled(dataclasses.replace(Settings(), log_level="DEBUG"))
    assert "Handler 'changed_secret' succeeded." in [r.getMessage() for r in records]


def test_an_unready_replica_logs_a_warning_without_a_traceback() -> None:
    from impala_copy.controller.main import UnreadyProbe

    collect = Collect()
    collect.addFilter(UnreadyProbe())
    logger = logging.getLogger("test-unready")
    logger.addHandler(collect)
    message = "replica-b_1 has not read Lease ops/impala-copy-operator within the lease duration"
    failed = logging.LogRecord(
        "kopf.activities.probe",
        logging.ERROR,
        "",
        0,
        "Activity 'leader' failed permanently: %s",
        (message,),
        None,
    )

    try:  # as kopf's probe endpoint fails (kopf/_core/engines/activities.py)
        raise ActivityError("One or more handlers failed.", outcomes={}) from kopf.PermanentError(message)
    except ActivityError as exc:
        served = logging.LogRecord(
            "aiohttp.server", logging.ERROR, "", 0, "Error handling request", (), (type(exc), exc, None)
        )
    other = logging.LogRecord("aiohttp.server", logging.ERROR, "", 0, "Error handling request", (), None)
    for record in (failed, served, other):
        logger.handle(record)
    logger.removeHandler(collect)
    assert [(r.name, r.levelname) for r in collect.records] == [
        ("kopf.activities.probe", "WARNING"),
        ("aiohttp.server", "ERROR"),
    ]
    assert message in collect.records[0].getMessage()
