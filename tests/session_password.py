"""The one random password of a test session.

Every Secret the tests create holds it, or a value that begins with it where a test needs several
different ones (a rotation, a wrong password, a second linked service): `variant(tag)`. The Spark
Thrift Server's password user and the PostgreSQL superuser log in with it. The session's leak check
(tests/fixtures/leak_check.py) then finds any of them, in any of the forms of leak_search.forms,
wherever the suite looks.

Its length is a multiple of three, so the base64 of a variant begins with the base64 of the password,
and its punctuation makes its URL-encoded form differ from the plain one.
"""

from __future__ import annotations

import secrets

PASSWORD = "pw-" + secrets.token_urlsafe(18) + "!#%"
assert len(PASSWORD.encode()) % 3 == 0


def variant(tag: str = "") -> str:
    """A distinct password that begins with the session's (a random one when `tag` is empty)."""
    return f"{PASSWORD}-{tag or secrets.token_urlsafe(6)}"


__all__ = ["PASSWORD", "variant"]
