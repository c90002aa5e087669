"""Which IAM actions, on which resource ARNs, AWS authorises for one API request.

Pure: moto_iam.py feeds it what moto parsed and evaluates each ``Check`` against the caller's
policies. Sources: the Service Authorization Reference's action and resource tables for
DynamoDB, SNS, Secrets Manager, CloudWatch and S3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Check:
    """One authorisation AWS makes: may the caller perform ``action`` on ``resource``?"""

    action: str  # e.g. "dynamodb:PutItem"
    resource: str  # an ARN, or "*" for actions with no resource type


@dataclass(frozen=True)
class Place:
    """Where the request's resources live: the request's partition, region and account."""

    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


# The credential scope moto reads the service from is not always the IAM prefix.
IAM_PREFIX = {"monitoring": "cloudwatch"}

# SQS has no IAM action for its batch calls: each is authorised as its single action.
SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action an API operation is authorised as, where the service checks it alone."""
    if service == "sqs":
        operation = SQS_BATCH_ACTIONS.get(operation, operation)
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


# A transaction is authorised item by item, each as the single-item action it performs.
_TRANSACT_WRITE = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
}


def checks_for(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    place: Place,
    *,
    secret_arn: Callable[[str], str | None] = lambda _id: None,
) -> list[Check] | None:
    """The checks for one request to ``service`` (moto's name for it), or None when moto's
    own single check (its action on its resource) is already what AWS does."""
    if service == "dynamodb":
        return _dynamodb(operation, params, place)
    if service == "sns":
        return [Check(f"sns:{operation}", _sns_resource(operation, params, place))]
    if service == "secretsmanager":
        return [Check(f"secretsmanager:{operation}", _secret_resource(params, place, secret_arn))]
    if service == "cloudwatch":
        return _cloudwatch(operation, params, place)
    return None


def copy_source_check(copy_source: str, partition: str) -> Check:
    """CopyObject and UploadPartCopy read the source: s3:GetObject on it, or
    s3:GetObjectVersion when the source names a version."""
    parts = urlsplit(copy_source)
    path = unquote(parts.path).lstrip("/")
    version = parse_qs(parts.query).get("versionId")
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    return Check(action, f"arn:{partition}:s3:::{path}")


def _table_arn(name: str, place: Place) -> str:
    # DynamoDB takes a table's ARN wherever it takes its name.
    return name if name.startswith("arn:") else place.arn("dynamodb", f"table/{name}")


def _dynamodb(operation: str, params: Mapping[str, Any], place: Place) -> list[Check]:
    if operation == "TransactWriteItems":
        return [
            Check(f"dynamodb:{_TRANSACT_WRITE[kind]}", _table_arn(spec["TableName"], place))
            for item in params.get("TransactItems", [])
            for kind, spec in item.items()
        ]
    if operation == "TransactGetItems":
        return [
            Check("dynamodb:GetItem", _table_arn(item["Get"]["TableName"], place))
            for item in params.get("TransactItems", [])
        ]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        # One check per table named, as the batch action itself.
        return [
            Check(f"dynamodb:{operation}", _table_arn(table, place))
            for table in params.get("RequestItems", {})
        ]
    action = f"dynamodb:{operation}"
    if "TableName" in params:
        table = _table_arn(params["TableName"], place)
        if operation in ("Query", "Scan") and params.get("IndexName"):
            return [Check(action, f"{table}/index/{params['IndexName']}")]
        return [Check(action, table)]
    for name in ("ResourceArn", "StreamArn"):
        if name in params:
            return [Check(action, params[name])]
    return [Check(action, "*")]


def _sns_resource(operation: str, params: Mapping[str, Any], place: Place) -> str:
    for name in ("TopicArn", "TargetArn", "ResourceArn"):
        if params.get(name):
            return str(params[name])
    if operation == "CreateTopic" and params.get("Name"):
        return place.arn("sns", str(params["Name"]))
    if params.get("SubscriptionArn"):
        # A subscription's operations are authorised on its topic.
        return str(params["SubscriptionArn"]).rsplit(":", 1)[0]
    return "*"


def _secret_resource(
    params: Mapping[str, Any], place: Place, secret_arn: Callable[[str], str | None]
) -> str:
    secret_id = params.get("SecretId")
    if secret_id:
        known = secret_arn(str(secret_id))
        if known:
            return known
        return (
            secret_id
            if secret_id.startswith("arn:")
            else place.arn("secretsmanager", f"secret:{secret_id}")
        )
    if params.get("Name"):
        # CreateSecret: the new secret's ARN, whose six-character suffix is not chosen yet.
        return place.arn("secretsmanager", f"secret:{params['Name']}-??????")
    return "*"


def _cloudwatch(operation: str, params: Mapping[str, Any], place: Place) -> list[Check]:
    action = f"cloudwatch:{operation}"
    names = params.get("AlarmNames") or ([params["AlarmName"]] if "AlarmName" in params else [])
    if names:
        return [Check(action, place.arn("cloudwatch", f"alarm:{name}")) for name in names]
    if params.get("ResourceARN"):
        return [Check(action, str(params["ResourceARN"]))]
    return [Check(action, "*")]
