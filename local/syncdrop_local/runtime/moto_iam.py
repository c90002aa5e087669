"""moto's IAM enforcement made to decide as IAM does, scoped to chosen servers, every decision
recorded.

``install()`` patches moto 5.2.5 in this process (its servers run in-process too) so that each
request is authorised as AWS authorises it: on the real resource ARN, transactions item by
item, presigned S3 URLs by their signer, a copy's source too; denials come back in the
service's own protocol. ``enable(url)`` turns enforcement on for one server only (every other
server and ``mock_aws`` in the process keep accepting any key); ``disable(url)`` turns it off.
``recorder`` holds every decision, for tests to hold a function's calls against its role.

Who may assume a role whose trust policy names only ``Service: lambda.amazonaws.com``: on AWS
only Lambda itself. Locally the harness plays Lambda, so exactly the principals registered
with ``act_as_service`` (the harness's admin user from ``admin_credentials``) may; any other
caller is denied, as on AWS.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from syncdrop_local.runtime.iam_checks import (
    Check,
    Place,
    checks_for,
    copy_source_check,
    iam_action,
)

MOTO_VERSION = "5.2.5"  # every patch below reads moto internals of exactly this release
MANAGED_POLICIES_ENV = "MOTO_IAM_LOAD_MANAGED_POLICIES"
# JSON services that were query services: botocore takes the error code from this header.
_QUERY_COMPATIBLE = frozenset({"sqs", "cloudwatch"})
# What a JSON-protocol service calls the errors moto raises in its query-XML form.
_JSON_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
}

_lock = threading.Lock()
_installed = False
_scopes: set[str] = set()  # host:port of the servers enforcing; empty = moto's global switch
_managed_env_before: str | None = None
_service_actors: dict[str, set[str]] = {}  # "lambda.amazonaws.com" -> principal ARNs


@dataclass(frozen=True)
class Decision:
    """One authorisation: may ``principal`` perform ``action`` on ``resource``?"""

    principal: str  # the caller's ARN (IAM user, or assumed-role session)
    access_key_id: str
    role_name: str | None  # for assumed-role credentials, the role they came from
    action: str  # e.g. "dynamodb:PutItem"
    resource: str  # an ARN, or "*"
    allowed: bool


class DecisionRecorder:
    """The decisions the enforcing servers make, in order; safe across server threads.

    The most recent ``keep`` decisions are kept (a long-running local stack makes them without
    end), and every denial (there should be none).
    """

    def __init__(self, keep: int = 300_000) -> None:
        self._lock = threading.Lock()
        self._decisions: deque[Decision] = deque(maxlen=keep)
        self._denied: list[Decision] = []
        self._listeners: list[Callable[[Decision], None]] = []

    def record(self, decision: Decision) -> None:
        with self._lock:
            self._decisions.append(decision)
            if not decision.allowed:
                self._denied.append(decision)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(decision)

    @property
    def decisions(self) -> list[Decision]:
        with self._lock:
            return list(self._decisions)

    @property
    def denied(self) -> list[Decision]:
        with self._lock:
            return list(self._denied)

    def for_role(self, role_name: str) -> list[Decision]:
        return [d for d in self.decisions if d.role_name == role_name]

    def subscribe(self, listener: Callable[[Decision], None]) -> Callable[[], None]:
        """Call ``listener`` with each new decision; returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)
        return lambda: self._unsubscribe(listener)

    def _unsubscribe(self, listener: Callable[[Decision], None]) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def clear(self) -> None:
        with self._lock:
            self._decisions.clear()
            self._denied.clear()


recorder = DecisionRecorder()


@dataclass(frozen=True)
class AdminCredentials:
    access_key_id: str
    secret_access_key: str
    arn: str


def install() -> None:
    """Idempotent; patches moto in this process. Refuses any moto but 5.2.5."""
    global _installed
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"moto_iam patches moto {MOTO_VERSION} internals, but moto {moto.__version__} is "
            f"installed: pin moto[server]=={MOTO_VERSION} or port moto_iam.py to it"
        )
    with _lock:
        if _installed:
            return
        _authorise_as_aws_does()
        _trust_service_principals()
        _answer_missing_keys_by_list_bucket()
        _match_wildcards_as_iam_does()
        _installed = True


def enable(server_url: str, free_calls: int = 0) -> None:
    """Enforce IAM on the in-process moto server at ``server_url`` (after ``free_calls`` more
    unchecked requests); other servers in the process stay open."""
    install()
    _load_managed_policies()
    with _lock:
        _scopes.add(_netloc(server_url))
    _reset_auth(server_url, str(free_calls))


def disable(server_url: str) -> None:
    """Stop enforcing on ``server_url``; the last one turns moto's global switch off again."""
    global _managed_env_before
    with _lock:
        _scopes.discard(_netloc(server_url))
        last = not _scopes
    if last:
        _reset_auth(server_url, "inf")
        if _managed_env_before is None:
            os.environ.pop(MANAGED_POLICIES_ENV, None)
        else:
            os.environ[MANAGED_POLICIES_ENV] = _managed_env_before
        _managed_env_before = None


@contextmanager
def enforcing(server_url: str, free_calls: int = 0) -> Iterator[None]:
    enable(server_url, free_calls)
    try:
        yield
    finally:
        disable(server_url)


def act_as_service(principal_arn: str, service: str = "lambda.amazonaws.com") -> None:
    """Let ``principal_arn`` assume roles whose trust policy names ``service``: locally it
    plays that service."""
    with _lock:
        _service_actors.setdefault(service, set()).add(principal_arn)


def admin_credentials(
    server_url: str,
    *,
    user_name: str = "syncdrop-admin",
    region: str = "us-east-1",
    acts_for: tuple[str, ...] = ("lambda.amazonaws.com",),
    act_as: Callable[[str, str], None] | None = None,
) -> AdminCredentials:
    """An IAM user allowed everything (as AdministratorAccess allows), for the harness; call it
    before ``enable``. It also plays the ``acts_for`` services (see the module's note), through
    ``act_as`` for a moto in another process (moto_process.py); in this process by default."""
    import boto3

    if act_as is None:
        install()
        _load_managed_policies()
        act_as = act_as_service
    iam = boto3.client(
        "iam",
        endpoint_url=server_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106  # nosec B106 # moto accepts any key
    )
    user = iam.create_user(UserName=user_name)["User"]
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName=user_name, PolicyName="AdministratorAccess", PolicyDocument=json.dumps(everything)
    )
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    for service in acts_for:
        act_as(user["Arn"], service)
    return AdminCredentials(key["AccessKeyId"], key["SecretAccessKey"], user["Arn"])


def _netloc(server_url: str) -> str:
    return urlsplit(server_url).netloc


def _reset_auth(server_url: str, count: str) -> None:
    """moto's own switch: the next ``count`` requests go unchecked, then every one is."""
    parts = urlsplit(server_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("POST", "/moto-api/reset-auth", body=count.encode())
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"moto at {server_url} refused reset-auth: HTTP {answer.status}")
    finally:
        connection.close()


def _load_managed_policies() -> None:
    """AWS managed policies (AWSLambdaBasicExecutionRole...) must exist to be attached: moto
    loads them into an IAM backend it creates while the variable is set; backends that already
    exist get them now."""
    global _managed_env_before
    from moto.iam.models import iam_backends

    with _lock:
        if os.environ.get(MANAGED_POLICIES_ENV) != "true":
            _managed_env_before = os.environ.get(MANAGED_POLICIES_ENV)
            os.environ[MANAGED_POLICIES_ENV] = "true"
        for account in list(iam_backends.values()):
            for backend in list(account.values()):
                if not backend.aws_managed_policies:
                    backend.aws_managed_policies = backend._init_aws_policies()
                    backend.managed_policies.update(
                        {p.arn: p for p in backend.aws_managed_policies}
                    )


# --- the patches -------------------------------------------------------------------------


def _match_wildcards_as_iam_does() -> None:
    """IAM's ``*`` matches any characters, a newline too (S3 keys may hold one), ``?`` one
    character, and nothing else is special; moto made a regex of the pattern as written, so
    ``.`` matched anything and ``*`` stopped at a newline."""
    from moto.iam.access_control import IAMPolicyStatement

    def match(pattern: str, string: str) -> re.Match[str] | None:
        regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
        return re.fullmatch(regex, string, re.DOTALL)

    IAMPolicyStatement._match = staticmethod(match)  # type: ignore[method-assign]


def _authorise_as_aws_does() -> None:
    """Replaces moto's one check per request (its action on a resource that is ``*`` for most
    services) with the checks AWS makes, each recorded; scoped to the enforcing servers."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin as Mixin
    from werkzeug.exceptions import HTTPException

    def authorise(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if _scopes and urlsplit(self.uri).netloc not in _scopes:
            return  # another server of this process: not enforcing
        if Mixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            Mixin.request_count += 1
            return
        if self.headers.get("X-Amz-Target") in Mixin.PUBLIC_OPERATIONS:
            return
        try:
            request = _iam_request(self, iam_request_cls)
            request.check_signature()
            for check in _checks(self, request, resource):
                if not _decide(request, check):
                    _deny(request, check)
        except HTTPException as error:
            raise _in_service_protocol(self, error) from None
        self.syncdrop_iam_request = request  # S3 consults it again for a missing key

    Mixin._authenticate_and_authorize_action = authorise  # type: ignore[method-assign]


def _iam_request(response: Any, iam_request_cls: type) -> Any:
    from moto.iam.access_control import S3IAMRequest

    parsed = urlsplit(response.uri)
    path = response.raw_path + (f"?{parsed.query}" if parsed.query else "")
    arguments = {
        "account_id": response.current_account,
        "method": response.method,
        "path": path,
        "data": response.data,
        "body": response.raw_body,
        "headers": response.headers,
        "action": response._get_action(),
    }
    if "Authorization" in response.headers:
        return iam_request_cls(**arguments)
    query = parse_qs(parsed.query)
    if iam_request_cls is S3IAMRequest and "X-Amz-Credential" in query:
        return _presigned_request_class()(query=query, **arguments)
    # Unsigned: AWS grants an anonymous caller nothing without a resource policy.
    raise _anonymous_denial(iam_request_cls is S3IAMRequest)


def _anonymous_denial(s3: bool) -> Exception:
    from moto.core.exceptions import _RESTError as RESTError
    from moto.s3.exceptions import S3AccessDeniedError

    if s3:
        return S3AccessDeniedError()
    error = RESTError("MissingAuthenticationToken", "Missing Authentication Token")
    error.code = 403
    return error


_presigned_class: type | None = None


def _presigned_request_class() -> type:
    """S3 SigV4 query authentication (presigned URLs): credential, date and signature ride in
    the query string, the payload is UNSIGNED-PAYLOAD; the signer's policies decide."""
    global _presigned_class
    if _presigned_class is not None:
        return _presigned_class
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from moto.iam.access_control import S3IAMRequest
    from werkzeug.datastructures import Headers

    class PresignedS3Request(S3IAMRequest):
        def __init__(self, *, query: dict[str, list[str]], headers: Any, **arguments: Any):
            self._query = query
            as_header = Headers(list(headers.items()))
            # moto reads the credential from an Authorization header: give it the query's.
            as_header["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={query['X-Amz-Credential'][0]}, "
                f"SignedHeaders={query.get('X-Amz-SignedHeaders', ['host'])[0]}, "
                f"Signature={query.get('X-Amz-Signature', [''])[0]}"
            )
            if "X-Amz-Security-Token" in query:
                as_header["X-Amz-Security-Token"] = query["X-Amz-Security-Token"][0]
            super().__init__(headers=as_header, **arguments)  # type: ignore[arg-type]

        def _create_auth(self, credentials: Any) -> Any:
            expires = int(self._query.get("X-Amz-Expires", ["3600"])[0])
            return S3SigV4QueryAuth(credentials, self._service, self._region, expires)

        def _create_aws_request(self) -> Any:
            # The canonical query string is the URL's own, less the signature.
            path, _, query = self._path.partition("?")
            unsigned = "&".join(
                pair for pair in query.split("&") if not pair.startswith("X-Amz-Signature=")
            )
            signed = self._query.get("X-Amz-SignedHeaders", ["host"])[0].split(";")
            request = AWSRequest(
                method=self._method,
                url=f"{path}?{unsigned}",
                headers=self._create_headers_for_aws_request(signed, self._headers),
            )
            request.context["timestamp"] = self._query["X-Amz-Date"][0]
            return request

    _presigned_class = PresignedS3Request
    return PresignedS3Request


def _checks(response: Any, request: Any, resource: str) -> list[Check]:
    """What AWS authorises for this request; moto's own check where that is already right."""
    service = response.service_name
    operation = response._get_action()
    place = Place(response.partition, response.region, response.current_account)
    checks = checks_for(
        service,
        operation,
        _params(response),
        place,
        secret_arn=lambda secret_id: _secret_arn(response, secret_id),
    )
    if checks is None:
        checks = [Check(iam_action(request._service, operation), resource)]
    copy_source = response.headers.get("x-amz-copy-source") if service == "s3" else None
    if copy_source:
        checks.append(copy_source_check(copy_source, response.partition))
    return checks


def _params(response: Any) -> dict[str, Any]:
    """The request's parameters, from its JSON body or its query/form fields."""
    if "amz-json" in response.headers.get("Content-Type", ""):
        body = response.raw_body or b"{}"
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {}
    fields: dict[str, Any] = {}
    for name, values in response.querystring.items():
        value = values[0] if isinstance(values, list) and values else values
        if ".member." in name:  # query lists: AlarmNames.member.1=...
            fields.setdefault(name.split(".member.")[0], []).append(value)
        else:
            fields[name] = value
    return fields


def _secret_arn(response: Any, secret_id: str) -> str | None:
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[response.current_account][response.region].secrets.get(
        secret_id
    )
    return None if secret is None else str(secret.arn)


def _decide(request: Any, check: Check) -> bool:
    """IAM's evaluation of the caller's identity policies: an explicit Deny wins, else some
    Allow is needed; AssumeRole also needs the role's trust policy. Recorded either way."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    request._action = check.action  # moto's trust-policy check reads it
    key = request._access_key
    result = PermissionResult.NEUTRAL
    if check.action == "sts:GetCallerIdentity":
        result = PermissionResult.PERMITTED  # AWS answers it whatever the policies say
    else:
        for policy in key.collect_policies():
            verdict = IAMPolicy(policy).is_action_permitted(check.action, check.resource)
            if verdict == PermissionResult.DENIED:
                result = verdict
                break
            if verdict == PermissionResult.PERMITTED:
                result = verdict
    if (
        result == PermissionResult.PERMITTED
        and request._is_assuming_role_operation(check.resource)
        and not request._check_role_trust_relationship(check.resource)
    ):
        result = PermissionResult.NEUTRAL
    request.syncdrop_explicit_deny = result == PermissionResult.DENIED
    allowed = result == PermissionResult.PERMITTED
    recorder.record(
        Decision(
            principal=key.arn,
            access_key_id=key._access_key_id,
            role_name=getattr(key, "_owner_role_name", None),
            action=check.action,
            resource=check.resource,
            allowed=allowed,
        )
    )
    return allowed


def _deny(request: Any, check: Check) -> None:
    """AWS's wording: who, which action, which resource, and why."""
    from moto.core.exceptions import _RESTError as RESTError
    from moto.iam.access_control import S3IAMRequest

    why = (
        "with an explicit deny in an identity-based policy"
        if request.syncdrop_explicit_deny
        else f"because no identity-based policy allows the {check.action} action"
    )
    message = (
        f"User: {request._access_key.arn} is not authorized to perform: {check.action} "
        f"on resource: {check.resource} {why}"
    )
    if isinstance(request, S3IAMRequest):
        # S3's own error document; same-account denials name the action as other services do.
        from moto.s3.exceptions import S3ClientError

        raise S3ClientError("AccessDenied", message)
    error = RESTError("AccessDenied", message)
    error.code = 403
    raise error


def _in_service_protocol(response: Any, error: Any) -> Any:
    """moto answers every auth error in query XML; JSON services answer in JSON (botocore then
    sees AccessDeniedException, or AccessDenied where x-amzn-query-error says so), and SNS
    calls a denial AuthorizationError."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.exceptions import _RESTError as RESTError

    code = getattr(error, "error_type", None)
    if response.service_name == "s3" or code is None:
        return error
    content_type = response.headers.get("Content-Type", "")
    if "amz-json" in content_type:
        converted = JsonRESTError(
            f"com.amazon.coral.service#{_JSON_CODES.get(code, code)}", error.message
        )
        converted.code = error.code
        response.response_headers["Content-Type"] = content_type
        if response.service_name in _QUERY_COMPATIBLE:
            response.response_headers["x-amzn-query-error"] = f"{code};Sender"
        elif code == "AccessDenied":
            converted.code = 400  # JSON services answer AccessDeniedException with HTTP 400
        return converted
    if response.service_name == "sns" and code == "AccessDenied":
        authorization = RESTError("AuthorizationError", error.message)
        authorization.code = error.code
        return authorization
    return error


def _trust_service_principals() -> None:
    """moto reads only ``Principal.AWS`` in a trust policy, as exact ARNs, and fails (HTTP 500)
    on one naming only a service. As on AWS: an account (its id or root ARN) admits every
    principal of the account, a role's ARN admits its sessions, and a ``Service`` admits the
    principals that play that service here (``act_as_service``)."""
    from moto.iam.access_control import IAMPolicyStatement

    def listed(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value or [])

    def check_principal(self: Any, principal: str) -> bool:
        expected = self._statement.get("Principal")
        if not isinstance(expected, dict):
            return not expected or expected == "*"
        _arn, partition, service, _region, account, resource = principal.split(":", 5)
        admitted = {"*", principal, account, f"arn:{partition}:iam::{account}:root"}
        if service == "sts" and resource.startswith("assumed-role/"):
            role = resource.split("/")[1]
            admitted.add(f"arn:{partition}:iam::{account}:role/{role}")
        if admitted.intersection(listed(expected.get("AWS"))):
            return True
        return any(
            principal in _service_actors.get(name, set())
            for name in listed(expected.get("Service"))
        )

    IAMPolicyStatement._check_principal = check_principal  # type: ignore[method-assign]


def _answer_missing_keys_by_list_bucket() -> None:
    """S3 answers a GET or HEAD of a missing key with 404 to a caller allowed s3:ListBucket on
    the bucket and 403 AccessDenied to one without it (it would otherwise reveal which keys do
    not exist). Requests that are not enforced keep moto's answer."""
    from moto.s3.exceptions import MissingKey, MissingVersion, S3AccessDeniedError
    from moto.s3.responses import S3Response

    get_key, head_object = S3Response._get_key, S3Response.head_object

    def may_list(response: Any) -> bool:
        request = getattr(response, "syncdrop_iam_request", None)
        if request is None:
            return True
        bucket = f"arn:{response.partition}:s3:::{response.bucket_name}"
        return _decide(request, Check("s3:ListBucket", bucket))

    def _get_key(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return get_key(self, *args, **kwargs)
        except (MissingKey, MissingVersion):
            if not may_list(self):
                raise S3AccessDeniedError() from None
            raise

    def _head_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        status, headers, body = head_object(self, *args, **kwargs)
        if status == 404 and not may_list(self):
            return 403, headers, body  # a HEAD answer has no body, its 403 neither
        return status, headers, body

    S3Response._get_key = _get_key  # type: ignore[method-assign]
    S3Response.head_object = _head_object  # type: ignore[method-assign]
