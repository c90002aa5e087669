"""Create what template.yaml becomes in CloudFormation on a moto server; describe its functions."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from syncdrop_local.runtime import iam_roles
from syncdrop_local.runtime.sam_expand import code_dir, expand
from syncdrop_local.runtime.template import ACCOUNT, REGION, Resolver, TemplateError

# CloudFormation type -> creation order: destinations before the things that point at them,
# roles after what their policies name.
ORDER = [
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Topic",
    "AWS::S3::Bucket",
    "AWS::SNS::Subscription",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
]
# Read by the local runtime rather than created on moto.
RUN_LOCALLY = {
    "AWS::Lambda::Function": "invoked in-process from its code directory",
    "AWS::Lambda::LayerVersion": "its content directory is on the functions' import path",
    "AWS::Lambda::EventSourceMapping": "its queue is polled by the local runtime",
    "AWS::Scheduler::Schedule": "LocalRuntime.run_schedules() is its tick",
    "AWS::ApiGatewayV2::Api": "its routes are served by the local HTTP front",
}
# Declared but with nothing to create on moto.
NOT_CREATED = {
    "AWS::S3::BucketPolicy": "moto does not evaluate resource policies",
    "AWS::SQS::QueuePolicy": "moto does not evaluate resource policies",
    "AWS::SNS::TopicPolicy": "moto does not evaluate resource policies",
    "AWS::Lambda::Permission": "the local front, pollers and schedules invoke functions directly",
    "AWS::ApiGatewayV2::Stage": "the local HTTP front is the one stage",
    "AWS::CloudWatch::Alarm": "no metrics are collected locally",
    "AWS::CloudWatch::Dashboard": "no metrics are collected locally",
    "AWS::Logs::LogGroup": "functions log to the local process",
}


@dataclass(frozen=True)
class EventSource:
    """What invokes a function. kind SQS: the event source mapping's properties (EventSourceArn,
    BatchSize, FunctionResponseTypes, ScalingConfig, MaximumBatchingWindowInSeconds); Schedule:
    the schedule's (ScheduleExpression, Target...); HttpApi: Method and Path of a route."""

    kind: str  # SQS | Schedule | HttpApi
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Lambda::Function of the translated template, with its intrinsics resolved."""

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    events: dict[str, EventSource]  # by the logical id of the mapping, schedule or route's API
    runtime: str = "python3.13"
    memory_size: int = 128
    role_arn: str = ""
    role_logical_id: str | None = None  # None: a role from outside the template
    layer_dirs: tuple[Path, ...] = ()
    architectures: tuple[str, ...] = ("x86_64",)
    reserved_concurrency: int | None = None
    function_name: str = ""


@dataclass
class LocalStack:
    root: Path
    endpoint_url: str | None
    resolver: Resolver
    template: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    # Who deploys and looks: moto's open key, or an administrator where IAM is enforced.
    session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """One client per service (creating boto3 clients is the slow part of a deploy)."""
        if service not in self._clients:
            session = self.session or _SESSION
            self._clients[service] = session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def credentials(self) -> dict[str, str]:
        """The deployer's keys as environment variables (for a CLI run against this stack)."""
        frozen = (self.session or _SESSION).get_credentials().get_frozen_credentials()
        return {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}

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
    session: Any = None,
    moto_here: bool = True,
) -> LocalStack:
    """Create what ``root/template.yaml`` becomes in CloudFormation on moto; return how to
    reach it. ``session`` (boto3) deploys; moto's open test key when None. ``moto_here``: moto
    runs in this process (AWS's managed policies are loaded into it; a moto of its own process
    loaded them itself)."""
    if moto_here:
        iam_roles.load_aws_managed_policies()
    template = expand(root, parameters)
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
    stack = LocalStack(
        root=root, endpoint_url=endpoint_url, resolver=resolver, template=template, session=session
    )
    resources = {
        name: resource
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    unknown = {
        r["Type"]
        for r in resources.values()
        if r["Type"] not in ORDER and r["Type"] not in RUN_LOCALLY and r["Type"] not in NOT_CREATED
    }
    if unknown:
        raise ValueError(f"the local runtime cannot create {sorted(unknown)}")
    names = _Names(stack_name, _suffix())
    _name_in_advance(resolver, resources, names)
    for kind in ORDER:
        # Dead-letter queues (no redrive policy of their own) before the queues using them.
        of_kind = sorted(
            (i for i, r in resources.items() if r["Type"] == kind),
            key=lambda i: "RedrivePolicy" in resources[i].get("Properties", {}),
        )
        for logical_id in of_kind:
            _create(stack, logical_id, resources[logical_id], names)
    iam = stack.client("iam")
    for role, policy_arn in iam_roles.managed_attachments(resolver, resources):
        iam_roles.attach(iam, role, policy_arn)
    events = _event_sources(resolver, resources)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function":
            stack.functions[logical_id] = _function(
                stack,
                logical_id,
                resource,
                events.get(logical_id, {}),
                extra_environment or {},
                api_base_url,
            )
    return stack


@dataclass(frozen=True)
class _Names:
    """CloudFormation's physical names: stack, logical id and a random suffix."""

    stack_name: str
    suffix: str

    def __call__(self, logical_id: str, limit: int = 64) -> str:
        stem = f"{self.stack_name}-{logical_id}"[: limit - len(self.suffix) - 1]
        return f"{stem}-{self.suffix}"


def _name_in_advance(
    resolver: Resolver, resources: dict[str, dict[str, Any]], names: _Names
) -> None:
    """Refs and ARNs of what is named before it exists (roles, functions) or not created on
    moto at all (layers, APIs), so that whatever refers to them resolves in any order."""
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            iam_roles.name_role(resolver, logical_id, props, names(logical_id))
        elif kind == "AWS::IAM::ManagedPolicy":
            iam_roles.name_managed_policy(resolver, logical_id, props, names(logical_id))
        elif kind == "AWS::IAM::Policy":
            resolver.refs[logical_id] = names(logical_id)
        elif kind == "AWS::Lambda::Function":
            name = str(resolver.resolve(props.get("FunctionName", names(logical_id))))
            resolver.refs[logical_id] = name
            resolver.attributes[(logical_id, "Arn")] = (
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            )
        elif kind == "AWS::Lambda::LayerVersion":
            layer = str(resolver.resolve(props.get("LayerName", names(logical_id, 140))))
            resolver.refs[logical_id] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer}:1"
        elif kind == "AWS::ApiGatewayV2::Api":
            resolver.refs[logical_id] = f"local{logical_id.lower()}"
        elif kind == "AWS::Scheduler::Schedule":
            name = str(resolver.resolve(props.get("Name", names(logical_id))))
            resolver.refs[logical_id] = name
            resolver.attributes[(logical_id, "Arn")] = (
                f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
            )


def _create(stack: LocalStack, logical_id: str, resource: dict[str, Any], names: _Names) -> None:
    r = stack.resolver
    props = resource.get("Properties", {})
    kind = resource["Type"]
    name = names(logical_id, 80)
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
        table = names(logical_id, 255)
        args: dict[str, Any] = {
            "TableName": table,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        stack.client("dynamodb").create_table(**args)
        r.refs[logical_id] = table
        r.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
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
            _subscribe(stack, r.resolve(sub["Protocol"]), r.resolve(sub["Endpoint"]), arn)
    elif kind == "AWS::SNS::Subscription":
        _subscribe(
            stack,
            r.resolve(props["Protocol"]),
            r.resolve(props["Endpoint"]),
            r.resolve(props["TopicArn"]),
            filter_policy=r.resolve(props.get("FilterPolicy")),
        )
    elif kind == "AWS::S3::Bucket":
        _create_bucket(stack, logical_id, props, names(logical_id, 63).lower())
    elif kind == "AWS::IAM::ManagedPolicy":
        iam_roles.create_managed_policy(stack.client("iam"), r, logical_id, props)
    elif kind == "AWS::IAM::Role":
        iam_roles.create_role(stack.client("iam"), r, logical_id, props)
    elif kind == "AWS::IAM::Policy":
        iam_roles.put_policy(stack.client("iam"), r, props)


def _create_bucket(stack: LocalStack, logical_id: str, props: dict[str, Any], bucket: str) -> None:
    r = stack.resolver
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


def _subscribe(
    stack: LocalStack,
    protocol: str,
    endpoint: str,
    topic_arn: str,
    *,
    filter_policy: dict[str, Any] | None = None,
) -> None:
    # Email subscriptions too: the local runtime delivers them to its inbox queue, each by its
    # own filter policy (moto_email_inbox), so who received what is what AWS would send.
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    stack.client("sns").subscribe(
        TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint, Attributes=attributes
    )


def _function(
    stack: LocalStack,
    logical_id: str,
    resource: dict[str, Any],
    events: dict[str, EventSource],
    extra_environment: dict[str, str],
    api_base_url: str | None,
) -> FunctionSpec:
    r = stack.resolver
    props = resource.get("Properties", {})
    code = code_dir(stack.root, resource)
    if code is None:
        raise TemplateError(f"{logical_id}: its code is not in a local directory")
    variables = r.resolve(props.get("Environment", {}).get("Variables", {}))
    environment = {k: _text(v) for k, v in variables.items()}
    if api_base_url:
        # The HTTP API's public URL becomes the local front's.
        for api_id in _http_api_ids(stack):
            public = f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
            environment = {k: v.replace(public, api_base_url) for k, v in environment.items()}
    environment.update(extra_environment)
    role_arn = str(r.resolve(props["Role"]))
    reserved = r.resolve(props.get("ReservedConcurrentExecutions"))
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=code,
        handler=str(r.resolve(props["Handler"])),
        environment=environment,
        timeout=int(r.resolve(props.get("Timeout", 3))),
        events=events,
        runtime=str(r.resolve(props.get("Runtime", ""))),
        memory_size=int(r.resolve(props.get("MemorySize", 128))),
        role_arn=role_arn,
        role_logical_id=next(
            (i for (i, a), v in r.attributes.items() if a == "Arn" and v == role_arn), None
        ),
        layer_dirs=tuple(_layer_dir(stack, str(arn)) for arn in r.resolve(props.get("Layers", []))),
        architectures=tuple(r.resolve(props.get("Architectures", ["x86_64"]))),
        reserved_concurrency=None if reserved is None else int(reserved),
        function_name=r.ref(logical_id),
    )


def _text(value: Any) -> str:
    """An environment value as Lambda stores it (YAML's true is "true")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _layer_dir(stack: LocalStack, arn: str) -> Path:
    for logical_id, resource in stack.template["Resources"].items():
        if (
            resource["Type"] == "AWS::Lambda::LayerVersion"
            and stack.resolver.refs.get(logical_id) == arn
        ):
            content = code_dir(stack.root, resource)
            if content is not None:
                return content
    raise TemplateError(f"layer {arn} is not a local directory of template.yaml")


def _http_api_ids(stack: LocalStack) -> list[str]:
    return [
        ref
        for logical_id, ref in stack.resolver.refs.items()
        if stack.template["Resources"].get(logical_id, {}).get("Type") == "AWS::ApiGatewayV2::Api"
    ]


def _event_sources(
    resolver: Resolver, resources: dict[str, dict[str, Any]]
) -> dict[str, dict[str, EventSource]]:
    """Function logical id -> its event sources: mappings, schedules and API routes."""
    by_arn = {
        resolver.get_att(i, "Arn"): i
        for i, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    by_name = {resolver.ref(i): i for i in by_arn.values()}
    events: dict[str, dict[str, EventSource]] = {}
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind == "AWS::Lambda::EventSourceMapping":
            props = resolver.resolve(resource["Properties"])
            function = str(props["FunctionName"])
            function = by_name.get(function) or by_arn.get(function, function)
            if not str(props.get("EventSourceArn", "")).startswith("arn:aws:sqs:"):
                raise TemplateError(f"{logical_id}: only SQS event sources run locally")
            events.setdefault(function, {})[logical_id] = EventSource("SQS", props)
        elif kind == "AWS::Scheduler::Schedule":
            props = resolver.resolve(resource["Properties"])
            target = str(props["Target"]["Arn"])
            if target not in by_arn:
                raise TemplateError(f"{logical_id}: its target {target} is not a function here")
            events.setdefault(by_arn[target], {})[logical_id] = EventSource("Schedule", props)
        elif kind == "AWS::ApiGatewayV2::Api":
            for function, method, path in _routes(resolver, logical_id, resource, by_arn):
                route = EventSource(
                    "HttpApi", {"ApiId": logical_id, "Method": method, "Path": path}
                )
                events.setdefault(function, {})[f"{logical_id} {method} {path}"] = route
    return events


def _routes(
    resolver: Resolver, logical_id: str, resource: dict[str, Any], functions: dict[str, str]
) -> list[tuple[str, str, str]]:
    """(function, METHOD, path) of each Lambda proxy route in the API's OpenAPI body."""
    body = resource.get("Properties", {}).get("Body")
    if body is None:
        raise TemplateError(f"{logical_id}: only an API with an inline OpenAPI Body runs locally")
    routes = []
    for path, operations in resolver.resolve(body).get("paths", {}).items():
        for method, operation in operations.items():
            uri = str(operation.get("x-amazon-apigateway-integration", {}).get("uri", ""))
            # arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations
            target = uri.partition("/functions/")[2].removesuffix("/invocations")
            if target not in functions:
                raise TemplateError(f"{logical_id} {method} {path}: not a function here ({uri})")
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            routes.append((functions[target], verb, path))
    return routes
