"""Kerberos (GSSAPI) login to Impala: the fields' sources, formats and combination rules.

Not in ADF (its Impala connector has no Kerberos). The client logs in as `principal` with the key in
`keytab` (a Secret key, mounted as a file), against the server's principal `service/host`: written
whole as `kerberosServicePrincipal`, or as `kerberosServiceName` (default `impala`) and
`kerberosHost` (default: the linked service's host). The realm of the server's principal is the one
krb5.conf maps its host to (`[domain_realm]`, else the default realm), as for every GSSAPI client.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from impala_copy.api.common import ApiModel, ConfigMapKeySelector, SecretKeySelector
from impala_copy.api.rules import Rule, written

KERBEROS = "Kerberos"
KERBEROS_SERVICE_NAME_DEFAULT = "impala"
_PART = r"[A-Za-z0-9._-]+"
REALM_PATTERN = rf"^{_PART}$"
SERVICE_NAME_PATTERN = rf"^{_PART}$"
# name[/instance][@REALM], e.g. etl@EXAMPLE.COM or etl/batch-1.example.com@EXAMPLE.COM
PRINCIPAL_PATTERN = rf"^{_PART}(/{_PART})?(@{_PART})?$"
# service/host[@REALM], e.g. impala/impalad-1.example.com@EXAMPLE.COM
SERVICE_PRINCIPAL_PATTERN = rf"^{_PART}/{_PART}(@{_PART})?$"
KERBEROS_FIELDS_DOC = "Kerberos fields are only allowed with authenticationType Kerberos."

# The fields only a Kerberos login takes, by their wire names.
_KERBEROS_ONLY = (
    "principal",
    "keytab",
    "krb5Conf",
    "realm",
    "kerberosServicePrincipal",
    "kerberosServiceName",
    "kerberosHost",
)


class KeytabSource(ApiModel):
    """A keytab in a Secret key (binary: put it under the Secret's `data`, base64-encoded)."""

    secret_key_ref: SecretKeySelector = Field(description="The Secret key holding the keytab.")


class Krb5ConfSource(ApiModel):
    """A krb5.conf in a ConfigMap key."""

    config_map_key_ref: ConfigMapKeySelector = Field(description="The ConfigMap key holding krb5.conf.")


def qualified(principal: str, realm: str | None) -> str:
    """`principal` with `@realm` added when it names no realm (and a realm is given)."""
    return principal if "@" in principal or not realm else f"{principal}@{realm}"


def service_of(service_principal: str | None, service_name: str | None, host: str) -> tuple[str, str]:
    """(service, host) of the server's principal: from `service/host[@REALM]`, else the name (default
    impala) and the host."""
    if service_principal:
        service, _, rest = service_principal.partition("/")
        return service, rest.partition("@")[0]
    return service_name or KERBEROS_SERVICE_NAME_DEFAULT, host


def _any_kerberos_field(m: Any) -> bool:
    return any(
        written(m, name)
        for name in (
            "principal",
            "keytab",
            "krb5_conf",
            "realm",
            "kerberos_service_principal",
            "kerberos_service_name",
            "kerberos_host",
        )
    )


KERBEROS_RULES: tuple[Rule, ...] = (
    Rule(
        cel=f"self.authenticationType != '{KERBEROS}' || (has(self.principal) && has(self.keytab))",
        message="authenticationType Kerberos requires principal and keytab",
        check=lambda m: (
            m.authentication_type != KERBEROS or (written(m, "principal") and written(m, "keytab"))
        ),
    ),
    Rule(
        cel=f"self.authenticationType != '{KERBEROS}' || (!has(self.password) && !has(self.username))",
        message="authenticationType Kerberos takes no username or password (the principal and its keytab "
        "log in)",
        check=lambda m: (
            m.authentication_type != KERBEROS or (not written(m, "password") and not written(m, "username"))
        ),
    ),
    Rule(
        cel=f"self.authenticationType == '{KERBEROS}' || !("
        + " || ".join(f"has(self.{name})" for name in _KERBEROS_ONLY)
        + ")",
        message=f"{', '.join(_KERBEROS_ONLY)} require authenticationType Kerberos",
        check=lambda m: m.authentication_type == KERBEROS or not _any_kerberos_field(m),
    ),
    Rule(
        cel="!has(self.kerberosServicePrincipal) || "
        "!(has(self.kerberosServiceName) || has(self.kerberosHost))",
        message="kerberosServicePrincipal cannot be combined with kerberosServiceName or kerberosHost",
        check=lambda m: (
            not written(m, "kerberos_service_principal")
            or not (written(m, "kerberos_service_name") or written(m, "kerberos_host"))
        ),
    ),
)

__all__ = [
    "KERBEROS",
    "KERBEROS_RULES",
    "KERBEROS_SERVICE_NAME_DEFAULT",
    "PRINCIPAL_PATTERN",
    "REALM_PATTERN",
    "SERVICE_NAME_PATTERN",
    "SERVICE_PRINCIPAL_PATTERN",
    "KeytabSource",
    "Krb5ConfSource",
    "qualified",
    "service_of",
]
