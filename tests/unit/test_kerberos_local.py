"""A Kerberos linked service run locally: the keytab and krb5.conf written where the plan points.

In:  manifests of a CopyActivity through a Kerberos ImpalaLinkedService (keytab in a Secret's `data`,
     krb5.conf in a ConfigMap), with and without the Secret manifest, and a keytab file named by the
     environment variable `<secret env>_FILE`.
Out: the files under the run's folder (content, and mode 0400 for the keytab), no keytab in the
     secrets passed as environment values, and the SetupError messages for a missing or unreadable
     keytab.
Faked: nothing; no server involved.
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from impala_copy.api.common import SecretKeySelector
from impala_copy.cli import manifests
from impala_copy.cli.local import (
    LocalLayout,
    SetupError,
    build_plan,
    file_env_name,
    secrets_for,
    write_certificates,
)

API = "impalacopy.io/v1alpha1"
KEYTAB = b"\x05\x02\x00\x00\x00\x3fbinary-keytab"
KEY = SecretKeySelector(name="etl-keytab", key="etl.keytab")


def docs(with_secret: bool = True) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {
            "apiVersion": API,
            "kind": "ImpalaLinkedService",
            "metadata": {"name": "impala"},
            "spec": {
                "host": "impalad-1.example.com",
                "authenticationType": "Kerberos",
                "principal": "etl",
                "realm": "EXAMPLE.COM",
                "keytab": {"secretKeyRef": {"name": KEY.name, "key": KEY.key}},
                "krb5Conf": {"configMapKeyRef": {"name": "krb5", "key": "krb5.conf"}},
            },
        },
        {
            "apiVersion": API,
            "kind": "ImpalaDataset",
            "metadata": {"name": "orders"},
            "spec": {"linkedServiceName": {"referenceName": "impala"}, "schema": "s", "table": "t"},
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
            "metadata": {"name": "krb5"},
            "data": {"krb5.conf": "[libdefaults]\n"},
        },
    ]
    if with_secret:
        found.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": KEY.name},
                "data": {KEY.key: base64.b64encode(KEYTAB).decode()},
            }
        )
    return found


def load(tmp_path: Path, with_secret: bool = True) -> manifests.ManifestSet:
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / "m.yaml").write_text(yaml.safe_dump_all(docs(with_secret)))
    return manifests.load(tmp_path / "m")


def test_the_keytab_is_written_for_this_user_only(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    plan = build_plan(loaded, "default", "copy", LocalLayout(cert_dir=str(tmp_path / "files")))
    assert secrets_for(plan, loaded, {}) == {}  # the keytab is a file, never an environment value
    write_certificates(plan, loaded, {})
    krb = plan.impala.kerberos
    assert krb is not None
    assert krb.principal == "etl@EXAMPLE.COM"
    keytab = Path(krb.keytab.path)
    assert keytab == tmp_path / "files" / "secret-etl-keytab" / "etl.keytab"
    assert keytab.read_bytes() == KEYTAB
    assert stat.S_IMODE(keytab.stat().st_mode) == 0o400
    assert krb.krb5_conf is not None
    assert Path(krb.krb5_conf.path).read_text() == "[libdefaults]\n"
    write_certificates(plan, loaded, {})  # a second run over the same folder replaces the read-only file
    assert keytab.read_bytes() == KEYTAB


def test_a_keytab_file_named_by_the_environment_wins(tmp_path: Path) -> None:
    loaded = load(tmp_path, with_secret=False)
    plan = build_plan(loaded, "default", "copy", LocalLayout(cert_dir=str(tmp_path / "files")))
    with pytest.raises(SetupError) as info:
        write_certificates(plan, loaded, {})
    assert info.value.message == (
        f"Secret 'etl-keytab' key 'etl.keytab' (a Kerberos keytab) not found under the path, or set "
        f"{file_env_name(KEY)} to a file holding it"
    )
    with pytest.raises(SetupError) as info:
        write_certificates(plan, loaded, {file_env_name(KEY): str(tmp_path / "absent.keytab")})
    assert (
        info.value.message
        == f"{file_env_name(KEY)}={tmp_path / 'absent.keytab'}: cannot be read (No such file or directory)"
    )
    local = tmp_path / "etl.keytab"
    local.write_bytes(KEYTAB + b"-local")
    write_certificates(plan, loaded, {file_env_name(KEY): str(local)})
    assert plan.impala.kerberos is not None
    assert Path(plan.impala.kerberos.keytab.path).read_bytes() == KEYTAB + b"-local"
