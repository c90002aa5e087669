"""Email cannot leave this machine: what each email subscription would be sent goes to an inbox
queue instead, with its address, decided by the subscription's own filter policy as SNS would."""

from __future__ import annotations

import json
import threading
from typing import Any

_lock = threading.Lock()
_installed = False
# topic ARN -> the inbox queue's ARN (moto keeps one state per process, as do these).
_inboxes: dict[str, str] = {}
EMAIL_PROTOCOLS = ("email", "email-json")


def deliver_to(topic_arn: str, inbox_queue_arn: str) -> None:
    """From now on, every email subscription of ``topic_arn`` delivers into that queue."""
    install()
    with _lock:
        _inboxes[topic_arn] = inbox_queue_arn


def install() -> None:
    """Idempotent; moto's own publish (SQS, HTTP, Lambda subscriptions) is left as it is."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.sns.models import Subscription

        plain_publish = Subscription.publish

        def publish(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
            plain_publish(self, message, message_id, *args, **kwargs)
            if self.protocol in EMAIL_PROTOCOLS:
                _deliver(self, message, kwargs.get("subject"), kwargs.get("message_attributes"))

        Subscription.publish = publish  # type: ignore[method-assign]
        _installed = True


def _deliver(
    subscription: Any, message: str, subject: str | None, attributes: dict[str, Any] | None
) -> None:
    inbox = _inboxes.get(subscription.topic.arn)
    if inbox is None:
        return
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(attributes, message):
        return  # the filter policy says this person does not get it
    if str(subscription.attributes.get("PendingConfirmation", "false")).lower() == "true":
        return  # SNS sends nothing to an address that has not confirmed
    from moto.sqs.models import sqs_backends

    _arn, _aws, _sqs, region, account, queue_name = inbox.split(":", 5)
    envelope = {
        "recipient": subscription.endpoint,
        "subject": subject or "",
        "message": message,
        "attributes": {name: value.get("Value", "") for name, value in (attributes or {}).items()},
    }
    sqs_backends[account][region].send_message(queue_name, json.dumps(envelope))
