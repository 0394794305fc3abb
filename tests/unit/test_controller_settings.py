"""Operator settings from environment variables and command-line options.

In:  environment mappings (as the Helm chart sets them) and CLI option values.
Out: Settings / JobDefaults, or a SettingsError naming the variable.
Faked: nothing.
"""

from __future__ import annotations

import pytest

from impala_copy.controller.core.settings import (
    ENV_VARS,
    Settings,
    SettingsError,
    parse_namespaces,
    with_options,
)


def test_defaults_match_the_declared_table() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    declared = {var.name: var.default for var in ENV_VARS}
    assert declared["IMPALA_COPY_ENGINE_IMAGE"] == settings.job.image
    assert declared["IMPALA_COPY_LIVENESS_ENDPOINT"] == settings.liveness_endpoint
    assert int(declared["IMPALA_COPY_WORKERS"]) == settings.workers
    assert (
        int(declared["IMPALA_COPY_SUCCESSFUL_JOBS_HISTORY_LIMIT"])
        == settings.job.successful_jobs_history_limit
    )
    assert int(declared["IMPALA_COPY_FAILED_JOBS_HISTORY_LIMIT"]) == settings.job.failed_jobs_history_limit
    assert settings.clusterwide


def test_every_variable_is_read() -> None:
    env = {
        "IMPALA_COPY_NAMESPACES": "sales, finance team-*",
        "IMPALA_COPY_LOG_LEVEL": "debug",
        "IMPALA_COPY_LOG_FORMAT": "JSON",
        "IMPALA_COPY_LIVENESS_ENDPOINT": "",
        "IMPALA_COPY_WORKERS": "3",
        "IMPALA_COPY_RESYNC_SECONDS": "0",
        "IMPALA_COPY_ENGINE_IMAGE": "registry.example/impala-copy:1.2.3",
        "IMPALA_COPY_ENGINE_IMAGE_PULL_POLICY": "Always",
        "IMPALA_COPY_JOB_IMAGE_PULL_SECRETS": "regcred,other",
        "IMPALA_COPY_JOB_SERVICE_ACCOUNT_NAME": "copier",
        "IMPALA_COPY_JOB_RESOURCES": '{"limits": {"memory": "4Gi"}}',
        "IMPALA_COPY_JOB_NODE_SELECTOR": '{"pool": "batch"}',
        "IMPALA_COPY_JOB_TOLERATIONS": '[{"key": "batch", "operator": "Exists"}]',
        "IMPALA_COPY_JOB_AFFINITY": '{"nodeAffinity": {}}',
        "IMPALA_COPY_JOB_TTL_SECONDS_AFTER_FINISHED": "",
        "IMPALA_COPY_JOB_RUN_AS_USER": "1001",
        "IMPALA_COPY_JOB_RUN_AS_GROUP": "1002",
        "IMPALA_COPY_JOB_FS_GROUP": "",
        "IMPALA_COPY_SUCCESSFUL_JOBS_HISTORY_LIMIT": "5",
        "IMPALA_COPY_FAILED_JOBS_HISTORY_LIMIT": "2",
        "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES": "16",
        "IMPALA_COPY_POD_NAME": "impala-copy-operator-7d9f",
    }
    assert set(env) <= {var.name for var in ENV_VARS}
    s = Settings.from_env(env)
    assert s.namespaces == ("sales", "finance", "team-*")
    assert not s.clusterwide
    assert (s.log_level, s.log_format, s.liveness_endpoint) == ("DEBUG", "json", None)
    assert (s.workers, s.resync_seconds, s.pod_name) == (3, 0.0, "impala-copy-operator-7d9f")
    job = s.job
    assert job.image == "registry.example/impala-copy:1.2.3"
    assert job.image_pull_policy == "Always"
    assert job.image_pull_secrets == ("regcred", "other")
    assert job.service_account_name == "copier"
    assert job.resources == {"limits": {"memory": "4Gi"}}
    assert job.node_selector == {"pool": "batch"}
    assert job.tolerations == ({"key": "batch", "operator": "Exists"},)
    assert job.affinity == {"nodeAffinity": {}}
    assert job.ttl_seconds_after_finished is None
    assert job.fs_group is None
    assert (job.run_as_user, job.run_as_group) == (1001, 1002)
    assert (job.successful_jobs_history_limit, job.failed_jobs_history_limit) == (5, 2)
    assert job.max_parallel_copies == 16


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("IMPALA_COPY_LOG_LEVEL", "LOUD", "IMPALA_COPY_LOG_LEVEL must be one of"),
        ("IMPALA_COPY_WORKERS", "0", "IMPALA_COPY_WORKERS must be at least 1"),
        ("IMPALA_COPY_WORKERS", "many", "IMPALA_COPY_WORKERS must be a whole number"),
        ("IMPALA_COPY_JOB_RESOURCES", "{limits:", "IMPALA_COPY_JOB_RESOURCES is not valid JSON"),
        ("IMPALA_COPY_JOB_TOLERATIONS", "{}", "IMPALA_COPY_JOB_TOLERATIONS must be a JSON list"),
        ("IMPALA_COPY_ENGINE_IMAGE_PULL_POLICY", "Sometimes", "IMPALA_COPY_ENGINE_IMAGE_PULL_POLICY"),
        ("IMPALA_COPY_JOB_SERVICE_ACCOUNT_NAME", "Bad_Name", "not a valid object name"),
        ("IMPALA_COPY_NAMESPACES", "ok,Not_OK", "'Not_OK' is not a namespace"),
        ("IMPALA_COPY_ENGINE_IMAGE", " ", "IMPALA_COPY_ENGINE_IMAGE must not be empty"),
        ("IMPALA_COPY_JOB_RUN_AS_USER", "0", "IMPALA_COPY_JOB_RUN_AS_USER must be at least 1; got 0"),
        ("IMPALA_COPY_JOB_RUN_AS_USER", "root", "IMPALA_COPY_JOB_RUN_AS_USER must be a whole number"),
        ("IMPALA_COPY_JOB_RUN_AS_GROUP", "-1", "IMPALA_COPY_JOB_RUN_AS_GROUP must be at least 0; got -1"),
        (
            "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES",
            "0",
            "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES must be at least 1",
        ),
        (
            "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES",
            "300",
            "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES must be at most 256",
        ),
        (
            "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES",
            "lots",
            "IMPALA_COPY_JOB_MAX_PARALLEL_COPIES must be a whole",
        ),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment.replace("(", r"\(").replace("*", r"\*")):
        Settings.from_env({name: value})


def test_empty_ids_are_unset_for_the_platform_to_assign() -> None:
    names = ("IMPALA_COPY_JOB_RUN_AS_USER", "IMPALA_COPY_JOB_RUN_AS_GROUP", "IMPALA_COPY_JOB_FS_GROUP")
    job = Settings.from_env(dict.fromkeys(names, "")).job
    assert (job.run_as_user, job.run_as_group, job.fs_group) == (None, None, None)
    assert (Settings.from_env({}).job.run_as_user, Settings.from_env({}).job.fs_group) == (65532, 65532)


def test_options_override_the_environment() -> None:
    env = {"IMPALA_COPY_NAMESPACES": "a", "IMPALA_COPY_LOG_LEVEL": "INFO"}
    s = with_options(
        env, namespaces=["b", "c"], log_level="warning", liveness="http://127.0.0.1:9999/healthz"
    )
    assert s.namespaces == ("b", "c")
    assert s.log_level == "WARNING"
    assert s.liveness_endpoint == "http://127.0.0.1:9999/healthz"
    assert with_options(env).namespaces == ("a",)
    assert with_options(env, liveness="").liveness_endpoint is None
    with pytest.raises(SettingsError, match="--log-level"):
        with_options(env, log_level="chatty")


def test_namespace_patterns() -> None:
    assert parse_namespaces("") == ()
    assert parse_namespaces("a,a, b") == ("a", "b")
    assert parse_namespaces("!kube-system") == ("!kube-system",)
