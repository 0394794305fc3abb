"""The `impala-copy` command: run, validate, crds, engine (in the Job pod), operator, test-connection,
import-adf."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from impala_copy import __version__
from impala_copy.api.partitions import MAX_PARALLEL_COPIES

app = typer.Typer(
    name="impala-copy",
    help="Copy data out of Impala: validate manifests, run copies locally, run the engine or the operator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"impala-copy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """impala-copy: Azure Data Factory's "Copy data from Impala", as a Kubernetes operator."""


@app.command("crds")
def crds_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder to write <plural>.yaml into; without it, print to stdout."
        ),
    ] = None,
    chart_dir: Annotated[
        Path, typer.Option("--chart-dir", help="The Helm chart's crds/ folder, written too with --output.")
    ] = Path("charts/impala-copy-operator/crds"),
    no_chart: Annotated[bool, typer.Option("--no-chart", help="With --output, skip the chart copy.")] = False,
) -> None:
    """Generate the CustomResourceDefinitions from the models (`make crds`)."""
    from impala_copy.api import crd

    if output is None:
        typer.echo(crd.all_in_one(), nl=False)
        return
    folders = [output] if no_chart else [output, chart_dir]
    for path in crd.write_crds(*folders):
        typer.echo(str(path))


WindowStartOption = Annotated[
    str | None,
    typer.Option(
        "--window-start",
        help="Start of the run's window, RFC 3339 (2026-12-01T00:00:00Z): the value of {windowStart}.",
    ),
]
WindowEndOption = Annotated[
    str | None,
    typer.Option("--window-end", help="End of the run's window, RFC 3339: the value of {windowEnd}."),
]
TriggerTimeOption = Annotated[
    str | None,
    typer.Option("--trigger-time", help="The run's trigger time, RFC 3339 ({triggerTime}). Default: now."),
]
ScheduledTimeOption = Annotated[
    str | None,
    typer.Option("--scheduled-time", help="The time the run is scheduled for, RFC 3339 ({scheduledTime})."),
]
ParallelOption = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        min=1,
        max=MAX_PARALLEL_COPIES,
        help="Partitioned copies: how many partitions are copied at once, each by a local process "
        "(default: the activity's parallelCopies).",
    ),
]
FilenameOption = Annotated[
    Path,
    typer.Option("--filename", "-f", help="A manifest file, or a folder searched for *.yaml / *.yml files."),
]
NamespaceOption = Annotated[
    str,
    typer.Option("--namespace", "-n", help="Namespace of manifests that name none (as kubectl apply -n)."),
]


@app.command("validate")
def validate_command(filename: FilenameOption, namespace: NamespaceOption = "default") -> None:
    """Check manifests: schemas, rules and references across the files; each error names its file,
    kind/name and field path. Exit 0 when all is valid, else the errors and exit 1."""
    from impala_copy.cli import copy_commands as commands

    raise typer.Exit(commands.validate(filename, namespace))


RUN_HELP = (
    "Run one CopyActivity on this machine, from the same manifests the operator uses.\n\n"
    "Secrets: each Secret key the activity needs is read from an environment variable when it is set "
    "(ICP_SECRET_<SECRET>_<KEY>_<HASH>, the variable the Job pod gets too; the error for a missing "
    "secret names it), otherwise from a Secret manifest under --filename. The environment wins. "
    "CA certificates come from Secret or ConfigMap manifests under --filename.\n\n"
    "Placeholders of the run in the query and the sink paths ({windowStart}, {windowEnd}, {triggerTime}, "
    "{scheduledTime}, {runId}; docs/schedules.md) take their values from --window-start, --window-end, "
    "--trigger-time (default: now) and --scheduled-time.\n\n"
    "Incremental copies (source.incremental): the run copies the rows above --watermark, else above the "
    "watermark in --state-file, else above initialValue; --state-file gets the new watermark after a "
    "successful run (docs/incremental.md).\n\n"
    "Partitioned copies (source.partitionOption): the partitions are planned here, each is copied by a "
    "local process of its own, --parallel at once (default parallelCopies), and the run is published "
    "once every partition has succeeded (docs/partitioned-copies.md).\n\n"
    "Progress is shown on a terminal and the run summary at the end. Exit code 0 on success, 1 when "
    "a retry may help, 2 for a configuration error, each failure with a one-line error on stderr."
)


@app.command("run", help=RUN_HELP)
def run_command(
    filename: FilenameOption,
    activity: Annotated[str, typer.Option("--activity", "-a", help="Name of the CopyActivity to run.")],
    namespace: NamespaceOption = "default",
    volume: Annotated[
        list[str] | None,
        typer.Option("--volume", help="CLAIM=DIR: write a claim's files into the folder DIR (repeatable)."),
    ] = None,
    volume_root: Annotated[
        str, typer.Option("--volume-root", help="Folder holding <claim> folders for claims without --volume.")
    ] = ".",
    output: Annotated[str, typer.Option("--output", "-o", help="Summary format: text or json.")] = "text",
    window_start: WindowStartOption = None,
    window_end: WindowEndOption = None,
    trigger_time: TriggerTimeOption = None,
    scheduled_time: ScheduledTimeOption = None,
    watermark: Annotated[
        str | None,
        typer.Option(
            "--watermark",
            help="Incremental copies: copy the rows above this value (wins over --state-file and "
            "initialValue).",
        ),
    ] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(
            "--state-file",
            help="Incremental copies: a JSON file that keeps the watermark, read before the run and "
            "replaced after a successful one.",
        ),
    ] = None,
    parallel: ParallelOption = None,
) -> None:
    """Run one CopyActivity locally (help: RUN_HELP)."""
    from impala_copy.cli import copy_commands as commands
    from impala_copy.cli.local import RunTimes
    from impala_copy.cli.watermark_state import WatermarkOptions

    if output not in ("text", "json"):
        raise typer.BadParameter("expected text or json", param_hint="--output")
    raise typer.Exit(
        commands.run(
            filename,
            activity,
            namespace=namespace,
            volumes=volume or [],
            volume_root=volume_root,
            output="json" if output == "json" else "text",
            times=RunTimes(window_start, window_end, trigger_time, scheduled_time),
            watermark=WatermarkOptions(watermark, state_file),
            parallel=parallel,
        )
    )


TEST_CONNECTION_HELP = (
    "Test an ImpalaLinkedService from manifests: connect, log in, SELECT 1, close; the same test, reasons "
    "and messages as the operator's Connected condition (AuthenticationFailed, TLSVerificationFailed, "
    "Unreachable, Timeout, ServerError).\n\n"
    "Secrets and CA certificates are found as for `impala-copy run`: the environment variable "
    "ICP_SECRET_<SECRET>_<KEY>_<HASH> first, else a Secret manifest under --filename; CAs from Secret or "
    "ConfigMap manifests.\n\n"
    "Exit code 0 when connected, 1 when it may pass later (Unreachable, Timeout, ServerError), 2 when "
    "something must be changed first (login, certificate, a missing Secret)."
)


@app.command("test-connection", help=TEST_CONNECTION_HELP)
def connection_test_command(
    filename: FilenameOption,
    linked_service: Annotated[
        str, typer.Option("--linked-service", "-l", help="Name of the ImpalaLinkedService to test.")
    ],
    namespace: NamespaceOption = "default",
    output: Annotated[str, typer.Option("--output", "-o", help="Result format: text or json.")] = "text",
) -> None:
    """Test an ImpalaLinkedService's connection (help: TEST_CONNECTION_HELP)."""
    from impala_copy.cli import lookup_commands

    if output not in ("text", "json"):
        raise typer.BadParameter("expected text or json", param_hint="--output")
    raise typer.Exit(
        lookup_commands.connection_test(
            filename, linked_service, namespace=namespace, output="json" if output == "json" else "text"
        )
    )


LOOKUP_HELP = (
    "Run one LookupActivity on this machine from manifests and print ADF's output JSON on stdout: "
    '{"firstRow": {...}} with firstRowOnly, else {"count": N, "value": [...]} (at most 5000 rows; '
    "more are cut and a warning goes to stderr). Values follow the JSON mapping of docs/lookup.md.\n\n"
    "Secrets and CA certificates are found as for `impala-copy run`. Exit code 0 on success, 1 when a "
    "retry may help, 2 for a configuration error (each with a one-line error on stderr)."
)


@app.command("lookup", help=LOOKUP_HELP)
def lookup_command(
    filename: FilenameOption,
    activity: Annotated[str, typer.Option("--activity", "-a", help="Name of the LookupActivity to run.")],
    namespace: NamespaceOption = "default",
    pretty: Annotated[bool, typer.Option("--pretty", help="Indent the JSON.")] = False,
    trigger_time: TriggerTimeOption = None,
    scheduled_time: ScheduledTimeOption = None,
) -> None:
    """Run one LookupActivity locally (help: LOOKUP_HELP)."""
    from impala_copy.cli import lookup_commands
    from impala_copy.cli.local import RunTimes

    times = RunTimes(trigger_time=trigger_time, scheduled_time=scheduled_time)
    raise typer.Exit(
        lookup_commands.lookup(filename, activity, namespace=namespace, pretty=pretty, times=times)
    )


IMPORT_ADF_HELP = (
    "Turn Azure Data Factory JSON into manifests: single resource files (an ADF Git repository's "
    "linkedService/, dataset/, pipeline/, trigger/ folders) or an ARM template export (with its parameters "
    "file). Writes OUTDIR/manifests/ (linked services, datasets, Copy and Lookup activities with their "
    "schedules), OUTDIR/secrets/ (Secret and ConfigMap templates without values), OUTDIR/README.md (the "
    "kubectl commands that create them) and OUTDIR/import-report.md (everything not imported, with its "
    "JSON path and reason; also on stderr). See docs/migrating-from-adf.md.\n\n"
    "Exit code 0 when the input was read, 2 when a file cannot be read (not JSON, missing) or OUTDIR is "
    "not empty."
)


@app.command("import-adf", help=IMPORT_ADF_HELP)
def import_adf_command(
    paths: Annotated[list[Path], typer.Argument(help="ADF JSON files, or folders searched for *.json.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="New or empty folder to write into.")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="metadata.namespace of every object written.")
    ] = None,
) -> None:
    """Import ADF JSON (help: IMPORT_ADF_HELP)."""
    from impala_copy.cli import adf_import

    raise typer.Exit(adf_import.import_adf(paths, output, namespace))


ENGINE_HELP = (
    "The Job pods' entry point: run the task whose plan is in IMPALA_COPY_PLAN (JSON) and write its "
    "summary to the termination message (IMPALA_COPY_TERMINATION_LOG, default /dev/termination-log) and "
    "stdout. Tasks: copy (a CopyPlan), lookup (a LookupPlan; an output too large for the termination "
    "message is printed first as frame lines), connection-test (a ConnectionTestPlan), partition-plan (a "
    "partitioned copy's CopyPlan: its partitions), commit (a partitioned copy's CopyPlan: publish the run). "
    "A partitioned copy's copy task reads the partition in JOB_COMPLETION_INDEX. Secrets come from "
    "the environment variables the plan names. See docs/engine.md and docs/partitioned-copies.md."
)


@app.command("engine", help=ENGINE_HELP)
def engine_command(
    task: Annotated[
        str,
        typer.Option(
            "--task",
            help="copy, lookup, connection-test, partition-plan or commit: what IMPALA_COPY_PLAN holds.",
        ),
    ] = "copy",
) -> None:
    """Run the task in IMPALA_COPY_PLAN (help: ENGINE_HELP)."""
    from impala_copy.api.plan import TASKS
    from impala_copy.engine.main import main as engine_main

    if task not in TASKS:
        raise typer.BadParameter(f"expected one of {', '.join(TASKS)}", param_hint="--task")
    raise typer.Exit(engine_main(task))


OPERATOR_HELP = (
    "Run the operator (kopf): reconcile CopyActivities into Jobs in all namespaces or the ones given. "
    "Settings come from IMPALA_COPY_* environment variables (docs/operator.md); options override them. "
    "Stops cleanly on SIGTERM or SIGINT."
)


@app.command("operator", help=OPERATOR_HELP)
def operator_command(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Namespace to watch (repeatable, globs). Default: all."),
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.")] = None,
    liveness: Annotated[
        str | None,
        typer.Option("--liveness", help="Liveness endpoint URL, e.g. http://0.0.0.0:8080/healthz."),
    ] = None,
) -> None:
    """Run the operator (help: OPERATOR_HELP)."""
    import os

    from impala_copy.controller import main as operator_main
    from impala_copy.controller.core.settings import SettingsError, with_options

    try:
        settings = with_options(os.environ, namespaces=namespace, log_level=log_level, liveness=liveness)
    except SettingsError as exc:
        typer.echo(f"impala-copy operator: {exc}", err=True)
        raise typer.Exit(2) from None
    operator_main.run(settings)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
