"""The outputs queue: one message per slice of a chunk's videos to copy, sent ten to a request."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from syncdrop.copy_tasks import CopyTask
from syncdrop.errors import StorageError

SEND_BATCH_LIMIT = 10


class SqsOutputsQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send_copies(self, tasks: Iterable[CopyTask]) -> int:
        sent = 0
        pending = iter(tasks)
        while batch := list(islice(pending, SEND_BATCH_LIMIT)):
            entries = [
                {"Id": str(n), "MessageBody": task.to_json()} for n, task in enumerate(batch)
            ]
            try:
                answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except ClientError as exc:
                raise StorageError(f"SQS send to the outputs queue failed: {exc}") from exc
            if answer.get("Failed"):
                raise StorageError(f"{len(answer['Failed'])} copy tasks were not queued")
            sent += len(batch)
        return sent
