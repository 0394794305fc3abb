"""The `impala-copy` command: run, validate, crds, engine (in the Job pod), operator, test-connection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from impala_copy import __version__

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
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """impala-copy: Azure Data Factory's "Copy data from Impala", as a Kubernetes operator."""


@app.command("crds")
def crds_command(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder to write <plural>.yaml into; without it, print to stdout."),
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
