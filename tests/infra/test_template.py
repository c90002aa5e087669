"""template.yaml keeps its promises: encryption, TLS only, least privilege, DLQs, no secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from syncdrop_local.runtime.local_runtime import REPO_ROOT
from syncdrop_local.runtime.template import load_template
from tests.infra.iam import function_statements


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_functions_run_python313_on_arm64(template):
    function = template["Globals"]["Function"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]


def test_uploads_bucket_is_versioned_encrypted_and_private(template):
    bucket = template["Resources"]["UploadsBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    filters = [
        {r["Name"]: r["Value"] for r in q["Filter"]["S3Key"]["Rules"]}
        for q in bucket["NotificationConfiguration"]["QueueConfigurations"]
    ]
    assert filters == [
        {"prefix": "incoming/", "suffix": ".csv"},
        {"prefix": "incoming/", "suffix": ".jsonl"},
    ]


def _denies_insecure_transport(policy: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_bucket_and_queues_refuse_plain_http(template):
    bucket_policy = template["Resources"]["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]
    assert _denies_insecure_transport(bucket_policy)
    queue_policies = resources_of(template, "AWS::SQS::QueuePolicy")
    covered = set()
    for policy in queue_policies.values():
        assert _denies_insecure_transport(policy["Properties"]["PolicyDocument"])
        covered |= {q["Ref"] for q in policy["Properties"]["Queues"]}
    assert covered == set(resources_of(template, "AWS::SQS::Queue"))


def test_every_queue_is_encrypted_and_every_work_queue_has_a_dlq(template):
    queues = resources_of(template, "AWS::SQS::Queue")
    dlqs = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    for name, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name
        assert name in dlqs or "RedrivePolicy" in queue["Properties"], f"{name} has no DLQ"


def test_sqs_consumers_report_partial_failures_and_outlast_their_timeout(template):
    queues = template["Resources"]
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        timeout = function["Properties"].get("Timeout", template["Globals"]["Function"]["Timeout"])
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
            queue = queues[event["Properties"]["Queue"]["Fn::GetAtt"][0]]["Properties"]
            assert queue["VisibilityTimeout"] >= 6 * timeout, name


def test_tables_are_encrypted_recoverable_and_indexed_for_open_chunks(template):
    tables = resources_of(template, "AWS::DynamoDB::Table")
    for table in tables.values():
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    (index,) = tables["JobTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "OpenChunks"


def test_the_api_key_is_noecho_and_only_reaches_functions_as_a_secret_arn(template):
    assert template["Parameters"]["SyncApiKey"]["NoEcho"] is True
    secret = template["Resources"]["SyncApiKeySecret"]["Properties"]["SecretString"]
    assert secret == {"Ref": "SyncApiKey"}
    environments = [template["Globals"]["Function"]["Environment"]["Variables"]] + [
        f["Properties"].get("Environment", {}).get("Variables", {})
        for f in resources_of(template, "AWS::Serverless::Function").values()
    ]
    assert '{"Ref": "SyncApiKey"}' not in json.dumps(environments)


def test_submit_batch_cannot_change_or_delete_uploads(template):
    statements = function_statements(template, "SubmitBatchFunction")
    assert statements
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any(a.endswith("*") for a in actions)
        assert "s3:DeleteObject" not in actions
        resource = json.dumps(statement["Resource"])
        if "s3:PutObject" in actions:
            assert "/work/*" in resource
            assert "incoming" not in resource


def test_topic_is_encrypted_and_mails_the_notification_address(template):
    topic = template["Resources"]["NotificationTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == "alias/aws/sns"
    assert "Subscription" not in topic  # an inline subscription cannot take a filter policy
    subscription = template["Resources"]["NotificationEmailSubscription"]
    assert "Condition" not in subscription
    props = subscription["Properties"]
    assert props["TopicArn"] == {"Ref": "NotificationTopic"}
    assert (props["Protocol"], props["Endpoint"]) == ("email", {"Ref": "NotificationEmail"})
    # NotificationEmailGetsAll false: only the emails of files that name nobody.
    assert props["FilterPolicy"] == {
        "Fn::If": [
            "NotificationEmailGetsEveryFile",
            {"Ref": "AWS::NoValue"},
            {"notify": [{"exists": False}]},
        ]
    }
    assert template["Conditions"]["NotificationEmailGetsEveryFile"] == {
        "Fn::Equals": [{"Ref": "NotificationEmailGetsAll"}, "true"]
    }
    assert template["Parameters"]["NotificationEmailGetsAll"]["Default"] == "true"
    assert template["Parameters"]["NotifyPrefixRules"]["Default"] == ""


def test_webhook_secret_is_noecho_and_optional(template):
    parameter = template["Parameters"]["SyncWebhookSecret"]
    assert parameter["NoEcho"] is True
    assert parameter["Default"] == ""
    secret = template["Resources"]["SyncWebhookSecretValue"]
    assert secret["Condition"] == "HasWebhookSecret"
    env = template["Resources"]["ReceiveWebhookFunction"]["Properties"]["Environment"]["Variables"]
    assert env["WEBHOOK_SECRET_ARN"] == {
        "Fn::If": ["HasWebhookSecret", {"Ref": "SyncWebhookSecretValue"}, ""]
    }


def test_webhook_route_is_throttled_and_the_function_cannot_touch_results(template):
    api = template["Resources"]["WebhookApi"]["Properties"]["DefaultRouteSettings"]
    assert api["ThrottlingRateLimit"] > 0
    function = template["Resources"]["ReceiveWebhookFunction"]["Properties"]
    (event,) = function["Events"].values()
    assert (event["Properties"]["Path"], event["Properties"]["Method"]) == ("/sync/webhook", "POST")
    granted = json.dumps(function["Policies"])
    assert "ResultsTable" not in granted
    assert "s3:" not in granted
    assert "dynamodb:DeleteItem" not in granted


def test_the_webhook_role_cannot_read_the_api_key(template):
    """receive_webhook never calls Sync: its only secret is the webhook secret."""
    policies = template["Resources"]["ReceiveWebhookFunction"]["Properties"]["Policies"]
    assert "SyncApiKeySecret" not in json.dumps(policies)
    # One Secrets Manager grant, naming the webhook secret, only when there is one.
    (grant,) = [p for p in policies if "secretsmanager" in json.dumps(p).lower()]
    condition, statement, otherwise = grant["Fn::If"]
    assert (condition, otherwise) == ("HasWebhookSecret", {"Ref": "AWS::NoValue"})
    assert statement["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": {"Ref": "SyncWebhookSecretValue"},
        }
    ]


def test_webhook_concurrency_is_reserved_from_a_parameter_that_0_turns_off(template):
    parameter = template["Parameters"]["WebhookReservedConcurrency"]
    assert parameter["Type"] == "Number"
    assert parameter["MinValue"] == 0
    # Lambda keeps 100 of an account's concurrency unreserved: stay well below a 1,000 quota.
    assert 1 <= parameter["Default"] <= 50
    condition = template["Conditions"]["HasWebhookReservation"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebhookReservedConcurrency"}, "0"]}]}
    function = template["Resources"]["ReceiveWebhookFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasWebhookReservation",
            {"Ref": "WebhookReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


def test_no_function_gets_wildcard_actions(template):
    for name in resources_of(template, "AWS::Serverless::Function"):
        statements = function_statements(template, name)
        assert statements, name
        for statement in statements:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert all("*" not in a for a in actions), name


def test_reconciler_runs_on_a_schedule_from_a_parameter(template):
    (event,) = template["Resources"]["ReconcileFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {
        "Fn::Sub": "rate(${ReconcileIntervalMinutes} minutes)"
    }


def test_outputs_tell_the_user_where_things_are(template):
    outputs = template["Outputs"]
    assert {"UploadsBucketName", "WebhookUrl", "NotificationTopicArn"} <= set(outputs)
