"""Running a CopyActivity on this machine from manifests: `impala-copy run` and `make demo`.

The same resolution as in the cluster (`api.resolve.resolve_copy` over a `FileCatalog`), with a
local `Layout`:
- a PersistentVolumeClaim maps to a local folder: `--volume CLAIM=DIR`, else `<volume root>/<claim>`
  (the folder is created);
- files from Secret / ConfigMap keys (CA certificates, a Kerberos keytab, krb5.conf) are written into
  a temporary folder, where the plan's CertRefs point; a secret file (a keytab) with mode 0400. A
  file from a Secret key may also come from a local file named by the environment variable
  `<secret_env_name>_FILE` (it wins), e.g. a keytab file;
- each secret comes from the environment variable `api.plan.secret_env_name` names (it wins), else
  from a Secret manifest under the path.
Problems found before the copy starts are `SetupError`s: a code, a one-line message, exit code 2.
`load_manifests` is how every command that runs something reads the manifests: it refuses a bad
--namespace, and files that do not say for sure which objects exist (an unreadable file, a bad name,
an object defined twice), exactly the errors `impala-copy validate` reports for them.
"""

from __future__ import annotations

import os
import secrets as random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from impala_copy.api.activities import CopyActivity
from impala_copy.api.common import (
    NAME_MESSAGE,
    NAMESPACE_MESSAGE,
    SecretKeySelector,
    is_namespace,
    is_object_name,
)
from impala_copy.api.kinds import SpecError
from impala_copy.api.plan import CertRef, CopyPlan, SecretRef, secret_env_name
from impala_copy.api.resolve import Layout, ResolutionError, resolve_copy
from impala_copy.api.schedule import RunContext, parse_rfc3339
from impala_copy.cli.manifests import FileCatalog, ManifestSet, Overrides, load
from impala_copy.engine.errors import EXIT_CONFIGURATION
from impala_copy.engine.pipeline import ProgressCallback
from impala_copy.engine.run import RunOutcome, execute
from impala_copy.engine.run_values import now_rfc3339

DEFAULT_VOLUME_ROOT = "."


class SetupError(Exception):
    """The copy cannot start: what is wrong, in one line."""

    exit_code = EXIT_CONFIGURATION

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class LocalLayout(Layout):
    """Layout of this machine: claims map to folders, certificates go to a temporary folder."""

    volumes: dict[str, str] = field(default_factory=dict)
    volume_root: str = DEFAULT_VOLUME_ROOT

    def volume_path(self, claim_name: str) -> str:
        return os.path.abspath(self.volumes.get(claim_name) or os.path.join(self.volume_root, claim_name))


class _EveryKey(set[str]):
    """Answers "yes" to every key: a secret may come from the environment; `secrets_for` checks it."""

    def __contains__(self, key: object) -> bool:
        return True


class LocalCatalog(FileCatalog):
    """A FileCatalog where Secret keys may also come from environment variables (checked after resolving)."""

    def secret_keys(self, name: str) -> set[str] | None:
        return _EveryKey()


def check_namespace(namespace: str) -> None:
    """A --namespace value must be a namespace name."""
    if not is_namespace(namespace):
        raise SetupError("InvalidArgument", f"--namespace {namespace!r}: {NAMESPACE_MESSAGE}")


def load_manifests(path: Path | str, namespace: str, *, overrides: Overrides | None = None) -> ManifestSet:
    """The manifests under `path`, or a SetupError when they cannot be run from (see the module)."""
    check_namespace(namespace)
    loaded = load(path, namespace, overrides=overrides)
    blocking = [error for error in loaded.errors if error.stops_run]
    if blocking:
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        raise SetupError("InvalidManifests", f"{blocking[0]}{more}; see impala-copy validate")
    return loaded


def parse_volumes(values: list[str]) -> dict[str, str]:
    """`CLAIM=DIR` options as a mapping."""
    volumes: dict[str, str] = {}
    for value in values:
        claim, sep, folder = value.partition("=")
        if not sep or not claim or not folder:
            raise SetupError("InvalidArgument", f"--volume {value!r}: expected CLAIM=DIR")
        if not is_object_name(claim):
            raise SetupError("InvalidArgument", f"--volume {value!r}: CLAIM {NAME_MESSAGE}")
        volumes[claim] = folder
    return volumes


def _utc_text(value: str | None, option: str) -> str | None:
    """An RFC 3339 option value as UTC text (2026-12-01T00:00:00Z), or SetupError naming the option."""
    if value is None:
        return None
    try:
        parsed = parse_rfc3339(value)
    except ValueError:
        raise SetupError(
            "InvalidArgument",
            f"{option} {value[:40]!r}: expected an RFC 3339 time with a zone, e.g. 2026-12-01T00:00:00Z",
        ) from None
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class RunTimes:
    """--window-start, --window-end, --trigger-time and --scheduled-time of a local run (RFC 3339)."""

    window_start: str | None = None
    window_end: str | None = None
    trigger_time: str | None = None
    scheduled_time: str | None = None

    def context(self) -> RunContext:
        """The run context of the plan; the trigger time is now unless given."""
        start = _utc_text(self.window_start, "--window-start")
        end = _utc_text(self.window_end, "--window-end")
        if (start is None) != (end is None):
            raise SetupError("InvalidArgument", "--window-start and --window-end go together: give both")
        if start is not None and end is not None and parse_rfc3339(end) <= parse_rfc3339(start):
            raise SetupError("InvalidArgument", "--window-end must be after --window-start")
        return RunContext(
            trigger_time=_utc_text(self.trigger_time, "--trigger-time") or now_rfc3339(),
            scheduled_time=_utc_text(self.scheduled_time, "--scheduled-time"),
            window_start=start,
            window_end=end,
        )


def new_run_id() -> str:
    return f"local-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{random.token_hex(3)}"


def find_activity(manifests: ManifestSet, namespace: str, name: str) -> CopyActivity:
    entry = manifests.entries.get((namespace, "CopyActivity", name))
    if entry is None:
        known = sorted(e.name for e in manifests.of_kind("CopyActivity") if e.namespace == namespace)
        hint = f"; CopyActivities there: {', '.join(known)}" if known else ""
        if manifests.errors:
            hint += f"; {len(manifests.errors)} manifest errors (see impala-copy validate)"
        raise SetupError(
            "ReferenceNotFound", f"CopyActivity {name!r} not found in namespace {namespace!r}{hint}"
        )
    if entry.error is not None:
        raise SetupError("InvalidSpec", f"{entry.file}: {entry.error}")
    assert isinstance(entry.resource, CopyActivity)
    return entry.resource


def build_plan(
    manifests: ManifestSet,
    namespace: str,
    activity: str,
    layout: LocalLayout,
    run_id: str | None = None,
    times: RunTimes | None = None,
) -> CopyPlan:
    """The CopyPlan of an activity, resolved exactly as the operator resolves it, with its run context."""
    resource = find_activity(manifests, namespace, activity)
    context = (times or RunTimes()).context()
    try:
        plan = resolve_copy(LocalCatalog(manifests, namespace), resource, run_id or new_run_id(), layout)
        return plan.model_copy(update={"run_context": context})
    except ResolutionError as exc:
        raise SetupError(exc.reason, exc.message) from None
    except SpecError as exc:
        raise SetupError("InvalidSpec", str(exc)) from None


class NeedsSecrets(Protocol):
    """A plan whose secrets and certificates are gathered locally (CopyPlan, LookupPlan)."""

    @property
    def namespace(self) -> str: ...

    def secret_refs(self) -> list[SecretRef]: ...

    def cert_refs(self) -> list[CertRef]: ...


def secrets_for(plan: NeedsSecrets, manifests: ManifestSet, environ: Mapping[str, str]) -> dict[str, str]:
    """Each secret of the plan: the environment variable first, else the Secret manifest."""
    values: dict[str, str] = {}
    for ref in plan.secret_refs():
        selector = ref.secret_key_ref
        if ref.env in environ:
            values[ref.env] = environ[ref.env]
            continue
        raw = manifests.secret_value(plan.namespace, selector.name, selector.key)
        if raw is None:
            raise SetupError(
                "SecretNotFound",
                f"Secret {selector.name!r} key {selector.key!r} not found: add a Secret manifest with that "
                f"key under the path, or set the environment variable {ref.env}",
            )
        try:
            values[ref.env] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SetupError(
                "InvalidSecret", f"Secret {selector.name!r} key {selector.key!r} is not UTF-8 text"
            ) from None
    return values


FILE_ENV_SUFFIX = "_FILE"
SECRET_FILE_MODE = 0o400


def file_env_name(ref: SecretKeySelector) -> str:
    """The environment variable that may name a local file holding a Secret key's content."""
    return secret_env_name(ref) + FILE_ENV_SUFFIX


def _local_file(ref: SecretKeySelector, environ: Mapping[str, str]) -> bytes | None:
    path = environ.get(file_env_name(ref))
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SetupError(
            "InvalidArgument",
            f"{file_env_name(ref)}={path}: cannot be read ({exc.strerror or type(exc).__name__})",
        ) from None


def _file_content(
    plan: NeedsSecrets, cert: CertRef, manifests: ManifestSet, environ: Mapping[str, str]
) -> bytes:
    """What a CertRef's file holds: a local file named by the environment, else the manifest's key."""
    if cert.source.secret_key_ref:
        ref: Any = cert.source.secret_key_ref
        content = _local_file(ref, environ)
        if content is None:
            content = manifests.secret_value(plan.namespace, ref.name, ref.key)
        what = "Secret"
    else:
        ref = cert.source.config_map_key_ref
        content = manifests.config_map_value(plan.namespace, ref.name, ref.key)
        what = "ConfigMap"
    if content is None:
        hint = f", or set {file_env_name(ref)} to a file holding it" if what == "Secret" else ""
        raise SetupError(
            f"{what}NotFound",
            f"{what} {ref.name!r} key {ref.key!r} ({cert.what}) not found under the path{hint}",
        )
    return content


def write_certificates(
    plan: NeedsSecrets, manifests: ManifestSet, environ: Mapping[str, str] | None = None
) -> None:
    """Write every file the plan reads (CA bundles, keytab, krb5.conf) where its CertRef points (inside the
    layout's cert_dir); a secret file readable by this user only."""
    for cert in plan.cert_refs():
        content = _file_content(plan, cert, manifests, os.environ if environ is None else environ)
        path = Path(cert.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if cert.secret:
            path.unlink(missing_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
        else:
            path.write_bytes(content)


def prepare_volume(plan: CopyPlan) -> None:
    if plan.sink.volume_path:
        Path(plan.sink.volume_path).mkdir(parents=True, exist_ok=True)


@contextmanager
def local_layout(volumes: Mapping[str, str], volume_root: str) -> Iterator[LocalLayout]:
    """A LocalLayout whose certificate folder exists for the duration of the run."""
    with tempfile.TemporaryDirectory(prefix="impala-copy-certs-") as cert_dir:
        yield LocalLayout(cert_dir=cert_dir, volumes=dict(volumes), volume_root=volume_root)


def run_activity(
    manifests: ManifestSet,
    activity: str,
    *,
    namespace: str = "default",
    volumes: Mapping[str, str] | None = None,
    volume_root: str = DEFAULT_VOLUME_ROOT,
    environ: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    times: RunTimes | None = None,
    prepare: Callable[[CopyPlan], CopyPlan] | None = None,
    parallel: int | None = None,
) -> tuple[CopyPlan, RunOutcome]:
    """Resolve, gather secrets and certificates, run. SetupError before the copy; a failure is a summary.

    `prepare` adjusts the resolved plan first (the CLI's low watermark, cli/watermark_state.py). A
    partitioned copy runs its partitions as local processes, `parallel` at once (default its
    parallelCopies): cli/parallel_run.py.
    """
    with local_layout(volumes or {}, volume_root) as layout:
        plan = build_plan(manifests, namespace, activity, layout, times=times)
        if prepare is not None:
            plan = prepare(plan)
        if parallel is not None and plan.partitioning is None:
            raise SetupError(
                "InvalidArgument",
                f"--parallel applies to a partitioned copy; CopyActivity {activity!r} has no "
                "source.partitionOption (DynamicRange or PhysicalPartitionsOfTable)",
            )
        environ = os.environ if environ is None else environ
        secret_values = secrets_for(plan, manifests, environ)
        write_certificates(plan, manifests, environ)
        prepare_volume(plan)
        if plan.partitioning is not None:
            from impala_copy.cli.parallel_run import run_partitioned

            processes = parallel or plan.partitioning.parallelism
            return plan, run_partitioned(plan, secret_values, processes, environ)
        return plan, execute(plan, secret_values, progress=progress)
