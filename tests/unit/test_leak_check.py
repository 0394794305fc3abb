"""The session's leak check finds a planted leak, wherever and in whatever form it is planted.

In:  a LeakWatch over a random password; the password planted in each form (plain, base64 with and
     without padding, URL-encoded, a variant that begins with it) in texts of each source (a log
     record through the check's log handler, a log file under a folder); and a small pytest session
     run as a process with only the leak-check plugin, whose one test logs its session password.
Out: each planted leak found and named by test, form and source, never the value; clean texts give
     no finding; the planted session fails (exit code 1) with the report, and the same session
     without the plant passes, its report counting the texts it searched.
Faked: nothing (the inner session is a real pytest run).
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.fixtures.leak_check import LeakWatch, _LogTap
from tests.leak_search import findings

ROOT = Path(__file__).resolve().parents[2]
# Not the session's password: the session's own check must not find the leaks planted here.
SECRET = "pw-" + secrets.token_urlsafe(18) + "!#%"


def planted(form: str) -> str:
    return {
        "plain": f"login failed for alice:{SECRET} at 127.0.0.1",
        "base64": "Authorization: Basic " + base64.b64encode(f"x{SECRET}".encode()[1:]).decode(),
        "URL-encoded": f"postgresql://tester:{quote(SECRET, safe='')}@127.0.0.1:5432/db",
        "variant": f"rotated to {SECRET}-next",
    }[form]


@pytest.mark.parametrize("form", ["plain", "base64", "URL-encoded", "variant"])
def test_a_planted_leak_is_found_in_each_form(form: str) -> None:
    watch = LeakWatch([SECRET])
    watch.see("pod log", "nothing to see", "tests/x.py::clean")
    assert watch.findings == []
    watch.see("pod log", planted(form), "tests/x.py::leaky")
    [finding] = watch.findings
    assert finding.startswith("tests/x.py::leaky: secret value #0 (")
    assert finding.endswith(") found in pod log")
    report = "\n".join(watch.report())
    assert "searched 2 texts (2 pod log)" in report
    assert SECRET not in report
    assert quote(SECRET, safe="") not in report


def test_the_form_is_named() -> None:
    watch = LeakWatch([SECRET])
    watch.see("request", planted("URL-encoded"), "t")
    assert watch.findings == ["t: secret value #0 (URL-encoded) found in request"]


def test_log_records_and_log_files_are_searched(tmp_path: Path) -> None:
    watch = LeakWatch([SECRET])
    watch.test = "tests/x.py::logs"
    tap = _LogTap(watch)
    logger = logging.getLogger("impala_copy.planted")
    logger.addHandler(tap)
    logger.propagate = False  # the session's own handlers see none of it
    try:
        logger.warning("could not log in with %s", SECRET)
        logger.warning("clean")
    finally:
        logger.removeHandler(tap)
        logger.propagate = True
    (tmp_path / "sts").mkdir()
    (tmp_path / "sts" / "sts.log").write_text(planted("base64"))
    (tmp_path / "termination-log").write_text("clean")
    (tmp_path / "manifests.yaml").write_text(SECRET)  # an input, not a log: not searched
    watch.see_files(tmp_path)
    assert watch.findings == [
        "tests/x.py::logs: secret value #0 (plain) found in log record",
        "(session): secret value #0 (base64) found in log file sts/sts.log",
    ]
    assert watch.searched == {"log record": 2, "log file sts/sts.log": 1, "log file termination-log": 1}


def test_a_second_value_can_be_watched() -> None:
    other = "AKIA-not-the-session-password/x+y"
    watch = LeakWatch([SECRET])
    watch.watch(other)
    watch.see("log file", f"key {base64.b64encode(other.encode()).decode()}", "t")
    assert watch.findings == ["t: secret value #1 (base64) found in log file"]


def test_findings_of_the_pure_search_name_place_and_form() -> None:
    texts = {"Event": ["clean", planted("plain")], "status": [planted("base64")]}
    assert findings([SECRET], texts) == [
        "secret value #0 (plain) found in Event #1",
        "secret value #0 (base64) found in status #0",
    ]


INNER = """
import logging

from tests import session_password



def test_logs_a_line():
    logging.getLogger("impala_copy.inner").warning("connected as alice:%s", {secret})
"""


def run_session(folder: Path, plant: bool) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    secret = "session_password.PASSWORD" if plant else "'nothing secret'"
    (folder / "test_inner.py").write_text(INNER.format(secret=secret))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "operator")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.fixtures.leak_check",
         "--rootdir", str(folder), str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_session_with_a_planted_leak_fails_with_the_report(tmp_path: Path) -> None:
    leaky = run_session(tmp_path / "leaky", plant=True)
    assert leaky.returncode == 1, leaky.stdout + leaky.stderr
    out = leaky.stdout
    assert "1 passed" in out
    assert "secret leak check" in out
    assert "test_inner.py::test_logs_a_line: secret value #0 (plain) found in log record" in out
    assert "test_inner.py::test_logs_a_line: secret value #0 (plain) found in captured log call" in out
    assert "pw-" not in out  # the value itself is never printed

    clean = run_session(tmp_path / "clean", plant=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no form of the session's secret values was found" in clean.stdout
    assert "1 log record" in clean.stdout
