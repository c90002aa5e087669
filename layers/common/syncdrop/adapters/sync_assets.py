"""Sync's Assets API calls of the Sync client: find an upload by digest, upload, register, get.

The three upload steps are Sync's: ask for an upload URL, PUT the bytes to it (a presigned URL:
no API key goes there), register the URL as an asset. Registering is not idempotent (each call
makes an asset), so it is sent once; a caller that gets no answer asks
:meth:`AssetCalls.find_uploaded_asset` with the content's SHA-256 before trying again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from syncdrop.adapters.policy import RetryPolicy, call_with_retries, shared_tls_context
from syncdrop.errors import SyncApiError, SyncRateLimited, SyncRejected, SyncUnavailable
from syncdrop.sync_models import Asset, AssetUpload

_S3_CODE = re.compile(r"<Code>([^<]+)</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]+)</Message>")


class _SyncHttp(Protocol):
    """What the mixin uses of the client it is mixed into (see sync_api.SyncBatchApi)."""

    _http: httpx.Client
    _policy: RetryPolicy
    _sleep: Callable[[float], None] | None

    def _headers(self) -> dict[str, str]: ...

    def _get_json(self, path: str, params: dict[str, str] | None = None) -> Any: ...


def _error_from(response: httpx.Response) -> SyncApiError:
    # Imported here: sync_api imports this module for its class line.
    from syncdrop.adapters.sync_api import _error_from as sync_error

    return sync_error(response)


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, SyncUnavailable | SyncRateLimited | httpx.TransportError)


def _post_json(api: _SyncHttp, path: str, payload: dict[str, Any], *, retry: bool) -> Any:
    def attempt() -> Any:
        try:
            response = api._http.post(path, json=payload, headers=api._headers())
        except httpx.TimeoutException as exc:
            raise SyncUnavailable(f"Sync did not answer POST {path} in time", status=504) from exc
        if not response.is_success:
            raise _error_from(response)
        try:
            return response.json()
        except ValueError as exc:
            raise SyncUnavailable(f"Sync's answer to POST {path} is not JSON", status=502) from exc

    kwargs: dict[str, Any] = {"retry_on": _retryable, "policy": api._policy}
    if api._sleep is not None:
        kwargs["sleep"] = api._sleep
    try:
        return call_with_retries(attempt, **kwargs) if retry else attempt()
    except httpx.TransportError as exc:
        raise SyncUnavailable(f"Sync unreachable for POST {path}: {exc}", status=503) from exc


def _asset(body: Any, what: str) -> Asset:
    try:
        return Asset.model_validate(body)
    except ValidationError as exc:
        raise SyncUnavailable(f"Sync's answer to {what} is not an asset", status=502) from exc


def _put_error(response: httpx.Response) -> SyncApiError:
    """The upload host answers as S3 does: an XML body with a Code and a Message."""
    status = response.status_code
    text = response.text[:2000]
    code = match[1] if (match := _S3_CODE.search(text)) else None
    detail = match[1] if (match := _S3_MESSAGE.search(text)) else response.reason_phrase
    label = f"{status} {code}" if code else str(status)
    message = f"the upload to Sync failed ({label}): {detail}"
    if status >= 500 or status in (408, 429):
        return SyncUnavailable(message, status=status, error_code=code)
    return SyncRejected(message, status=status, error_code=code)


class AssetCalls:
    """Sync's Assets API, mixed into the Sync client (it brings the HTTP client and the key)."""

    def find_uploaded_asset(self: _SyncHttp, sha256: str, kind: str) -> Asset | None:
        """The newest asset of this API key with this content digest and type, if any."""
        body = self._get_json("/v2/assets/uploaded", {"contentSha256": sha256, "type": kind})
        if not isinstance(body, dict) or "asset" not in body:
            raise SyncUnavailable("Sync's uploaded-asset answer has no asset field", status=502)
        found = body["asset"]
        return None if found is None else _asset(found, "the uploaded-asset look-up")

    def create_asset_upload(
        self: _SyncHttp, file_name: str, content_type: str, size: int
    ) -> AssetUpload:
        """An upload URL for one file (retried: asking twice only hands out a second URL)."""
        payload = {"fileName": file_name, "contentType": content_type, "size": size}
        body = _post_json(self, "/v2/assets/upload", payload, retry=True)
        try:
            return AssetUpload.model_validate(body)
        except ValidationError as exc:
            raise SyncUnavailable("Sync's upload URL answer could not be read", status=502) from exc

    def put_asset_bytes(
        self: _SyncHttp,
        upload: AssetUpload,
        content_type: str,
        body: Iterator[bytes] | bytes,
        size: int,
    ) -> None:
        """PUT the bytes to the upload URL, streamed, once (a stream cannot be replayed).

        A client of its own: the URL is presigned, so no x-api-key may go to its host, and a
        redirect is an error rather than a place to send the file.
        """
        headers = {"content-type": content_type, "content-length": str(size)}
        with httpx.Client(
            timeout=self._policy.http_timeout(),
            follow_redirects=False,
            verify=shared_tls_context(),
        ) as uploads:
            try:
                response = uploads.put(upload.upload_url, content=body, headers=headers)
            except httpx.TimeoutException as exc:
                raise SyncUnavailable("the upload to Sync timed out", status=504) from exc
            except httpx.TransportError as exc:
                raise SyncUnavailable(f"the upload to Sync broke off: {exc}", status=503) from exc
        if not response.is_success:
            raise _put_error(response)

    def register_asset(self: _SyncHttp, url: str, kind: str, name: str) -> Asset:
        """Register an uploaded URL as an asset. Sent once: a 5xx or a lost answer may still
        have made the asset, which find_uploaded_asset then finds."""
        payload = {"url": url, "type": kind, "name": name}
        return _asset(_post_json(self, "/v2/assets", payload, retry=False), "POST /v2/assets")

    def get_asset(self: _SyncHttp, asset_id: str) -> Asset:
        body = self._get_json(f"/v2/assets/{quote(asset_id, safe='')}")
        return _asset(body, "GET /v2/assets/{id}")
