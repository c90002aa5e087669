"""Sync's cost estimate over httpx: ``POST /v2/analyze/cost`` for one generation body.

The route takes the body ``POST /v2/generate`` takes and answers a JSON array of
``{estimatedFrameCount, estimatedGenerationCost}`` (USD). It creates nothing, so every attempt
may be retried within the shared policy: 5xx, 429 and connection errors are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from syncdrop.adapters.policy import (
    DEFAULT_POLICY,
    RetryPolicy,
    call_with_retries,
)
from syncdrop.adapters.sync_api import _error_from, _retryable, sync_http_client
from syncdrop.errors import SyncUnavailable

COST_PATH = "/v2/analyze/cost"


@dataclass(frozen=True)
class CostEstimate:
    """What Sync expects one generation to take: output frames and US dollars."""

    frames: float
    usd: float


def read_estimate(body: object) -> CostEstimate:
    """Sum the estimates of Sync's answer; ``SyncUnavailable`` for an answer of another shape."""
    if not isinstance(body, list) or not body:
        raise SyncUnavailable("Sync's cost estimate was not a non-empty JSON array", status=502)
    frames = usd = 0.0
    for item in body:
        values = item if isinstance(item, dict) else {}
        count, cost = values.get("estimatedFrameCount"), values.get("estimatedGenerationCost")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (count, cost)):
            raise SyncUnavailable(
                "Sync's cost estimate lacks estimatedFrameCount or estimatedGenerationCost",
                status=502,
            )
        frames += float(count)  # type: ignore[arg-type]  # checked just above
        usd += float(cost)  # type: ignore[arg-type]
    return CostEstimate(frames=frames, usd=usd)


class SyncCostApi:
    """Client of Sync's cost estimate. The API key is only ever sent to ``base_url``'s host."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: Callable[[], str],
        policy: RetryPolicy = DEFAULT_POLICY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._api_key = api_key
        self._policy = policy
        self._sleep = sleep
        self._http = sync_http_client(base_url, policy, transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncCostApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def estimate(self, payload: Mapping[str, Any]) -> CostEstimate:
        """Sync's estimate for one generation body (model, input, options, ...)."""

        def attempt() -> CostEstimate:
            try:
                response = self._http.post(
                    COST_PATH, json=dict(payload), headers={"x-api-key": self._api_key()}
                )
            except httpx.TimeoutException as exc:
                raise SyncUnavailable(
                    f"Sync did not answer POST {COST_PATH} in time", status=504
                ) from exc
            if not response.is_success:
                raise _error_from(response)
            try:
                return read_estimate(response.json())
            except ValueError as exc:
                raise SyncUnavailable(
                    f"Sync's answer to {COST_PATH} is not JSON", status=502
                ) from exc

        kwargs: dict[str, Any] = {"retry_on": _retryable, "policy": self._policy}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        try:
            return call_with_retries(attempt, **kwargs)
        except httpx.TransportError as exc:
            raise SyncUnavailable(f"Sync unreachable for {COST_PATH}: {exc}", status=503) from exc
