"""The admin's pod policy applied by the CopyActivity controller: what spec.job may ask for.

In:  the standard CopyActivity (tests/operator/manifests.py) with a `job` section asking for another
     image, a service account, an AppArmor annotation, scheduling fields; operator settings with the
     default policy and with a policy that allows some of it.
Out: Ready=False with reason PolicyViolation naming every refused field, and no Job; an allowed
     request gets its Job with the fields passed through.
Faked: nothing; the controller's pure planning (tests/operator/scenarios.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tests.operator import manifests
from tests.operator.scenarios import Scenario

from impala_copy.api.pod_policy import PodPolicy
from impala_copy.controller.core.settings import Settings

ENGINE = Settings().job.image


def planned(job: dict[str, Any], policy: PodPolicy | None = None) -> Scenario:
    settings = dataclasses.replace(Settings(summary_grace_seconds=0), pod_policy=policy or PodPolicy())
    s = Scenario(manifests.standard_set("pw"), settings)
    s.activity["spec"]["job"] = job
    s.step()
    return s


def ready(s: Scenario) -> dict[str, Any]:
    return next(c for c in s.activity["status"]["conditions"] if c["type"] == "Ready")


def jobs(s: Scenario) -> list[dict[str, Any]]:
    return [o for o in s.objects if o["kind"] == "Job"]


def test_the_default_policy_refuses_another_image_a_service_account_and_apparmor() -> None:
    s = planned(
        {
            "image": "evil/img:1",
            "serviceAccountName": "cluster-admin-sa",
            "annotations": {"container.apparmor.security.beta.kubernetes.io/engine": "unconfined"},
            "nodeSelector": {"kubernetes.io/hostname": "node-1"},
        }
    )
    cond = ready(s)
    assert (cond["status"], cond["reason"]) == ("False", "PolicyViolation")
    message = cond["message"]
    assert (
        f'spec.job.image "evil/img:1" is not allowed by the operator\'s pod policy (allowed: the engine image {ENGINE})'
        in message
    )
    assert 'spec.job.serviceAccountName "cluster-admin-sa"' in message
    assert 'spec.job.annotations["container.apparmor.security.beta.kubernetes.io/engine"]' in message
    assert "spec.job.nodeSelector" in message
    assert s.activity["status"]["phase"] == "Pending"
    assert jobs(s) == []


def test_what_the_policy_allows_passes_into_the_job() -> None:
    policy = PodPolicy.model_validate(
        {"allowedImages": ["registry.example.com/impala-copy:*"], "serviceAccountNames": ["copy-runner"]}
    )
    s = planned(
        {"image": "registry.example.com/impala-copy:0.2.0", "serviceAccountName": "copy-runner"}, policy
    )
    assert (ready(s)["status"], ready(s)["reason"]) == ("True", "Resolved")
    pod = jobs(s)[0]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example.com/impala-copy:0.2.0"
    assert pod["serviceAccountName"] == "copy-runner"


def test_the_engine_image_and_no_job_section_are_always_fine() -> None:
    for job in ({}, {"image": ENGINE}):
        s = planned(job)
        assert ready(s)["status"] == "True", job
        assert len(jobs(s)) == 1
