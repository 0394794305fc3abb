"""The API models on their own: ADF defaults, wire names, parsing errors, the cross-object rule.

In: manifests as dicts (camelCase, as written by a user), and a small in-memory catalog of objects.
Out: the parsed models (defaults applied in code, ADF names and values), SpecError paths and messages,
and the resolver's verdict on "a CopyActivity needs a table on its dataset or a source query" (a rule
that spans two objects, so no CRD rule can hold it).
Faked: the catalog (a dict instead of the API server or a folder of manifests).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from impala_copy.api.activities import CopyActivity, LookupActivity
from impala_copy.api.common import NAME_MESSAGE, NAMESPACE_MESSAGE, Resource
from impala_copy.api.datasets import DelimitedTextDataset
from impala_copy.api.durations import duration_seconds, timespan_seconds
from impala_copy.api.impala import ImpalaDataset, ImpalaLinkedService
from impala_copy.api.kinds import SpecError, parse_resource
from impala_copy.api.resolve import INVALID_SPEC, ResolutionError, resolve_copy, resolve_lookup

GV = "impalacopy.io/v1alpha1"


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": GV, "kind": kind, "metadata": {"name": name, "namespace": "ns"}, "spec": spec}


LS = obj("ImpalaLinkedService", "impala", {"host": "impala.example.com"})
DS_TABLE = obj("ImpalaDataset", "sales", {"linkedServiceName": {"referenceName": "impala"}, "table": "sales"})
DS_NO_TABLE = obj("ImpalaDataset", "adhoc", {"linkedServiceName": {"referenceName": "impala"}})
OUT = obj(
    "ParquetDataset",
    "out",
    {"location": {"type": "PersistentVolumeClaimLocation", "claimName": "data", "folderPath": "sales"}},
)


def activity(dataset: str, source: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "inputs": [{"referenceName": dataset}],
        "outputs": [{"referenceName": "out", "kind": "ParquetDataset"}],
        "sink": {"type": "ParquetSink"},
    }
    if source is not None:
        spec["source"] = source
    return obj("CopyActivity", "copy", spec)


class Catalog:
    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = {(o["kind"], o["metadata"]["name"]): parse_resource(o) for o in objects}

    def get(self, kind: str, name: str) -> Resource | None:
        return self.objects.get((kind, name))

    def secret_keys(self, name: str) -> set[str] | None:
        return None

    def config_map_keys(self, name: str) -> set[str] | None:
        return None


def test_linked_service_defaults_are_adf_defaults() -> None:
    spec = ImpalaLinkedService.model_validate(LS).spec
    assert spec.port == 21050
    assert spec.authentication_type == "Anonymous"
    assert spec.enable_ssl is False
    assert spec.use_system_trust_store is False
    assert spec.allow_host_name_cn_mismatch is False
    assert spec.allow_self_signed_server_cert is False
    assert spec.enable_server_certificate_validation is True
    assert spec.thrift_transport_protocol == "Binary"
    assert spec.effective_http_path == "cliservice"
    assert spec.effective_username is None


def test_sasl_username_defaults_to_anonymous_and_flows_into_the_plan() -> None:
    ls = obj("ImpalaLinkedService", "impala", {"host": "h", "authenticationType": "SASLUsername"})
    catalog = Catalog(ls, DS_TABLE, OUT)
    plan = resolve_copy(catalog, CopyActivity.model_validate(activity("sales")), run_id="r1")
    assert plan.impala.authentication_type == "SASLUsername"
    assert plan.impala.username == "anonymous"


def test_activity_defaults_are_adf_defaults() -> None:
    spec = CopyActivity.model_validate(activity("sales")).spec
    assert spec.source.type == "ImpalaSource"
    assert spec.source.query is None
    assert timespan_seconds(spec.source.query_timeout) == 2 * 3600
    assert spec.policy.timeout == "0.12:00:00"
    assert timespan_seconds(spec.policy.timeout) == 12 * 3600
    assert (spec.policy.retry, spec.policy.retry_interval_in_seconds) == (0, 30)
    assert (spec.policy.secure_input, spec.policy.secure_output) == (False, False)
    assert spec.validate_data_consistency is False


def test_csv_dataset_defaults_are_adf_defaults() -> None:
    spec = DelimitedTextDataset.model_validate(
        obj(
            "DelimitedTextDataset",
            "csv",
            {"location": {"type": "PersistentVolumeClaimLocation", "claimName": "d"}},
        )
    ).spec
    assert (spec.column_delimiter, spec.quote_char, spec.escape_char) == (",", '"', "\\")
    assert (spec.first_row_as_header, spec.null_value, spec.encoding_name) == (False, "", "UTF-8")
    assert spec.compression_codec == "none"
    assert spec.row_delimiter == "\r\n"  # ADF's Copy activity writes CRLF


def test_wire_shape_round_trips_with_adf_names() -> None:
    written = obj(
        "ImpalaLinkedService",
        "tls",
        {
            "host": "impala.example.com",
            "port": 21050,
            "authenticationType": "UsernameAndPassword",
            "username": "alice",
            "password": {"secretKeyRef": {"name": "impala", "key": "password"}},
            "enableSsl": True,
            "trustedCert": {"configMapKeyRef": {"name": "ca", "key": "ca.pem"}},
            "allowHostNameCNMismatch": True,
            "allowSelfSignedServerCert": False,
            "thriftTransportProtocol": "HTTP",
            "httpPath": "cliservice",
        },
    )
    wire = parse_resource(written).to_wire()
    assert {k: wire["spec"][k] for k in written["spec"]} == written["spec"]
    # Defaults are filled in by the model, under their ADF names.
    assert (wire["spec"]["useSystemTrustStore"], wire["spec"]["enableServerCertificateValidation"]) == (
        False,
        True,
    )


@pytest.mark.parametrize(
    ("table_name", "expected"),
    [("demo.sales", ("demo", "sales")), ("sales", (None, "sales"))],
)
def test_legacy_table_name_splits_into_schema_and_table(
    table_name: str, expected: tuple[str | None, str]
) -> None:
    ds = ImpalaDataset.model_validate(
        obj("ImpalaDataset", "d", {"linkedServiceName": {"referenceName": "i"}, "tableName": table_name})
    )
    assert ds.spec.qualified_table() == expected


def test_schema_and_table_win_and_no_table_is_none() -> None:
    assert ImpalaDataset.model_validate(
        obj(
            "ImpalaDataset",
            "d",
            {"linkedServiceName": {"referenceName": "i"}, "schema": "demo", "table": "t"},
        )
    ).spec.qualified_table() == ("demo", "t")
    assert ImpalaDataset.model_validate(DS_NO_TABLE).spec.qualified_table() is None


def test_spec_error_names_kind_object_and_every_bad_field() -> None:
    bad = obj("ImpalaLinkedService", "broken", {"host": "", "port": 0, "colour": "blue"})
    with pytest.raises(SpecError) as caught:
        parse_resource(bad)
    assert caught.value.kind == "ImpalaLinkedService"
    assert caught.value.name == "broken"
    assert sorted(caught.value.errors) == [
        ("spec.colour", "Extra inputs are not permitted"),
        ("spec.host", "String should have at least 1 character"),
        ("spec.port", "Input should be greater than or equal to 1"),
    ]
    assert str(caught.value).startswith("ImpalaLinkedService/broken: ")


def test_wrong_api_version_and_unknown_kind_are_named() -> None:
    with pytest.raises(SpecError, match=r"apiVersion: expected impalacopy.io/v1alpha1, got 'v1'"):
        parse_resource({**LS, "apiVersion": "v1"})
    with pytest.raises(SpecError, match=r"unknown kind 'ImpalaTable'"):
        parse_resource({**LS, "kind": "ImpalaTable"})


def test_status_is_not_judged_when_parsing_a_manifest() -> None:
    parsed = parse_resource({**LS, "status": {"conditions": "garbage"}})
    assert parsed.kind == "ImpalaLinkedService"


@pytest.mark.parametrize(
    ("text", "seconds"), [("00:00:30", 30), ("02:00:00", 7200), ("0.12:00:00", 43200), ("7.00:00:00", 604800)]
)
def test_timespan_seconds(text: str, seconds: int) -> None:
    assert timespan_seconds(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h30m", 5400)])
def test_duration_seconds(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["2h", "", "1:2:3"])
def test_bad_timespan_is_refused_with_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="not a timespan"):
        timespan_seconds(text)


def test_copy_needs_a_table_on_its_dataset_or_a_source_query() -> None:
    catalog = Catalog(LS, DS_NO_TABLE, OUT)
    with pytest.raises(ResolutionError) as caught:
        resolve_copy(catalog, CopyActivity.model_validate(activity("adhoc")), run_id="r1")
    assert caught.value.reason == INVALID_SPEC
    assert caught.value.message == (
        "CopyActivity 'copy' has no source.query and its ImpalaDataset 'adhoc' names no table: "
        "set source.query, or schema and table on the dataset"
    )


def test_a_source_query_is_enough_without_a_table() -> None:
    catalog = Catalog(LS, DS_NO_TABLE, OUT)
    plan = resolve_copy(
        catalog, CopyActivity.model_validate(activity("adhoc", {"query": "SELECT 1"})), run_id="r1"
    )
    assert plan.source.query == "SELECT 1"
    assert plan.source.table is None


def test_a_table_is_enough_without_a_query() -> None:
    catalog = Catalog(LS, DS_TABLE, OUT)
    plan = resolve_copy(catalog, CopyActivity.model_validate(activity("sales")), run_id="r1")
    assert (plan.source.schema_, plan.source.table, plan.source.query) == (None, "sales", None)
    assert plan.sink.volume_path == "/mnt/impala-copy/volumes/data"


def test_lookup_needs_a_table_or_a_query_too() -> None:
    lookup = LookupActivity.model_validate(
        obj("LookupActivity", "look", {"dataset": {"referenceName": "adhoc"}})
    )
    with pytest.raises(ResolutionError) as caught:
        resolve_lookup(Catalog(LS, DS_NO_TABLE), lookup, run_id="r1")
    assert caught.value.reason == INVALID_SPEC
    assert "LookupActivity 'look' has no source.query and its ImpalaDataset 'adhoc' names no table" in str(
        caught.value
    )


@pytest.mark.parametrize(
    "name", ["Sales", "sales_2024", "a..b", "-sales", "sales.", "x/../y", "a\x00b", "x" * 254, "a\x1b[31m"]
)
def test_metadata_name_of_every_kind_is_a_dns_1123_subdomain(name: str) -> None:
    for manifest in (LS, DS_TABLE, OUT, activity("sales")):
        bad = {**manifest, "metadata": {"name": name, "namespace": "ns"}}
        with pytest.raises(SpecError) as caught:
            parse_resource(bad)
        assert caught.value.errors == [("metadata.name", NAME_MESSAGE)]


def test_names_that_kubernetes_accepts_pass() -> None:
    for name in ("a", "sales-2024.eu", "0", "x" * 253):
        assert parse_resource({**LS, "metadata": {"name": name}}).name == name


def test_metadata_namespace_is_a_dns_1123_label() -> None:
    with pytest.raises(SpecError) as caught:
        parse_resource({**LS, "metadata": {"name": "impala", "namespace": "team.a"}})
    assert caught.value.errors == [("metadata.namespace", NAMESPACE_MESSAGE)]


def test_types_are_judged_on_json_as_the_api_server_judges_them() -> None:
    # A YAML timestamp is text on the wire (kubectl sends it as a string); a YAML set has no JSON form.
    ds = parse_resource(
        obj("ImpalaDataset", "sales", {"linkedServiceName": {"referenceName": "impala"}, "table": "t"})
        | {"metadata": {"name": "sales", "labels": {"day": datetime.date(2024, 1, 2)}}}
    )
    assert ds.metadata.labels == {"day": "2024-01-02"}
    with pytest.raises(SpecError) as caught:
        parse_resource({**LS, "metadata": {"name": "impala", "labels": {"x": {1, 2}}}})
    assert caught.value.errors == [("", "not JSON data: a set value has no JSON form")]
    # Enums written as text and integers stay valid in strict mode.
    ls = parse_resource(
        obj("ImpalaLinkedService", "i", {"host": "h", "port": 21051, "authenticationType": "Anonymous"})
    )
    assert (ls.spec.port, ls.spec.authentication_type) == (21051, "Anonymous")  # type: ignore[attr-defined]
