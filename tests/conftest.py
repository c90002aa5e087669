"""Shared fixtures: fake AWS credentials, moto-backed stacks built from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from syncdrop_local.runtime.local_runtime import AWS_TEST_ENV, REPO_ROOT
from syncdrop_local.runtime.moto_world import MotoWorld, attach
from syncdrop_local.runtime.stack import LocalStack, deploy

STACK_PARAMETERS = {
    "NotificationEmail": "person@example.com",
    "SyncApiKey": "sk-test-key",
    "SyncApiBaseUrl": "http://127.0.0.1:9",
}


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with fake credentials, so nothing can reach a real account."""
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture
def moto_stack() -> Iterator[LocalStack]:
    """template.yaml's resources under mock_aws (in-process, no server)."""
    with mock_aws():
        yield deploy(REPO_ROOT, None, STACK_PARAMETERS)


@pytest.fixture
def moto_world(moto_stack: LocalStack) -> MotoWorld:
    """moto_stack's DynamoDB client made safe for threads: its requests go into moto one at a
    time and overlapping transactions on one item conflict, as on DynamoDB."""
    world = MotoWorld()
    attach(moto_stack.client("dynamodb"), world)
    return world
