"""Kubernetes names from ADF names: deterministic, and unique per kind (collisions resolved and reported).

ADF names may hold upper case, underscores, spaces and other characters Kubernetes refuses. A name is
lowered, every run of other characters becomes one '-', and it is trimmed to start and end with a
letter or digit. The first ADF name (in sorted order) to claim a Kubernetes name keeps it; the next
gets `-2`, then `-3`, and the collision is reported.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from impala_copy.api.common import NAME_MAX, is_object_name

# Long enough for any ADF name (ADF allows 260 characters), short enough to read.
MAX_LENGTH = 200
_OTHER = re.compile(r"[^a-z0-9]+")


def kube_name(text: str) -> str:
    """`text` as a DNS-1123 name: lowercase a-z, 0-9 and '-' (see the module docstring)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = _OTHER.sub("-", ascii_text.lower()).strip("-")
    if not name:
        name = "unnamed-" + _digest(text)
    if len(name) > MAX_LENGTH:
        name = name[: MAX_LENGTH - 9].rstrip("-") + "-" + _digest(text)
    assert is_object_name(name)
    assert len(name) <= NAME_MAX
    return name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


@dataclass
class NameBook:
    """The names given so far, per scope (a kind, or Secret / ConfigMap)."""

    given: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, name) -> ADF identity
    by_identity: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, identity) -> name
    collisions: list[tuple[str, str, str, str]] = field(default_factory=list)

    def claim(self, scope: str, identity: str, wanted: str) -> str:
        """The name for `identity` in `scope`: `kube_name(wanted)`, or with a suffix when it is taken.
        The same identity always gets the same name."""
        known = self.by_identity.get((scope, identity))
        if known is not None:
            return known
        base = kube_name(wanted)
        name, number = base, 1
        while (scope, name) in self.given:
            number += 1
            suffix = f"-{number}"
            name = base[: MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        if name != base:
            self.collisions.append((scope, identity, self.given[(scope, base)], name))
        self.given[(scope, name)] = identity
        self.by_identity[(scope, identity)] = name
        return name

    def lookup(self, scope: str, identity: str) -> str | None:
        return self.by_identity.get((scope, identity))
