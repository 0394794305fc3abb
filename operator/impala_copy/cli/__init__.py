"""The `impala-copy` command line. Nothing in api, engine or controller imports this package."""

from impala_copy.cli.app import app, main

__all__ = ["app", "main"]
