"""Every role SAM's expansion of template.yaml deploys grants what its function's code calls.

Read from the translated template (roles, inline and managed policies, event source mappings),
not from template.yaml: SAM adds policies of its own there (docs/security.md has the table).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from syncdrop_local.runtime.local_runtime import REPO_ROOT
from syncdrop_local.runtime.sam_expand import expand
from syncdrop_local.runtime.template import load_template
from tests.infra.iam import (
    as_list,
    function_statements,
    managed_policy_name,
    managed_statements,
    role_of,
    role_statements,
)

REQUIRED = {"NotificationEmail": "person@example.com", "SyncApiKey": "sk-test"}
WITH_SECRET = {**REQUIRED, "SyncWebhookSecret": "whsec_test"}
NO_COPIES = {**REQUIRED, "CopyOutputs": "false"}
LOGS = {"logs:CreateLogGroup *", "logs:CreateLogStream *", "logs:PutLogEvents *"}
POLL = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


def grants(*pairs: tuple[str, str]) -> set[str]:
    """``("dynamodb:GetItem dynamodb:Query", "JobTable")`` → one "action resource" per action."""
    return {f"{action} {resource}" for actions, resource in pairs for action in actions.split()}


# What each function's code calls (the comments beside each statement in template.yaml say
# where), on which resource: the role may do exactly this and write its logs.
EXPECTED = {
    "SubmitBatchFunction": grants(
        (" ".join(POLL), "IntakeQueue"),
        ("dynamodb:GetItem dynamodb:PutItem dynamodb:UpdateItem dynamodb:Query", "JobTable"),
        ("dynamodb:ConditionCheckItem", "JobTable"),  # a claim checks for a cancel request
        ("dynamodb:BatchWriteItem", "ResultsTable"),
        ("secretsmanager:GetSecretValue", "SyncApiKeySecret"),
        ("sqs:SendMessage", "ResultsQueue"),
        ("s3:GetObject s3:GetObjectVersion", "UploadsBucket/incoming/*"),
        ("s3:ListBucket", "UploadsBucket"),
        ("s3:GetObject s3:PutObject", "UploadsBucket/work/*"),
        ("s3:GetObject", "UploadsBucket/media/*"),
        ("s3:GetObjectVersion", "UploadsBucket/media/*"),
    ),
    "ReceiveWebhookFunction": grants(
        ("dynamodb:GetItem dynamodb:UpdateItem", "JobTable"),
        ("sqs:SendMessage", "ResultsQueue"),
    ),
    "FanOutResultsFunction": grants(
        (" ".join(POLL), "ResultsQueue"),
        ("dynamodb:GetItem dynamodb:UpdateItem dynamodb:Query", "JobTable"),
        ("dynamodb:ConditionCheckItem", "JobTable"),
        ("dynamodb:Query", "JobTable/index/OpenChunks"),
        ("dynamodb:BatchWriteItem dynamodb:Query", "ResultsTable"),
        ("secretsmanager:GetSecretValue", "SyncApiKeySecret"),
        ("sqs:SendMessage", "ResultsQueue"),
        ("sqs:SendMessage", "OutputsQueue"),
        ("sns:Publish", "NotificationTopic"),
        ("s3:GetObject", "UploadsBucket/work/*"),
        ("s3:GetObject", "UploadsBucket/media/*"),
        ("s3:GetObjectVersion", "UploadsBucket/media/*"),
        ("s3:PutObject s3:AbortMultipartUpload", "UploadsBucket/results/*"),
        ("s3:GetObject s3:GetObjectVersion", "UploadsBucket/results/*"),
        ("s3:GetObject", "UploadsBucket/outputs/*"),
    ),
    "CopyOutputsFunction": grants(
        (" ".join(POLL), "OutputsQueue"),
        ("dynamodb:BatchGetItem dynamodb:UpdateItem dynamodb:Query", "ResultsTable"),
        ("dynamodb:GetItem dynamodb:UpdateItem", "JobTable"),
        ("s3:PutObject s3:AbortMultipartUpload", "UploadsBucket/outputs/*"),
        ("sqs:SendMessage", "ResultsQueue"),
        ("sqs:SendMessage", "OutputsQueue"),
    ),
    "ReconcileFunction": grants(
        ("dynamodb:GetItem dynamodb:UpdateItem dynamodb:Query", "JobTable"),
        ("dynamodb:ConditionCheckItem", "JobTable"),
        ("dynamodb:Query", "JobTable/index/OpenChunks"),
        ("secretsmanager:GetSecretValue", "SyncApiKeySecret"),
        ("sqs:SendMessage", "ResultsQueue"),
        ("s3:GetObject", "UploadsBucket/work/*"),
        ("s3:GetObject", "UploadsBucket/media/*"),
        ("s3:GetObjectVersion", "UploadsBucket/media/*"),
    ),
}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return expand(REPO_ROOT, REQUIRED)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


def resource_name(node: Any) -> str:
    """A policy resource as the logical ids it names: ``UploadsBucket/work/*``, ``JobTable``."""
    if node == "*":
        return "*"
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        logical_id, attribute = as_list(node["Fn::GetAtt"])
        assert attribute == "Arn", node
        return str(logical_id)
    if isinstance(node, dict) and "Ref" in node:
        return str(node["Ref"])
    if isinstance(node, dict) and isinstance(node.get("Fn::Sub"), str):
        text = node["Fn::Sub"]
        return re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text)
    return json.dumps(node)


def role_grants(
    cfn: dict[str, Any], role_id: str, parameters: dict[str, str] = REQUIRED
) -> set[str]:
    """Every "action resource" a role allows: its inline statements and managed policies."""
    role = cfn["Resources"][role_id]["Properties"]
    statements = role_statements(cfn, role_id, parameters)
    for arn in role.get("ManagedPolicyArns", []):
        statements += managed_statements(arn)
    found = set()
    for statement in statements:
        assert statement["Effect"] == "Allow", statement
        assert "NotAction" not in statement, statement
        assert "NotResource" not in statement, statement
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                found.add(f"{action} {resource_name(resource)}")
    return found


def function_roles(cfn: dict[str, Any]) -> dict[str, str]:
    """function logical id → the logical id of the role it runs as."""
    found = {}
    for name, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            role = role_of(cfn, name)
            assert role is not None, f"{name} runs as a role outside this template"
            found[name] = role
    return found


def test_no_function_uses_a_sam_policy_template(template):
    """No DynamoDBCrudPolicy (Scan, DeleteItem, index/*), no SQSSendMessagePolicy
    (SendMessage*): every grant is an explicit statement."""
    text = json.dumps(template["Resources"])
    for name in ("DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBWritePolicy"):
        assert name not in text
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        function_statements(template, name)  # asserts each policy is a Statement list
        assert "Role" in resource["Properties"] or "Policies" in resource["Properties"], name


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_each_role_grants_exactly_what_its_code_calls(translated, function):
    role = function_roles(translated)[function]
    assert role == f"{function}Role"  # the name the bucket policy's denials use
    assert role_grants(translated, role) == EXPECTED[function] | LOGS


def test_every_function_is_in_the_table(translated):
    assert set(function_roles(translated)) == set(EXPECTED)


def test_only_logs_actions_have_resource_star(translated):
    for role_id, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for grant in role_grants(translated, role_id):
            action, target = grant.split(" ", 1)
            assert "*" not in action, f"{role_id}: {grant}"
            if target == "*":
                assert action.startswith("logs:"), f"{role_id}: {grant}"


def test_the_only_managed_policy_is_lambdas_basic_execution_role(translated):
    """SAM would attach AWSLambdaSQSQueueExecutionRole (receive and delete on every queue) to
    a role it makes for a function with an SQS event; those functions bring their own."""
    for role_id, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        managed = {
            managed_policy_name(a) for a in resource["Properties"].get("ManagedPolicyArns", [])
        }
        assert managed <= {"AWSLambdaBasicExecutionRole"}, role_id
    basic = managed_statements("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    assert {a.split(":")[0] for s in basic for a in as_list(s["Action"])} == {"logs"}


def test_each_queue_poller_can_poll_its_own_queue_only(translated):
    resources = translated["Resources"]
    roles = function_roles(translated)
    pollers: dict[str, str] = {}
    for mapping in resources.values():
        if mapping["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        function = mapping["Properties"]["FunctionName"]["Ref"]
        pollers[roles[function]] = resource_name(mapping["Properties"]["EventSourceArn"])
    assert pollers == {
        "SubmitBatchFunctionRole": "IntakeQueue",
        "FanOutResultsFunctionRole": "ResultsQueue",
        "CopyOutputsFunctionRole": "OutputsQueue",
    }
    for role_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for action in POLL:
            queues = {
                g.split(" ", 1)[1]
                for g in role_grants(translated, role_id)
                if g.startswith(action + " ")
            }
            assert queues == ({pollers[role_id]} if role_id in pollers else set()), role_id


def test_no_role_can_delete_from_a_table(translated):
    """No code deletes an item. BatchWriteItem could carry deletes too (IAM cannot tell puts
    from deletes there): it is allowed on the results table only, to the two row writers."""
    batch_writers = set()
    for role_id, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for grant in role_grants(translated, role_id):
            action, target = grant.split(" ", 1)
            assert action not in ("dynamodb:DeleteItem", "dynamodb:PartiQLDelete"), role_id
            if action == "dynamodb:BatchWriteItem":
                assert target == "ResultsTable", role_id
                batch_writers.add(role_id)
    assert batch_writers == {"SubmitBatchFunctionRole", "FanOutResultsFunctionRole"}


def test_only_the_querying_roles_reach_the_open_chunks_index(translated):
    readers = {
        role_id
        for role_id, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and any("/index/" in g for g in role_grants(translated, role_id))
    }
    assert readers == {"FanOutResultsFunctionRole", "ReconcileFunctionRole"}
    for role_id in readers:
        indexes = {g for g in role_grants(translated, role_id) if "/index/" in g}
        assert indexes == {"dynamodb:Query JobTable/index/OpenChunks"}


def test_own_roles_trust_lambda_only(translated):
    for function, role_id in function_roles(translated).items():
        trust = translated["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": ["lambda.amazonaws.com"]} or statement[
            "Principal"
        ] == {"Service": "lambda.amazonaws.com"}, function
        assert as_list(statement["Action"]) == ["sts:AssumeRole"], function
        assert "Condition" not in statement


def test_listing_the_bucket_is_limited_to_uploads(translated):
    statements = role_statements(translated, "SubmitBatchFunctionRole", REQUIRED)
    (listing,) = [s for s in statements if "s3:ListBucket" in as_list(s["Action"])]
    assert as_list(listing["Action"]) == ["s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}


def test_the_schedules_role_may_only_invoke_the_reconciler(translated):
    schedule_roles = {
        role_id
        for role_id, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and role_id not in function_roles(translated).values()
    }
    assert schedule_roles == {"ReconcileFunctionScheduleRole"}
    assert role_grants(translated, "ReconcileFunctionScheduleRole") == {
        "lambda:InvokeFunction ReconcileFunction"
    }


def test_the_webhook_secret_is_granted_only_when_there_is_one():
    without = expand(REPO_ROOT, REQUIRED)
    assert not any(
        g.startswith("secretsmanager:")
        for g in role_grants(without, "ReceiveWebhookFunctionRole", REQUIRED)
    )
    with_secret = expand(REPO_ROOT, WITH_SECRET)
    assert role_grants(with_secret, "ReceiveWebhookFunctionRole", WITH_SECRET) == (
        EXPECTED["ReceiveWebhookFunction"]
        | LOGS
        | {"secretsmanager:GetSecretValue SyncWebhookSecretValue"}
    )


def test_fan_out_may_queue_copies_and_sign_their_links_only_while_copy_outputs_is_on():
    off = expand(REPO_ROOT, NO_COPIES)
    assert role_grants(off, "FanOutResultsFunctionRole", NO_COPIES) == (
        EXPECTED["FanOutResultsFunction"] | LOGS
    ) - {"sqs:SendMessage OutputsQueue", "s3:GetObject UploadsBucket/outputs/*"}


def test_every_granted_statement_says_which_code_makes_the_call(template):
    """template.yaml's convention: a comment right above each Allow statement of a function's
    grants (above its ``!If`` when it is conditional). Trust policies are not grants."""
    lines = (REPO_ROOT / "template.yaml").read_text().splitlines()
    checked = 0
    for number, line in enumerate(lines):
        if line.strip() != "- Effect: Allow" or lines[number + 1].strip() == "Principal:":
            continue
        above = number - 1
        # A conditional statement: `- !If`, `- <Condition>`, then the statement.
        if re.fullmatch(r"\s*- \w+", lines[above]) and lines[above - 1].strip() == "- !If":
            above -= 2
        assert lines[above].strip().startswith("#"), f"template.yaml:{number + 1} has no comment"
        checked += 1
    # Every statement of every function (both branches of an `!If`) was found above.
    assert checked == sum(len(function_statements(template, name)) for name in EXPECTED)
