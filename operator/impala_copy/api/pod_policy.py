"""The admin's pod policy: what a CopyActivity's `spec.job` may put into the pods the operator creates.

`spec.job` goes into a Job that runs with the namespace's Secrets attached, created by the operator's
service account. Without a limit a user could borrow rights through it: any image, any service
account, an AppArmor `unconfined` annotation, a toleration onto reserved nodes. The cluster admin
sets this policy (Helm value `podPolicy`, the operator reads it as JSON from IMPALA_COPY_POD_POLICY);
`policy_violations` lists what a `spec.job` asks for beyond it. The defaults allow nothing but the
operator's own choices: the engine image, no service account, no labels or annotations, no scheduling,
no pull secrets. Keys that change a pod's security or the operator's bookkeeping never pass, whatever
the policy says (`DENIED_KEYS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from impala_copy.api.activities import JobSettings
from impala_copy.api.common import NAME_MAX, NAME_PATTERN
from impala_copy.api.model import ApiModel
from impala_copy.api.quantity import QuantityError, ResourceName, SettingQuantity, parse_quantity

POD_POLICY_ENV = "IMPALA_COPY_POD_POLICY"

# Label and annotation keys no policy lets through (matched on the lower-cased key, `*` any text).
DENIED_KEYS: tuple[str, ...] = (
    "container.apparmor.security.beta.kubernetes.io/*",
    "*apparmor*",
    "seccomp.security.alpha.kubernetes.io/*",
    "*seccomp*",
    "kubernetes.io/psp",
    "pod-security.kubernetes.io/*",
    "impalacopy.io/*",
    "*.impalacopy.io/*",
    "batch.kubernetes.io/*",
    "controller-uid",
    "job-name",
)

# Docker reference grammar (distribution/reference): [domain/]path[:tag][@sha256:hex].
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
# A first component is a registry only with a dot, a port or as localhost (else it is a path component).
_DOMAIN = (
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*:[0-9]+"
    rf"|{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})+|localhost)"
)
_PATH_COMPONENT = r"(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)"
_REPOSITORY = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REPOSITORY_RE = re.compile(_REPOSITORY, re.ASCII)
_IMAGE_RE = re.compile(rf"{_REPOSITORY}(?::[\w][\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?", re.ASCII)
_DIGEST_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)
_KEY_PREFIX_RE = re.compile(r"[a-z0-9]([-a-z0-9._/]*)?", re.ASCII)
_PLAIN_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*", re.ASCII)
DIGEST_RULE_SUFFIX = "@sha256:"
_SHOWN = 120


def _check_image_rule(rule: str) -> str:
    """An allowedImages entry: `*`, an exact image, `<prefix>/*`, `<prefix>:*` or `<repository>@sha256:`."""
    if rule == "*":
        return rule
    if rule.endswith(DIGEST_RULE_SUFFIX):
        if not _REPOSITORY_RE.fullmatch(rule[: -len(DIGEST_RULE_SUFFIX)]):
            raise ValueError(f"{rule!r}: before @sha256: must come an image repository without a tag")
        return rule
    if rule.endswith("*"):
        prefix = rule[:-1]
        if "*" in prefix or not prefix.endswith(("/", ":")):
            raise ValueError(
                f"{rule!r}: a prefix rule ends with /* or :* (registry.example.com/team/*), so that it "
                "cannot match another registry or repository that merely starts the same way"
            )
        return rule
    if not _IMAGE_RE.fullmatch(rule):
        raise ValueError(f"{rule!r} is not an image reference, a prefix ending in /* or :*, or REPO@sha256:")
    return rule


def _check_key_prefix(prefix: str) -> str:
    if not _KEY_PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"{prefix!r} is not the start of a label or annotation key (e.g. example.com/)")
    return prefix


ImageRule = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_check_image_rule)]
KeyPrefix = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_check_key_prefix)]
ObjectName = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)]


class PolicyModel(ApiModel):
    """Policy settings are parsed strictly: no coercion ("true" is not true), no unknown field."""

    model_config = ConfigDict(strict=True, frozen=True)


class ResourceCaps(PolicyModel):
    """Largest container resources a `spec.job.resources` may ask for, per resource name."""

    requests: dict[ResourceName, SettingQuantity] = Field(
        default_factory=dict, description="Caps on requests, e.g. {cpu: '4', memory: 16Gi}."
    )
    limits: dict[ResourceName, SettingQuantity] = Field(
        default_factory=dict,
        description="Caps on limits; a spec.job.resources must then set each capped limit.",
    )


class PodPolicy(PolicyModel):
    """What users may put into the Job pods through `spec.job`. The defaults allow nothing extra."""

    allowed_images: list[ImageRule] = Field(
        default_factory=list,
        max_length=256,
        description="Images spec.job.image may name besides the engine image: exact images, prefixes "
        "ending in /* or :*, REPO@sha256: (that repository pinned by digest), or * (any image).",
    )
    service_account_names: list[ObjectName] = Field(
        default_factory=list,
        max_length=256,
        description="Service accounts spec.job.serviceAccountName may name. Empty: it may not be set.",
    )
    allowed_label_prefixes: list[KeyPrefix] = Field(
        default_factory=list,
        max_length=256,
        description="Prefixes of the label keys spec.job.labels may use.",
    )
    allowed_annotation_prefixes: list[KeyPrefix] = Field(
        default_factory=list,
        max_length=256,
        description="Prefixes of the annotation keys spec.job.annotations may use.",
    )
    allow_scheduling: bool = Field(
        default=False, description="spec.job may set nodeSelector, tolerations and affinity."
    )
    allow_image_pull_secrets: bool = Field(default=False, description="spec.job may set imagePullSecrets.")
    max_resources: ResourceCaps | None = Field(
        default=None, description="Caps on spec.job.resources. None: no cap."
    )
    max_ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Largest spec.job.ttlSecondsAfterFinished. None: no cap."
    )


@dataclass(frozen=True)
class Violation:
    """One thing `spec.job` asks for that the policy refuses: the field as the user wrote it, and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return self.message


# ------------------------------------------------------------------ loading
def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def _location(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(the whole policy)"


def _readable(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{_location(error['loc'])}: {message}")
    return "; ".join(problems)


def load_pod_policy(text: str | None, *, source: str = POD_POLICY_ENV) -> PodPolicy:
    """The policy from its JSON text; None or blank: the defaults. ValueError names `source` and the field."""
    if text is None or not text.strip():
        return PodPolicy()
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError as exc:
        raise ValueError(f"{source} is not a valid pod policy: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source} must be a JSON object (the Helm value podPolicy)")
    try:
        return PodPolicy.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{source} is not a valid pod policy: {_readable(exc)}") from None


# ------------------------------------------------------------------ checking
def _show(value: object) -> str:
    """A user's value, quoted and escaped, cut to a readable length."""
    text = str(value)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "..."
    return json.dumps(text)


def _refused(path: str, why: str) -> Violation:
    return Violation(path, f"{path} {why}")


def _not_allowed(allowed: str) -> str:
    return f"is not allowed by the operator's pod policy (allowed: {allowed})"


def image_allowed(image: str, policy: PodPolicy, engine_image: str) -> bool:
    """`image` is the engine image or matches one of the policy's allowedImages rules."""
    if image == engine_image:
        return True
    for rule in policy.allowed_images:
        if rule == "*":
            return True
        if rule.endswith(DIGEST_RULE_SUFFIX):
            if image.startswith(rule) and _DIGEST_RE.fullmatch(image[len(rule) :]):
                return True
        elif rule.endswith("*"):
            if image.startswith(rule[:-1]):
                return True
        elif image == rule:
            return True
    return False


def _image(job: JobSettings, policy: PodPolicy, engine_image: str) -> list[Violation]:
    path = "spec.job.image"
    if job.image is None:
        return []
    if not _IMAGE_RE.fullmatch(job.image):
        return [_refused(path, f"{_show(job.image)} is not a valid image reference")]
    if image_allowed(job.image, policy, engine_image):
        return []
    allowed = ", ".join([f"the engine image {engine_image}", *policy.allowed_images])
    return [_refused(path, f"{_show(job.image)} {_not_allowed(allowed)}")]


def _service_account(job: JobSettings, policy: PodPolicy) -> list[Violation]:
    name = job.service_account_name
    if name is None or name in policy.service_account_names:
        return []
    allowed = ", ".join(policy.service_account_names) or "none; the pods run as the operator's default"
    return [_refused("spec.job.serviceAccountName", f"{_show(name)} {_not_allowed(allowed)}")]


def _pull_secrets(job: JobSettings, policy: PodPolicy) -> list[Violation]:
    if not job.image_pull_secrets or policy.allow_image_pull_secrets:
        return []
    why = "is not allowed by the operator's pod policy (allowImagePullSecrets is false)"
    return [_refused("spec.job.imagePullSecrets", why)]


def _scheduling(job: JobSettings, policy: PodPolicy) -> list[Violation]:
    if policy.allow_scheduling:
        return []
    why = "is not allowed by the operator's pod policy (allowScheduling is false)"
    written = {"nodeSelector": job.node_selector, "tolerations": job.tolerations, "affinity": job.affinity}
    return [_refused(f"spec.job.{field}", why) for field, value in written.items() if value is not None]


def denied_key(key: str) -> bool:
    """A label or annotation key that changes security or the operator's bookkeeping."""
    lowered = key.lower()
    return any(fnmatchcase(lowered, pattern) for pattern in DENIED_KEYS)


def _keys(field: str, values: Mapping[str, str] | None, prefixes: list[str]) -> list[Violation]:
    found = []
    noun = field[:-1]  # labels -> label
    for key in values or {}:
        path = f"spec.job.{field}[{json.dumps(key)}]"
        if denied_key(key):
            why = f"is never allowed: the {noun} changes the pod's security or the operator's bookkeeping"
            found.append(_refused(path, why))
        elif not key.startswith(tuple(prefixes)):
            allowed = f"{noun} keys starting with {', '.join(prefixes)}" if prefixes else f"no {noun}s"
            found.append(_refused(path, _not_allowed(allowed)))
    return found


def _key_path(base: str, key: str) -> str:
    return f"{base}.{key}" if _PLAIN_KEY_RE.fullmatch(key) else f"{base}[{json.dumps(key)}]"


def _over_cap(path: str, value: object, cap: str | int | float, note: str = "") -> list[Violation]:
    try:
        over = parse_quantity(value) > parse_quantity(cap)
    except QuantityError:
        return [_refused(path, f"{_show(value)} is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 4Gi)")]
    if not over:
        return []
    return [_refused(path, f"{_show(value)}{note} is above the operator's pod policy cap of {cap}")]


def _resources(job: JobSettings, policy: PodPolicy) -> list[Violation]:
    caps, resources = policy.max_resources, job.resources
    if caps is None or resources is None:
        return []
    requests, limits = resources.requests or {}, resources.limits or {}
    found: list[Violation] = []
    for name, cap in caps.limits.items():
        path = _key_path("spec.job.resources.limits", name)
        if name not in limits:
            found.append(_refused(path, f"must be set: the operator's pod policy caps it at {cap}"))
        else:
            found += _over_cap(path, limits[name], cap)
    for name, cap in caps.requests.items():
        if name in requests:
            found += _over_cap(_key_path("spec.job.resources.requests", name), requests[name], cap)
        elif name in limits:  # Kubernetes takes the limit as the request
            note = " (the request, taken from the limit)"
            found += _over_cap(_key_path("spec.job.resources.limits", name), limits[name], cap, note)
    return found


def _ttl(job: JobSettings, policy: PodPolicy) -> list[Violation]:
    ttl, cap = job.ttl_seconds_after_finished, policy.max_ttl_seconds_after_finished
    if ttl is None or cap is None or ttl <= cap:
        return []
    why = f"{ttl} is above the operator's pod policy cap of {cap}"
    return [_refused("spec.job.ttlSecondsAfterFinished", why)]


def policy_violations(job: JobSettings | None, policy: PodPolicy, engine_image: str) -> list[Violation]:
    """Everything `job` (a CopyActivity's spec.job) asks for beyond `policy`, in field order; [] when none."""
    if job is None:
        return []
    return [
        *_image(job, policy, engine_image),
        *_pull_secrets(job, policy),
        *_service_account(job, policy),
        *_resources(job, policy),
        *_scheduling(job, policy),
        *_ttl(job, policy),
        *_keys("labels", job.labels, policy.allowed_label_prefixes),
        *_keys("annotations", job.annotations, policy.allowed_annotation_prefixes),
    ]
