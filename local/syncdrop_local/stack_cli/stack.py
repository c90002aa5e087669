"""Find a stack's resources from its CloudFormation outputs, with the caller's AWS identity."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from syncdrop.errors import StorageError


def add_stack_arguments(
    parser: argparse.ArgumentParser, *, required: bool = True, stack_help: str = ""
) -> None:
    parser.add_argument(
        "--stack", required=required, help=stack_help or "the CloudFormation stack's name"
    )
    parser.add_argument(
        "--region",
        help="its AWS region (default: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's)",
    )
    parser.add_argument("--profile", help="the AWS profile to use (default: the usual chain)")
    parser.add_argument(
        "--endpoint-url",
        help="another AWS endpoint, e.g. moto's for the local stack (default: AWS_ENDPOINT_URL)",
    )


def region_from(flag: str | None, environ: Mapping[str, str]) -> str | None:
    """--region, else AWS_REGION; None leaves boto3 to AWS_DEFAULT_REGION and the profile.

    boto3 reads only AWS_DEFAULT_REGION; the AWS CLI v2 and Lambda set and prefer AWS_REGION.
    """
    return flag or environ.get("AWS_REGION") or None


@dataclass
class Aws:
    """The caller's AWS session; boto3 honours AWS_ENDPOINT_URL when no endpoint is given."""

    session: Any
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Aws:
        # boto3 here, not at the top: `syncdrop validate` imports this module for its options.
        import boto3

        session = boto3.session.Session(
            profile_name=args.profile, region_name=region_from(args.region, os.environ)
        )
        return cls(session=session, endpoint_url=args.endpoint_url or None)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from syncdrop.adapters.policy import DEFAULT_POLICY

            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=DEFAULT_POLICY.boto_config()
            )
        return self._clients[service]


@dataclass(frozen=True)
class Stack:
    """A syncdrop stack as CloudFormation describes it."""

    name: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            from syncdrop_local.stack_cli.errors import StackCliError

            raise StackCliError(
                f"stack {self.name} ({self.status}) has no output {key}: "
                "is it a syncdrop stack, and fully deployed?"
            ) from None

    @property
    def uploads_bucket(self) -> str:
        return self.output("UploadsBucketName")

    @property
    def job_table(self) -> str:
        return self.output("JobTableName")

    @property
    def results_table(self) -> str:
        return self.output("ResultsTableName")


def find_stack(aws: Aws, name: str) -> Stack:
    from botocore.exceptions import ClientError

    from syncdrop_local.stack_cli.errors import StackCliError

    try:
        answer = aws.client("cloudformation").describe_stacks(StackName=name)
    except ClientError as error:
        details = error.response.get("Error", {})
        if details.get("Code") == "ValidationError" and "does not exist" in details.get(
            "Message", ""
        ):
            region = aws.session.region_name
            raise StackCliError(
                f"no stack named {name} in {region}: check --stack and --region "
                "(`aws cloudformation list-stacks` lists them)."
            ) from None
        raise
    described = answer["Stacks"][0]
    return Stack(
        name=described["StackName"],
        status=described.get("StackStatus", ""),
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])
        },
    )


def run_on_stack(args: argparse.Namespace, action: Callable[[Aws, Stack], int]) -> int:
    """Find ``--stack`` and run ``action``; a failure a person can fix is one line, exit 2."""
    from botocore.exceptions import BotoCoreError, ClientError

    from syncdrop_local.stack_cli.errors import StackCliError, explain

    try:
        aws = Aws.from_args(args)
        return action(aws, find_stack(aws, args.stack))
    except (StackCliError, BotoCoreError, ClientError, StorageError) as error:
        line = explain(error)
        if line is None:
            raise
        command = getattr(args, "command", None)
        print(f"syncdrop {command}: {line}" if command else f"syncdrop: {line}", file=sys.stderr)
        return 2
