"""AWS failures a person can act on, each told in one line (exit code 2, never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectionError as AwsConnectionError,
)

_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_REFUSED = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidToken",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled"}
# The IAM action behind each call the stack commands make (docs/cli.md lists them per command).
IAM_ACTIONS = {
    "DescribeStacks": "cloudformation:DescribeStacks",
    "PutObject": "s3:PutObject",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetItem": "dynamodb:GetItem",
    "Query": "dynamodb:Query",
    "UpdateItem": "dynamodb:UpdateItem",
    "SendMessage": "sqs:SendMessage",
    "ListObjectsV2": "s3:ListBucket",
    "Subscribe": "sns:Subscribe",
    "ListSubscriptionsByTopic": "sns:ListSubscriptionsByTopic",
    "SetSubscriptionAttributes": "sns:SetSubscriptionAttributes",
    "GetSubscriptionAttributes": "sns:GetSubscriptionAttributes",
}
_LOGIN = "run `aws sso login` or `aws configure`, or pass --profile"


class StackCliError(Exception):
    """A failure already worded for the person at the terminal."""


def explain(error: BaseException) -> str | None:
    """One line for a failure a person can fix (None: a defect, worth its traceback)."""
    for cause in _causes(error):
        line = _line(cause)
        if line is not None:
            return line
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    # Adapters wrap boto3's errors in syncdrop's own; the AWS error is the cause.
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__


def _line(error: BaseException) -> str | None:
    if isinstance(error, StackCliError):
        return str(error)
    if isinstance(error, ProfileNotFound):
        return f"{error} (the profiles are in ~/.aws/config)."
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return f"no usable AWS credentials: {_LOGIN}."
    if isinstance(error, TokenRetrievalError | SSOError | CredentialRetrievalError):
        return f"the AWS credentials have expired or cannot be refreshed: {_LOGIN}."
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION."
    if isinstance(error, AwsConnectionError | HTTPClientError):
        return f"cannot reach AWS ({error}); check the network, --region and --endpoint-url."
    if isinstance(error, ClientError):
        return _client_error(error)
    if isinstance(error, BotoCoreError):
        return f"AWS call failed: {error}"
    return None


def _client_error(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    message = str(details.get("Message", "")).strip() or code
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    operation = error.operation_name
    if code in _EXPIRED:
        return f"the AWS credentials have expired ({code}): {_LOGIN}."
    if code in _REFUSED:
        return f"AWS does not accept these credentials ({code}): {_LOGIN}."
    if code in _DENIED or (status == 403 and code in {"403", "Forbidden"}):
        action = IAM_ACTIONS.get(operation, operation)
        return (
            f"access denied: {operation} needs {action} for this identity "
            "(docs/cli.md lists what each command needs)."
        )
    return f"AWS {operation} failed ({code}): {message}"
