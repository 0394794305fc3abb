"""Secret values for the engine: read by the environment variable a `SecretRef` names, and kept out of text.

In a Job pod each variable comes from `valueFrom.secretKeyRef`; from the CLI, from a Secret manifest
or the caller's environment. A missing value is reported by Secret name and key, never with a value.

`Scrubber` masks the secret values a run holds in any text: the messages of servers and libraries
(HiveServer2, HTTP, TLS, PostgreSQL, S3, Azure) may echo what they received, so every error message
passes through one before it reaches the run summary, status, Events, logs or the CLI. Besides the
plain value it masks the forms a value takes on the wire or in a message: URL-encoded (connection
URIs, query strings), base64 (HTTP Basic credentials, at any alignment inside a longer token), and
escaped as Python bytes or JSON print it. The secret parts of a composite value (an Azure
connection string's AccountKey or SharedAccessSignature, a SAS token's sig) are masked on their own.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import ParamSpec, TypeVar
from urllib.parse import quote, quote_plus, unquote

from impala_copy.api.plan import SecretRef
from impala_copy.engine.errors import CopyError, SecretMissing

MASK = "***"
# Shorter values are not masked: they cannot be told from ordinary words and numbers in a message.
MIN_SECRET_LENGTH = 3
# The shortest base64 fragment of a value that is masked (shorter ones match by chance).
MIN_ENCODED_LENGTH = 4
# Keys of `key=value` parts (connection strings, query strings) whose value is itself a secret.
_SECRET_KEY_NAMES = re.compile(r"key|signature|secret|password|pwd|token|^\s*sig\s*$", re.IGNORECASE)

P = ParamSpec("P")
R = TypeVar("R")


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


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 characters that depend only on `raw`, wherever `raw` sits in a longer encoded text.

    At offset k (0, 1, 2) within a 3-byte group the first characters also carry bits of the bytes
    before it, and the last one bits of the bytes after it: those are left out.
    """
    cores: set[str] = set()
    for k, skip in ((0, 0), (1, 2), (2, 3)):
        full = ((k + len(raw)) * 8) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * k + raw).decode()[skip:full]
            if len(core) >= MIN_ENCODED_LENGTH:
                cores.add(core)
    return cores


def embedded_secrets(value: str) -> set[str]:
    """The secret parts of a composite value: an Azure connection string's AccountKey or
    SharedAccessSignature, a SAS token's sig, a URI's password; each may be quoted on its own."""
    parts: set[str] = set()
    for pair in re.split(r"[;&]", value):
        key, sep, part = pair.partition("=")
        if sep and _SECRET_KEY_NAMES.search(key) and len(part) >= MIN_SECRET_LENGTH:
            parts |= {part, unquote(part)}
    return parts - {value}


def secret_forms(value: str) -> set[str]:
    """The texts a secret value (or a secret part of it) may appear as in a message."""
    forms: set[str] = set()
    for text in {value} | embedded_secrets(value):
        forms |= _forms_of(text)
    return forms


def _forms_of(value: str) -> set[str]:
    raw = value.encode()
    # Python quotes a bytes repr with ' or ", escaping the other, depending on the whole text around it.
    in_single_quotes = repr(raw + b"'\"")[2:-4]
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1], repr(raw)[2:-1]}
    forms.add(in_single_quotes)
    forms |= _base64_cores(raw)
    return {f for f in forms if f}


class Scrubber:
    """Masks the given secret values (in all their forms) in text and in CopyError messages."""

    def __init__(self, values: Iterable[str | None]) -> None:
        forms: set[str] = set()
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                forms |= secret_forms(value)
        # Longest first, so that a value is masked whole rather than around a shorter one inside it.
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def of(cls, secrets: Mapping[str, str]) -> Scrubber:
        """A scrubber of every secret value a run holds."""
        return cls(secrets.values())

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None and text else text

    def error(self, err: CopyError) -> CopyError:
        """`err` itself, its message scrubbed (its type, code and retryability kept)."""
        clean = self(err.message)
        if clean != err.message:
            err.message = clean
            err.args = (clean,)
        return err


def scrubs_errors(func: Callable[P, R]) -> Callable[P, R]:
    """For an engine entry point called as `func(plan, secrets, ...)`: CopyErrors leave it scrubbed."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CopyError as err:
            secrets = kwargs.get("secrets", args[1] if len(args) > 1 else {})
            raise Scrubber.of(secrets if isinstance(secrets, Mapping) else {}).error(err) from None

    return wrapper


__all__ = ["MASK", "Scrubber", "read_secret", "scrubs_errors", "secret_forms"]
