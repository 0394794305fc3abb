"""The admin pod policy (api/pod_policy.py) and the quantity parser it compares resources with.

In:  `spec.job` sections as users write them (parsed by the CopyActivity model, JobSettings), pod
     policies as JSON text (the IMPALA_COPY_POD_POLICY the chart renders), quantities as strings and
     JSON numbers.
Out: the exact violation messages (field path as written, value, why, what is allowed); [] for what
     the policy allows; the exact ValueError text of a bad policy; exact quantity values.
Faked: nothing (pure functions).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from impala_copy.api.activities import JobSettings
from impala_copy.api.pod_policy import DENIED_KEYS, PodPolicy, load_pod_policy, policy_violations
from impala_copy.api.quantity import QuantityError, parse_quantity

ENGINE = "registry.example.com/impala-copy:0.1.0"
SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
DIGEST = "a" * 64


def _job(**fields: Any) -> JobSettings:
    return JobSettings.model_validate(fields)


def _messages(job: JobSettings | None, policy: PodPolicy | None = None) -> list[str]:
    return [v.message for v in policy_violations(job, policy or PodPolicy(), ENGINE)]


def _policy(**fields: Any) -> PodPolicy:
    return PodPolicy.model_validate(fields)


# ------------------------------------------------------------------ quantities
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Fraction(1)),
        ("250m", Fraction(1, 4)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("512Mi", Fraction(512 * 2**20)),
        ("2Ki", Fraction(2048)),
        ("1k", Fraction(1000)),
        ("1E", Fraction(10**18)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        (".5", Fraction(1, 2)),
        ("100n", Fraction(1, 10**7)),
        ("+4", Fraction(4)),
        (2, Fraction(2)),
        (0.5, Fraction(1, 2)),
    ],
)
def test_quantities_parse_to_exact_values(text: str | int | float, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["lots", "1 Gi", "1ki", "1Kb", "", "Gi", "NaN", "inf", "\u0661", "1e", True, None]
)
def test_what_is_not_a_quantity_is_refused(text: Any) -> None:
    with pytest.raises(QuantityError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def test_quantities_compare_across_suffixes() -> None:
    assert parse_quantity("1Gi") > parse_quantity("1G") > parse_quantity("953Mi")
    assert parse_quantity("1500m") == parse_quantity("1.5") == parse_quantity(1.5)


# ------------------------------------------------------------------ the defaults allow nothing extra
def test_no_job_section_and_an_empty_one_pass() -> None:
    assert _messages(None) == []
    assert _messages(_job()) == []


def test_defaults_allow_the_engine_image_and_what_is_not_a_right() -> None:
    job = _job(
        image=ENGINE,
        imagePullPolicy="Always",
        resources={"limits": {"memory": "64Gi"}},
        ttlSecondsAfterFinished=10**9,
    )
    assert _messages(job) == []


def test_defaults_refuse_everything_that_lends_a_right() -> None:
    job = _job(
        image="evil/img:1",
        imagePullSecrets=[{"name": "someone-elses-cred"}],
        serviceAccountName="admin",
        nodeSelector={"pool": "gpu"},
        tolerations=[],
        affinity={},
        labels={"team": "a"},
        annotations={"example.com/x": "y"},
    )
    assert _messages(job) == [
        'spec.job.image "evil/img:1" is not allowed by the operator\'s pod policy '
        f"(allowed: the engine image {ENGINE})",
        "spec.job.imagePullSecrets is not allowed by the operator's pod policy "
        "(allowImagePullSecrets is false)",
        'spec.job.serviceAccountName "admin" is not allowed by the operator\'s pod policy '
        "(allowed: none; the pods run as the operator's default)",
        "spec.job.nodeSelector is not allowed by the operator's pod policy (allowScheduling is false)",
        "spec.job.tolerations is not allowed by the operator's pod policy (allowScheduling is false)",
        "spec.job.affinity is not allowed by the operator's pod policy (allowScheduling is false)",
        'spec.job.labels["team"] is not allowed by the operator\'s pod policy (allowed: no labels)',
        'spec.job.annotations["example.com/x"] is not allowed by the operator\'s pod policy '
        "(allowed: no annotations)",
    ]
    assert [v.path for v in policy_violations(job, PodPolicy(), ENGINE)][:3] == [
        "spec.job.image",
        "spec.job.imagePullSecrets",
        "spec.job.serviceAccountName",
    ]


# ------------------------------------------------------------------ images
@pytest.mark.parametrize(
    ("rule", "image", "allowed"),
    [
        ("registry.example.com/team/copy:2", "registry.example.com/team/copy:2", True),
        ("registry.example.com/team/copy:2", "registry.example.com/team/copy:3", False),
        ("registry.example.com/team/copy:2", "registry.example.com/team/copy", False),
        ("registry.example.com/team/*", "registry.example.com/team/copy:2", True),
        ("registry.example.com/team/*", "registry.example.com/team/sub/copy@sha256:" + DIGEST, True),
        ("registry.example.com/team/*", "registry.example.com/teams/copy:2", False),
        ("registry.example.com/team/*", "registry.example.com.evil.io/team/copy:2", False),
        ("registry.example.com/copy:*", "registry.example.com/copy:9.9", True),
        ("registry.example.com/copy:*", "registry.example.com/copy-evil:9.9", False),
        ("registry.example.com/copy@sha256:", "registry.example.com/copy@sha256:" + DIGEST, True),
        ("registry.example.com/copy@sha256:", "registry.example.com/copy:1", False),
        ("registry.example.com/copy@sha256:", f"registry.example.com/copy:1@sha256:{DIGEST}", False),
        ("*", "anything.example.org/at/all:1", True),
    ],
)
def test_image_rules(rule: str, image: str, allowed: bool) -> None:
    found = _messages(_job(image=image), _policy(allowedImages=[rule]))
    if allowed:
        assert found == []
    else:
        assert found == [
            f'spec.job.image "{image}" is not allowed by the operator\'s pod policy '
            f"(allowed: the engine image {ENGINE}, {rule})"
        ]


def test_the_engine_image_passes_whatever_the_rules() -> None:
    assert _messages(_job(image=ENGINE), _policy(allowedImages=["other.example.com/x:1"])) == []


@pytest.mark.parametrize(
    "image", ["registry.example.com/team/../../evil:1", "UPPER/case:1", "a b", "x:1\nevil"]
)
def test_an_image_that_is_no_reference_is_refused_even_under_a_wildcard(image: str) -> None:
    (message,) = _messages(_job(image=image), _policy(allowedImages=["*"]))
    assert message.startswith("spec.job.image ")
    assert message.endswith(" is not a valid image reference")
    assert "\n" not in message


def test_a_long_image_is_shown_cut_short() -> None:
    image = "registry.example.com/" + "a" * 500 + ":1"
    (message,) = _messages(_job(image=image))
    assert len(message) < 300
    assert '..." is not allowed' in message


# ------------------------------------------------------------------ service accounts, switches
def test_listed_service_accounts_pass_and_others_are_named() -> None:
    policy = _policy(serviceAccountNames=["copy-s3", "copy-azure"])
    assert _messages(_job(serviceAccountName="copy-s3"), policy) == []
    assert _messages(_job(serviceAccountName="default"), policy) == [
        'spec.job.serviceAccountName "default" is not allowed by the operator\'s pod policy '
        "(allowed: copy-s3, copy-azure)"
    ]


def test_switches_let_scheduling_and_pull_secrets_through() -> None:
    job = _job(
        imagePullSecrets=[{"name": "cred"}],
        nodeSelector={"pool": "batch"},
        tolerations=[{"key": "batch", "operator": "Exists"}],
        affinity={"nodeAffinity": {}},
    )
    assert _messages(job, _policy(allowScheduling=True, allowImagePullSecrets=True)) == []
    assert _messages(job, _policy(allowScheduling=True)) == [
        "spec.job.imagePullSecrets is not allowed by the operator's pod policy "
        "(allowImagePullSecrets is false)"
    ]


def test_an_empty_pull_secret_list_takes_the_defaults_and_passes() -> None:
    assert _messages(_job(imagePullSecrets=[])) == []


# ------------------------------------------------------------------ labels and annotations
def test_allowed_prefixes_let_keys_through() -> None:
    policy = _policy(
        allowedLabelPrefixes=["team", "example.com/"], allowedAnnotationPrefixes=["example.com/"]
    )
    job = _job(
        labels={"team": "a", "example.com/cost-center": "42", "other": "x"},
        annotations={"example.com/owner": "me", "sidecar.istio.io/inject": "true"},
    )
    assert _messages(job, policy) == [
        'spec.job.labels["other"] is not allowed by the operator\'s pod policy '
        "(allowed: label keys starting with team, example.com/)",
        'spec.job.annotations["sidecar.istio.io/inject"] is not allowed by the operator\'s pod policy '
        "(allowed: annotation keys starting with example.com/)",
    ]


@pytest.mark.parametrize(
    "key",
    [
        "container.apparmor.security.beta.kubernetes.io/engine",
        "example.apparmor.io/profile",
        "seccomp.security.alpha.kubernetes.io/pod",
        "kubernetes.io/psp",
        "pod-security.kubernetes.io/enforce",
        "impalacopy.io/activity",
        "impalacopy.io/run",
        "x.impalacopy.io/anything",
        "batch.kubernetes.io/job-name",
        "batch.kubernetes.io/controller-uid",
        "controller-uid",
        "job-name",
        "Job-Name",
    ],
)
def test_security_keys_never_pass_whatever_the_prefixes(key: str) -> None:
    policy = _policy(allowedLabelPrefixes=[key[:1].lower()], allowedAnnotationPrefixes=[key[:1].lower()])
    escaped = key.replace('"', '\\"')
    for field in ("labels", "annotations"):
        noun = field[:-1]
        assert _messages(_job(**{field: {key: "unconfined"}}), policy) == [
            f'spec.job.{field}["{escaped}"] is never allowed: the {noun} changes the pod\'s security or '
            "the operator's bookkeeping"
        ]


def test_docs_list_every_key_that_never_passes() -> None:
    text = " ".join(SECURITY_DOC.read_text().split())
    for pattern in DENIED_KEYS:
        assert f"`{pattern}`" in text, f"docs/security.md does not list {pattern}"


def test_docs_show_the_messages_the_policy_gives() -> None:
    text = SECURITY_DOC.read_text()
    engine = "registry.example.com/platform/impala-copy:0.1.0"
    policy = _policy(allowedImages=["registry.example.com/platform/impala-copy:*"])
    job = _job(
        image="evil/img:1",
        annotations={"container.apparmor.security.beta.kubernetes.io/engine": "unconfined"},
    )
    for violation in policy_violations(job, policy, engine):
        assert f"\n{violation.message}\n" in text
    assert "IMPALA_COPY_POD_POLICY is not a valid pod policy: allowScheduling: Input should be a valid" in (
        " ".join(text.split())
    )
    with pytest.raises(ValueError, match="allowScheduling: Input should be a valid boolean"):
        load_pod_policy('{"allowScheduling": "yes"}')


def test_a_crafted_key_is_escaped_in_the_message() -> None:
    (message,) = _messages(_job(labels={'a"]\n': "x"}))
    assert message.startswith('spec.job.labels["a\\"]\\n"] is not allowed')


# ------------------------------------------------------------------ resources and ttl
CAPS = {"maxResources": {"limits": {"memory": "16Gi", "cpu": 4}, "requests": {"cpu": "2"}}}


def test_resources_within_the_caps_pass() -> None:
    job = _job(resources={"requests": {"cpu": "1500m"}, "limits": {"memory": "16Gi", "cpu": "4000m"}})
    assert _messages(job, _policy(**CAPS)) == []


def test_resources_above_the_caps_are_refused_with_the_cap() -> None:
    job = _job(resources={"requests": {"cpu": 3}, "limits": {"memory": "17179869185", "cpu": "4.001"}})
    assert _messages(job, _policy(**CAPS)) == [
        'spec.job.resources.limits.memory "17179869185" is above the operator\'s pod policy cap of 16Gi',
        'spec.job.resources.limits.cpu "4.001" is above the operator\'s pod policy cap of 4',
        'spec.job.resources.requests.cpu "3" is above the operator\'s pod policy cap of 2',
    ]


def test_a_capped_limit_must_be_written_and_a_missing_request_is_the_limit() -> None:
    job = _job(resources={"limits": {"cpu": "3"}})
    assert _messages(job, _policy(**CAPS)) == [
        "spec.job.resources.limits.memory must be set: the operator's pod policy caps it at 16Gi",
        'spec.job.resources.limits.cpu "3" (the request, taken from the limit) is above the operator\'s '
        "pod policy cap of 2",
    ]


def test_bad_resource_shapes_and_quantities_are_refused_by_the_model() -> None:
    """spec.job.resources is typed (ResourceRequirements): the policy only ever compares quantities."""
    with pytest.raises(ValidationError) as caught:
        _job(resources={"requests": ["cpu"], "limits": {"memory": "lots", "bad name!": "1"}, "claims": []})
    errors = {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}
    assert errors == {
        "resources.requests": "Input should be a valid dictionary",
        "resources.limits.memory": "Value error, 'lots' is not a Kubernetes quantity "
        "(e.g. 500m, 2, 512Mi, 4Gi)",
        "resources.limits.bad name!.[key]": "Value error, 'bad name!' is not a resource name (cpu, memory, "
        "ephemeral-storage, ...)",
        "resources.claims": "Extra inputs are not permitted",
    }


@pytest.mark.parametrize("value", [True, 0.5, 2.0, None, ["1"]])
def test_a_quantity_is_text_or_a_whole_number_as_the_api_server_takes_it(value: Any) -> None:
    with pytest.raises(ValidationError, match=r"resources\.limits\.cpu"):
        _job(resources={"limits": {"cpu": value}})
    resources = _job(resources={"limits": {"cpu": 2, "memory": "1.5Gi"}}).resources
    assert resources is not None
    assert resources.to_wire() == {"limits": {"cpu": 2, "memory": "1.5Gi"}}


def test_a_prefixed_resource_name_is_compared_with_its_cap() -> None:
    policy = _policy(maxResources={"limits": {"memory": "1Gi", "nvidia.com/gpu": 0}})
    job = _job(resources={"limits": {"memory": "1Gi", "nvidia.com/gpu": 1}})
    assert _messages(job, policy) == [
        'spec.job.resources.limits["nvidia.com/gpu"] "1" is above the operator\'s pod policy cap of 0',
    ]


def test_ttl_above_the_cap_is_refused() -> None:
    policy = _policy(maxTtlSecondsAfterFinished=86400)
    assert _messages(_job(ttlSecondsAfterFinished=86400), policy) == []
    assert _messages(_job(ttlSecondsAfterFinished=86401), policy) == [
        "spec.job.ttlSecondsAfterFinished 86401 is above the operator's pod policy cap of 86400"
    ]


# ------------------------------------------------------------------ loading the policy
@pytest.mark.parametrize("text", [None, "", "  \n"])
def test_no_policy_text_is_the_defaults(text: str | None) -> None:
    assert load_pod_policy(text) == PodPolicy()


def test_a_full_policy_loads() -> None:
    policy = load_pod_policy(
        '{"allowedImages": ["registry.example.com/team/*", "registry.example.com/copy@sha256:"],'
        ' "serviceAccountNames": ["copy-s3"], "allowedLabelPrefixes": ["team"],'
        ' "allowedAnnotationPrefixes": ["example.com/"], "allowScheduling": true,'
        ' "allowImagePullSecrets": true, "maxResources": {"requests": {"cpu": 2}, "limits": {"memory": "8Gi"}},'
        ' "maxTtlSecondsAfterFinished": 604800}'
    )
    assert policy.allowed_images == ["registry.example.com/team/*", "registry.example.com/copy@sha256:"]
    assert policy.service_account_names == ["copy-s3"]
    assert policy.allow_scheduling
    assert policy.allow_image_pull_secrets
    assert policy.max_resources is not None
    assert policy.max_resources.limits == {"memory": "8Gi"}
    assert policy.max_ttl_seconds_after_finished == 604800


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{bad",
            "IMPALA_COPY_POD_POLICY is not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ("[]", "IMPALA_COPY_POD_POLICY must be a JSON object (the Helm value podPolicy)"),
        ('{"allowScheduling": true, "allowScheduling": false}', "duplicate keys ['allowScheduling']"),
        ('{"allowSchedulling": true}', "allowSchedulling: Extra inputs are not permitted"),
        ('{"allowScheduling": "true"}', "allowScheduling: Input should be a valid boolean"),
        (
            '{"maxTtlSecondsAfterFinished": "60"}',
            "maxTtlSecondsAfterFinished: Input should be a valid integer",
        ),
        ('{"maxTtlSecondsAfterFinished": -1}', "maxTtlSecondsAfterFinished: Input should be greater than or"),
        ('{"allowedImages": ["registry.example.com/impala*"]}', "allowedImages[0]: 'registry.example.com/"),
        ('{"allowedImages": ["a*b/*"]}', "a prefix rule ends with /* or :*"),
        ('{"allowedImages": ["x:1@sha256:"]}', "before @sha256: must come an image repository without a tag"),
        ('{"allowedImages": ["not an image"]}', "is not an image reference, a prefix ending in /* or :*"),
        ('{"serviceAccountNames": ["Admin"]}', "serviceAccountNames[0]: String should match pattern"),
        (
            '{"allowedLabelPrefixes": [""]}',
            "allowedLabelPrefixes[0]: String should have at least 1 character",
        ),
        ('{"allowedAnnotationPrefixes": ["*"]}', "is not the start of a label or annotation key"),
        ('{"maxResources": {"limits": {"memory": "lots"}}}', "maxResources.limits.memory: 'lots' is not a"),
        ('{"maxResources": {"limits": {"memory": true}}}', "maxResources.limits.memory"),
        ('{"maxResources": {"limits": {"bad name": "1"}}}', "is not a resource name"),
        ('{"maxResources": {"limit": {}}}', "maxResources.limit: Extra inputs are not permitted"),
    ],
)
def test_a_bad_policy_is_refused_with_a_message_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="IMPALA_COPY_POD_POLICY") as caught:
        load_pod_policy(text)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_the_message_names_the_source_given() -> None:
    with pytest.raises(ValueError, match=r"^--pod-policy must be a JSON object"):
        load_pod_policy("1", source="--pod-policy")
