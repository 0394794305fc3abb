"""The bodies of `impala-copy test-connection` and `impala-copy lookup` (cli.py declares their options).

Both read the same manifests as `impala-copy run` and gather secrets the same way (local.py: the
environment variable first, else a Secret manifest; CA certificates from Secret/ConfigMap manifests
into a temporary folder). The connection test prints the same reason and message the operator writes
into the `Connected` condition; the lookup prints ADF's output JSON, the same as `status.output`.
Each returns its exit code: 0, 1 (may pass on retry) or 2 (something must be changed first).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO, TypeVar

from rich.console import Console

from impala_copy.api.activities import LookupActivity
from impala_copy.api.common import Resource
from impala_copy.api.impala import ImpalaLinkedService
from impala_copy.api.kinds import SpecError
from impala_copy.api.plan import CertRef, ImpalaConnection, SecretRef
from impala_copy.api.resolve import ResolutionError, impala_connection, resolve_lookup
from impala_copy.api.summary import visible_failure
from impala_copy.cli import local, manifests, report
from impala_copy.cli.failures import one_line_errors, stderr_console, stdout_console
from impala_copy.engine.errors import CopyError
from impala_copy.engine.lookup import dumps, run_lookup
from impala_copy.engine.probe import ProbeResult, probe_with_watchdog

OutputFormat = Literal["text", "json"]


@dataclass(frozen=True)
class ConnectionTarget:
    """A linked service's connection with the secrets and certificates it needs (for local.secrets_for)."""

    namespace: str
    impala: ImpalaConnection

    def secret_refs(self) -> list[SecretRef]:
        return [self.impala.password] if self.impala.password else []

    def cert_refs(self) -> list[CertRef]:
        return self.impala.cert_refs()


R = TypeVar("R", bound=Resource)


def _load_one(path: Path, namespace: str, cls: type[R], name: str) -> tuple[manifests.ManifestSet, R]:
    """The manifests under `path` and the object of that kind and name among them (SetupError if not)."""
    loaded = local.load_manifests(path, namespace)
    resource = _find(loaded, namespace, cls.KIND_INFO.kind, name)
    assert isinstance(resource, cls)
    return loaded, resource


def _find(loaded: manifests.ManifestSet, namespace: str, kind: str, name: str) -> Resource:
    entry = loaded.entries.get((namespace, kind, name))
    if entry is None:
        known = sorted(e.name for e in loaded.of_kind(kind) if e.namespace == namespace)
        hint = f"; {kind}s there: {', '.join(known)}" if known else ""
        raise local.SetupError(
            "ReferenceNotFound", f"{kind} {name!r} not found in namespace {namespace!r}{hint}"
        )
    if entry.error is not None:
        raise local.SetupError("InvalidSpec", f"{entry.file}: {entry.error}")
    assert entry.resource is not None
    return entry.resource


def probe_lines(name: str, result: ProbeResult) -> list[str]:
    """What `test-connection` prints: the outcome, reason and message of the Connected condition."""
    lines = [
        f"ImpalaLinkedService {name}: Connected={result.connected} reason={result.reason}",
        result.message,
    ]
    if result.connected and result.round_trip_milliseconds is not None:
        lines.append(
            f"round trip (SELECT 1): {result.round_trip_milliseconds:.1f} ms; "
            f"whole test: {result.duration_milliseconds:.0f} ms"
        )
    return lines


def probe_json(name: str, result: ProbeResult) -> str:
    return json.dumps(
        {
            "linkedService": name,
            "connected": result.connected,
            "reason": result.reason,
            "message": result.message,
            "lastProbeTime": result.probed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "roundTripMilliseconds": result.round_trip_milliseconds,
            "probeDurationMilliseconds": round(result.duration_milliseconds, 1),
        },
        ensure_ascii=False,
    )


def connection_test(
    path: Path,
    linked_service: str,
    *,
    namespace: str,
    output: OutputFormat = "text",
    environ: Mapping[str, str] | None = None,
    out: Console | None = None,
    err: Console | None = None,
) -> int:
    """Connect, log in, SELECT 1, close with a linked service from the manifests; print the outcome."""
    out = out or stdout_console()
    err = err or stderr_console()
    with one_line_errors(err) as failure:
        loaded, resource = _load_one(path, namespace, ImpalaLinkedService, linked_service)
        with local.local_layout({}, ".") as layout:
            target = ConnectionTarget(namespace, impala_connection(resource, layout))
            secret_values = local.secrets_for(target, loaded, os.environ if environ is None else environ)
            local.write_certificates(target, loaded, environ)
            result = probe_with_watchdog(target.impala, secret_values)
    if failure.exit_code is not None:
        return failure.exit_code
    if output == "json":
        report.say(out, probe_json(linked_service, result))
    else:
        for line in probe_lines(linked_service, result):
            report.say(out, line)
    return result.exit_code


def lookup(
    path: Path,
    activity: str,
    *,
    namespace: str,
    pretty: bool = False,
    times: local.RunTimes | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: Console | None = None,
) -> int:
    """Run a LookupActivity once from the manifests and print ADF's output JSON on stdout."""
    out = out or sys.stdout
    err = err or stderr_console()
    with one_line_errors(err) as failure:
        loaded, lookup_activity = _load_one(path, namespace, LookupActivity, activity)
        context = (times or local.RunTimes()).context()
        with local.local_layout({}, ".") as layout:
            try:
                plan = resolve_lookup(
                    local.LocalCatalog(loaded, namespace), lookup_activity, local.new_run_id(), layout
                ).model_copy(update={"run_context": context})
            except ResolutionError as exc:
                raise local.SetupError(exc.reason, exc.message) from None
            except SpecError as exc:
                raise local.SetupError("InvalidSpec", str(exc)) from None
            secret_values = local.secrets_for(plan, loaded, os.environ if environ is None else environ)
            local.write_certificates(plan, loaded, environ)
            try:
                result = run_lookup(plan, secret_values)
            except CopyError as exc:
                # policy.secureInput: a server message that may quote the query is not printed.
                exc.message = visible_failure(exc.code, exc.message, secure_input=plan.secure_input)[1]
                raise
    if failure.exit_code is not None:
        return failure.exit_code
    if pretty:
        text = json.dumps(result.output, ensure_ascii=False, indent=2, allow_nan=False)
    else:
        text = dumps(result.output)
    out.write(report.escape(text, newlines=True) + "\n")
    out.flush()
    if result.truncated:
        report.say(
            err,
            f"warning: the query returned more than {result.rows} rows; the output holds the first "
            f"{result.rows}",
        )
    return 0


__all__ = ["ConnectionTarget", "connection_test", "lookup", "probe_json", "probe_lines"]
