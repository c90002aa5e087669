"""`syncdrop subscribe EMAIL --stack S [--prefix FOLDER/]`: an email subscription to the stack's
topic that receives only the emails meant for that address, or for that folder."""

from __future__ import annotations

import argparse
import json
from typing import Any

from syncdrop.recipients import is_address
from syncdrop.report.email_recipients import NOTIFY_ATTRIBUTE, UPLOAD_KEY_ATTRIBUTE
from syncdrop_local.stack_cli.bucket import INCOMING
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.stack import Aws, Stack, add_stack_arguments, run_on_stack

# What SNS answers Subscribe for an email address until its owner clicks the link.
PENDING = "pending confirmation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("email", help="the address to send emails to")
    parser.add_argument(
        "--prefix",
        help=(
            "every file under this folder of incoming/ (e.g. team-a/), whoever else is told; "
            "without it: the files whose notify metadata or NotifyPrefixRules name EMAIL"
        ),
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 once subscribed (pending the address's confirmation on AWS); 2 (one line) else."""
    return run_on_stack(args, lambda aws, stack: subscribe(args, aws, stack))


def folder(prefix: str) -> str:
    """``team-a`` / ``incoming/team-a/`` → ``incoming/team-a/``: matched as a key prefix."""
    parts = [part for part in prefix.strip().split("/") if part]
    if parts[:1] == [INCOMING.rstrip("/")]:
        parts = parts[1:]
    if not parts:
        raise StackCliError(
            "--prefix names no folder under incoming/ (e.g. --prefix team-a/); without "
            "--prefix the address gets the files meant for it."
        )
    return INCOMING + "/".join(parts) + "/"


def filter_policy(email: str, prefix: str | None) -> dict[str, Any]:
    if prefix is not None:
        return {UPLOAD_KEY_ATTRIBUTE: [{"prefix": folder(prefix)}]}
    return {NOTIFY_ATTRIBUTE: [email]}


def subscribe(args: argparse.Namespace, aws: Aws, stack: Stack) -> int:
    email = args.email.strip()
    if not is_address(email):
        raise StackCliError(f"{email!r} is not an email address.")
    email = email.lower()  # syncdrop lower-cases every address it publishes
    policy = json.dumps(filter_policy(email, args.prefix))
    topic = stack.output("NotificationTopicArn")
    sns = aws.client("sns")
    existing = _existing(sns, topic, email)
    if existing == PENDING:
        raise StackCliError(
            f"{email} is already subscribed and waiting for confirmation: click the link in "
            "the email from AWS Notifications first, then run this again to change its filter."
        )
    if existing is not None:
        # SNS keeps one subscription per address and topic: its filter is replaced.
        sns.set_subscription_attributes(
            SubscriptionArn=existing, AttributeName="FilterPolicy", AttributeValue=policy
        )
        print(f"updated     {email} on {topic}")
        print(f"filter      {policy} (it replaces the one it had)")
        print(f"arn         {existing}")
        return 0
    answer = sns.subscribe(
        TopicArn=topic, Protocol="email", Endpoint=email, Attributes={"FilterPolicy": policy}
    )
    arn = str(answer.get("SubscriptionArn", PENDING))
    print(f"subscribed  {email} to {topic}")
    print(f"filter      {policy}")
    print(f"arn         {arn}")
    if arn == PENDING or _pending(sns, arn):
        print(
            f"AWS Notifications (no-reply@sns.amazonaws.com) has emailed {email} a link "
            '("AWS Notification - Subscription Confirmation"). Nothing is delivered until '
            "it is clicked; the link expires after 3 days (run this again for a new one)."
        )
    else:
        print("confirmed   (no confirmation needed here: this endpoint confirms at once)")
    return 0


def _existing(sns: Any, topic: str, email: str) -> str | None:
    """The address's email subscription on the topic: its ARN, PENDING, or None."""
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
    for page in pages:
        for sub in page.get("Subscriptions", []):
            if sub.get("Protocol") == "email" and sub.get("Endpoint", "").lower() == email:
                arn = str(sub["SubscriptionArn"])
                return PENDING if arn.lower() in (PENDING, "pendingconfirmation") else arn
    return None


def _pending(sns: Any, arn: str) -> bool:
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    return str(attributes.get("PendingConfirmation", "false")).lower() == "true"
