"""Secret values for the engine: looked up by the environment variable a `SecretRef` names.

In a Job pod each variable comes from `valueFrom.secretKeyRef`; from the CLI, from a Secret manifest
or the caller's environment. A missing value is reported by Secret name and key, never with a value.
"""

from __future__ import annotations

from collections.abc import Mapping

from impala_copy.api.plan import SecretRef
from impala_copy.engine.errors import SecretMissing


def read_secret(ref: SecretRef, secrets: Mapping[str, str]) -> str:
    """The value of the Secret key `ref` points at; SecretMissing when it is absent."""
    value = secrets.get(ref.env)
    if value is None:
        key = ref.secret_key_ref
        raise SecretMissing(
            f"Secret {key.name!r} key {key.key!r} is not available "
            f"(expected in environment variable {ref.env})"
        )
    return value


__all__ = ["read_secret"]
