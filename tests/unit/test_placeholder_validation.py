"""Placeholders judged where a user meets them: `impala-copy validate`, the resolver, the engine, the CLI.

In:  manifests written to a temporary folder (an ImpalaLinkedService on a host nobody listens on, an
     ImpalaDataset, a Parquet dataset on a claim, Copy and Lookup activities) whose query, folderPath,
     fileName or fileNamePrefix hold placeholders, with and without a schedule; --window-start and
     friends given to `impala-copy run`; plans whose run context lacks a value.
Out: the exact lines `validate` prints (file, kind/name, field path, message) and its exit code; the
     plan's run context; the engine's summary (status, error code and message, exit code 2) and the
     sink paths it renders.
Faked: nothing. Impala is never reached: every failure here happens before a connection is made.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from impala_copy.api.plan import PLAN_ENV, CopyPlan, ImpalaConnection, LookupPlan, SourcePlan
from impala_copy.api.schedule import RunContext
from impala_copy.cli import copy_commands, manifests
from impala_copy.cli.local import LocalLayout, RunTimes, build_plan
from impala_copy.engine.errors import EXIT_CONFIGURATION
from impala_copy.engine.main import TERMINATION_LOG_ENV
from impala_copy.engine.main import run as engine_main
from impala_copy.engine.run import execute
from impala_copy.engine.run_values import rendered_columns, rendered_sink, run_values

API = "impalacopy.io/v1alpha1"
WINDOW = {"window": {"startTime": "2026-12-01T00:00:00Z", "frequency": "Day", "interval": 1}}
CRON = {"cron": "0 2 * * *"}


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def chain(
    *,
    query: str | None = None,
    schedule: dict[str, Any] | None = None,
    location: dict[str, Any] | None = None,
    prefix: str | None = None,
    additional: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Linked service, ImpalaDataset `orders`, ParquetDataset `target` on claim `out`, CopyActivity `copy`."""
    sink: dict[str, Any] = {"type": "ParquetSink"}
    if prefix:
        sink["formatSettings"] = {"fileNamePrefix": prefix}
    copy: dict[str, Any] = {
        "inputs": [{"referenceName": "orders"}],
        "outputs": [{"referenceName": "target", "kind": "ParquetDataset"}],
        "sink": sink,
    }
    if query:
        copy["source"] = {"query": query}
    if additional:
        copy["source"]["additionalColumns"] = [{"name": k, "value": v} for k, v in additional.items()]
    if schedule:
        copy["schedule"] = schedule
    return [
        obj("ImpalaLinkedService", "impala", {"host": "127.0.0.1", "port": 9, "connectTimeoutSeconds": 1}),
        obj(
            "ImpalaDataset",
            "orders",
            {"linkedServiceName": {"referenceName": "impala"}, "schema": "sales", "table": "orders"},
        ),
        obj(
            "ParquetDataset",
            "target",
            {"location": {"type": "PersistentVolumeClaimLocation", "claimName": "out", **(location or {})}},
        ),
        obj("CopyActivity", "copy", copy),
    ]


def lookup(query: str, schedule: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"dataset": {"referenceName": "orders"}, "source": {"query": query}}
    if schedule:
        spec["schedule"] = schedule
    return obj("LookupActivity", "look", spec)


def write(folder: Path, docs: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path


def validate(folder: Path, docs: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Exit code and the error lines of `impala-copy validate`, without the file name."""
    path = write(folder, docs)
    out, err = io.StringIO(), io.StringIO()
    code = copy_commands.validate(
        path,
        "default",
        out=Console(file=out, width=1000, soft_wrap=True, highlight=False),
        err=Console(file=err, width=1000, soft_wrap=True, highlight=False),
    )
    return code, [line.removeprefix(f"{path}: ") for line in out.getvalue().splitlines()]


NEEDS_WINDOW = "needs spec.schedule.window: only the run of a tumbling window has a window start and end"


@pytest.mark.parametrize(
    ("docs", "line"),
    [
        (
            chain(query="SELECT * FROM t WHERE ts >= {windowStart}"),
            "CopyActivity/copy: spec.source.query: CopyActivity 'copy': '{windowStart}' in source.query "
            + NEEDS_WINDOW,
        ),
        (
            chain(query="SELECT * FROM t WHERE ts < '@{trigger().outputs.windowEndTime}'", schedule=CRON),
            "CopyActivity/copy: spec.source.query: CopyActivity 'copy': '@{trigger().outputs.windowEndTime}' "
            "in source.query " + NEEDS_WINDOW,
        ),
        (
            chain(location={"folderPath": "orders/dt={windowStart:yyyy-MM-dd}"}),
            "CopyActivity/copy: spec: CopyActivity 'copy': '{windowStart:yyyy-MM-dd}' in location.folderPath "
            "of ParquetDataset 'target' " + NEEDS_WINDOW,
        ),
        (
            chain(prefix="o_{windowEnd:yyyyMMdd}"),
            "CopyActivity/copy: spec: CopyActivity 'copy': '{windowEnd:yyyyMMdd}' in "
            "sink.formatSettings.fileNamePrefix " + NEEDS_WINDOW,
        ),
        (
            chain(query="SELECT 1 AS x", additional={"window": "{windowStart}"}),
            "CopyActivity/copy: spec: CopyActivity 'copy': '{windowStart}' in source.additionalColumns "
            "'window' " + NEEDS_WINDOW,
        ),
        (
            chain(query="SELECT 1 AS x", additional={"wm": "@{activity('Old').output.firstRow.wm}"}),
            "CopyActivity/copy: spec.source.additionalColumns[0].value: the ADF expression "
            "\"@{activity('Old').output.firstRow.wm}\" is not supported: use {windowStart}, {windowEnd}, "
            "{triggerTime}, {scheduledTime} or {runId} (a time with a format: {windowStart:yyyy-MM-dd}), or "
            "ADF's spelling of one of them, e.g. @{trigger().outputs.windowStartTime}",
        ),
        (
            chain(query="SELECT {scheduledTime}"),
            "CopyActivity/copy: spec.source.query: CopyActivity 'copy': '{scheduledTime}' in source.query "
            "needs spec.schedule (cron or window): only a scheduled run has a scheduled time",
        ),
        (
            [*chain(), lookup("SELECT max(ts) FROM t WHERE ts < {windowEnd}", CRON)],
            "LookupActivity/look: spec.source.query: LookupActivity 'look': '{windowEnd}' in source.query "
            "needs a tumbling window, which a LookupActivity does not have (spec.schedule.window is for "
            "CopyActivities)",
        ),
        (
            chain(schedule={"window": {**WINDOW["window"], "maxConcurrency": 4}}),
            "CopyActivity/copy: spec: CopyActivity 'copy': schedule.window.maxConcurrency is 4, but every "
            "window would write the same files: put {windowStart} (e.g. dt={windowStart:yyyy-MM-dd}) into "
            "the dataset's folderPath or fileName, or into sink.formatSettings.fileNamePrefix",
        ),
        (
            chain(query="SELECT * FROM t WHERE d = '@{pipeline().parameters.day}'"),
            "CopyActivity/copy: spec.source.query: the ADF expression '@{pipeline().parameters.day}' is not "
            "supported (pipeline parameters do not exist here: use the trigger's value itself): use "
            "{windowStart}, {windowEnd}, {triggerTime}, {scheduledTime} or {runId} (a time with a format: "
            "{windowStart:yyyy-MM-dd}), or ADF's spelling of one of them, e.g. "
            "@{trigger().outputs.windowStartTime}",
        ),
        (
            chain(location={"folderPath": "orders/{windowStart:..}/x"}, schedule=WINDOW),
            "ParquetDataset/target: spec.location.folderPath: folderPath 'orders/{windowStart:..}/x' renders "
            "to 'orders/../x': folderPath must not have a '.' or '..' segment",
        ),
        (
            chain(location={"fileName": "{windowStart:yyyy/MM}.parquet"}, schedule=WINDOW),
            "ParquetDataset/target: spec.location.fileName: fileName '{windowStart:yyyy/MM}.parquet' renders "
            "to '2026/12.parquet': fileName must not contain '/', '\\' or control characters",
        ),
        (
            chain(prefix="o_{windowStart:yy}", schedule=WINDOW),
            "CopyActivity/copy: spec.sink.formatSettings.fileNamePrefix: '{windowStart:yy}': the format "
            "letters 'yy' are not supported: use yyyy, MM, dd, HH, mm, ss (and the literal characters T and Z)",
        ),
    ],
)
def test_validate_names_each_placeholder_problem(
    tmp_path: Path, docs: list[dict[str, Any]], line: str
) -> None:
    code, lines = validate(tmp_path, docs)
    assert (code, lines) == (1, [line])


def test_a_windowed_copy_with_placeholders_everywhere_is_valid(tmp_path: Path) -> None:
    docs = chain(
        query="SELECT * FROM t WHERE ts >= '@{trigger().outputs.windowStartTime}' AND ts < {windowEnd} "
        "AND note RLIKE 'a{2}' AND run <> {runId} AND t0 <= @{pipeline().TriggerTime}",
        schedule={"window": {**WINDOW["window"], "maxConcurrency": 3}},
        location={"folderPath": "orders/dt={windowStart:yyyy-MM-dd}"},
        prefix="part-@{formatDateTime(trigger().outputs.windowStartTime, 'HH')}",
    )
    code, lines = validate(tmp_path, [*docs, lookup("SELECT {triggerTime}, {runId}, {scheduledTime}", CRON)])
    assert (code, lines) == (0, ["5 object(s) in 1 file(s): valid"])


def plan_of(tmp_path: Path, docs: list[dict[str, Any]], times: RunTimes | None = None) -> CopyPlan:
    loaded = manifests.load(write(tmp_path / "m", docs))
    (tmp_path / "out").mkdir(exist_ok=True)
    layout = LocalLayout(cert_dir=str(tmp_path / "certs"), volumes={"out": str(tmp_path / "out")})
    return build_plan(loaded, "default", "copy", layout, run_id="r-1", times=times)


def test_the_cli_times_fill_the_run_context_in_utc(tmp_path: Path) -> None:
    docs = chain(query="SELECT {windowStart}", schedule=WINDOW)
    times = RunTimes("2026-12-01T01:00:00+01:00", "2026-12-02T00:00:00Z", "2026-12-02T00:05:00Z")
    assert plan_of(tmp_path, docs, times).run_context == RunContext(
        trigger_time="2026-12-02T00:05:00Z",
        window_start="2026-12-01T00:00:00Z",
        window_end="2026-12-02T00:00:00Z",
    )
    context = plan_of(tmp_path, docs).run_context
    assert context is not None
    assert context.window_start is None
    assert context.trigger_time.endswith("Z")


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (
            RunTimes(window_start="2026-12-01", window_end="2026-12-02T00:00:00Z"),
            "--window-start '2026-12-01': expected an RFC 3339 time with a zone, e.g. 2026-12-01T00:00:00Z",
        ),
        (
            RunTimes(window_start="2026-12-01T00:00:00Z"),
            "--window-start and --window-end go together: give both",
        ),
        (
            RunTimes(window_start="2026-12-02T00:00:00Z", window_end="2026-12-01T00:00:00Z"),
            "--window-end must be after --window-start",
        ),
        (RunTimes(trigger_time="now"), "--trigger-time 'now': expected an RFC 3339 time"),
    ],
)
def test_bad_run_times_stop_a_local_run_with_exit_code_2(
    tmp_path: Path, times: RunTimes, message: str
) -> None:
    path = write(tmp_path / "m", chain(query="SELECT {windowStart}", schedule=WINDOW))
    err = io.StringIO()
    code = copy_commands.run(
        path,
        "copy",
        namespace="default",
        volumes=[f"out={tmp_path / 'out'}"],
        volume_root=str(tmp_path),
        output="json",
        times=times,
        out=Console(file=io.StringIO()),
        err=Console(file=err, width=1000, soft_wrap=True, highlight=False),
    )
    assert code == EXIT_CONFIGURATION
    assert "InvalidArgument" in err.getvalue()
    assert message in err.getvalue()


def test_a_run_without_a_window_fails_as_a_configuration_error_before_connecting(tmp_path: Path) -> None:
    docs = chain(query="SELECT * FROM t WHERE ts >= {windowStart}", schedule=WINDOW)
    outcome = execute(plan_of(tmp_path, docs), {})
    assert outcome.exit_code == EXIT_CONFIGURATION
    assert outcome.summary.status == "Failed"
    (error,) = outcome.summary.errors
    assert (error.code, error.message) == (
        "InvalidConfiguration",
        "'{windowStart}' in source.query has no value: this run has no window (runs of spec.schedule.window "
        "have one; `impala-copy run` takes --window-start and --window-end)",
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_a_path_without_a_value_fails_the_same_way(tmp_path: Path) -> None:
    docs = chain(location={"folderPath": "o/{windowStart:yyyy}"}, schedule=WINDOW)
    outcome = execute(plan_of(tmp_path, docs), {})
    assert (outcome.exit_code, outcome.summary.errors[0].message) == (
        EXIT_CONFIGURATION,
        "'{windowStart:yyyy}' in folderPath has no value: this run has no window (runs of "
        "spec.schedule.window have one; `impala-copy run` takes --window-start and --window-end)",
    )


def test_additional_columns_render_as_text(tmp_path: Path) -> None:
    docs = chain(
        query="SELECT 1 AS x",
        schedule=WINDOW,
        additional={
            "window": "{windowStart}/{windowEnd:yyyyMMdd}",
            "run": "@{pipeline().RunId}",
            "c": "$$COLUMN:x",
        },
    )
    plan = plan_of(tmp_path, docs, RunTimes("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"))
    assert rendered_columns(plan.source.additional_columns, run_values(plan)) == [
        ("window", "2026-12-01T00:00:00Z/20261202"),
        ("run", "r-1"),
        ("c", "$$COLUMN:x"),
    ]


def test_the_sink_paths_render_from_the_run_context(tmp_path: Path) -> None:
    docs = chain(
        schedule=WINDOW,
        location={"folderPath": "orders/dt={windowStart:yyyy-MM-dd}", "fileName": "o_{runId}.parquet"},
        prefix="p{windowEnd:yyyyMMdd}",
    )
    times = RunTimes("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")
    plan = plan_of(tmp_path, docs, times)
    sink = rendered_sink(plan.sink, run_values(plan))
    assert sink.dataset["location"]["folderPath"] == "orders/dt=2026-12-01"
    assert sink.dataset["location"]["fileName"] == "o_r-1.parquet"
    assert sink.format_settings.file_name_prefix == "p20261202"
    # The plan itself keeps the templates: the next attempt renders them again.
    assert plan.sink.dataset["location"]["folderPath"] == "orders/dt={windowStart:yyyy-MM-dd}"


def test_the_lookup_task_in_the_pod_fails_as_configuration_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A closed port: connecting would fail with Unreachable (exit 1), not a configuration error.
    plan = LookupPlan(
        activity="due",
        run_id="r1",
        impala=ImpalaConnection(host="127.0.0.1", port=9, connect_timeout_seconds=1),
        source=SourcePlan(query="SELECT count(*) FROM t WHERE ts < {scheduledTime}"),
        run_context=RunContext(trigger_time="2026-12-02T00:05:00Z"),
    )
    log = tmp_path / "termination-log"
    code = engine_main(
        {TERMINATION_LOG_ENV: str(log), PLAN_ENV: plan.model_dump_json(by_alias=True)}, "lookup"
    )
    capsys.readouterr()
    summary = json.loads(log.read_text(encoding="utf-8"))
    assert code == EXIT_CONFIGURATION
    assert summary["error"] == {
        "code": "InvalidConfiguration",
        "message": "'{scheduledTime}' in source.query has no value: this run was not started by its schedule "
        "(`impala-copy run` takes --scheduled-time)",
    }
