"""What the operator needs to connect to Impala itself (connection tests, lookups): the password and CA.

A CopyActivity's Job pod gets its password from `valueFrom.secretKeyRef` and its CA from a mounted
volume. When the operator connects (the connection test, a LookupActivity), it reads the same
Secret / ConfigMap keys through the API: the password becomes the value of the SecretRef's variable
name in a mapping handed to the engine (never an environment variable, never logged), and the CA
PEM is written under a private temporary folder (0700, files 0600) that the caller removes after
the connection. Fingerprints of what was read (keyed digests, in memory only) let the connection
test notice that a Secret changed.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from impala_copy.api.plan import CertRef, ImpalaConnection
from impala_copy.api.resolve import ResolutionError, check_certificate, check_secret
from impala_copy.controller.core.kube import CONFIG_MAPS, SECRETS, ApiError, KubeClient, ResourceRef
from impala_copy.controller.probe_state import data_fingerprint
from impala_copy.engine.errors import ConfigurationError

RefKey = tuple[str, str]  # (kind, name): ("Secret", "impala-login")


class _Fetched:
    """The resolver's Catalog over the objects just read, so messages match the resolver's word for word."""

    def __init__(
        self,
        secrets: Mapping[str, Mapping[str, Any] | None],
        config_maps: Mapping[str, Mapping[str, bytes] | None],
    ) -> None:
        self.secrets = secrets
        self.config_maps = config_maps

    def get(self, kind: str, name: str) -> None:  # pragma: no cover - not used by check_* functions
        return None

    def secret_keys(self, name: str) -> set[str] | None:
        data = self.secrets.get(name)
        return None if data is None else set(data)

    def config_map_keys(self, name: str) -> set[str] | None:
        data = self.config_maps.get(name)
        return None if data is None else set(data)


async def _read(client: KubeClient, ref: ResourceRef, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(ref, namespace, name)
    except ApiError as exc:
        if exc.not_found:
            return None
        raise


def _secret_data(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if body is None:
        return None
    data = body.get("data")
    return dict(data) if isinstance(data, Mapping) else {}


def _config_map_data(body: Mapping[str, Any] | None) -> dict[str, bytes] | None:
    """A ConfigMap's values as bytes: `data` as UTF-8 text, `binaryData` base64-decoded."""
    if body is None:
        return None
    out: dict[str, bytes] = {}
    text = body.get("data")
    if isinstance(text, Mapping):
        out.update({str(k): str(v).encode("utf-8") for k, v in text.items()})
    binary = body.get("binaryData")
    if isinstance(binary, Mapping):
        name = (body.get("metadata") or {}).get("name", "")
        out.update({str(k): _decode(v, f"ConfigMap {name!r} key {k!r}") for k, v in binary.items()})
    return out


def config_map_fingerprint_data(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a ConfigMap's fingerprint covers (the same from a watch event and from a GET)."""
    return {"data": body.get("data"), "binaryData": body.get("binaryData")}


def secret_fingerprint_data(body: Mapping[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    return dict(data) if isinstance(data, Mapping) else {}


def _decode(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{what} is not valid base64") from None


def _write_private(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)


async def load_credentials(
    client: KubeClient, namespace: str, conn: ImpalaConnection, referrer: str
) -> tuple[dict[str, str], dict[RefKey, str]]:
    """The secrets mapping for `engine.hs2.connect` (and the CA file at its path), plus fingerprints.

    Raises ResolutionError (SecretNotFound, SecretKeyNotFound, ConfigMapNotFound...) naming the object,
    or ConfigurationError for a value that cannot be used; never with a value in the message.
    """
    secrets: dict[str, str] = {}
    prints: dict[RefKey, str] = {}
    secret_bodies: dict[str, dict[str, Any] | None] = {}
    config_map_bodies: dict[str, dict[str, bytes] | None] = {}
    fetched = _Fetched(secret_bodies, config_map_bodies)

    async def secret(name: str) -> dict[str, Any] | None:
        if name not in secret_bodies:
            body = await _read(client, SECRETS, namespace, name)
            secret_bodies[name] = _secret_data(body)
            if body is not None:
                prints[("Secret", name)] = data_fingerprint(secret_fingerprint_data(body))
        return secret_bodies[name]

    async def config_map(name: str) -> dict[str, bytes] | None:
        if name not in config_map_bodies:
            body = await _read(client, CONFIG_MAPS, namespace, name)
            config_map_bodies[name] = _config_map_data(body)
            if body is not None:
                prints[("ConfigMap", name)] = data_fingerprint(config_map_fingerprint_data(body))
        return config_map_bodies[name]

    if conn.password is not None:
        ref = conn.password.secret_key_ref
        data = await secret(ref.name)
        check_secret(fetched, ref, referrer)
        assert data is not None
        raw = _decode(data[ref.key], f"Secret {ref.name!r} key {ref.key!r}")
        try:
            secrets[conn.password.env] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"Secret {ref.name!r} key {ref.key!r} is not UTF-8 text") from None
    if conn.trusted_cert is not None:
        await _write_certificate(conn.trusted_cert, secret, config_map, fetched, referrer)
    return secrets, prints


async def _write_certificate(
    cert: CertRef,
    secret: Callable[[str], Awaitable[dict[str, Any] | None]],
    config_map: Callable[[str], Awaitable[dict[str, bytes] | None]],
    fetched: _Fetched,
    referrer: str,
) -> None:
    source = cert.source
    if source.secret_key_ref is not None:
        ref = source.secret_key_ref
        data = await secret(ref.name)
        check_certificate(fetched, source, referrer)
        assert data is not None
        pem = _decode(data[ref.key], f"Secret {ref.name!r} key {ref.key!r}")
    elif source.config_map_key_ref is not None:
        cm_ref = source.config_map_key_ref
        values = await config_map(cm_ref.name)
        check_certificate(fetched, source, referrer)
        assert values is not None
        pem = values[cm_ref.key]
    else:
        raise ResolutionError("InvalidSpec", f"{referrer}: trustedCert needs secretKeyRef or configMapKeyRef")
    _write_private(Path(cert.path), pem)


__all__ = ["config_map_fingerprint_data", "load_credentials", "secret_fingerprint_data"]
