"""Secret and ConfigMap templates for the credentials and CA certificates an import refers to.

The import never copies a value: each template lists its keys with empty values, and the README
gets one `kubectl create` command per template with a placeholder (or, for an Azure Key Vault
secret, the `az keyvault secret show` that reads it) for each key.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from impala_copy.adf.expressions import Unmappable

SECRET = "Secret"  # noqa: S105 - a kind
CONFIG_MAP = "ConfigMap"
CA_KEY = "ca.crt"
_VAULT_URL = re.compile(r"^https://([A-Za-z0-9-]{3,24})\.vault\.azure\.net/?$")
_VAULT_SECRET = re.compile(r"^[A-Za-z0-9-]{1,127}$")


@dataclass
class KeySource:
    """Where the value of one key comes from, in words and as a shell word for its command."""

    description: str
    shell_value: str


@dataclass
class Template:
    """A Secret or ConfigMap the manifests refer to, with no values."""

    kind: str
    name: str
    owner: str  # the ADF linked service it serves
    keys: dict[str, KeySource] = field(default_factory=dict)

    def manifest(self, namespace: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name}
        if namespace:
            metadata["namespace"] = namespace
        values = dict.fromkeys(self.keys, "")
        if self.kind == SECRET:
            return {
                "apiVersion": "v1",
                "kind": SECRET,
                "metadata": metadata,
                "type": "Opaque",
                "stringData": values,
            }
        return {"apiVersion": "v1", "kind": CONFIG_MAP, "metadata": metadata, "data": values}

    def command(self, namespace: str | None) -> str:
        ns = f" -n {shlex.quote(namespace)}" if namespace else ""
        if self.kind == SECRET:
            parts = [f"--from-literal={key}={source.shell_value}" for key, source in self.keys.items()]
            return f"kubectl create secret generic {self.name}{ns} " + " ".join(parts)
        parts = [f"--from-file={key}={source.shell_value}" for key, source in self.keys.items()]
        return f"kubectl create configmap {self.name}{ns} " + " ".join(parts)


def key_source(key: str, value: Any, owner: str, vaults: dict[str, str]) -> KeySource:
    """How to obtain the value of `key` of linked service `owner`, from the ADF value (never read)."""
    if isinstance(value, dict) and value.get("type") == "AzureKeyVaultSecret":
        return _key_vault(value, owner, vaults)
    what = f"the {key} of the ADF linked service {owner!r}"
    placeholder = shlex.quote(f"<{key}>")
    if isinstance(value, dict) and value.get("type") == "SecureString":
        return KeySource(f"{what} (a SecureString; ADF does not export its value)", placeholder)
    return KeySource(f"{what} (written in the ADF JSON; not copied here)", placeholder)


def _key_vault(value: dict[str, Any], owner: str, vaults: dict[str, str]) -> KeySource:
    name = value.get("secretName")
    if not isinstance(name, str) or not _VAULT_SECRET.match(name):
        raise Unmappable("a Key Vault reference whose secretName is not a plain secret name")
    store = (value.get("store") or {}).get("referenceName")
    vault = _VAULT_URL.match(vaults.get(str(store), ""))
    vault_name = vault.group(1) if vault else "<vault-name>"
    version = value.get("secretVersion")
    version_option = f" --version {shlex.quote(str(version))}" if isinstance(version, str) and version else ""
    read = (
        f'"$(az keyvault secret show --vault-name {shlex.quote(vault_name)} --name {name}{version_option} '
        '--query value -o tsv)"'
    )
    return KeySource(f"the Azure Key Vault secret {name!r} (Key Vault linked service {store!r})", read)


def certificate_source(path: str) -> KeySource:
    return KeySource(
        f"the PEM file {path!r} on the integration runtime (the CA certificates that verify the server)",
        "./ca.pem",
    )
