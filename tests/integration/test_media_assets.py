"""s3:// media become Sync assets once: moto's S3 and job table, the emulator over HTTP."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncdrop.adapters.dynamo_assets import DynamoMediaAssets
from syncdrop.adapters.policy import RetryPolicy
from syncdrop.adapters.s3_objects import S3ObjectStore
from syncdrop.adapters.sync_api import SyncBatchApi
from syncdrop.domain.media_assets import MediaAssets, media_uris, substitute_asset_lines
from syncdrop.errors import MediaNotReady, MediaRefused
from syncdrop.media_files import MediaHead
from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.runtime.stack import LocalStack

API_KEY = "sk-test-media"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, connect_timeout=1, read_timeout=5)
FILES = {
    "media/intro.mp4": b"video-one" * 4000,
    "media/outro.mp4": b"video-two" * 3000,
    "media/voice.wav": b"RIFF-voice" * 2000,
}


@dataclass
class World:
    stack: LocalStack
    emulator: SyncEmulator
    bucket: str
    table: str
    clients: list[SyncBatchApi]
    now: list[datetime]

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def resolver(self, items: Any = None, objects: Any = None, **options: Any) -> MediaAssets:
        sync = SyncBatchApi(base_url=self.emulator.url, api_key=lambda: API_KEY, policy=FAST)
        self.clients.append(sync)
        return MediaAssets(
            objects=objects or S3ObjectStore(self.stack.client("s3"), self.bucket),
            sync=sync,
            items=items or self.items(),
            clock=lambda: self.now[0],
            retry_pause=0.0,
            **options,
        )

    def items(self) -> DynamoMediaAssets:
        return DynamoMediaAssets(self.stack.client("dynamodb"), self.table)

    def stored(self, key: str) -> dict[str, Any]:
        head = self.head(key)
        answer = self.stack.client("dynamodb").get_item(
            TableName=self.table,
            Key={"pk": {"S": f"ASSET#{self.bucket}/{key}"}, "sk": {"S": head.content_id}},
        )
        return dict(answer.get("Item", {}))

    def head(self, key: str) -> MediaHead:
        return S3ObjectStore(self.stack.client("s3"), self.bucket).media_head(self.bucket, key)


@pytest.fixture
def world(moto_stack: LocalStack) -> Iterator[World]:
    bucket = moto_stack.ref("UploadsBucket")
    s3 = moto_stack.client("s3")
    for key, data in FILES.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="video/mp4")
    with SyncEmulator(api_key=API_KEY, webhook_secret="whsec_t", time_scale=0) as emulator:
        made = World(
            moto_stack,
            emulator,
            bucket,
            moto_stack.ref("JobTable"),
            [],
            [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)],
        )
        yield made
        for client in made.clients:
            client.close()


def batch_lines(world: World, count: int) -> bytes:
    """``count`` batch lines over the three files: two videos in turn, one voice."""
    videos = ["media/intro.mp4", "media/outro.mp4"]
    lines = []
    for n in range(count):
        payload = {
            "model": "lipsync-2",
            "input": [
                {"type": "video", "url": world.uri(videos[n % 2])},
                {"type": "audio", "url": world.uri("media/voice.wav")},
            ],
        }
        lines.append({"request_id": f"row-{n + 1}", "endpoint": "/v2/generate", "payload": payload})
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def test_1200_rows_over_three_files_upload_three_assets(world: World) -> None:
    jsonl = batch_lines(world, 1200)
    kinds = media_uris(jsonl)
    assert kinds == {
        world.uri("media/intro.mp4"): "VIDEO",
        world.uri("media/outro.mp4"): "VIDEO",
        world.uri("media/voice.wav"): "AUDIO",
    }
    every_use = [
        item["url"] for line in jsonl.splitlines() for item in json.loads(line)["payload"]["input"]
    ]
    assert len(every_use) == 2400
    ids = world.resolver().asset_ids(every_use, kinds)
    assert len(set(ids.values())) == 3
    counts = world.emulator.asset_counts()
    assert (counts.uploads_requested, counts.puts, counts.assets_created) == (3, 3, 3)
    assert {a.type for a in world.emulator.assets()} == {"VIDEO", "AUDIO"}
    stored = world.stored("media/voice.wav")
    assert stored["asset_id_AUDIO"]["S"] == ids[world.uri("media/voice.wav")]
    assert "upload_token" not in stored  # the lease was given back

    # The chunk's lines name the assets; Sync (the emulator) accepts them and counts their use.
    sent = substitute_asset_lines(b"".join(jsonl.splitlines(keepends=True)[:20]), ids)
    assert b"s3://" not in sent
    created = world.clients[0].create_batch(sent, webhook_url=None)
    assert created.id.startswith("batch_")
    assert world.emulator.asset_usage() == {
        ids[world.uri("media/intro.mp4")]: 10,
        ids[world.uri("media/outro.mp4")]: 10,
        ids[world.uri("media/voice.wav")]: 20,
    }


class CountedReads(S3ObjectStore):
    """The uploads bucket, counting reads of media bytes."""

    streams = 0

    def media_stream(self, head: MediaHead, *, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        CountedReads.streams += 1
        return super().media_stream(head, chunk_size=chunk_size)


def test_a_second_resolver_uses_the_stored_ids_without_calling_sync(world: World) -> None:
    uri = world.uri("media/intro.mp4")
    first = world.resolver().asset_ids([uri], {uri: "VIDEO"})
    world.emulator.clear_records()
    second = world.resolver(objects=CountedReads(world.stack.client("s3"), world.bucket))
    CountedReads.streams = 0
    again = second.asset_ids([uri, uri], {uri: "VIDEO"})
    assert again == first
    assert world.emulator.requests == []
    assert CountedReads.streams == 0  # nor were the bytes read


def test_an_unversioned_bucket_names_the_content_by_etag(world: World) -> None:
    s3 = world.stack.client("s3")
    s3.create_bucket(Bucket="plain-media")
    s3.put_object(Bucket="plain-media", Key="media/a.mp4", Body=b"plain" * 900)
    uri = "s3://plain-media/media/a.mp4"
    first = world.resolver().asset_ids([uri], {uri: "VIDEO"})
    head = S3ObjectStore(s3, "plain-media").media_head("plain-media", "media/a.mp4")
    assert head.version_id is None
    item = world.items().media_item(head)
    assert item is not None
    assert item.asset_ids == {"VIDEO": first[uri]}
    s3.put_object(Bucket="plain-media", Key="media/a.mp4", Body=b"other" * 900)
    second = world.resolver().asset_ids([uri], {uri: "VIDEO"})
    assert second != first
    assert [a.sha256 for a in world.emulator.assets()] == [
        hashlib.sha256(b"plain" * 900).hexdigest(),
        hashlib.sha256(b"other" * 900).hexdigest(),
    ]


class CrashAfterRegister:
    """The job-table items of a worker that dies after Sync registered the asset: the id is
    never stored and the lease is never given back."""

    def __init__(self, items: DynamoMediaAssets) -> None:
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._items, name)

    def record_asset(self, *args: Any, **kwargs: Any) -> str:
        raise SystemExit("the function died")

    def release_upload(self, head: MediaHead, token: str) -> None:
        return None


def test_a_crash_after_register_is_found_by_digest_not_uploaded_again(world: World) -> None:
    uri = world.uri("media/outro.mp4")
    with pytest.raises(SystemExit):
        world.resolver(CrashAfterRegister(world.items())).asset_ids([uri], {uri: "VIDEO"})
    (registered,) = world.emulator.assets()
    assert "upload_token" in world.stored("media/outro.mp4")
    with pytest.raises(MediaNotReady, match="another worker"):
        world.resolver().asset_ids([uri], {uri: "VIDEO"})  # the dead worker's lease is live
    world.now[0] += timedelta(minutes=17)
    ids = world.resolver().asset_ids([uri], {uri: "VIDEO"})
    assert ids == {uri: registered.id}
    counts = world.emulator.asset_counts()
    assert (counts.puts, counts.assets_created) == (1, 1)
    assert world.stored("media/outro.mp4")["asset_id_VIDEO"]["S"] == registered.id


def resolve_until_done(resolve: Callable[[], dict[str, str]]) -> dict[str, str]:
    for _ in range(400):
        try:
            return resolve()
        except MediaNotReady:
            threading.Event().wait(0.01)  # another worker holds the lease
    raise AssertionError("never resolved")


def test_two_workers_at_once_upload_once(world: World, moto_world: Any) -> None:
    uri = world.uri("media/intro.mp4")
    resolvers = [world.resolver(), world.resolver()]
    start = threading.Barrier(2)
    found: list[dict[str, str]] = []
    failures: list[BaseException] = []

    def work(resolver: MediaAssets) -> None:
        try:
            start.wait(5)
            found.append(resolve_until_done(lambda: resolver.asset_ids([uri], {uri: "VIDEO"})))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in resolvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert len(found) == 2
    assert found[0] == found[1]
    counts = world.emulator.asset_counts()
    assert (counts.uploads_requested, counts.puts, counts.assets_created) == (1, 1, 1)


def test_a_missing_file_is_refused_with_a_reason_and_the_others_resolve(world: World) -> None:
    missing = world.uri("media/nowhere.mp4")
    there = world.uri("media/intro.mp4")
    with pytest.raises(MediaRefused) as refused:
        world.resolver().asset_ids([missing, there], {missing: "VIDEO", there: "VIDEO"})
    assert refused.value.uri == missing
    assert (
        refused.value.reason == f"There is no file at {missing}: upload it there, or fix the link."
    )
    assert refused.value.refused == {missing: refused.value.reason}
    assert world.stored("media/intro.mp4")["asset_id_VIDEO"]["S"]  # resolved all the same


def test_a_file_larger_than_sync_takes_is_refused(world: World) -> None:
    uri = world.uri("media/intro.mp4")
    with pytest.raises(MediaRefused, match=r"Sync takes files up to"):
        world.resolver(max_bytes=1000).asset_ids([uri], {uri: "VIDEO"})
    assert world.emulator.requests == []


def test_failed_puts_are_retried_then_left_transient(world: World) -> None:
    uri = world.uri("media/voice.wav")
    world.emulator.faults.configure(asset_put_fail_rate=1.0)
    with pytest.raises(MediaNotReady, match="failed 3 times"):
        world.resolver().asset_ids([uri], {uri: "AUDIO"})
    stored = world.stored("media/voice.wav")
    assert "upload_token" not in stored  # the lease was given back for the next try
    assert stored["sha256"]["S"]  # and the digest kept: the next try need not hash again
    assert world.emulator.assets() == []
    world.emulator.faults.configure(asset_put_fail_rate=0.0)
    ids = world.resolver().asset_ids([uri], {uri: "AUDIO"})
    counts = world.emulator.asset_counts()
    assert (counts.puts, counts.assets_created) == (1, 1)
    assert ids[uri] == world.emulator.assets()[0].id


def test_a_lost_register_answer_makes_one_asset(world: World) -> None:
    uri = world.uri("media/intro.mp4")
    world.emulator.faults.configure(asset_register_5xx_rate=1.0, asset_register_created_share=1.0)
    ids = world.resolver().asset_ids([uri], {uri: "VIDEO"})
    (asset,) = world.emulator.assets()
    assert ids == {uri: asset.id}
    assert world.emulator.asset_counts().registrations == 1


def test_a_refused_register_is_a_person_readable_refusal(world: World) -> None:
    uri = world.uri("media/intro.mp4")
    world.emulator.settings.asset_max_bytes = 100  # the plan's cap, checked at registration
    with pytest.raises(MediaRefused) as refused:
        world.resolver().asset_ids([uri], {uri: "VIDEO"})
    assert refused.value.reason.startswith("Sync refused intro.mp4 as a media file: The file is")
    assert "upload_token" not in world.stored("media/intro.mp4")


def test_a_rewritten_file_is_a_new_content(world: World) -> None:
    uri = world.uri("media/intro.mp4")
    first = world.resolver().asset_ids([uri], {uri: "VIDEO"})
    world.stack.client("s3").put_object(
        Bucket=world.bucket, Key="media/intro.mp4", Body=b"new cut" * 500
    )
    second = world.resolver().asset_ids([uri], {uri: "VIDEO"})
    assert second != first
    assert world.emulator.asset_counts().puts == 2
