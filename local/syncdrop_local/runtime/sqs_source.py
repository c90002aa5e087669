"""Lambda's SQS event source, locally: receive, invoke with real-shaped records, delete or retry."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from syncdrop.crash_points import SimulatedCrash
from syncdrop_local.runtime.invoke import LocalFunction
from syncdrop_local.runtime.template import REGION

log = logging.getLogger("syncdrop.local")

# Lambda would wait out the queue's visibility timeout (minutes) before a retry; locally a
# failed message comes back after this many seconds so retries and the DLQ show up quickly.
LOCAL_RETRY_DELAY = 1


def _md5(body: str) -> str:
    """SQS's own checksum of the body (an integrity check, not security)."""
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", "0"
            ),
        },
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or _md5(message["Body"]),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


@dataclass
class SqsEventSource:
    function: LocalFunction
    sqs: Any
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_failures: bool = True
    handled: int = field(default=0)
    failed: int = field(default=0)
    crashes: int = field(default=0)

    def poll_once(self) -> int:
        """Deliver at most one batch; return how many messages were received."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, self.queue_arn) for m in messages]}
        failed_ids: set[str]
        try:
            response = self.function.invoke(event)
            failed_ids = (
                {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
                if self.report_failures
                else set()
            )
        except Exception:
            log.exception(
                "%s failed; its messages go back to the queue", self.function.spec.logical_id
            )
            failed_ids = {m["MessageId"] for m in messages}
        except SimulatedCrash as crash:
            # The execution environment died: no answer; every message comes back later.
            log.warning("%s crashed at %s", self.function.spec.logical_id, crash)
            self.crashes += 1
            failed_ids = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed_ids:
                self.failed += 1
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=LOCAL_RETRY_DELAY,
                )
            else:
                self.handled += 1
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(messages)
