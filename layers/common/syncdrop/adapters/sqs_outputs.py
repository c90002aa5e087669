"""The outputs queue: one message per video to copy, sent ten to a request."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from syncdrop.errors import StorageError

SEND_BATCH_LIMIT = 10


class SqsOutputsQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send_copies(
        self, job_id: str, chunk: int, row_keys: Iterable[str], *, prefix: str | None = None
    ) -> int:
        sent = 0
        keys = iter(row_keys)
        while batch := list(islice(keys, SEND_BATCH_LIMIT)):
            entries = [
                {
                    "Id": str(n),
                    "MessageBody": json.dumps(
                        {"job_id": job_id, "chunk": chunk, "row_key": key, "prefix": prefix},
                        separators=(",", ":"),
                    ),
                }
                for n, key in enumerate(batch)
            ]
            try:
                answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except ClientError as exc:
                raise StorageError(f"SQS send to the outputs queue failed: {exc}") from exc
            if answer.get("Failed"):
                raise StorageError(f"{len(answer['Failed'])} copy tasks were not queued")
            sent += len(batch)
        return sent
