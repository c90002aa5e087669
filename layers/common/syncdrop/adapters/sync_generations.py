"""Sync's Generate API calls of the Sync client: create (with an Idempotency-Key), get, list.

A create carries the caller's ``Idempotency-Key``, so resending it with the same key and body
cannot make a second generation (sync-api.md §6.3): connection errors, timeouts, 5xx, 408 and
503 ``IDEMPOTENCY_OUTCOME_UNKNOWN`` are retried within the shared policy. When Sync names the
generation in an unknown outcome, the retry looks it up instead of posting again. 429s and other
4xx are never retried here: the caller leaves the row queued or reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from syncdrop.adapters.policy import RetryPolicy, call_with_retries
from syncdrop.errors import (
    SyncApiError,
    SyncNotSent,
    SyncOutcomeUnknown,
    SyncRejected,
    SyncUnavailable,
)
from syncdrop.sync_models import Generation

GENERATE_PATH = "/v2/generate"
OUTCOME_UNKNOWN = "IDEMPOTENCY_OUTCOME_UNKNOWN"
IDS_PER_LIST = 50  # ids per GET /v2/generations, to keep the query string short


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

    if response.status_code == 402:
        refused = sync_error(response)
        return SyncRejected(
            "Your Sync plan or billing does not allow this generation (402): "
            f"{refused.message}. Check the plan and invoices in Sync's dashboard.",
            status=402,
            error_code=refused.error_code,
        )
    return sync_error(response)


class _NotReached(Exception):
    """This attempt never connected: Sync cannot have seen it."""


class _NoAnswer(Exception):
    """This attempt reached Sync (or may have) and got no usable answer."""


class _Attempts:
    """State shared by the attempts of one create: did any reach Sync, did Sync name an id."""

    def __init__(self) -> None:
        self.reached = False
        self.generation_id: str | None = None

    def note_unknown(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict) and body.get("errorCode") == OUTCOME_UNKNOWN:
            named = body.get("generationId")
            if isinstance(named, str) and named:
                self.generation_id = named


def _generation(body: Any, what: str) -> Generation:
    try:
        return Generation.model_validate(body)
    except ValidationError as exc:
        raise SyncUnavailable(f"Sync's answer to {what} is not a generation", status=502) from exc


class GenerationCalls:
    """Generate API methods for :class:`syncdrop.adapters.sync_api.SyncBatchApi`."""

    def create_generation(
        self: _SyncHttp, payload: Mapping[str, Any], *, idempotency_key: str
    ) -> Generation:
        """POST /v2/generate with ``Idempotency-Key``; the same key on every retry.

        Raises SyncBackPressure (429 concurrency_limit_reached) and SyncRateLimited (other
        429s) at once, SyncRejected/SyncAuthError for 4xx, SyncNotSent when no attempt ever
        connected, and SyncOutcomeUnknown (with the ``generation_id`` Sync named, if any) when
        the retries ran out without an answer.
        """
        api = self
        state = _Attempts()
        headers = {"Idempotency-Key": idempotency_key}

        def look_up(generation_id: str) -> Generation | None:
            try:
                response = api._http.get(
                    f"{GENERATE_PATH}/{quote(generation_id, safe='')}", headers=api._headers()
                )
            except httpx.TransportError as exc:
                raise _NoAnswer(f"no answer to GET {GENERATE_PATH}/{generation_id}") from exc
            if response.status_code == 404:
                return None  # not there: posting again with the key is what Sync advises
            if not response.is_success:
                if response.status_code >= 500 or response.status_code == 429:
                    raise _NoAnswer(f"Sync answered {response.status_code} to the look-up")
                raise _error_from(response)
            return _generation(response.json(), "GET /v2/generate/{id}")

        def attempt() -> Generation:
            if state.generation_id is not None:
                found = look_up(state.generation_id)
                if found is not None:
                    return found
            try:
                response = api._http.post(
                    GENERATE_PATH, json=dict(payload), headers={**api._headers(), **headers}
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise _NotReached(str(exc)) from exc
            except httpx.TransportError as exc:  # sent, then timed out or cut off
                state.reached = True
                raise _NoAnswer(f"no answer from Sync to the generation: {exc}") from exc
            state.reached = True
            status = response.status_code
            if status >= 500 or status == 408:
                state.note_unknown(response)
                raise _NoAnswer(f"Sync answered {status} to the generation")
            if not response.is_success:
                raise _error_from(response)
            try:
                return Generation.model_validate(response.json())
            except (ValueError, ValidationError) as exc:
                raise _NoAnswer("Sync's answer to the generation could not be read") from exc

        kwargs: dict[str, Any] = {
            "retry_on": lambda exc: isinstance(exc, _NotReached | _NoAnswer),
            "policy": api._policy,
        }
        if api._sleep is not None:
            kwargs["sleep"] = api._sleep
        try:
            return call_with_retries(attempt, **kwargs)
        except _NotReached as exc:
            if not state.reached:
                raise SyncNotSent(f"could not connect to Sync: {exc}") from exc
            raise SyncOutcomeUnknown(
                f"no answer from Sync to the generation after retries: {exc}",
                generation_id=state.generation_id,
            ) from exc
        except _NoAnswer as exc:
            raise SyncOutcomeUnknown(
                f"{exc}; it may exist: retry with the same Idempotency-Key",
                generation_id=state.generation_id,
            ) from exc

    def get_generation(self: _SyncHttp, generation_id: str) -> Generation:
        """GET /v2/generate/{id}; SyncNotFound when Sync has no such generation."""
        path = f"{GENERATE_PATH}/{quote(generation_id, safe='')}"
        return _generation(self._get_json(path), f"GET {path}")

    def list_generations(self: _SyncHttp, ids: Sequence[str]) -> list[Generation]:
        """The generations of ``ids`` Sync knows (unknown ids are left out), 50 ids a request."""
        unique = list(dict.fromkeys(ids))
        found: list[Generation] = []
        for start in range(0, len(unique), IDS_PER_LIST):
            group = unique[start : start + IDS_PER_LIST]
            body = self._get_json("/v2/generations", {"ids": ",".join(group)})
            if not isinstance(body, list):
                raise SyncUnavailable("Sync's generation list was not a JSON array", status=502)
            for item in body:
                try:
                    found.append(Generation.model_validate(item))
                except ValidationError:
                    continue  # one odd entry (say, a status added later) must not hide the rest
        return found
