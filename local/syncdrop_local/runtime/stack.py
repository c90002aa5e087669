"""Create what template.yaml declares on a moto server and describe its functions."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from syncdrop_local.runtime.template import ACCOUNT, REGION, Resolver, load_template

# CloudFormation type -> creation order: destinations before the things that point at them.
ORDER = [
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Topic",
    "AWS::S3::Bucket",
    "AWS::SNS::Subscription",
]
# Declared but with nothing to create on moto (policies are not enforced locally; code is
# loaded in-process; the HTTP API is served by the local front).
NOT_CREATED = {
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::Serverless::LayerVersion",
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",  # served by the local HTTP front
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::Logs::LogGroup",
}


@dataclass(frozen=True)
class EventSource:
    kind: str  # SQS | Schedule | HttpApi
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    events: dict[str, EventSource]


@dataclass
class LocalStack:
    root: Path
    endpoint_url: str | None
    resolver: Resolver
    template: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """One client per service (creating boto3 clients is the slow part of a deploy)."""
        if service not in self._clients:
            self._clients[service] = _SESSION.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def ref(self, logical_id: str) -> str:
        return self.resolver.ref(logical_id)

    def attribute(self, logical_id: str, name: str) -> str:
        return self.resolver.get_att(logical_id, name)

    def queue_url_for_arn(self, arn: str) -> str:
        for (logical_id, attribute), value in self.resolver.attributes.items():
            if attribute == "Arn" and value == arn:
                return self.ref(logical_id)
        raise KeyError(arn)


_SESSION = boto3.session.Session(
    aws_access_key_id="testing",
    aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key  # nosec B106
    region_name=REGION,
)


def _suffix() -> str:
    return secrets.token_hex(4)


def deploy(
    root: Path,
    endpoint_url: str | None,
    parameters: dict[str, str],
    *,
    stack_name: str = "syncdrop-local",
    extra_environment: dict[str, str] | None = None,
    api_base_url: str | None = None,
) -> LocalStack:
    """Create every resource of ``root/template.yaml`` on moto; return how to reach them."""
    template = load_template(root / "template.yaml")
    params = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    params.update(parameters)
    missing = [p for p in template.get("Parameters", {}) if p not in params]
    if missing:
        raise ValueError(f"parameters without a value: {missing}")
    resolver = Resolver(template=template, parameters=params, stack_name=stack_name)
    stack = LocalStack(root=root, endpoint_url=endpoint_url, resolver=resolver, template=template)
    resources: dict[str, Any] = template["Resources"]
    suffix = _suffix()
    resources = {
        name: resource
        for name, resource in resources.items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::HttpApi":
            resolver.refs[logical_id] = f"local{logical_id.lower()}"
    for kind in ORDER:
        # Dead-letter queues (no redrive policy of their own) before the queues using them.
        of_kind = sorted(
            (i for i, r in resources.items() if r["Type"] == kind),
            key=lambda i: "RedrivePolicy" in resources[i].get("Properties", {}),
        )
        for logical_id in of_kind:
            _create(stack, logical_id, resources[logical_id], suffix)
    unknown = {
        r["Type"]
        for r in resources.values()
        if r["Type"] not in ORDER and r["Type"] not in NOT_CREATED
    }
    if unknown:
        raise ValueError(f"the local runtime cannot create {sorted(unknown)}")
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            stack.functions[logical_id] = _function(
                stack, logical_id, resource, extra_environment, api_base_url
            )
    return stack


def _create(stack: LocalStack, logical_id: str, resource: dict[str, Any], suffix: str) -> None:
    r = stack.resolver
    props = resource.get("Properties", {})
    kind = resource["Type"]
    name = f"{r.stack_name}-{logical_id}-{suffix}"
    if kind == "AWS::SQS::Queue":
        sqs = stack.client("sqs")
        attributes = {
            k: str(props[k])
            for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            if k in props
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(r.resolve(props["RedrivePolicy"]))
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        r.refs[logical_id] = url
        r.attributes[(logical_id, "Arn")] = arn
        r.attributes[(logical_id, "QueueName")] = name
    elif kind == "AWS::DynamoDB::Table":
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        stack.client("dynamodb").create_table(**args)
        r.refs[logical_id] = name
        r.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    elif kind == "AWS::SecretsManager::Secret":
        secret = stack.client("secretsmanager").create_secret(
            Name=name, SecretString=str(r.resolve(props.get("SecretString", "")))
        )
        r.refs[logical_id] = secret["ARN"]
    elif kind == "AWS::SNS::Topic":
        arn = stack.client("sns").create_topic(Name=name)["TopicArn"]
        r.refs[logical_id] = arn
        r.attributes[(logical_id, "TopicName")] = name
        r.attributes[(logical_id, "TopicArn")] = arn
        for sub in props.get("Subscription", []):
            _subscribe(stack, arn, r.resolve(sub["Protocol"]), r.resolve(sub["Endpoint"]))
    elif kind == "AWS::SNS::Subscription":
        _subscribe(
            stack,
            r.resolve(props["TopicArn"]),
            r.resolve(props["Protocol"]),
            r.resolve(props["Endpoint"]),
        )
    elif kind == "AWS::S3::Bucket":
        bucket = name.lower()[:63]
        s3 = stack.client("s3")
        s3.create_bucket(Bucket=bucket)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        r.refs[logical_id] = bucket
        r.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{bucket}"
        r.attributes[(logical_id, "DomainName")] = f"{bucket}.s3.amazonaws.com"
        notifications = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        if notifications:
            s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": r.resolve(n["Queue"]),
                            "Events": [n["Event"]],
                            "Filter": {"Key": {"FilterRules": n["Filter"]["S3Key"]["Rules"]}},
                        }
                        for n in notifications
                    ]
                },
            )


def _subscribe(stack: LocalStack, topic_arn: str, protocol: str, endpoint: str) -> None:
    # Email cannot leave this machine: the local runtime captures the topic through SQS instead.
    if protocol == "email":
        return
    stack.client("sns").subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)


def _function(
    stack: LocalStack,
    logical_id: str,
    resource: dict[str, Any],
    extra_environment: dict[str, str] | None,
    api_base_url: str | None,
) -> FunctionSpec:
    r = stack.resolver
    globals_ = stack.template.get("Globals", {}).get("Function", {})
    props = {**globals_, **resource.get("Properties", {})}
    variables = dict(globals_.get("Environment", {}).get("Variables", {}))
    variables.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    environment = {k: str(r.resolve(v)) for k, v in variables.items()}
    if api_base_url:
        # The HTTP API's public URL becomes the local front's.
        for api_id in (v for k, v in r.refs.items() if _is_http_api(stack, k)):
            public = f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
            environment = {k: v.replace(public, api_base_url) for k, v in environment.items()}
    environment.update(extra_environment or {})
    events = {
        name: EventSource(kind=event["Type"], properties=r.resolve(event.get("Properties", {})))
        for name, event in props.get("Events", {}).items()
    }
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=stack.root / str(props["CodeUri"]),
        handler=str(props["Handler"]),
        environment=environment,
        timeout=int(props.get("Timeout", 3)),
        events=events,
    )


def _is_http_api(stack: LocalStack, logical_id: str) -> bool:
    resource = stack.template["Resources"].get(logical_id, {})
    return bool(resource.get("Type") == "AWS::Serverless::HttpApi")
