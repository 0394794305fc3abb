"""Shared test set-up. Server fixtures live in tests/fixtures/ (one module per kind of server)."""

pytest_plugins = [
    "tests.fixtures.leak_check",  # first: the other fixture modules import it
    "tests.fixtures.sts",
    "tests.fixtures.kerberos",
    "tests.fixtures.sinks",
]
