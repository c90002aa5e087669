"""Sync's Generate API in the emulator: routes, idempotency, plans, limits, lifecycle, faults."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from syncdrop.webhook_signature import SignatureVerdict, verify_sync_signature
from syncdrop_local.emulator import SyncEmulator, cli, tiny_mp4

from .helpers import (
    API_KEY,
    AUDIO,
    SECRET,
    VIDEO,
    WebhookReceiver,
    jsonl,
    lines,
    post_file,
    running,
)

RATE_LIMITED = {
    "statusCode": 429,
    "errorCode": "rate_limit_exceeded",
    "message": "Rate limit exceeded. Please try again later.",
    "error": "Too Many Requests",
}


def body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "lipsync-2",
        "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
        **extra,
    }


def generate(
    http: httpx.Client, payload: Any = None, *, key: str | None = None, **kwargs: Any
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return http.post("/v2/generate", json=body() if payload is None else payload, headers=headers)


def test_create_get_and_list(receiver: WebhookReceiver) -> None:
    with running() as (emu, http):
        hook = f"{receiver.url}?job=j1&chunk=3"
        created = generate(http, body(webhookUrl=hook, options={"sync_mode": "loop"}), key="k-1")
        assert created.status_code == 201, created.text
        answer = created.json()
        assert uuid.UUID(answer["id"])
        assert answer["status"] == "PENDING"
        assert answer["createdAt"].endswith("Z")
        assert answer["model"] == "lipsync-2"
        assert answer["input"][0] == {"type": "video", "url": VIDEO}
        assert answer["options"] == {"sync_mode": "loop"}
        assert answer["webhookUrl"] == hook
        for empty in ("outputUrl", "outputDuration", "error", "error_code"):
            assert answer[empty] is None, empty

        fetched = http.get(f"/v2/generate/{answer['id']}")
        assert fetched.status_code == 200
        assert fetched.json() == answer
        assert http.get("/v2/generate/no-such-id").status_code == 404

        other = generate(http).json()["id"]
        listed = http.get("/v2/generations", params={"ids": f"{answer['id']},unknown,{other}"})
        assert [item["id"] for item in listed.json()] == [answer["id"], other]
        repeated = http.get("/v2/generations", params=[("ids", other), ("ids", answer["id"])])
        assert [item["id"] for item in repeated.json()] == [other, answer["id"]]
        assert http.get("/v2/generations", params={"status": "COMPLETED"}).json() == []
        assert len(http.get("/v2/generations", params={"status": "PENDING"}).json()) == 2
        assert http.get("/v2/generations", params={"status": "DONE"}).status_code == 400

        snapshot = emu.generations()[0]
        assert (snapshot.id, snapshot.idempotency_key) == (answer["id"], "k-1")
        assert snapshot.webhook_url == hook
        assert snapshot.body["options"] == {"sync_mode": "loop"}
        assert emu.generations_per_target() == {("j1", "3"): 1}


def test_a_key_replays_its_generation_and_refuses_another_body() -> None:
    with running() as (emu, http):
        first = generate(http, key="row-1")
        assert first.status_code == 201
        # The same body with another key order and spacing is the same request.
        same = http.post(
            "/v2/generate",
            content=b'{"input": [{"url": "%s", "type": "video"}, {"type": "audio", "url": "%s"}],'
            b' "model": "lipsync-2"}' % (VIDEO.encode(), AUDIO.encode()),
            headers={"Idempotency-Key": "row-1", "Content-Type": "application/json"},
        )
        assert same.status_code == 200
        assert same.json()["id"] == first.json()["id"]
        other = generate(http, body(model="sync-3"), key="row-1")
        assert other.status_code == 422
        assert other.json()["errorCode"] == "IDEMPOTENCY_KEY_REUSED"
        assert generate(http, key="Row-1").status_code == 201  # keys are case-sensitive
        counts = emu.generate_counts()
        assert (counts.received, counts.created, counts.replays) == (4, 2, 1)
        assert counts.distinct_idempotency_keys == 2
        assert len(emu.generations()) == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "slash/not-allowed", "é"])
def test_a_malformed_key_is_refused(key: str) -> None:
    with running() as (emu, http):
        answer = http.post(
            "/v2/generate",
            json=body(),
            headers={"Idempotency-Key": key.encode()},
        )
        assert answer.status_code == 400
        assert answer.json()["errorCode"] == "INVALID_IDEMPOTENCY_KEY"
        assert emu.generations() == []


def test_two_key_headers_are_refused_and_the_longest_key_is_fine() -> None:
    with running() as (emu, http):
        twice = http.post(
            "/v2/generate",
            json=body(),
            headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "a")],
        )
        assert twice.status_code == 400
        assert twice.json()["errorCode"] == "INVALID_IDEMPOTENCY_KEY"
        assert generate(http, key="A-z0._~" + "9" * 121).status_code == 201
        assert len(emu.generations()) == 1


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (body(model="lipsync-9"), "not supported"),
        ({"model": "lipsync-2", "input": [{"type": "audio", "url": AUDIO}]}, "one video"),
        (body(webhookUrl="ftp://hooks.example/x"), "webhookUrl"),
        (body(outputFileName="bad name.mp4"), "outputFileName"),
        (body(options="fast"), "options"),
        ([body()], "JSON object"),
    ],
)
def test_invalid_bodies_are_400_without_line_numbers(payload: Any, words: str) -> None:
    with running() as (emu, http):
        answer = generate(http, payload)
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["message"]
        assert not answer.json()["message"].startswith("Line")
        assert answer.json()["errorCode"]
        assert emu.generations() == []


def test_multipart_is_refused_clearly() -> None:
    with running() as (emu, http):
        answer = http.post("/v2/generate", files={"video": ("v.mp4", b"x", "video/mp4")})
        assert answer.status_code == 415
        assert "application/json" in answer.json()["message"]
        assert emu.generations() == []


@pytest.mark.parametrize(
    ("plan", "limit", "batches"),
    [("hobbyist", 1, False), ("creator", 3, False), ("growth", 6, False), ("scale", 15, True)],
)
def test_plans_set_generation_concurrency_and_batch_access(
    plan: str, limit: int, batches: bool
) -> None:
    with running(plan=plan) as (emu, http):
        assert emu.settings.generation_limit == limit
        for _ in range(limit):
            assert generate(http).status_code == 201
        refused = generate(http)
        assert refused.status_code == 429
        assert refused.json()["errorCode"] == "concurrency_limit_reached"
        assert refused.json()["message"].startswith("Generation concurrency limit reached")
        batch = post_file(http, jsonl(lines(20)))
        assert batch.status_code == (201 if batches else 402)
        assert emu.generate_counts().limited == {"concurrency_limit_reached": 1}


def test_enterprise_and_explicit_concurrency_and_the_batch_access_flag() -> None:
    with running(plan="enterprise") as (emu, http):
        assert emu.settings.generation_limit == 50
        assert post_file(http, jsonl(lines(20))).status_code == 201
        emu.settings.generation_concurrency = 2
        assert emu.settings.generation_limit == 2
        emu.settings.batch_access = False
        assert post_file(http, jsonl(lines(20))).status_code == 402
    with running(plan="growth", batch_access=True) as (_, http):
        assert post_file(http, jsonl(lines(20))).status_code == 201
    with pytest.raises(ValueError, match="unknown plan"):
        SyncEmulator(api_key=API_KEY, webhook_secret=None, plan="gold")


def test_batch_items_do_not_count_and_finished_generations_free_capacity() -> None:
    with running(generation_concurrency=1, generation_pending_seconds=5, generation_seconds=5) as (
        emu,
        http,
    ):
        assert post_file(http, jsonl(lines(20))).status_code == 201
        assert generate(http, key="a").status_code == 201
        assert generate(http, key="b").status_code == 429
        # A replay creates nothing, so it is answered even at the limit.
        assert generate(http, key="a").status_code == 200
        emu.advance(10)
        assert emu.open_generations() == 0
        assert generate(http, key="b").status_code == 201
        assert emu.max_generations_open() == 1


def test_the_request_rate_limit_is_a_sliding_minute() -> None:
    with running(generate_rate_limit=3, generation_concurrency=100) as (emu, http):
        for _ in range(2):
            assert generate(http).status_code == 201
        emu.clock.advance(30)
        assert generate(http).status_code == 201
        over = generate(http)
        assert over.status_code == 429
        assert over.json() == RATE_LIMITED
        emu.clock.advance(31)  # the first two fall out of the window, the third stays in it
        assert [generate(http).status_code for _ in range(3)] == [201, 201, 429]
        assert len(emu.generations()) == 5
        assert emu.generate_counts().limited == {"rate_limit_exceeded": 2}
        assert emu.max_generate_requests_per_minute() == 5
        emu.settings.generate_rate_limit = 0
        assert [generate(http).status_code for _ in range(5)] == [201] * 5


def test_lifecycle_ends_with_a_signed_generation_webhook(receiver: WebhookReceiver) -> None:
    options = {"generation_pending_seconds": 10, "generation_seconds": 5}
    with running(**options) as (emu, http):
        done = generate(http, body(webhookUrl=receiver.url + "?job=j&chunk=1")).json()
        failed = generate(
            http,
            {
                "model": "lipsync-2",
                "input": [
                    {"type": "video", "url": VIDEO + "?sync-fail"},
                    {"type": "audio", "url": AUDIO},
                ],
                "webhookUrl": receiver.url + "?job=j&chunk=2",
            },
        ).json()
        emu.advance(10)
        assert http.get(f"/v2/generate/{done['id']}").json()["status"] == "PROCESSING"
        assert receiver.received == []
        emu.advance(5)
        completed = http.get(f"/v2/generate/{done['id']}").json()
        assert completed["status"] == "COMPLETED"
        assert completed["outputUrl"] == f"{emu.public_url}/media/{done['id']}.mp4"
        assert completed["outputDuration"] > 0
        assert httpx.get(completed["outputUrl"]).content == tiny_mp4()
        refused = http.get(f"/v2/generate/{failed['id']}").json()
        assert refused["status"] == "FAILED"
        assert refused["error_code"] == "generation_failed"
        assert refused["error"]
        assert refused["outputUrl"] is None

        assert len(receiver.received) == 2
        by_chunk = {hook.path.rsplit("=", 1)[1]: hook for hook in receiver.received}
        for chunk, expected in (("1", completed), ("2", refused)):
            hook = by_chunk[chunk]
            verdict = verify_sync_signature(hook.headers, hook.body, SECRET, now=time.time())
            assert verdict is SignatureVerdict.VALID
            assert hook.json() == expected
            assert b": " not in hook.body  # compact JSON, as Sync signs it
        deliveries = emu.webhook_deliveries
        assert {item.kind for item in deliveries} == {"generation"}
        assert {item.batch_id for item in deliveries} == {done["id"], failed["id"]}
        emu.advance(100)
        assert len(receiver.received) == 2  # one notification each


def test_webhook_faults_apply_to_generations(receiver: WebhookReceiver) -> None:
    with running(generation_pending_seconds=1, generation_seconds=1) as (emu, http):
        emu.faults.configure(duplicate_webhooks=True)
        kept = generate(http, body(webhookUrl=receiver.url)).json()["id"]
        emu.advance(2)
        assert [item.duplicate for item in emu.webhook_deliveries] == [False, True]
        emu.faults.configure(duplicate_webhooks=False, drop_webhooks=True)
        dropped = generate(http, body(webhookUrl=receiver.url)).json()["id"]
        emu.advance(2)
        assert emu.dropped_webhooks == [dropped]
        assert {hook.json()["id"] for hook in receiver.received} == {kept}
        emu.faults.configure(drop_webhooks=False, corrupt_webhook_signatures=True)
        generate(http, body(webhookUrl=receiver.url))
        emu.advance(2)
        forged = receiver.received[-1]
        verdict = verify_sync_signature(forged.headers, forged.body, SECRET, now=time.time())
        assert verdict is SignatureVerdict.MISMATCH


def test_generate_5xx_creates_nothing() -> None:
    with running(seed=3) as (emu, http):
        emu.faults.configure(generate_5xx_rate=1.0)
        statuses = {generate(http, key=f"k{n}").status_code for n in range(12)}
        assert statuses == {500, 503}
        assert emu.generations() == []
        assert emu.faults_injected["generate_error"] == 12


def test_the_first_answer_of_each_key_is_lost() -> None:
    with running() as (emu, http):
        emu.faults.configure(generate_lose_first_answer=True)
        with pytest.raises(httpx.TransportError):
            generate(http, key="row-7")
        (made,) = emu.generations()
        again = generate(http, key="row-7")
        assert again.status_code == 200
        assert again.json()["id"] == made.id
        with pytest.raises(httpx.TransportError):
            generate(http, key="row-8")
        assert len(emu.generations()) == 2
        assert emu.faults_injected["generate_answer_lost"] == 2


def test_unknown_outcomes_name_the_generation_half_the_time() -> None:
    with running(seed=5, generation_concurrency=100) as (emu, http):
        emu.faults.configure(idempotency_unknown_rate=1.0)
        answers = [generate(http, key=f"k{n}") for n in range(20)]
        assert {answer.status_code for answer in answers} == {503}
        assert {answer.json()["errorCode"] for answer in answers} == {"IDEMPOTENCY_OUTCOME_UNKNOWN"}
        named = [
            answer.json()["generationId"] for answer in answers if "generationId" in answer.json()
        ]
        assert 0 < len(named) < 20
        made = {item.id for item in emu.generations()}
        assert len(made) == 20
        assert set(named) <= made
        emu.faults.configure(idempotency_unknown_rate=0.0)
        assert generate(http, key="k0").status_code == 200  # the retry finds the generation


def test_random_concurrency_429s_and_slow_answers() -> None:
    with running() as (emu, http):
        emu.faults.configure(generation_concurrency_429_rate=1.0)
        limited = generate(http)
        assert limited.status_code == 429
        assert limited.json()["errorCode"] == "concurrency_limit_reached"
        assert emu.generations() == []
        emu.faults.configure(generation_concurrency_429_rate=0.0, generate_slow_rate=1.0)
        emu.faults.configure(generate_slow_seconds=0.5)
        with pytest.raises(httpx.ReadTimeout):
            http.post("/v2/generate", json=body(), headers={"Idempotency-Key": "s"}, timeout=0.1)
        assert len(emu.generations()) == 1  # the generation exists; only its answer was late
        assert emu.faults_injected["slow_generate"] == 1


def test_get_and_list_take_the_read_faults() -> None:
    with running() as (emu, http):
        made = generate(http).json()["id"]
        emu.faults.fail_next_gets(2, status=503)
        assert http.get(f"/v2/generate/{made}").status_code == 503
        assert http.get("/v2/generations", params={"ids": made}).status_code == 503
        assert http.get(f"/v2/generate/{made}").status_code == 200


def test_request_summary_counts_by_route_and_clears() -> None:
    with running() as (emu, http):
        first = generate(http, key="a").json()["id"]
        generate(http, key="a")
        generate(http, key="b")
        http.get(f"/v2/generate/{first}")
        http.get("/v2/generate/unknown-id-0")
        http.get("/v2/generations", params={"ids": first})
        post_file(http, jsonl(lines(20)))
        summary = emu.request_summary()
        assert summary["POST /v2/generate"] == 3
        assert summary["GET /v2/generate/{id}"] == 2
        assert summary["GET /v2/generations"] == 1
        assert summary["POST /v2/batch"] == 1
        assert summary["distinct_idempotency_keys"] == 2
        emu.clear_records()
        assert emu.request_summary() == {"distinct_idempotency_keys": 0}
        assert emu.generate_counts().received == 0
        assert emu.max_generate_requests_per_minute() == 0
        assert len(emu.generations()) == 2  # generations stay


def test_cli_options_reach_the_settings() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        [
            "--api-key",
            "k",
            "--plan",
            "creator",
            "--generate-rate-limit",
            "7",
            "--generation-seconds",
            "3",
            "--fault",
            "generate_lose_first_answer=true",
        ]
    )
    emu = cli.build(args)
    assert emu.settings.plan == "creator"
    assert emu.settings.generation_limit == 3
    assert emu.settings.has_batch_access is False
    assert emu.settings.generate_rate_limit == 7
    assert emu.settings.generation_seconds == 3
    assert emu.faults.generate_lose_first_answer is True
    default = cli.build(parser.parse_args(["--api-key", "k"]))
    assert default.settings.plan == "scale"
    assert default.settings.has_batch_access is True
    assert (
        cli.build(
            parser.parse_args(["--api-key", "k", "--no-batch-access"])
        ).settings.has_batch_access
        is False
    )
