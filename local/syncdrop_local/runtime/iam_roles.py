"""The stack's IAM roles and policies created on moto, as CloudFormation creates them."""

from __future__ import annotations

import functools
import json
import os
import threading
from datetime import datetime
from typing import Any

from syncdrop_local.runtime.template import ACCOUNT, Resolver, TemplateError

AWS_MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
_patch_lock = threading.Lock()
_patched = False


def load_aws_managed_policies() -> None:
    """Make moto's IAM know AWS's managed policies (AWSLambdaBasicExecutionRole...).

    moto reads the switch when it creates its IAM backend (on its first request after a
    start or reset), so this must run before that. Idempotent.
    """
    global _patched
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    with _patch_lock:
        if _patched:
            return
        from moto.iam.aws_managed_policies import aws_managed_policies_data
        from moto.iam.models import AWSManagedPolicy, IAMBackend

        @functools.cache
        def arguments() -> dict[str, dict[str, Any]]:
            """AWSManagedPolicy.from_data's arguments, worked out once (immutable values)."""
            return {
                name: {
                    "default_version_id": data.get("DefaultVersionId"),
                    "path": data.get("Path"),
                    "document": json.dumps(data.get("Document")),
                    "create_date": datetime.fromisoformat(data["CreateDate"]),
                    "update_date": datetime.fromisoformat(data["UpdateDate"]),
                }
                for name, data in json.loads(aws_managed_policies_data).items()
            }

        def aws_partition_only(self: Any) -> list[Any]:
            # moto 5.2.5 parses its 4.7 MB of ~1,600 policies again for each of its six
            # partitions' backends at every reset (about a second); the local stack is in the
            # aws partition, and the data does not change.
            if self.partition != "aws":
                return []
            return [
                AWSManagedPolicy(  # type: ignore[abstract]  # moto instantiates it as well
                    name, account_id=self.account_id, region=self.region_name, **known
                )
                for name, known in arguments().items()
            ]

        IAMBackend._init_aws_policies = aws_partition_only  # type: ignore[method-assign]
        _patched = True


def name_role(resolver: Resolver, logical_id: str, props: dict[str, Any], name: str) -> None:
    """Give a role its Ref (name) and Arn before anything refers to it."""
    name = str(resolver.resolve(props["RoleName"])) if "RoleName" in props else name
    path = str(resolver.resolve(props.get("Path", "/")))
    resolver.refs[logical_id] = name
    resolver.attributes[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT}:role{path}{name}"


def name_managed_policy(
    resolver: Resolver, logical_id: str, props: dict[str, Any], name: str
) -> None:
    name = str(resolver.resolve(props.get("ManagedPolicyName", name)))
    path = str(resolver.resolve(props.get("Path", "/")))
    resolver.refs[logical_id] = f"arn:aws:iam::{ACCOUNT}:policy{path}{name}"


def create_role(iam: Any, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> None:
    """The role, its trust policy and inline policies; managed policies come with attach()."""
    name = resolver.ref(logical_id)
    args: dict[str, Any] = {
        "RoleName": name,
        "Path": str(resolver.resolve(props.get("Path", "/"))),
        "AssumeRolePolicyDocument": _document(resolver, props["AssumeRolePolicyDocument"]),
    }
    for key in ("Description", "MaxSessionDuration"):
        if key in props:
            args[key] = resolver.resolve(props[key])
    tags = resolver.resolve(props.get("Tags", []))
    if tags:
        args["Tags"] = tags
    iam.create_role(**args)
    for policy in resolver.resolve(props.get("Policies", [])):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=str(policy["PolicyName"]),
            PolicyDocument=_document(resolver, policy["PolicyDocument"]),
        )


def create_managed_policy(
    iam: Any, resolver: Resolver, logical_id: str, props: dict[str, Any]
) -> None:
    arn = resolver.ref(logical_id)
    path, _, name = arn.split(":policy", 1)[1].rpartition("/")
    args = {
        "PolicyName": name,
        "Path": f"{path}/",
        "PolicyDocument": _document(resolver, props["PolicyDocument"]),
    }
    if "Description" in props:
        args["Description"] = str(resolver.resolve(props["Description"]))
    iam.create_policy(**args)


def put_policy(iam: Any, resolver: Resolver, props: dict[str, Any]) -> None:
    """AWS::IAM::Policy: one inline policy on each of its roles."""
    document = _document(resolver, props["PolicyDocument"])
    for role in resolver.resolve(props.get("Roles", [])):
        iam.put_role_policy(
            RoleName=str(role),
            PolicyName=str(resolver.resolve(props["PolicyName"])),
            PolicyDocument=document,
        )


def managed_attachments(
    resolver: Resolver, resources: dict[str, dict[str, Any]]
) -> list[tuple[str, str]]:
    """(role name, policy ARN) pairs: roles' ManagedPolicyArns and managed policies' Roles."""
    pairs: list[tuple[str, str]] = []
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            role = resolver.ref(logical_id)
            pairs += [(role, str(a)) for a in resolver.resolve(props.get("ManagedPolicyArns", []))]
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            arn = resolver.ref(logical_id)
            pairs += [(str(role), arn) for role in resolver.resolve(props.get("Roles", []))]
    return pairs


def attach(iam: Any, role: str, policy_arn: str) -> None:
    try:
        iam.attach_role_policy(RoleName=role, PolicyArn=policy_arn)
    except iam.exceptions.NoSuchEntityException:
        if policy_arn.startswith(AWS_MANAGED_POLICY_PREFIX):
            raise TemplateError(
                f"moto does not know the AWS managed policy {policy_arn}: its IAM backend was "
                "created before load_aws_managed_policies() (start moto after it, or reset it)"
            ) from None
        raise


def _document(resolver: Resolver, document: Any) -> str:
    resolved = resolver.resolve(document)
    if isinstance(resolved, str):
        return resolved
    # AWS takes a document without a Version (SAM writes them so); moto refuses it.
    return json.dumps({"Version": "2012-10-17", **resolved})
