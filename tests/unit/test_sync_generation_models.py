"""Sync's Generation object in both casings, and a list that holds an entry syncdrop cannot read."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from syncdrop.adapters.policy import RetryPolicy
from syncdrop.adapters.sync_api import SyncBatchApi
from syncdrop.errors import SyncOutcomeUnknown
from syncdrop.sync_models import Generation, GenerationStatus


def test_camel_and_snake_case_fields() -> None:
    camel = Generation.model_validate(
        {
            "id": "g-1",
            "createdAt": "2024-01-15T10:30:00.000Z",
            "status": "COMPLETED",
            "outputUrl": "https://cdn.example/o.mp4",
            "outputDuration": 3.5,
            "error_code": None,
            "webhookUrl": "https://hook.example/w?job=j&chunk=1",
            "model": "lipsync-2",
            "input": [],
        }
    )
    snake = Generation.model_validate(
        {
            "id": "g-2",
            "created_at": "2024-01-15T10:30:00Z",
            "status": "FAILED",
            "output_url": None,
            "errorCode": "generation_failed",
            "error": "The generation failed.",
        }
    )
    assert camel.output_url == "https://cdn.example/o.mp4"
    assert camel.output_duration == 3.5
    assert camel.webhook_url == "https://hook.example/w?job=j&chunk=1"
    assert camel.created_at is not None
    assert snake.error_code == "generation_failed"
    assert snake.status.is_terminal
    with pytest.raises(ValidationError):
        Generation.model_validate({"id": "g-3", "status": "QUEUED"})


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("PENDING", False),
        ("PROCESSING", False),
        ("COMPLETED", True),
        ("FAILED", True),
        ("REJECTED", True),
        ("CANCELED", True),
        ("TIMED_OUT", True),
    ],
)
def test_terminal_statuses(status: str, terminal: bool) -> None:
    assert GenerationStatus(status).is_terminal is terminal


def _sync_answering(statuses: dict[str, str]) -> tuple[SyncBatchApi, list[list[str]]]:
    """A client whose Sync knows ``statuses`` (id -> status) and records each ids query."""
    asked: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["ids"].split(",")
        asked.append(ids)
        found = [{"id": i, "status": statuses[i]} for i in ids if i in statuses]
        return httpx.Response(200, json=found)

    api = SyncBatchApi(
        base_url="https://api.sync.example",
        api_key=lambda: "k",
        transport=httpx.MockTransport(answer),
        policy=RetryPolicy(attempts=1),
    )
    return api, asked


def test_list_skips_an_entry_it_cannot_read_and_asks_50_ids_at_a_time() -> None:
    known = {f"g-{n}": "PENDING" for n in range(120)}
    known["g-7"] = "SOMETHING_NEW"
    api, asked = _sync_answering(known)
    listed = api.list_generations([f"g-{n}" for n in range(120)] + ["g-1"])
    assert [len(group) for group in asked] == [50, 50, 20]
    assert len(listed) == 119
    assert "g-7" not in {item.id for item in listed}


def test_outcome_unknown_keeps_its_message_and_generation_id() -> None:
    plain = SyncOutcomeUnknown("502")
    named = SyncOutcomeUnknown("503", generation_id="g-9")
    assert (str(plain), plain.generation_id) == ("502", None)
    assert (str(named), named.generation_id) == ("503", "g-9")
