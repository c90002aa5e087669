"""The local stack deploys what the SAM translator makes of a template: roles, event sources,
schedules and routes come from its CloudFormation, not from a reading of SAM's own syntax."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from syncdrop_local.runtime import iam_roles, sam_expand
from syncdrop_local.runtime.local_runtime import REPO_ROOT, LocalRuntime
from syncdrop_local.runtime.sam_expand import expand
from syncdrop_local.runtime.stack import LocalStack, deploy
from syncdrop_local.runtime.template import ACCOUNT, Resolver
from tests.conftest import STACK_PARAMETERS

BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_POLLER = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"

# Every kind of thing the local runtime takes from the translator, in one small template.
SAMPLE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Level:
    Type: String
    Default: INFO
  Reserve:
    Type: Number
    Default: 0
Conditions:
  HasReserve: !Not [!Equals [!Ref Reserve, "0"]]
Globals:
  Function:
    Runtime: python3.13
    Architectures: [arm64]
    MemorySize: 256
    Timeout: 30
    Layers: [!Ref SharedLayer]
    Environment:
      Variables:
        TABLE: !Ref Table
        LEVEL: !Ref Level
        HOOK_URL: !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/hook"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Work:
    Type: AWS::SQS::Queue
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared/
  Api:
    Type: AWS::Serverless::HttpApi
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      ReservedConcurrentExecutions: !If [HasReserve, !Ref Reserve, !Ref AWS::NoValue]
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 5
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: 4
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref Table
  Hook:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/hook/
      Handler: app.handler
      Timeout: 10
      Events:
        Call:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /hook
            Method: POST
        Tick:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(5 minutes)
      Role: !GetAtt HookRole.Arn
  HookRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        - !Ref ReadTable
      Policies:
        - PolicyName: send-work
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt Work.Arn
              - !If
                - HasReserve
                - Effect: Allow
                  Action: sqs:ReceiveMessage
                  Resource: !GetAtt Work.Arn
                - !Ref AWS::NoValue
  ReadTable:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: dynamodb:GetItem
            Resource: !GetAtt Table.Arn
  HookExtra:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: hook-extra
      Roles: [!Ref HookRole]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: dynamodb:PutItem
            Resource: !GetAtt Table.Arn
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(SAMPLE)
    for code in ("functions/worker", "functions/hook", "layers/shared/python"):
        (tmp_path / code).mkdir(parents=True)
    for function in ("worker", "hook"):
        (tmp_path / "functions" / function / "app.py").write_text(
            "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
        )
    return tmp_path


@pytest.fixture
def sample_stack(sample: Path) -> Iterator[LocalStack]:
    with mock_aws():
        yield deploy(sample, None, {"Reserve": "3"})


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {i: r for i, r in template["Resources"].items() if r["Type"] == kind}


# --- what the translator makes of the project's template -------------------------------------


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return expand(REPO_ROOT, STACK_PARAMETERS)


def test_no_sam_resource_is_left_and_every_function_has_a_role_of_the_template(translated):
    assert not [r for r in translated["Resources"].values() if "Serverless" in r["Type"]]
    roles = of_type(translated, "AWS::IAM::Role")
    functions = of_type(translated, "AWS::Lambda::Function")
    assert functions
    for name, function in functions.items():
        role = function["Properties"]["Role"]
        assert role["Fn::GetAtt"][0] in roles, name
        assert (REPO_ROOT / function["Metadata"][sam_expand.CODE_DIR] / "app.py").is_file()


def test_every_sqs_event_is_an_event_source_mapping_with_its_settings(translated):
    mappings = of_type(translated, "AWS::Lambda::EventSourceMapping")
    raw = (REPO_ROOT / "template.yaml").read_text()
    assert len(mappings) == raw.count("Type: SQS")
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["EventSourceArn"]["Fn::GetAtt"][1] == "Arn"
        assert props["FunctionName"]["Ref"] in translated["Resources"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert isinstance(props["BatchSize"], int)


def test_the_reconciler_schedule_and_the_webhook_route(translated):
    (schedule,) = of_type(translated, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}
    assert schedule["Properties"]["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    api = translated["Resources"]["WebhookApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api"
    route = api["Properties"]["Body"]["paths"]["/sync/webhook"]["post"]
    uri = route["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    assert "${ReceiveWebhookFunction.Arn}" in uri


def test_translation_is_cached_and_callers_get_their_own_copy(sample):
    sam_expand._translated.cache_clear()
    first = expand(sample, {"Reserve": "3"})
    first["Resources"].clear()
    again = expand(sample, {"Reserve": "3"})
    assert again["Resources"]
    assert sam_expand._translated.cache_info().hits == 1
    expand(sample, {"Reserve": "4"})  # other parameters: translated again
    assert sam_expand._translated.cache_info().misses == 2
    template = sample / "template.yaml"
    stat = template.stat()
    os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    expand(sample, {"Reserve": "3"})  # an edited template: translated again
    assert sam_expand._translated.cache_info().misses == 3


# --- the deploy --------------------------------------------------------------------------------


def test_sam_generated_roles_carry_the_policies_sam_adds(sample_stack):
    iam = sample_stack.client("iam")
    worker = sample_stack.functions["Worker"]
    assert worker.role_logical_id == "WorkerRole"
    role = iam.get_role(RoleName=worker.role_arn.rpartition("/")[2])["Role"]
    assert role["Arn"] == worker.role_arn
    assert role["Arn"].startswith(f"arn:aws:iam::{ACCOUNT}:role/")
    trust = role["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": ["lambda.amazonaws.com"]}
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == {BASIC, SQS_POLLER}
    (name,) = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"]
    (statement,) = document["Statement"]
    table = sample_stack.attribute("Table", "Arn")
    assert statement["Resource"] == [table, f"{table}/index/*"]
    assert "dynamodb:Scan" in statement["Action"]


def test_a_role_declared_in_the_template_gets_its_inline_managed_and_separate_policies(
    sample_stack,
):
    iam = sample_stack.client("iam")
    hook = sample_stack.functions["Hook"]
    assert hook.role_logical_id == "HookRole"
    role = sample_stack.ref("HookRole")
    assert hook.role_arn == iam.get_role(RoleName=role)["Role"]["Arn"]
    attached = {
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    }
    assert attached == {BASIC, sample_stack.ref("ReadTable")}
    assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == [
        "hook-extra",
        "send-work",
    ]
    send = iam.get_role_policy(RoleName=role, PolicyName="send-work")["PolicyDocument"]
    # The !If holds with Reserve=3: both statements, every intrinsic resolved.
    assert [s["Action"] for s in send["Statement"]] == ["sqs:SendMessage", "sqs:ReceiveMessage"]
    assert {s["Resource"] for s in send["Statement"]} == {sample_stack.attribute("Work", "Arn")}
    managed = iam.get_policy(PolicyArn=sample_stack.ref("ReadTable"))["Policy"]
    version = iam.get_policy_version(
        PolicyArn=managed["Arn"], VersionId=managed["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    document = version if isinstance(version, dict) else json.loads(version)
    assert document["Statement"][0]["Resource"] == sample_stack.attribute("Table", "Arn")


def test_a_false_condition_drops_its_statement_and_its_property(sample):
    with mock_aws():
        stack = deploy(sample, None, {})
        role = stack.ref("HookRole")
        iam = stack.client("iam")
        send = iam.get_role_policy(RoleName=role, PolicyName="send-work")["PolicyDocument"]
        assert [s["Action"] for s in send["Statement"]] == ["sqs:SendMessage"]
        assert stack.functions["Worker"].reserved_concurrency is None


def test_function_specs_hold_what_a_runner_needs(sample, sample_stack):
    worker, hook = sample_stack.functions["Worker"], sample_stack.functions["Hook"]
    assert worker.code_dir == sample / "functions" / "worker"
    assert hook.code_dir == sample / "functions" / "hook"
    assert worker.layer_dirs == hook.layer_dirs == (sample / "layers" / "shared",)
    assert (worker.handler, worker.runtime, worker.architectures) == (
        "app.handler",
        "python3.13",
        ("arm64",),
    )
    assert (worker.timeout, worker.memory_size, worker.reserved_concurrency) == (30, 256, 3)
    assert (hook.timeout, hook.reserved_concurrency) == (10, None)
    assert worker.environment["TABLE"] == sample_stack.ref("Table")
    assert worker.environment["LEVEL"] == "INFO"
    assert worker.function_name.startswith("syncdrop-local-Worker-")


def test_event_sources_come_from_mappings_schedules_and_routes(sample_stack):
    worker, hook = sample_stack.functions["Worker"], sample_stack.functions["Hook"]
    (jobs,) = worker.events.values()
    assert jobs.kind == "SQS"
    assert jobs.properties["EventSourceArn"] == sample_stack.attribute("Work", "Arn")
    assert jobs.properties["BatchSize"] == 5
    assert jobs.properties["MaximumBatchingWindowInSeconds"] == 2
    assert jobs.properties["ScalingConfig"] == {"MaximumConcurrency": 4}
    assert jobs.properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    kinds = {e.kind: e.properties for e in hook.events.values()}
    assert set(kinds) == {"HttpApi", "Schedule"}
    assert (kinds["HttpApi"]["Method"], kinds["HttpApi"]["Path"]) == ("POST", "/hook")
    assert kinds["Schedule"]["ScheduleExpression"] == "rate(5 minutes)"


def test_the_local_runtime_wires_pollers_the_front_and_schedules(sample):
    with mock_aws():
        runtime = LocalRuntime.start(None, {"Reserve": "3"}, root=sample)
        try:
            (poller,) = runtime.sqs_sources
            assert (poller.function.spec.logical_id, poller.batch_size) == ("Worker", 5)
            assert poller.report_failures
            assert [f.spec.logical_id for f in runtime.schedules] == ["Hook"]
            assert runtime.front.routes[("POST", "/hook")].spec.logical_id == "Hook"
            # The API's public URL in the environment is the local front's.
            hook_url = runtime.functions["Worker"].spec.environment["HOOK_URL"]
            assert hook_url == f"{runtime.front.url}/hook"
            assert runtime.run_schedules() == [{"statusCode": 200, "body": "ok"}]
        finally:
            runtime.stop()


def test_types_the_local_runtime_does_not_know_are_refused(sample):
    extra = "  Network:\n    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: 10.0.0.0/16\n"
    (sample / "template.yaml").write_text(SAMPLE + extra)
    with mock_aws(), pytest.raises(ValueError, match=r"AWS::EC2::VPC"):
        deploy(sample, None, {})


def test_the_project_stack_roles_exist_with_their_policies(moto_stack):
    iam = moto_stack.client("iam")
    for name, function in moto_stack.functions.items():
        assert function.role_logical_id is not None, name
        role = moto_stack.ref(function.role_logical_id)
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert BASIC in {p["PolicyArn"] for p in attached}, name
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert names, name
        for policy in names:
            document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
            assert "Fn::" not in json.dumps(document), (name, policy)
        assert function.layer_dirs == (REPO_ROOT / "layers" / "common",), name


def test_no_value_is_left_out_of_lists_and_mappings() -> None:
    template = {"Conditions": {"Off": {"Fn::Equals": ["a", "b"]}}}
    resolver = Resolver(template=template, parameters={})
    dropped = {"Fn::If": ["Off", "x", {"Ref": "AWS::NoValue"}]}
    assert resolver.resolve(["a", dropped, "b"]) == ["a", "b"]
    assert resolver.resolve({"Keep": 1, "Drop": dropped}) == {"Keep": 1}
    assert resolver.resolve(dropped) is None


def test_managed_policy_arns_need_moto_to_load_aws_policies() -> None:
    """What the local runtime switches on before moto's IAM starts."""
    iam_roles.load_aws_managed_policies()
    assert os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] == "true"
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(_TRUST))
        for arn in (BASIC, SQS_POLLER):
            iam.attach_role_policy(RoleName="r", PolicyArn=arn)
        assert len(iam.list_attached_role_policies(RoleName="r")["AttachedPolicies"]) == 2


_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
