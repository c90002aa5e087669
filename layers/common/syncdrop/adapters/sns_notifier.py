"""The email: one SNS message per job, with attributes subscribers can filter on."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from syncdrop.errors import StorageError
from syncdrop.report import Email
from syncdrop.report.email_recipients import ARRAY_ATTRIBUTES


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, email: Email) -> str:
        try:
            answer = self._sns.publish(
                TopicArn=self._topic,
                Subject=email.subject,
                Message=email.body,
                MessageAttributes={
                    name: {
                        # String.Array: a filter matches when any of its values matches.
                        "DataType": "String.Array" if name in ARRAY_ATTRIBUTES else "String",
                        "StringValue": value,
                    }
                    for name, value in email.attributes.items()
                    if value
                },
            )
        except ClientError as exc:
            raise StorageError(f"SNS publish failed: {exc}") from exc
        return str(answer["MessageId"])
