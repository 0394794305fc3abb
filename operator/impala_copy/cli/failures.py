"""How every manifest command fails: one escaped `error: <code>: <message>` line on stderr, an exit code.

    with one_line_errors(err) as failure:
        loaded = local.load_manifests(path, namespace)
        ...
    if failure.exit_code is not None:
        return failure.exit_code

A missing path, a folder without manifests, a setup problem (SetupError), an engine error before any
output (CopyError) and Ctrl-C each become that line; nothing escapes as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console

from impala_copy.cli import report
from impala_copy.cli.local import SetupError
from impala_copy.cli.manifests import NoManifestsError
from impala_copy.engine.errors import EXIT_CONFIGURATION, CopyError

EXIT_INTERRUPTED = 130


@dataclass
class Failure:
    """Set when the block failed: the exit code to return (the line is printed already)."""

    exit_code: int | None = None


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@contextmanager
def one_line_errors(err: Console, interrupted: str = "interrupted") -> Iterator[Failure]:
    """Print a failure of the block as one line on `err` and record its exit code (see the module)."""
    failure = Failure()

    def fail(code: str, message: str, exit_code: int) -> None:
        report.say(err, report.error_line(code, message))
        failure.exit_code = exit_code

    try:
        yield failure
    except FileNotFoundError as exc:
        fail("FileNotFound", str(exc), EXIT_CONFIGURATION)
    except NoManifestsError as exc:
        fail(exc.code, str(exc), EXIT_CONFIGURATION)
    except SetupError as exc:
        fail(exc.code, exc.message, exc.exit_code)
    except CopyError as exc:
        fail(exc.code, exc.message, exc.exit_code)
    except KeyboardInterrupt:
        fail("Interrupted", interrupted, EXIT_INTERRUPTED)
