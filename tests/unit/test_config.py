"""Settings come from the environment once, and a broken deployment says what is wrong."""

from __future__ import annotations

import pytest

from syncdrop.config import SettingsError, SubmitSettings

BASE = {
    "JOB_TABLE": "jobs",
    "RESULTS_TABLE": "results",
    "UPLOADS_BUCKET": "bucket",
    "SYNC_API_BASE_URL": "https://api.sync.so",
    "SYNC_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:k",
    "BATCH_CONCURRENCY": "3",
    "RESULTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/results",
}


def test_reads_typed_values():
    settings = SubmitSettings.from_env(
        {**BASE, "BATCH_MAX_LINES": "1000", "DEFAULT_MODEL": "sync-3"}
    )
    assert settings.batch_concurrency == 3
    assert settings.batch_max_lines == 1000
    assert settings.default_model == "sync-3"
    assert settings.batch_min_lines == 20


def test_missing_and_bad_values_are_named():
    env = {k: v for k, v in BASE.items() if k != "JOB_TABLE"}
    env["BATCH_CONCURRENCY"] = "zero"
    with pytest.raises(SettingsError) as err:
        SubmitSettings.from_env(env)
    assert "JOB_TABLE" in str(err.value)
    assert "BATCH_CONCURRENCY" in str(err.value)


def test_base_url_must_be_scheme_and_host():
    with pytest.raises(SettingsError):
        SubmitSettings.from_env({**BASE, "SYNC_API_BASE_URL": "api.sync.so/v2"})
