"""Bad schedules: an invalid cron, an unknown time zone, each refused with a message naming it.

In:  CopyActivity and LookupActivity manifests with crafted spec.schedule values, written to a folder
     (for `impala-copy validate`), checked against the generated CRD schema, and reconciled by the
     CopyActivity controller.
Out: the exact lines `validate` prints, the schema errors the API server would give (where the
     pattern can see the mistake), and the Ready condition the operator writes (where only the
     operator can: "61 * * * *" has five fields, "Mars/Olympus" looks like a zone name).
Faked: nothing; the command runs in-process with consoles writing into strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.operator import manifests
from tests.operator.scenarios import PASSWORD, Scenario
from tests.unit.crd_checks import schema_errors
from tests.unit.test_cli_hostile_input import validate, write

API = "impalacopy.io/v1alpha1"
CRON_MESSAGE = (
    "is not a valid cron expression (five fields: minute hour day-of-month month day-of-week, or a "
    "macro such as @daily)"
)


def copy_activity(**schedule: Any) -> dict[str, Any]:
    return manifests.copy_activity("nightly", schedule=schedule)


def lookup_activity(**schedule: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "LookupActivity",
        "metadata": {"name": "latest"},
        "spec": {"dataset": {"referenceName": "orders"}, "schedule": schedule},
    }


@pytest.mark.parametrize(
    ("schedule", "line"),
    [
        ({"cron": "61 * * * *"}, f"spec.schedule.cron: cron '61 * * * *' {CRON_MESSAGE}"),
        ({"cron": "0 0 31 2 * *"}, f"spec.schedule.cron: cron '0 0 31 2 * *' {CRON_MESSAGE}"),
        ({"cron": "every day"}, f"spec.schedule.cron: cron 'every day' {CRON_MESSAGE}"),
        (
            {"cron": "0 0 30 2 *"},
            "spec.schedule.cron: cron '0 0 30 2 *' never comes due (e.g. a day that no month has, such as "
            "30 2)",
        ),
        ({"cron": "@sometimes"}, f"spec.schedule.cron: cron '@sometimes' {CRON_MESSAGE}"),
        (
            {"cron": "@daily", "timeZone": "Mars/Olympus"},
            "spec.schedule.timeZone: unknown time zone 'Mars/Olympus': use an IANA name such as UTC or "
            "Europe/Berlin",
        ),
        (
            {"cron": "@daily", "timeZone": "Europe"},
            "spec.schedule.timeZone: unknown time zone 'Europe': use an IANA name such as UTC or "
            "Europe/Berlin",
        ),
        ({"cron": 5}, "spec.schedule.cron: Input should be a valid string"),
        ({"cron": "*" * 200}, "spec.schedule.cron: String should have at most 128 characters"),
    ],
)
def test_validate_names_the_bad_value(tmp_path: Path, schedule: dict[str, Any], line: str) -> None:
    file = write(tmp_path / "a.yaml", copy_activity(**schedule), lookup_activity(**schedule))
    code, out, err = validate(tmp_path)
    assert code == 1
    assert out == [f"{file}: CopyActivity/nightly: {line}", f"{file}: LookupActivity/latest: {line}"]
    assert err == ["2 error(s) in 1 file(s)"]


def test_the_crd_refuses_what_its_patterns_can_see() -> None:
    errors = schema_errors(copy_activity(cron="every day", timeZone="Not a zone"))
    assert [path for path, _ in errors] == ["spec.schedule.cron", "spec.schedule.timeZone"]
    assert errors[0][1].startswith("'every day' does not match")
    assert errors[1][1].startswith("'Not a zone' does not match")
    # Five fields and a zone-shaped name pass the schema: the operator says what is wrong.
    assert schema_errors(copy_activity(cron="61 * * * *", timeZone="Mars/Olympus")) == []


def test_the_operator_shows_what_only_it_can_see_in_ready() -> None:
    objects = manifests.standard_set(PASSWORD)
    objects[-1]["spec"]["schedule"] = {"cron": "61 * * * *", "timeZone": "Mars/Olympus"}
    s = Scenario(objects)
    s.step()
    ready = next(c for c in s.activity["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert f"cron '61 * * * *' {CRON_MESSAGE}" in ready["message"]
    assert "unknown time zone 'Mars/Olympus'" in ready["message"]
    assert [o for o in s.objects if o["kind"] == "Job"] == []
