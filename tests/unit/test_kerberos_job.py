"""A Kerberos linked service, from manifests to the plan and the Job.

In:  the standard manifests with the ImpalaLinkedService switched to authenticationType Kerberos (keytab
     in a Secret, krb5.conf in a ConfigMap, CA in a ConfigMap), and variants of its Kerberos fields.
Out: the plan's KerberosLogin (principal with the realm, service principal, file paths), and the Job:
     keytab and krb5.conf mounted read-only at the plan's paths, the keytab readable by the pod's user
     only and never in an env var, the pod admitted under the restricted Pod Security Standard.
Faked: nothing; no server involved.
"""

from __future__ import annotations

import json
from typing import Any

from tests.install.pod_security import restricted_violations
from tests.operator import manifests
from tests.operator.scenarios import Scenario

from impala_copy.api.plan import CopyPlan
from impala_copy.controller.core.job import JobOwner, build_job
from impala_copy.controller.core.runs import NewAttempt
from impala_copy.controller.core.settings import JobDefaults

ATTEMPT = NewAttempt(run_number=1, attempt=1, generation=1, run_now=None, trigger="create")
OWNER = JobOwner(name="copy-orders", namespace="sales", uid="0f1e2d3c-aaaa-bbbb-cccc-000000000001")
KEYTAB_BYTES = "\x05\x02keytab-bytes-never-shown"
KEYTAB_DIR = "/etc/impala-copy/certs/secret-etl-keytab"
KRB5_DIR = "/etc/impala-copy/certs/configmap-krb5"


def kerberos_objects(**fields: Any) -> list[dict[str, Any]]:
    objects = manifests.standard_set("unused")
    ls = next(o for o in objects if o["kind"] == "ImpalaLinkedService")
    for key in ("username", "password"):
        ls["spec"].pop(key)
    ls["spec"] |= {
        "authenticationType": "Kerberos",
        "principal": "etl",
        "realm": "EXAMPLE.COM",
        "keytab": {"secretKeyRef": {"name": "etl-keytab", "key": "etl.keytab"}},
        "krb5Conf": {"configMapKeyRef": {"name": "krb5", "key": "krb5.conf"}},
        **fields,
    }
    objects.append(manifests.secret("etl-keytab", {"etl.keytab": KEYTAB_BYTES}))
    objects.append(manifests.config_map("krb5", {"krb5.conf": "[libdefaults]\n"}))
    return objects


def plan_of(objects: list[dict[str, Any]]) -> CopyPlan:
    from tests.operator.scenarios import view_of

    from impala_copy.controller.core.readiness import copy_activity_readiness
    from impala_copy.controller.core.view import ViewCatalog

    scenario = Scenario(objects)
    checked = copy_activity_readiness(scenario.activity, ViewCatalog(view_of(scenario.objects), "default"))
    assert checked.plan is not None, checked.readiness
    return checked.plan


def test_the_plan_names_principals_and_files() -> None:
    krb = plan_of(kerberos_objects()).impala.kerberos
    assert krb is not None
    assert krb.principal == "etl@EXAMPLE.COM"
    assert krb.service_principal == "impala/impala.example.internal"
    assert (krb.keytab.path, krb.keytab.secret) == (f"{KEYTAB_DIR}/etl.keytab", True)
    assert krb.krb5_conf is not None
    assert (krb.krb5_conf.path, krb.krb5_conf.secret) == (f"{KRB5_DIR}/krb5.conf", False)


def test_service_principal_written_whole_or_in_parts() -> None:
    whole = plan_of(kerberos_objects(kerberosServicePrincipal="hive/lb.example.com@EXAMPLE.COM"))
    assert whole.impala.kerberos is not None
    assert whole.impala.kerberos.service_principal == "hive/lb.example.com"
    parts = plan_of(kerberos_objects(kerberosServiceName="hive", kerberosHost="lb.example.com"))
    assert parts.impala.kerberos is not None
    assert parts.impala.kerberos.service_principal == "hive/lb.example.com"
    qualified = plan_of(kerberos_objects(principal="etl/batch@OTHER.ORG"))
    assert qualified.impala.kerberos is not None
    assert qualified.impala.kerberos.principal == "etl/batch@OTHER.ORG"  # its own realm wins


def _mounted(job: dict[str, Any], folder: str) -> tuple[dict[str, Any], dict[str, Any]]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == folder)
    volume = next(v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    return mount, volume


def test_keytab_and_krb5_conf_are_mounted_read_only_and_never_in_env() -> None:
    job = build_job(plan_of(kerberos_objects()), OWNER, JobDefaults(), ATTEMPT)
    mount, volume = _mounted(job, KEYTAB_DIR)
    assert mount["readOnly"] is True
    assert volume["secret"] == {
        "secretName": "etl-keytab",
        "items": [{"key": "etl.keytab", "path": "etl.keytab", "mode": 0o440}],
        "defaultMode": 0o444,
        "optional": True,
    }
    mount, volume = _mounted(job, KRB5_DIR)
    assert mount["readOnly"] is True
    assert volume["configMap"]["items"] == [{"key": "krb5.conf", "path": "krb5.conf"}]
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if "valueFrom" in e] == []  # no password, and the keytab only as a file
    assert KEYTAB_BYTES not in json.dumps(job)


def test_without_fs_group_the_keytab_is_owner_only() -> None:
    job = build_job(plan_of(kerberos_objects()), OWNER, JobDefaults(fs_group=None), ATTEMPT)
    _, volume = _mounted(job, KEYTAB_DIR)
    assert volume["secret"]["items"][0]["mode"] == 0o400


def test_the_kerberos_pod_passes_restricted_pod_security() -> None:
    job = build_job(plan_of(kerberos_objects()), OWNER, JobDefaults(), ATTEMPT)
    assert restricted_violations(job["spec"]["template"]["spec"]) == []
