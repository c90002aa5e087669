"""Sync's Batch API over httpx: create, get and list batches, with errors mapped by errorCode."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError

from syncdrop.adapters.policy import (
    DEFAULT_POLICY,
    RetryPolicy,
    call_with_retries,
    shared_tls_context,
)
from syncdrop.adapters.sync_assets import AssetCalls
from syncdrop.adapters.sync_generations import GenerationCalls
from syncdrop.errors import (
    SyncApiError,
    SyncAuthError,
    SyncBackPressure,
    SyncNotFound,
    SyncNotSent,
    SyncOutcomeUnknown,
    SyncRateLimited,
    SyncRejected,
    SyncUnavailable,
)
from syncdrop.sync_models import Batch, BatchStatus, Validated

USER_AGENT = "syncdrop/0.1"


def _error_from(response: httpx.Response) -> SyncApiError:
    """Turn an error answer into the matching exception; branch on errorCode, not the text."""
    status = response.status_code
    code: str | None = None
    message = response.reason_phrase or f"HTTP {status}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("errorCode") if isinstance(body.get("errorCode"), str) else None
        raw = body.get("message")
        if isinstance(raw, list):
            message = "; ".join(str(m) for m in raw)
        elif isinstance(raw, str) and raw:
            message = raw
    if status == 429:
        if code == "concurrency_limit_reached":
            return SyncBackPressure(message, status=status, error_code=code)
        return SyncRateLimited(message, status=status, error_code=code)
    if status == 401:
        return SyncAuthError(
            f"Sync refused the API key ({message}); update the SyncApiKey secret.",
            status=status,
            error_code=code,
        )
    if status == 402:
        return SyncRejected(
            "Your Sync plan has no Batch API access (Scale or Enterprise needed): " + message,
            status=status,
            error_code=code,
        )
    if status == 404:
        return SyncNotFound(message, status=status, error_code=code)
    if 400 <= status < 500:
        return SyncRejected(message, status=status, error_code=code)
    return SyncUnavailable(message, status=status, error_code=code)


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, SyncUnavailable | SyncRateLimited | httpx.TransportError)


def sync_http_client(
    base_url: str, policy: RetryPolicy, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The HTTP client of every call to Sync's API (the key is sent per request)."""
    # follow_redirects stays off: a redirect must never carry x-api-key to another host.
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        timeout=policy.http_timeout(),
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
        transport=transport,
        verify=shared_tls_context() if transport is None else True,
    )


class SyncBatchApi(AssetCalls, GenerationCalls):
    """Client of Sync's Batch API. The API key is only ever sent to ``base_url``'s host."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: Callable[[], str],
        policy: RetryPolicy = DEFAULT_POLICY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._policy = policy
        self._api_key = api_key
        self._sleep = sleep
        self._http = sync_http_client(base_url, policy, transport)

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key()}

    def _get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        def attempt() -> Any:
            try:
                response = self._http.get(path, params=params, headers=self._headers())
            except httpx.TimeoutException as exc:
                raise SyncUnavailable(
                    f"Sync did not answer GET {path} in time", status=504
                ) from exc
            if not response.is_success:  # a 3xx too: never follow it with the key attached
                raise _error_from(response)
            try:
                return response.json()
            except ValueError as exc:
                raise SyncUnavailable(
                    f"Sync's answer to GET {path} is not JSON", status=502
                ) from exc

        kwargs: dict[str, Any] = {"retry_on": _retryable, "policy": self._policy}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        try:
            return call_with_retries(attempt, **kwargs)
        except httpx.TransportError as exc:
            raise SyncUnavailable(f"Sync unreachable for GET {path}: {exc}", status=503) from exc

    def get_batch(self, batch_id: str) -> Batch:
        return Batch.model_validate(self._get_json(f"/v2/batch/{batch_id}"))

    def list_batches(
        self,
        *,
        status: BatchStatus | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[Batch]:
        params: dict[str, str] = {}
        if status is not None:
            params["status"] = status.value
        if created_after is not None:
            params["created_after"] = created_after.isoformat()
        if created_before is not None:
            params["created_before"] = created_before.isoformat()
        body = self._get_json("/v2/batch", params or None)
        if not isinstance(body, list):
            raise SyncUnavailable("Sync's batch list was not a JSON array", status=502)
        batches: list[Batch] = []
        for item in body:
            try:
                batches.append(Batch.model_validate(item))
            except ValidationError:
                continue  # one odd entry must not hide the others from the reconciler
        return batches

    def create_batch(
        self,
        jsonl: bytes,
        *,
        webhook_url: str | None,
        dry_run: bool = False,
        filename: str = "input.jsonl",
    ) -> Batch | Validated:
        """POST /v2/batch once. Never retried here: a batch has no idempotency key.

        Raises SyncNotSent when the request provably never reached Sync, and
        SyncOutcomeUnknown when it may have created a batch (5xx, timeout, broken answer).
        """
        data = {"dry_run": "true" if dry_run else "false"}
        if webhook_url:
            data["webhook_url"] = webhook_url
        files = {"input": (filename, jsonl, "application/jsonl")}
        try:
            response = self._http.post("/v2/batch", data=data, files=files, headers=self._headers())
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise SyncNotSent(f"could not connect to Sync: {exc}") from exc
        except httpx.TransportError as exc:
            raise SyncOutcomeUnknown(f"no answer from Sync after sending the batch: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 408:
            raise SyncOutcomeUnknown(
                f"Sync answered {response.status_code} to the batch; it may exist anyway"
            )
        if not response.is_success:
            raise _error_from(response)
        try:
            body = response.json()
            if isinstance(body, dict) and body.get("status") == "VALIDATED" and "id" not in body:
                return Validated.model_validate(body)
            return Batch.model_validate(body)
        except (ValueError, ValidationError) as exc:
            raise SyncOutcomeUnknown(
                f"Sync's answer to the batch could not be read: {json.dumps(response.text[:200])}"
            ) from exc
