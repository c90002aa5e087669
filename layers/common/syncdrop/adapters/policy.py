"""One retry and timeout policy, shared by every adapter (boto3 and httpx alike)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from botocore.config import Config

if TYPE_CHECKING:
    import ssl

    import httpx

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def delays(self) -> Iterator[float]:
        """Full-jitter exponential backoff, one delay per retry (attempts - 1 of them)."""
        for attempt in range(self.attempts - 1):
            yield random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # nosec B311 # backoff jitter

    def http_timeout(self) -> httpx.Timeout:
        import httpx  # here, not at the top: functions that never call Sync never load it

        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def boto_config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "standard", "total_max_attempts": self.attempts},
            # botocore validates checksums itself; S3 presigned URLs stay SigV4.
            signature_version="s3v4",
        )


DEFAULT_POLICY = RetryPolicy()
# DynamoDB's own contention (a TransactionConflict on a hot item, throttling that outlived
# botocore's retries) clears in milliseconds: more and shorter waits, as botocore's own
# DynamoDB defaults (10 attempts from 50 ms). Worst case about 9 s of waiting in all.
DYNAMODB_POLICY = RetryPolicy(attempts=10, base_delay=0.05, max_delay=2.0)
# The webhook answers Sync within its 10 s timeout: a write that stays contended past ~1 s
# fails the call instead, and the reconciler polls that batch later.
WEBHOOK_DYNAMODB_POLICY = RetryPolicy(attempts=5, base_delay=0.05, max_delay=0.5)


@cache
def shared_tls_context() -> ssl.SSLContext:
    """One TLS context for every httpx client of the process: loading the trust store takes
    ~50 ms, once rather than per client."""
    import httpx

    return httpx.create_ssl_context()


def call_with_retries(
    operation: Callable[[], T],
    *,
    retry_on: Callable[[Exception], bool],
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation``; on an exception ``retry_on`` accepts, back off and try again."""
    delays = policy.delays()
    while True:
        try:
            return operation()
        except Exception as exc:
            if not retry_on(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            sleep(delay)
