"""The checks AWS makes for a request, as moto_iam asks them of moto's IAM."""

from __future__ import annotations

from syncdrop_local.runtime import moto_iam
from syncdrop_local.runtime.iam_checks import (
    Check,
    Place,
    checks_for,
    copy_source_check,
    iam_action,
)

HERE = Place("aws", "us-east-1", "123456789012")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs"


def test_a_transaction_is_its_items_as_single_item_actions():
    items = [
        {"ConditionCheck": {"TableName": "jobs"}},
        {"Put": {"TableName": "jobs"}},
        {"Update": {"TableName": TABLE}},
        {"Delete": {"TableName": "other"}},
    ]
    assert checks_for("dynamodb", "TransactWriteItems", {"TransactItems": items}, HERE) == [
        Check("dynamodb:ConditionCheckItem", TABLE),
        Check("dynamodb:PutItem", TABLE),
        Check("dynamodb:UpdateItem", TABLE),
        Check("dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other"),
    ]


def test_queries_and_scans_on_an_index_are_checked_on_the_index():
    params = {"TableName": "jobs", "IndexName": "by-status"}
    assert checks_for("dynamodb", "Query", params, HERE) == [
        Check("dynamodb:Query", f"{TABLE}/index/by-status")
    ]
    assert checks_for("dynamodb", "Scan", params, HERE) == [
        Check("dynamodb:Scan", f"{TABLE}/index/by-status")
    ]
    assert checks_for("dynamodb", "ListTables", {}, HERE) == [Check("dynamodb:ListTables", "*")]


def test_sns_secrets_and_cloudwatch_resources():
    topic = "arn:aws:sns:us-east-1:123456789012:done"
    assert checks_for("sns", "CreateTopic", {"Name": "done"}, HERE) == [
        Check("sns:CreateTopic", topic)
    ]
    assert checks_for("sns", "Unsubscribe", {"SubscriptionArn": f"{topic}:abc"}, HERE) == [
        Check("sns:Unsubscribe", topic)
    ]
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf"
    assert checks_for(
        "secretsmanager",
        "GetSecretValue",
        {"SecretId": "key"},
        HERE,
        secret_arn={"key": secret}.get,
    ) == [Check("secretsmanager:GetSecretValue", secret)]
    assert checks_for("secretsmanager", "CreateSecret", {"Name": "key"}, HERE) == [
        Check("secretsmanager:CreateSecret", f"{secret[:-6]}??????")
    ]
    alarms = checks_for("cloudwatch", "DeleteAlarms", {"AlarmNames": ["a", "b"]}, HERE)
    assert alarms == [
        Check("cloudwatch:DeleteAlarms", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"),
        Check("cloudwatch:DeleteAlarms", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:b"),
    ]


def test_other_services_keep_moto_s_own_check():
    assert checks_for("sqs", "SendMessage", {}, HERE) is None


def test_a_copy_reads_its_source_version_when_named():
    assert copy_source_check("drop/in/a%20b.csv", "aws") == Check(
        "s3:GetObject", "arn:aws:s3:::drop/in/a b.csv"
    )
    assert copy_source_check("/drop/in/a.csv?versionId=v1", "aws") == Check(
        "s3:GetObjectVersion", "arn:aws:s3:::drop/in/a.csv"
    )


def test_sqs_batch_calls_are_authorised_as_their_single_actions():
    # There is no sqs:SendMessageBatch in IAM: a role granted SendMessage may send batches.
    assert iam_action("sqs", "SendMessageBatch") == "sqs:SendMessage"
    assert iam_action("sqs", "DeleteMessageBatch") == "sqs:DeleteMessage"
    assert iam_action("sqs", "ChangeMessageVisibilityBatch") == "sqs:ChangeMessageVisibility"
    assert iam_action("sqs", "ReceiveMessage") == "sqs:ReceiveMessage"
    assert iam_action("monitoring", "PutMetricData") == "cloudwatch:PutMetricData"


def test_iam_wildcards_match_any_character_and_nothing_else_is_special():
    from moto.iam.access_control import IAMPolicyStatement

    moto_iam.install()
    match = IAMPolicyStatement._match
    assert match("arn:aws:s3:::b/incoming/*", "arn:aws:s3:::b/incoming/a\nb.csv")
    assert match("arn:aws:s3:::b/incoming/?.csv", "arn:aws:s3:::b/incoming/x.csv")
    assert not match("arn:aws:s3:::b/incoming/?.csv", "arn:aws:s3:::b/incoming/xy.csv")
    # "." is a dot, not any character; a pattern matches the whole ARN.
    assert not match("arn:aws:s3:::b/a.csv", "arn:aws:s3:::b/aXcsv")
    assert not match("arn:aws:s3:::b/incoming/*", "arn:aws:s3:::b/work/incoming/x")
