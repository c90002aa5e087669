"""moto's IAM enforcement, patched by moto_iam, decides as IAM documents it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import moto
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from syncdrop_local.runtime import moto_iam
from syncdrop_local.runtime.moto_world import MotoWorldServer

REGION = "us-east-1"
ACCOUNT = "123456789012"
ANY_KEY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


@dataclass
class World:
    """A moto server enforcing IAM, its admin, and a unique suffix for what a test creates."""

    url: str
    admin: moto_iam.AdminCredentials
    tag: str

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        keys = credentials or {
            "aws_access_key_id": self.admin.access_key_id,
            "aws_secret_access_key": self.admin.secret_access_key,
        }
        # syncdrop signs S3 with SigV4, presigned URLs too (adapters/policy.py).
        config = Config(signature_version="s3v4") if service == "s3" else None
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION, config=config, **keys
        )

    def name(self, base: str) -> str:
        return f"{base}-{self.tag}"

    def role(
        self, base: str, statements: list[dict[str, Any]], principal: dict[str, Any] | None = None
    ) -> str:
        """A role allowed ``statements``, trusting the admin unless told otherwise; its name."""
        name = self.name(base)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": principal or {"AWS": self.admin.arn},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam = self.client("iam")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        if statements:
            iam.put_role_policy(
                RoleName=name,
                PolicyName="inline",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )
        return name

    def credentials_of(self, role_name: str) -> dict[str, str]:
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
        got = self.client("sts").assume_role(RoleArn=arn, RoleSessionName="fn")["Credentials"]
        return {
            "aws_access_key_id": got["AccessKeyId"],
            "aws_secret_access_key": got["SecretAccessKey"],
            "aws_session_token": got["SessionToken"],
        }

    def as_role(self, service: str, role_name: str) -> Any:
        return self.client(service, self.credentials_of(role_name))

    def table(self, base: str, index: str | None = None) -> str:
        name = self.name(base)
        extra: dict[str, Any] = {}
        attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
        if index:
            attributes.append({"AttributeName": "gsi", "AttributeType": "S"})
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index,
                    "KeySchema": [{"AttributeName": "gsi", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ]
        self.client("dynamodb").create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        return name


def allow(actions: str | list[str], resources: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def denial(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return dict(caught.value.response["Error"]) | {
        "Status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    }


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[str]:
    """One in-process server for the module (each test enforces on it, and names what it
    creates uniquely)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def world(threaded_server: str) -> Iterator[World]:
    tag = uuid.uuid4().hex[:10]
    admin = moto_iam.admin_credentials(threaded_server, user_name=f"admin-{tag}")
    with moto_iam.enforcing(threaded_server):
        yield World(threaded_server, admin, tag)


# --- DynamoDB ----------------------------------------------------------------------------


def test_dynamodb_is_checked_on_the_table_arn(world: World):
    granted, other = world.table("jobs"), world.table("other")
    role = world.role("writer", [allow("dynamodb:PutItem", table_arn(granted))])
    dynamodb = world.as_role("dynamodb", role)

    dynamodb.put_item(TableName=granted, Item={"pk": {"S": "a"}})
    error = denial(lambda: dynamodb.put_item(TableName=other, Item={"pk": {"S": "a"}}))

    assert error["Code"] == "AccessDeniedException"
    assert error["Status"] == 400
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/fn is not authorized to perform: "
        f"dynamodb:PutItem on resource: {table_arn(other)} because no identity-based policy "
        "allows the dynamodb:PutItem action"
    )


def test_query_on_an_index_needs_the_index_arn(world: World):
    table = world.table("jobs", index="by-status")
    index_arn = f"{table_arn(table)}/index/by-status"
    table_only = world.as_role(
        "dynamodb", world.role("table-only", [allow("dynamodb:Query", table_arn(table))])
    )
    with_index = world.as_role(
        "dynamodb", world.role("with-index", [allow("dynamodb:Query", index_arn)])
    )
    on_index = {
        "TableName": table,
        "IndexName": "by-status",
        "KeyConditionExpression": "gsi = :s",
        "ExpressionAttributeValues": {":s": {"S": "QUEUED"}},
    }
    on_table = {
        "TableName": table,
        "KeyConditionExpression": "pk = :k",
        "ExpressionAttributeValues": {":k": {"S": "a"}},
    }

    assert table_only.query(**on_table)["Count"] == 0
    error = denial(lambda: table_only.query(**on_index))
    assert error["Code"] == "AccessDeniedException"
    assert f"dynamodb:Query on resource: {index_arn} " in error["Message"]
    assert with_index.query(**on_index)["Count"] == 0
    assert denial(lambda: with_index.query(**on_table))["Code"] == "AccessDeniedException"


def test_a_transaction_is_authorised_item_by_item(world: World):
    jobs, capacity = world.table("jobs"), world.table("capacity")
    role = world.role(
        "claimer",
        [
            allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], table_arn(jobs)),
            allow("dynamodb:ConditionCheckItem", table_arn(jobs)),
        ],
    )
    dynamodb = world.as_role("dynamodb", role)
    put_job = {"Put": {"TableName": jobs, "Item": {"pk": {"S": "job"}}}}

    def check(table: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": "capacity"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    error = denial(lambda: dynamodb.transact_write_items(TransactItems=[put_job, check(capacity)]))
    assert error["Code"] == "AccessDeniedException"
    assert f"dynamodb:ConditionCheckItem on resource: {table_arn(capacity)}" in error["Message"]
    assert not world.client("dynamodb").scan(TableName=jobs)["Items"]  # nothing written

    dynamodb.transact_write_items(TransactItems=[check(jobs), put_job])
    assert world.client("dynamodb").scan(TableName=jobs)["Count"] == 1

    decided = [(d.action, d.resource, d.allowed) for d in moto_iam.recorder.for_role(role)]
    assert decided == [
        ("dynamodb:PutItem", table_arn(jobs), True),
        ("dynamodb:ConditionCheckItem", table_arn(capacity), False),
        ("dynamodb:ConditionCheckItem", table_arn(jobs), True),
        ("dynamodb:PutItem", table_arn(jobs), True),
    ]


def test_the_transaction_wrapper_is_no_permission(world: World):
    jobs = world.table("jobs")
    role = world.role("wrapper", [allow("dynamodb:TransactWriteItems", "*")])
    dynamodb = world.as_role("dynamodb", role)

    error = denial(
        lambda: dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": jobs, "Item": {"pk": {"S": "a"}}}}]
        )
    )
    assert "dynamodb:PutItem" in error["Message"]


def test_transact_get_and_batches_are_checked_per_table(world: World):
    jobs, other = world.table("jobs"), world.table("other")
    role = world.role(
        "reader",
        [
            allow(
                ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
                table_arn(jobs),
            )
        ],
    )
    dynamodb = world.as_role("dynamodb", role)
    key = {"pk": {"S": "a"}}

    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": jobs, "Key": key}}])
    dynamodb.batch_write_item(RequestItems={jobs: [{"PutRequest": {"Item": key}}]})
    dynamodb.batch_get_item(RequestItems={jobs: {"Keys": [key]}})
    both = {jobs: {"Keys": [key]}, other: {"Keys": [key]}}
    error = denial(lambda: dynamodb.batch_get_item(RequestItems=both))
    assert f"dynamodb:BatchGetItem on resource: {table_arn(other)}" in error["Message"]
    error = denial(
        lambda: dynamodb.transact_get_items(
            TransactItems=[{"Get": {"TableName": other, "Key": key}}]
        )
    )
    assert f"dynamodb:GetItem on resource: {table_arn(other)}" in error["Message"]


def test_an_explicit_deny_wins_over_an_allow(world: World):
    jobs = world.table("jobs")
    role = world.role(
        "denied",
        [
            allow("dynamodb:*", "*"),
            {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": table_arn(jobs)},
        ],
    )
    dynamodb = world.as_role("dynamodb", role)

    assert dynamodb.get_item(TableName=jobs, Key={"pk": {"S": "a"}}).get("Item") is None
    error = denial(lambda: dynamodb.put_item(TableName=jobs, Item={"pk": {"S": "a"}}))
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].endswith("with an explicit deny in an identity-based policy")


def test_aws_managed_policies_attach_and_decide(world: World):
    jobs = world.table("jobs")
    role = world.role("managed", [])
    world.client("iam").attach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess"
    )
    dynamodb = world.as_role("dynamodb", role)

    assert "Item" not in dynamodb.get_item(TableName=jobs, Key={"pk": {"S": "a"}})
    assert denial(lambda: dynamodb.put_item(TableName=jobs, Item={"pk": {"S": "a"}}))


# --- SNS, Secrets Manager, CloudWatch, SQS ------------------------------------------------


def test_sns_is_checked_on_the_topic_arn(world: World):
    sns = world.client("sns")
    granted = sns.create_topic(Name=world.name("done"))["TopicArn"]
    other = sns.create_topic(Name=world.name("other"))["TopicArn"]
    publisher = world.as_role("sns", world.role("notifier", [allow("sns:Publish", granted)]))

    publisher.publish(TopicArn=granted, Message="done")
    error = denial(lambda: publisher.publish(TopicArn=other, Message="done"))

    assert error["Code"] == "AuthorizationError"
    assert error["Status"] == 403
    assert f"sns:Publish on resource: {other} " in error["Message"]


def test_secrets_are_checked_on_the_secret_arn(world: World):
    secrets = world.client("secretsmanager")
    granted = secrets.create_secret(Name=world.name("api-key"), SecretString="sk")["ARN"]
    other = secrets.create_secret(Name=world.name("other"), SecretString="x")["ARN"]
    reader = world.as_role(
        "secretsmanager", world.role("reader", [allow("secretsmanager:GetSecretValue", granted)])
    )

    assert reader.get_secret_value(SecretId=world.name("api-key"))["SecretString"] == "sk"
    assert reader.get_secret_value(SecretId=granted)["SecretString"] == "sk"
    error = denial(lambda: reader.get_secret_value(SecretId=world.name("other")))

    assert error["Code"] == "AccessDeniedException"
    assert f"secretsmanager:GetSecretValue on resource: {other} " in error["Message"]


def test_cloudwatch_actions_are_cloudwatch_and_alarms_have_arns(world: World):
    alarm = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{world.name('stuck')}"
    role = world.role(
        "metrics",
        [allow("cloudwatch:PutMetricData", "*"), allow("cloudwatch:PutMetricAlarm", alarm)],
    )
    cloudwatch = world.as_role("cloudwatch", role)
    alarm_args = {
        "MetricName": "Stuck",
        "Namespace": "syncdrop",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }

    cloudwatch.put_metric_data(Namespace="syncdrop", MetricData=[{"MetricName": "m", "Value": 1}])
    cloudwatch.put_metric_alarm(AlarmName=world.name("stuck"), **alarm_args)
    error = denial(lambda: cloudwatch.put_metric_alarm(AlarmName=world.name("x"), **alarm_args))

    assert error["Code"] == "AccessDenied"  # CloudWatch's query-era code, kept in JSON
    assert "cloudwatch:PutMetricAlarm on resource: arn:aws:cloudwatch:" in error["Message"]
    actions = {d.action for d in moto_iam.recorder.for_role(role)}
    assert actions == {"cloudwatch:PutMetricData", "cloudwatch:PutMetricAlarm"}


def test_sqs_denials_come_back_in_json_with_the_access_denied_code(world: World):
    url = world.client("sqs").create_queue(QueueName=world.name("q"))["QueueUrl"]
    sqs = world.as_role("sqs", world.role("nothing", [allow("sqs:ListQueues", "*")]))

    error = denial(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))

    assert error["Code"] == "AccessDenied"
    assert "sqs:SendMessage on resource: arn:aws:sqs:" in error["Message"]


# --- S3 ------------------------------------------------------------------------------------


def bucket(world: World, *, versioned: bool = False) -> str:
    name = world.name("drop")
    s3 = world.client("s3")
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    # urllib would label a body as a form, which moto's S3 then reads as one.
    headers = {"Content-Type": "text/csv"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # 127.0.0.1 only
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_presigned_urls_are_decided_by_the_signers_policy(world: World):
    name = bucket(world)
    world.client("s3").put_object(Bucket=name, Key="results/a.csv", Body=b"ok")
    signer = world.as_role(
        "s3",
        world.role(
            "presigner",
            [allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{name}/results/*")],
        ),
    )

    def presign(method: str, key: str) -> str:
        url: str = signer.generate_presigned_url(
            method, Params={"Bucket": name, "Key": key}, ExpiresIn=300
        )
        return url

    assert fetch(presign("get_object", "results/a.csv")) == (200, b"ok")
    assert fetch(presign("put_object", "results/b.csv"), "PUT", b"new")[0] == 200
    assert world.client("s3").get_object(Bucket=name, Key="results/b.csv")["Body"].read() == b"new"
    status, body = fetch(presign("get_object", "inputs/a.csv"))
    assert (status, b"<Code>AccessDenied</Code>" in body) == (403, True)
    tampered = presign("get_object", "results/a.csv").replace("results/a.csv", "results/b.csv")
    status, body = fetch(tampered)
    assert (status, b"SignatureDoesNotMatch" in body) == (403, True)


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(world: World):
    name = bucket(world)
    objects = f"arn:aws:s3:::{name}/*"
    blind = world.as_role("s3", world.role("blind", [allow("s3:GetObject", objects)]))
    lister = world.as_role(
        "s3",
        world.role(
            "lister",
            [allow("s3:GetObject", objects), allow("s3:ListBucket", f"arn:aws:s3:::{name}")],
        ),
    )

    assert denial(lambda: blind.get_object(Bucket=name, Key="nope"))["Code"] == "AccessDenied"
    assert denial(lambda: blind.head_object(Bucket=name, Key="nope"))["Status"] == 403
    assert denial(lambda: lister.get_object(Bucket=name, Key="nope"))["Code"] == "NoSuchKey"
    assert denial(lambda: lister.head_object(Bucket=name, Key="nope"))["Status"] == 404


def test_copy_object_needs_get_object_on_the_source(world: World):
    name = bucket(world, versioned=True)
    version = world.client("s3").put_object(Bucket=name, Key="in/a", Body=b"a")["VersionId"]
    put_only = world.as_role(
        "s3", world.role("put-only", [allow("s3:PutObject", f"arn:aws:s3:::{name}/out/*")])
    )
    reader = world.as_role(
        "s3",
        world.role(
            "copier",
            [
                allow("s3:PutObject", f"arn:aws:s3:::{name}/out/*"),
                allow("s3:GetObject", f"arn:aws:s3:::{name}/in/*"),
            ],
        ),
    )
    source = {"Bucket": name, "Key": "in/a"}

    assert (
        denial(lambda: put_only.copy_object(Bucket=name, Key="out/a", CopySource=source))["Code"]
        == "AccessDenied"
    )
    reader.copy_object(Bucket=name, Key="out/a", CopySource=source)
    versioned = source | {"VersionId": version}
    error = denial(lambda: reader.copy_object(Bucket=name, Key="out/b", CopySource=versioned))
    assert error["Code"] == "AccessDenied"
    assert ("s3:GetObjectVersion", f"arn:aws:s3:::{name}/in/a", False) in [
        (d.action, d.resource, d.allowed) for d in moto_iam.recorder.decisions
    ]


# --- STS -----------------------------------------------------------------------------------


def test_a_lambda_trusted_role_is_assumable_by_the_runtime_only(world: World):
    jobs = world.table("jobs")
    role = world.role(
        "function",
        [allow("dynamodb:PutItem", table_arn(jobs))],
        principal={"Service": "lambda.amazonaws.com"},
    )
    world.client("dynamodb")
    dynamodb = world.as_role("dynamodb", role)  # the admin plays Lambda
    dynamodb.put_item(TableName=jobs, Item={"pk": {"S": "a"}})

    other = world.role("other", [allow("sts:AssumeRole", "*")])
    sts = world.as_role("sts", other)
    error = denial(
        lambda: sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="sneak"
        )
    )
    assert error["Code"] == "AccessDenied"
    assert error["Status"] == 403
    assert f"sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/{role}" in error["Message"]


def test_a_role_trusting_the_account_is_assumable_by_its_principals(world: World):
    role = world.role("account", [allow("sts:GetCallerIdentity", "*")], principal={"AWS": ACCOUNT})
    identity = world.as_role("sts", role).get_caller_identity()

    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/fn"


# --- the recorder, the scope, the pin --------------------------------------------------------


def test_every_decision_is_recorded_with_who_asked(world: World):
    jobs = world.table("jobs")
    role = world.role("recorded", [allow("dynamodb:GetItem", table_arn(jobs))])
    credentials = world.credentials_of(role)
    dynamodb = world.client("dynamodb", credentials)
    seen: list[moto_iam.Decision] = []
    unsubscribe = moto_iam.recorder.subscribe(seen.append)
    try:
        dynamodb.get_item(TableName=jobs, Key={"pk": {"S": "a"}})
        denial(lambda: dynamodb.delete_item(TableName=jobs, Key={"pk": {"S": "a"}}))
    finally:
        unsubscribe()

    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/fn"
    key = credentials["aws_access_key_id"]
    assert seen == [
        moto_iam.Decision(session, key, role, "dynamodb:GetItem", table_arn(jobs), True),
        moto_iam.Decision(session, key, role, "dynamodb:DeleteItem", table_arn(jobs), False),
    ]
    assert seen == moto_iam.recorder.for_role(role)


def test_enforcement_is_scoped_to_its_server_and_can_be_switched_off(threaded_server: str):
    other = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    other.start()
    host, port = other.get_host_and_port()
    other_url = f"http://{host}:{port}"

    def list_tables(url: str) -> Any:
        return boto3.client("dynamodb", endpoint_url=url, region_name=REGION, **ANY_KEY)

    try:
        with moto_iam.enforcing(threaded_server):
            error = denial(lambda: list_tables(threaded_server).list_tables())
            assert error["Code"] == "UnrecognizedClientException"
            assert "TableNames" in list_tables(other_url).list_tables()
            with mock_aws():
                assert "TableNames" in boto3.client("dynamodb", region_name=REGION).list_tables()
        assert "TableNames" in list_tables(threaded_server).list_tables()
    finally:
        other.stop()


def test_install_refuses_another_moto(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(moto, "__version__", "5.2.6")
    with pytest.raises(RuntimeError, match=r"moto 5\.2\.5 internals, but moto 5\.2\.6"):
        moto_iam.install()


# --- behind the local stack's server ----------------------------------------------------------


def test_enforcement_works_behind_moto_world_server():
    server = MotoWorldServer()
    url = server.start()
    try:
        tag = uuid.uuid4().hex[:10]
        admin = moto_iam.admin_credentials(url, user_name=f"admin-{tag}")
        with moto_iam.enforcing(url):
            world = World(url, admin, tag)
            jobs, capacity = world.table("jobs"), world.table("capacity")
            role = world.role("claimer", [allow("dynamodb:PutItem", table_arn(jobs))])
            dynamodb = world.as_role("dynamodb", role)
            dynamodb.transact_write_items(
                TransactItems=[{"Put": {"TableName": jobs, "Item": {"pk": {"S": "a"}}}}]
            )
            error = denial(
                lambda: dynamodb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": jobs, "Item": {"pk": {"S": "b"}}}},
                        {"Put": {"TableName": capacity, "Item": {"pk": {"S": "b"}}}},
                    ]
                )
            )
            assert error["Code"] == "AccessDeniedException"
            assert f"dynamodb:PutItem on resource: {table_arn(capacity)}" in error["Message"]
    finally:
        server.stop()
