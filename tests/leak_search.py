"""Searching texts for secret values, in every form a leak may take: the value itself, its base64
(with and without padding), its URL encoding; a binary secret (a keytab) as base64 at each alignment
inside a longer encoded text, and its bytes read as Latin-1. A finding names where the value was
found, and in which form, never the value.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from urllib.parse import quote


def labelled_forms(secret: str | bytes) -> list[tuple[str, str]]:
    """(form's name, text) for each form `secret` may show as."""
    if isinstance(secret, bytes):
        shifted = [("base64", base64.b64encode(secret[shift:]).decode()[4:44]) for shift in range(3)]
        return [*shifted, ("Latin-1", secret.decode("latin-1")[4:36])]
    encoded = base64.b64encode(secret.encode()).decode()
    found = [("plain", secret), ("base64", encoded), ("base64", encoded.rstrip("="))]
    if quote(secret, safe="") != secret:
        found.append(("URL-encoded", quote(secret, safe="")))
    return list(dict.fromkeys(found))


def forms(secret: str | bytes) -> list[str]:
    return [text for _, text in labelled_forms(secret)]


def first_form(forms_of_value: Iterable[tuple[str, str]], text: str) -> str | None:
    """The name of the first of the forms that `text` contains."""
    return next((label for label, form in forms_of_value if form in text), None)


def findings(values: Iterable[str | bytes], texts: Mapping[str, Iterable[str]]) -> list[str]:
    """Where a value was found, once per text: `secret value #I (FORM) found in WHERE #N`."""
    found = []
    for index, value in enumerate(values):
        value_forms = labelled_forms(value)
        for where, items in texts.items():
            for position, item in enumerate(items):
                label = first_form(value_forms, item)
                if label is not None:
                    found.append(f"secret value #{index} ({label}) found in {where} #{position}")
    return found


def assert_nowhere(values: Iterable[str | bytes], texts: Mapping[str, Iterable[str]]) -> None:
    """No form of any value in any text; the failure names where it was found, not the value."""
    found = findings(values, {where: list(items) for where, items in texts.items()})
    assert not found, "\n".join(found)


__all__ = ["assert_nowhere", "findings", "first_form", "forms", "labelled_forms"]
