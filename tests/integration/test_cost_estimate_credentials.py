"""Where `syncdrop validate --cost` finds Sync's API key: flag, environment, then the stack."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from syncdrop_local.cost_estimate import CostUnavailable, credentials

# moto's CloudFormation creates no secrets: the secret is made directly, and the stack carries
# its ARN in the SyncApiKeySecretArn output, as template.yaml's does.
TEMPLATE = {
    "Parameters": {"SyncApiBaseUrl": {"Type": "String"}, "SecretArn": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"SyncApiKeySecretArn": {"Value": {"Ref": "SecretArn"}}},
}


def args(**given: str | None) -> argparse.Namespace:
    fields = {"api_key": None, "sync_url": None, "stack": None, "region": "us-east-1"}
    return argparse.Namespace(**{**fields, "profile": None, "endpoint_url": None, **given})


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("SYNC_API_KEY", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="syncdrop-sync-api-key", SecretString="sk-from-the-stack"
        )
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="syncdrop",
            TemplateBody=json.dumps(TEMPLATE),
            Parameters=[
                {"ParameterKey": "SyncApiBaseUrl", "ParameterValue": "http://127.0.0.1:8787"},
                {"ParameterKey": "SecretArn", "ParameterValue": secret["ARN"]},
            ],
        )
        yield "syncdrop"


def test_the_stack_gives_its_secret_and_sync_url(stack: str) -> None:
    assert credentials(args(stack=stack)) == ("sk-from-the-stack", "http://127.0.0.1:8787")


def test_a_flag_or_the_environment_comes_before_the_stack(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert credentials(args(stack=stack, api_key="sk-flag")) == ("sk-flag", "https://api.sync.so")
    monkeypatch.setenv("SYNC_API_KEY", "sk-env")
    assert credentials(args(stack=stack, sync_url="http://x.test")) == ("sk-env", "http://x.test")


def test_an_unknown_stack_is_said(stack: str) -> None:
    with pytest.raises(CostUnavailable, match="stack nope"):
        credentials(args(stack="nope"))


def test_no_key_anywhere_is_said(stack: str) -> None:
    with pytest.raises(CostUnavailable, match="needs Sync's API key"):
        credentials(args())
