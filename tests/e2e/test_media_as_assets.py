"""Rows' s3:// media go to Sync as assets: each base video uploaded once, however many rows,
batches and single generations use it, and no link to the bucket leaves the account."""

from __future__ import annotations

from collections import Counter

from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import LocalSystem

# Enough of an MP4's start for a media object (the emulator does not decode it).
MP4_HEAD = bytes.fromhex("000000186674797069736f6d0000020069736f6d69736f32")


def put_base_videos(system: LocalSystem, count: int) -> list[str]:
    uris = []
    for n in range(count):
        key = f"media/base-{n}.mp4"
        system.drop(key, MP4_HEAD + bytes([n]) * 128)
        uris.append(f"s3://{system.bucket}/{key}")
    return uris


def inputs_sent(system: LocalSystem) -> list[dict]:
    items = [
        i for b in system.emulator.batches for line in b.lines for i in line["payload"]["input"]
    ]
    items += [i for g in system.emulator.generations() for i in g.body["input"]]
    return items


def test_1200_rows_sharing_3_base_videos_upload_3_assets(local_system):
    system = local_system(batch_concurrency=3)
    videos = put_base_videos(system, 3)
    rows = campaign_rows(1200)
    for n, row in enumerate(rows):
        row[1] = videos[n % 3]
    system.drop("incoming/shared.csv", to_csv(rows))
    system.settle()
    system.finish_batches()
    system.settle()
    snap = system.snapshot()
    assert snap["status"] == "COMPLETED"
    assert Counter(r["status"] for r in system.results()) == {"COMPLETED": 1200}
    assets = system.emulator.assets()
    assert len(assets) == 3
    counts = system.emulator.asset_counts()
    assert (counts.uploads_requested, counts.puts, counts.registrations) == (3, 3, 3)
    assert sorted(system.emulator.asset_usage().values()) == [400, 400, 400]
    sent = inputs_sent(system)
    videos_sent = [i for i in sent if i["type"] == "video"]
    assert {i.get("assetId") for i in videos_sent} == {a.id for a in assets}
    assert [i for i in sent if system.bucket in str(i.get("url", ""))] == []
    assert len(system.runtime.collect_emails()) == 1


def test_single_generations_name_the_same_assets(local_system):
    system = local_system(parameters={"GenerateRequestsPerMinute": "6000"})
    (video,) = put_base_videos(system, 1)
    first, second = campaign_rows(3), campaign_rows(4, start=10)
    for row in (*first, *second):
        row[1] = video
    system.drop("incoming/one.csv", to_csv(first))
    system.drop("incoming/two.csv", to_csv(second))
    system.settle()
    for _ in range(6):
        system.finish_batches()
        system.settle()
    assert len(system.runtime.collect_emails()) == 2
    (asset,) = system.emulator.assets()
    assert system.emulator.asset_usage() == {asset.id: 7}
    assert {i.get("assetId") for i in inputs_sent(system) if i["type"] == "video"} == {asset.id}
