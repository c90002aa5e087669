"""The results queue: webhook, reconciler and intake hand work to fan_out_results through it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from syncdrop.errors import StorageError
from syncdrop.messages import ResultsMessage


class SqsResultsQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, message: ResultsMessage) -> None:
        try:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=message.to_json())
        except ClientError as exc:
            raise StorageError(f"SQS send to the results queue failed: {exc}") from exc
