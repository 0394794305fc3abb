"""The `impala-copy` command: run, validate, crds, engine (in the Job pod), operator, test-connection."""

from __future__ import annotations

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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
