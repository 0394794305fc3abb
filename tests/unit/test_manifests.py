"""Loading manifests from disk and preparing a local run from them (impala_copy.cli.manifests, impala_copy.cli.local).

In:  YAML files written to a temporary folder: our kinds, v1 Secrets (data / stringData) and
     ConfigMaps (data / binaryData), foreign kinds, broken documents, duplicates, namespaces.
Out: what `load` keeps and the errors it reports (file, kind/name, field path); the catalog the
     resolver sees; the secrets, certificate files and volume folders a local run gets.
Faked: nothing; no server is involved.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from impala_copy.api.kinds import KINDS, SpecError
from impala_copy.cli import manifests
from impala_copy.cli.local import (
    LocalLayout,
    SetupError,
    build_plan,
    parse_volumes,
    secrets_for,
    write_certificates,
)

API = "impalacopy.io/v1alpha1"


def dump(path: Path, *docs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def secret(name: str, **fields: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def linked_service(name: str = "impala", **spec: object) -> dict[str, object]:
    body = {
        "host": "impala.example.com",
        "authenticationType": "UsernameAndPassword",
        "username": "etl",
        "password": {"secretKeyRef": {"name": "login", "key": "password"}},
        **spec,
    }
    return {"apiVersion": API, "kind": "ImpalaLinkedService", "metadata": {"name": name}, "spec": body}


def copy_chain() -> list[dict[str, object]]:
    return [
        linked_service(enableSsl=True, trustedCert={"configMapKeyRef": {"name": "ca", "key": "ca.pem"}}),
        {
            "apiVersion": API,
            "kind": "ImpalaDataset",
            "metadata": {"name": "orders"},
            "spec": {"linkedServiceName": {"referenceName": "impala"}, "schema": "sales", "table": "orders"},
        },
        {
            "apiVersion": API,
            "kind": "ParquetDataset",
            "metadata": {"name": "out"},
            "spec": {
                "location": {"type": "PersistentVolumeClaimLocation", "claimName": "data", "folderPath": "o"}
            },
        },
        {
            "apiVersion": API,
            "kind": "CopyActivity",
            "metadata": {"name": "copy"},
            "spec": {
                "inputs": [{"referenceName": "orders"}],
                "outputs": [{"referenceName": "out", "kind": "ParquetDataset"}],
                "sink": {"type": "ParquetSink"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ca"},
            "data": {"ca.pem": "-----PEM-----\n"},
        },
    ]


def test_secrets_and_config_maps_are_decoded_and_string_data_wins(tmp_path: Path) -> None:
    dump(
        tmp_path / "a.yaml",
        secret(
            "login",
            data={"password": base64.b64encode(b"from-data").decode(), "user": base64.b64encode(b"etl").decode()},
            stringData={"password": "from-string-data"},
        ),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca", "namespace": "other"},
         "data": {"ca.pem": "PEM"}, "binaryData": {"der": base64.b64encode(b"\x00\x01").decode()}},
    )  # fmt: skip
    loaded = manifests.load(tmp_path)
    assert loaded.errors == []
    assert loaded.secret_value("default", "login", "password") == b"from-string-data"
    assert loaded.secret_value("default", "login", "user") == b"etl"
    assert loaded.config_map_value("other", "ca", "ca.pem") == b"PEM"
    assert loaded.config_map_value("other", "ca", "der") == b"\x00\x01"
    assert loaded.catalog("default").secret_keys("login") == {"password", "user"}
    assert loaded.catalog("default").config_map_keys("ca") is None


def test_load_reports_each_problem_with_file_kind_name_and_path(tmp_path: Path) -> None:
    bad = dump(
        tmp_path / "bad.yml",
        secret("broken", data={"k": "not base64!"}),
        ["a", "list"],
        {"apiVersion": API, "kind": "ImpalaDataset", "metadata": {}},
        linked_service(port=0),
        linked_service(),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ignored"}},
        {"apiVersion": API, "kind": "NoSuchKind", "metadata": {"name": "x"}},
    )
    (tmp_path / "notes.txt").write_text("not yaml, not read")
    loaded = manifests.load(tmp_path)
    assert [str(e) for e in loaded.errors] == [
        f"{bad}: Secret/broken: data.k: is not valid base64",
        f"{bad}: (document): document 2: a manifest must be a mapping (apiVersion, kind, ...)",
        f"{bad}: ImpalaDataset/: metadata.name: is required",
        f"{bad}: ImpalaLinkedService/impala: spec.port: Input should be greater than or equal to 1",
        f"{bad}: ImpalaLinkedService/impala: metadata.name: defined twice (also in {bad})",
        f"{bad}: NoSuchKind/x: kind: unknown kind 'NoSuchKind'; expected one of " + str(sorted(KINDS)),
    ]
    with pytest.raises(SpecError, match=r"spec\.port"):
        loaded.catalog("default").get("ImpalaLinkedService", "impala")
    assert loaded.files == [str(bad)]


def test_namespaces_and_overrides(tmp_path: Path) -> None:
    other = linked_service("remote")
    other["metadata"] = {"name": "remote", "namespace": "team-a"}  # type: ignore[index]
    dump(tmp_path / "m.yaml", linked_service(), other)
    loaded = manifests.load(
        tmp_path,
        "etl",
        overrides={("ImpalaLinkedService", "impala"): {"spec.host": "127.0.0.1", "spec.port": 10001}},
    )
    ls = loaded.catalog("etl").get("ImpalaLinkedService", "impala")
    assert (ls.spec.host, ls.spec.port) == ("127.0.0.1", 10001)  # type: ignore[attr-defined]
    assert loaded.catalog("team-a").get("ImpalaLinkedService", "remote") is not None
    assert loaded.catalog("etl").get("ImpalaLinkedService", "remote") is None


def test_a_local_run_gets_secrets_certificates_and_volume_paths(tmp_path: Path) -> None:
    dump(
        tmp_path / "m" / "chain.yaml",
        *copy_chain(),
        secret("login", stringData={"password": "from-manifest"}),
    )
    loaded = manifests.load(tmp_path / "m")
    layout = LocalLayout(cert_dir=str(tmp_path / "certs"), volumes={"data": str(tmp_path / "vol")})
    plan = build_plan(loaded, "default", "copy", layout, run_id="r")
    assert plan.sink.volume_path == str(tmp_path / "vol")
    (ref,) = plan.secret_refs()
    assert secrets_for(plan, loaded, {}) == {ref.env: "from-manifest"}
    assert secrets_for(plan, loaded, {ref.env: "from-env"}) == {ref.env: "from-env"}
    write_certificates(plan, loaded)
    assert plan.impala.trusted_cert is not None
    assert Path(plan.impala.trusted_cert.path).read_text() == "-----PEM-----\n"
    assert plan.impala.trusted_cert.path.startswith(str(tmp_path / "certs"))

    # Without --volume a claim maps below the volume root.
    default = build_plan(loaded, "default", "copy", LocalLayout(volume_root=str(tmp_path)), run_id="r")
    assert default.sink.volume_path == str(tmp_path / "data")


def test_a_local_run_names_what_is_missing(tmp_path: Path) -> None:
    chain = [d for d in copy_chain() if d["kind"] != "ConfigMap"]
    dump(tmp_path / "m.yaml", *chain)
    loaded = manifests.load(tmp_path)
    with pytest.raises(
        SetupError, match="ConfigMap 'ca' referenced by ImpalaLinkedService 'impala' was not found"
    ):
        build_plan(loaded, "default", "copy", LocalLayout())

    # Secret keys may come from the environment, so they are checked when the values are gathered.
    chain[0]["spec"]["trustedCert"] = {"secretKeyRef": {"name": "ca", "key": "ca.pem"}}  # type: ignore[index]
    dump(tmp_path / "m.yaml", *chain)
    loaded = manifests.load(tmp_path)
    plan = build_plan(loaded, "default", "copy", LocalLayout(cert_dir=str(tmp_path / "certs")))
    with pytest.raises(
        SetupError, match=r"Secret 'login' key 'password' not found: .* ICP_SECRET_LOGIN_PASSWORD_"
    ):
        secrets_for(plan, loaded, {})
    with pytest.raises(SetupError, match=r"Secret 'ca' key 'ca.pem' \(a CA certificate\) not found"):
        write_certificates(plan, loaded)
    with pytest.raises(
        SetupError, match="CopyActivity 'other' not found in namespace 'default'; CopyActivities there: copy"
    ):
        build_plan(loaded, "default", "other", LocalLayout())
    with pytest.raises(SetupError, match="expected CLAIM=DIR"):
        parse_volumes(["data"])
    assert parse_volumes(["data=/tmp/x", "logs=rel"]) == {"data": "/tmp/x", "logs": "rel"}
