"""Resolving references: CopyActivity -> datasets -> linked services -> Secrets, into a CopyPlan.

Pure: everything comes through a `Catalog` (manifests on disk for the CLI, objects from the API server
for the operator). References never cross namespaces. A Secret's value is never read here: only the
presence of its key is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol

from impala_copy.api.activities import CopyActivity, CopyActivitySpec, LookupActivity
from impala_copy.api.common import (
    CertificateSource,
    ConfigMapKeySelector,
    Resource,
    SecretKeySelector,
    SecretValue,
)
from impala_copy.api.datasets import LOCATION_LINKED_SERVICE_KIND, FileDatasetBase, PostgreSqlTableDataset
from impala_copy.api.durations import timespan_seconds
from impala_copy.api.impala import ImpalaDataset, ImpalaLinkedService
from impala_copy.api.incremental import IncrementalPlan, IncrementalSource
from impala_copy.api.partitions import (
    DEFAULT_PARALLEL_COPIES,
    PartitionOption,
    PartitionSettings,
    partitioned,
)
from impala_copy.api.placeholder_needs import copy_placeholder_problem, lookup_placeholder_problem
from impala_copy.api.plan import (
    KEYTAB,
    KRB5_CONF,
    CertRef,
    CopyPlan,
    ImpalaConnection,
    KerberosLogin,
    LookupPlan,
    PartitioningPlan,
    SecretRef,
    SinkPlan,
    SourcePlan,
    StorePlan,
    secret_env_name,
)
from impala_copy.api.references import CONFIG_MAP, PVC, SECRET, Reference, key_fields

# Condition reasons set when resolving fails.
REFERENCE_NOT_FOUND = "ReferenceNotFound"
SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105 - a condition reason
SECRET_KEY_NOT_FOUND = "SecretKeyNotFound"  # noqa: S105 - a condition reason
CONFIG_MAP_NOT_FOUND = "ConfigMapNotFound"
CONFIG_MAP_KEY_NOT_FOUND = "ConfigMapKeyNotFound"
INVALID_SPEC = "InvalidSpec"
INVALID_REFERENCE = "InvalidReference"

# Where the Job pod finds things; the CLI passes its own folders.
POD_CERT_DIR = "/etc/impala-copy/certs"
POD_VOLUME_DIR = "/mnt/impala-copy/volumes"


class ResolutionError(Exception):
    """A reference that cannot be resolved: `reason` is the condition reason, the message names the object."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(message)


class Catalog(Protocol):
    """What the resolver may look at, all in one namespace (a `pvc_exists(name)` method is optional:
    without one, claims are not checked)."""

    def get(self, kind: str, name: str) -> Resource | None:
        """A parsed object of one of our kinds; raises SpecError when it exists but is invalid."""

    def secret_keys(self, name: str) -> AbstractSet[str] | None:
        """The keys of a Secret, None when it does not exist, SECRET_NOT_SEEN when it cannot be read."""

    def config_map_keys(self, name: str) -> set[str] | None:
        """The keys of a ConfigMap, or None when it does not exist."""


@dataclass
class Layout:
    """Where secrets' files and volumes appear to the engine."""

    cert_dir: str = POD_CERT_DIR
    volume_dir: str = POD_VOLUME_DIR

    def cert_path(self, source: CertificateSource) -> str:
        if source.secret_key_ref:
            return f"{self.cert_dir}/secret-{source.secret_key_ref.name}/{source.secret_key_ref.key}"
        assert source.config_map_key_ref is not None
        return f"{self.cert_dir}/configmap-{source.config_map_key_ref.name}/{source.config_map_key_ref.key}"

    def volume_path(self, claim_name: str) -> str:
        return f"{self.volume_dir}/{claim_name}"


def _need(catalog: Catalog, kind: str, name: str, referrer: str) -> Resource:
    obj = catalog.get(kind, name)
    if obj is None:
        raise ResolutionError(REFERENCE_NOT_FOUND, f"{kind} {name!r} referenced by {referrer} was not found")
    return obj


class UnseenKeys(frozenset[str]):
    """The keys of a Secret its reader may not see (the operator holds no right on Secrets): every key
    counts as present here, and the pod that needs it reports a missing one (the kubelet's
    CreateContainerConfigError names the Secret and key)."""

    def __contains__(self, key: object) -> bool:
        return True


SECRET_NOT_SEEN = UnseenKeys()


def check_secret(catalog: Catalog, ref: SecretKeySelector, referrer: str) -> None:
    keys = catalog.secret_keys(ref.name)
    if isinstance(keys, UnseenKeys):
        return
    if keys is None:
        raise ResolutionError(SECRET_NOT_FOUND, f"Secret {ref.name!r} referenced by {referrer} was not found")
    if ref.key not in keys:
        raise ResolutionError(
            SECRET_KEY_NOT_FOUND, f"Secret {ref.name!r} has no key {ref.key!r} (referenced by {referrer})"
        )


def check_config_map(catalog: Catalog, ref: ConfigMapKeySelector, referrer: str) -> None:
    keys = catalog.config_map_keys(ref.name)
    if keys is None:
        raise ResolutionError(
            CONFIG_MAP_NOT_FOUND, f"ConfigMap {ref.name!r} referenced by {referrer} was not found"
        )
    if ref.key not in keys:
        raise ResolutionError(
            CONFIG_MAP_KEY_NOT_FOUND,
            f"ConfigMap {ref.name!r} has no key {ref.key!r} (referenced by {referrer})",
        )


def check_reference(catalog: Catalog, ref: Reference, referrer: str) -> Resource | None:
    """One reference exists (for our kinds: returns the object, to be followed further)."""
    if ref.kind == SECRET:
        check_secret(catalog, SecretKeySelector(name=ref.name, key=ref.key or ""), referrer)
        return None
    if ref.kind == CONFIG_MAP:
        check_config_map(catalog, ConfigMapKeySelector(name=ref.name, key=ref.key or ""), referrer)
        return None
    if ref.kind == PVC:
        exists = getattr(catalog, "pvc_exists", None)
        if callable(exists) and not exists(ref.name):
            message = f"PersistentVolumeClaim {ref.name!r} referenced by {referrer} was not found"
            raise ResolutionError(REFERENCE_NOT_FOUND, message)
        return None
    return _need(catalog, ref.kind, ref.name, referrer)


def walk_references(catalog: Catalog, obj: Resource) -> Iterator[tuple[Resource, Reference]]:
    """Every reference of `obj` and of what it refers to, depth first, each object once."""
    seen: set[tuple[str, str]] = set()
    stack = [obj]
    while stack:
        current = stack.pop()
        if (current.kind, current.name) in seen:
            continue
        seen.add((current.kind, current.name))
        for ref in current.references():
            yield current, ref
            if ref.is_object:
                found = catalog.get(ref.kind, ref.name)
                if found is not None:
                    stack.append(found)


def check_references(catalog: Catalog, obj: Resource) -> None:
    """Everything `obj` refers to exists, all the way down; else the first problem as ResolutionError.

    An invalid object on the way raises SpecError (the caller reports it as InvalidReference).
    """
    for owner, ref in walk_references(catalog, obj):
        check_reference(catalog, ref, f"{owner.kind} {owner.name!r}")


def _secret_ref(value: SecretValue) -> SecretRef:
    return SecretRef(secret_key_ref=value.secret_key_ref, env=secret_env_name(value.secret_key_ref))


def kerberos_login(ls: ImpalaLinkedService, layout: Layout) -> KerberosLogin | None:
    """The Kerberos login of a linked service (None unless authenticationType is Kerberos)."""
    spec = ls.spec
    if spec.keytab is None or spec.client_principal is None:
        return None
    keytab = CertificateSource(secret_key_ref=spec.keytab.secret_key_ref)
    krb5_conf = (
        CertificateSource(config_map_key_ref=spec.krb5_conf.config_map_key_ref) if spec.krb5_conf else None
    )
    service, host = spec.kerberos_service
    return KerberosLogin(
        principal=spec.client_principal,
        keytab=CertRef(source=keytab, path=layout.cert_path(keytab), secret=True, what=KEYTAB),
        krb5_conf=CertRef(source=krb5_conf, path=layout.cert_path(krb5_conf), what=KRB5_CONF)
        if krb5_conf
        else None,
        service_name=service,
        service_host=host,
    )


def impala_connection(ls: ImpalaLinkedService, layout: Layout) -> ImpalaConnection:
    spec = ls.spec
    return ImpalaConnection(
        host=spec.host,
        port=spec.port,
        authentication_type=spec.authentication_type,
        username=spec.effective_username,
        password=_secret_ref(spec.password) if spec.password else None,
        enable_ssl=spec.enable_ssl,
        trusted_cert=CertRef(source=spec.trusted_cert, path=layout.cert_path(spec.trusted_cert))
        if spec.trusted_cert
        else None,
        use_system_trust_store=spec.use_system_trust_store,
        allow_host_name_cn_mismatch=spec.allow_host_name_cn_mismatch,
        allow_self_signed_server_cert=spec.allow_self_signed_server_cert,
        enable_server_certificate_validation=spec.enable_server_certificate_validation,
        thrift_transport_protocol=spec.thrift_transport_protocol,
        http_path=spec.effective_http_path,
        connect_timeout_seconds=spec.connect_timeout_seconds,
        kerberos=kerberos_login(ls, layout),
    )


def resolve_impala_dataset(
    catalog: Catalog, name: str, referrer: str
) -> tuple[ImpalaDataset, ImpalaLinkedService]:
    dataset = _need(catalog, "ImpalaDataset", name, referrer)
    assert isinstance(dataset, ImpalaDataset)
    ls = _need(
        catalog,
        "ImpalaLinkedService",
        dataset.spec.linked_service_name.reference_name,
        f"ImpalaDataset {name!r}",
    )
    assert isinstance(ls, ImpalaLinkedService)
    return dataset, ls


def _source_plan(
    dataset: ImpalaDataset, query: str | None, query_timeout: str, extra: list[tuple[str, str]]
) -> SourcePlan:
    table = dataset.spec.qualified_table()
    schema, name = table if table else (None, None)
    return SourcePlan(
        schema_=schema,
        table=name,
        columns=[c.name for c in dataset.spec.structure] if dataset.spec.structure else None,
        query=query,
        query_timeout_seconds=timespan_seconds(query_timeout),
        additional_columns=extra,
    )


def _store_plan(catalog: Catalog, store: Resource, layout: Layout) -> StorePlan:
    spec = getattr(store, "spec")  # noqa: B009 - every store kind has a spec
    secrets: dict[str, SecretRef] = {}
    certs: dict[str, CertRef] = {}
    for field, value in key_fields(spec):
        if isinstance(value, SecretValue):
            secrets[field] = _secret_ref(value)
        elif isinstance(value, CertificateSource):
            certs[field] = CertRef(source=value, path=layout.cert_path(value))
    return StorePlan(kind=store.kind, spec=spec.to_wire(), secrets=secrets, certs=certs)


def resolve_sink(catalog: Catalog, activity: CopyActivity, layout: Layout) -> SinkPlan:
    out = activity.spec.outputs[0]
    referrer = f"CopyActivity {activity.name!r}"
    dataset = _need(catalog, out.kind, out.reference_name, referrer)
    spec = getattr(dataset, "spec")  # noqa: B009
    store: StorePlan | None = None
    volume_path: str | None = None
    if isinstance(spec, FileDatasetBase):
        ls_kind = LOCATION_LINKED_SERVICE_KIND.get(spec.location.type)
        if ls_kind is None:
            assert spec.location.claim_name is not None
            volume_path = layout.volume_path(spec.location.claim_name)
        else:
            assert spec.linked_service_name is not None
            store_obj = _need(
                catalog,
                ls_kind,
                spec.linked_service_name.reference_name,
                f"{out.kind} {out.reference_name!r}",
            )
            store = _store_plan(catalog, store_obj, layout)
    elif isinstance(dataset, PostgreSqlTableDataset):
        store_obj = _need(
            catalog,
            "PostgreSqlLinkedService",
            dataset.spec.linked_service_name.reference_name,
            f"{out.kind} {out.reference_name!r}",
        )
        store = _store_plan(catalog, store_obj, layout)
    return SinkPlan(
        dataset_kind=out.kind,
        dataset=spec.to_wire(),
        sink=activity.spec.sink,
        store=store,
        volume_path=volume_path,
    )


def _impala_side(
    catalog: Catalog, activity: CopyActivity | LookupActivity, dataset_name: str, query: str | None
) -> tuple[ImpalaDataset, ImpalaLinkedService]:
    """Every reference of an activity checked; its ImpalaDataset and linked service (a table or a query)."""
    check_references(catalog, activity)
    referrer = f"{activity.kind} {activity.name!r}"
    dataset, ls = resolve_impala_dataset(catalog, dataset_name, referrer)
    if query is None and dataset.spec.qualified_table() is None:
        raise ResolutionError(
            INVALID_SPEC,
            f"{referrer} has no source.query and its ImpalaDataset {dataset.name!r} names no table: "
            "set source.query, or schema and table on the dataset",
        )
    return dataset, ls


def _placeholders_have_values(
    activity: CopyActivity | LookupActivity, problem: Callable[[], str | None]
) -> None:
    """The placeholders of the activity (and its sink dataset) can have values (api/placeholder_needs.py)."""
    try:
        message = problem()
    except ValueError as exc:
        message = str(exc)
    if message:
        raise ResolutionError(INVALID_SPEC, f"{activity.kind} {activity.name!r}: {message}")


def resolve_copy(
    catalog: Catalog, activity: CopyActivity, run_id: str, layout: Layout | None = None
) -> CopyPlan:
    """The CopyPlan of an activity, or ResolutionError with a reason and a message naming what is missing."""
    layout = layout or Layout()
    spec = activity.spec
    dataset, ls = _impala_side(catalog, activity, spec.inputs[0].reference_name, spec.source.query)
    sink = resolve_sink(catalog, activity, layout)
    _placeholders_have_values(activity, lambda: copy_placeholder_problem(activity, sink))
    extra = [(c.name, c.value) for c in spec.source.additional_columns or []]
    return CopyPlan(
        namespace=activity.namespace,
        activity=activity.name,
        run_id=run_id,
        impala=impala_connection(ls, layout),
        source=_source_plan(dataset, spec.source.query, spec.source.query_timeout, extra),
        sink=sink,
        timeout_seconds=timespan_seconds(spec.policy.timeout),
        validate_data_consistency=spec.validate_data_consistency,
        enable_skip_incompatible_row=spec.enable_skip_incompatible_row,
        secure_input=spec.policy.secure_input,
        secure_output=spec.policy.secure_output,
        incremental=incremental_plan(spec.source.incremental),
        partitioning=partitioning_plan(spec),
    )


def incremental_plan(incremental: IncrementalSource | None) -> IncrementalPlan | None:
    """The engine's view of source.incremental; its low starts at initialValue (a run sets the stored one)."""
    if incremental is None:
        return None
    return IncrementalPlan(
        column=incremental.column, low=incremental.initial_value, lookback=incremental.lookback
    )


def partitioning_plan(spec: CopyActivitySpec) -> PartitioningPlan | None:
    """How a partitioned copy is split (None: not partitioned); its partitions are planned in a pod."""
    source = spec.source
    if not partitioned(source):
        return None
    count = spec.parallel_copies or DEFAULT_PARALLEL_COPIES
    settings = source.partition_settings or PartitionSettings()
    return PartitioningPlan(
        option=PartitionOption(source.partition_option or PartitionOption.NONE),
        count=count,
        parallelism=count,
        column=settings.partition_column_name,
        lower_bound=settings.partition_lower_bound,
        upper_bound=settings.partition_upper_bound,
    )


def resolve_lookup(
    catalog: Catalog, activity: LookupActivity, run_id: str, layout: Layout | None = None
) -> LookupPlan:
    """The LookupPlan of an activity, or ResolutionError (the same reasons and messages as a copy's)."""
    layout = layout or Layout()
    spec = activity.spec
    dataset, ls = _impala_side(catalog, activity, spec.dataset.reference_name, spec.source.query)
    _placeholders_have_values(activity, lambda: lookup_placeholder_problem(activity))
    return LookupPlan(
        namespace=activity.namespace,
        activity=activity.name,
        run_id=run_id,
        impala=impala_connection(ls, layout),
        source=_source_plan(dataset, spec.source.query, spec.source.query_timeout, []),
        first_row_only=spec.first_row_only,
        timeout_seconds=timespan_seconds(spec.policy.timeout),
        secure_input=spec.policy.secure_input,
    )
