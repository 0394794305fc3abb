"""`make demo`: copy sample Impala tables to Parquet, CSV and JSON Lines files with the example manifests.

1. Starts a local HiveServer2 endpoint (the Spark Thrift Server from the `pyspark` package, on a free
   loopback port, with a real password check) and creates the sample database `demo`.
2. Loads `examples/demo/`, pointing the ImpalaLinkedService `demo-impala` at that server (its
   spec.host and spec.port are overridden in memory; the files are not changed).
3. Runs every CopyActivity there through the same code as `impala-copy run`, writing the files
   under `./demo-output/` (the claim `demo-output`), and prints a summary per activity.
4. Stops the server, also on Ctrl-C or a failure.

Usage: python scripts/demo.py [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "operator")]

from devservers.sts import StsServer, StsStartError, seed_sample_tables, start_sts  # noqa: E402

from impala_copy.api.summary import RunSummary  # noqa: E402
from impala_copy.cli import local, manifests, report  # noqa: E402

EXAMPLES = ROOT / "examples" / "demo"
LINKED_SERVICE = "demo-impala"
CLAIM = "demo-output"


def load_examples(server: StsServer) -> manifests.ManifestSet:
    """The demo manifests, with the linked service pointed at `server`."""
    overrides = {
        ("ImpalaLinkedService", LINKED_SERVICE): {"spec.host": server.host, "spec.port": server.port}
    }
    return manifests.load(EXAMPLES, overrides=overrides)


def check_credentials(loaded: manifests.ManifestSet, server: StsServer) -> str | None:
    """A hint when the example's user and Secret do not match what the demo server accepts."""
    entry = loaded.entries.get(("default", "ImpalaLinkedService", LINKED_SERVICE))
    spec = getattr(entry.resource, "spec", None) if entry else None
    if spec is None or spec.password is None:
        return None
    ref = spec.password.secret_key_ref
    password = loaded.secret_value("default", ref.name, ref.key)
    if spec.username not in server.users or password != server.users[spec.username].encode():
        users = ", ".join(server.users)
        return f"the demo server accepts only {users} with the demo password: check {EXAMPLES}/00-impala.yaml"
    return None


def run_demo(server: StsServer, output_dir: Path, console: Console) -> list[tuple[str, RunSummary]]:
    """Run every CopyActivity of the examples against a running, seeded server."""
    loaded = load_examples(server)
    errors = manifests.validate_all(loaded)
    if errors:
        raise SystemExit("the example manifests are invalid:\n" + "\n".join(map(str, errors)))
    hint = check_credentials(loaded, server)
    if hint:
        raise SystemExit(hint)
    results: list[tuple[str, RunSummary]] = []
    for entry in loaded.of_kind("CopyActivity"):
        with report.live_progress(console, entry.name) as progress:
            _, outcome = local.run_activity(
                loaded, entry.name, volumes={CLAIM: str(output_dir)}, environ={}, progress=progress
            )
        summary = outcome.summary
        results.append((entry.name, summary))
        if summary.succeeded:
            counts = (
                f": {summary.rows_copied:,} rows, {summary.files_written} file(s), "
                f"{report.human_bytes(summary.data_written)}, {summary.copy_duration:.2f} s, "
                f"{summary.throughput:,.0f} rows/s"
            )
            console.print(
                Text("✓ ", style="green"), report.plain(entry.name, "bold"), report.plain(counts), sep=""
            )
            for path in summary.output_paths:
                report.say(console, f"    {Path(path).relative_to(output_dir.resolve().parent)}")
        else:
            error = summary.errors[0]
            console.print(
                Text("✗ ", style="red"),
                report.plain(entry.name, "bold"),
                report.plain(": " + report.error_line(error.code, error.message)),
                sep="",
            )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output-dir", type=Path, default=Path.cwd() / CLAIM, help="where the files go")
    args = parser.parse_args(argv)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    output_dir: Path = args.output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    work_parent = ROOT / ".cache" / "demo"
    work_parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="sts-", dir=work_parent))
    try:
        with console.status("Starting the local HiveServer2 (Spark Thrift Server, about 15 s)..."):
            server = start_sts(workdir, auth="CUSTOM")
        with server:
            console.print(
                f"HiveServer2 on {server.host}:{server.port} (password checked); creating sample tables"
            )
            with console.status("Creating the sample database demo..."):
                seed_sample_tables(server)
            results = run_demo(server, output_dir, console)
            console.print(report.overview_table(results, title=f"Copies into {output_dir}"))
    except StsStartError as exc:
        console.print(
            Text("the local HiveServer2 did not start", style="red"), report.plain(f": {exc}"), sep=""
        )
        return 1
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: the server was stopped; no partial output was published")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    failed = [name for name, s in results if not s.succeeded]
    if failed:
        console.print(
            Text(f"{len(failed)} copy(ies) failed", style="red"),
            report.plain(": " + ", ".join(failed)),
            sep="",
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
