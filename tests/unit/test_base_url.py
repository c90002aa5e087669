"""Sync's base URL is https://host[:port] and nothing else; plain http only to this machine."""

from __future__ import annotations

import pytest

from syncdrop.config import SettingsError, SubmitSettings

BASE = {
    "JOB_TABLE": "jobs",
    "RESULTS_TABLE": "results",
    "UPLOADS_BUCKET": "bucket",
    "SYNC_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:k",
    "BATCH_CONCURRENCY": "3",
    "RESULTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/results",
}

ACCEPTED = [
    "https://api.sync.so",
    "https://api.sync.so/",
    "https://dev-api.sync.so:8443",
    "https://api.sync.so:65535",
    "http://127.0.0.1:5001",  # the local emulator
    "http://localhost:3001",
    "http://[::1]:8080",
]

REFUSED = {
    "http://api.sync.so": "in the clear",
    "https://api.sync.so@evil.example": "user or password",
    "https://user:pass@api.sync.so": "user or password",
    "https://api.sync.so/v2": "no path",
    "https://api.sync.so?x=1": "no path, query",
    "https://api.sync.so#top": "no path, query",
    "https://api.sync.so:99999": "Port out of range",
    "https://api.sync.so:65536": "Port out of range",
    "https://api.sync.so:0": "port 0",
    "https://:443": "not a host name",
    "https://api .sync.so": "must be https://",
    "ftp://api.sync.so": "must be https://",
    "api.sync.so": "must be https://",
    "http://127.0.0.1.evil.example": "in the clear",
    "http://localhost.evil.example:80": "in the clear",
}


def settings(url: str) -> SubmitSettings:
    return SubmitSettings.from_env({**BASE, "SYNC_API_BASE_URL": url})


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_hosts_and_loopback_http_are_accepted(url):
    assert settings(url).sync_api_base_url == url


@pytest.mark.parametrize(("url", "why"), REFUSED.items())
def test_everything_else_is_refused_once_with_a_clear_reason(url, why):
    with pytest.raises(SettingsError) as caught:
        settings(url)
    message = str(caught.value)
    assert "SYNC_API_BASE_URL" in message
    assert why in message
