"""s3:// media links: only the deployment's media/ prefix, presigned when the batch is sent."""

from __future__ import annotations

import io
import json

import pytest

from syncdrop.domain.media_links import presign_media_links, s3_link_checker
from syncdrop.intake import AcceptedRow, IntakeRules, RowRejection, UploadReader
from tests.support.csv_files import to_csv


def read(body: bytes, rules: IntakeRules) -> list[AcceptedRow | RowRejection]:
    return list(UploadReader(io.BytesIO(body), kind="csv", rules=rules))


def test_links_into_the_media_prefix_are_kept_for_presigning_later():
    rules = IntakeRules(presign_s3=s3_link_checker("uploads-bkt"))
    rows = [["r1", "s3://uploads-bkt/media/clip 1.mp4", "https://a.example/a.wav", "Ada"]]
    (row,) = read(to_csv(rows), rules)
    assert isinstance(row, AcceptedRow)
    assert json.loads(row.line)["payload"]["input"][0]["url"] == "s3://uploads-bkt/media/clip 1.mp4"


@pytest.mark.parametrize(
    "url",
    ["s3://someone-else/media/a.mp4", "s3://uploads-bkt/incoming/a.mp4", "s3://uploads-bkt/work/x"],
)
def test_other_buckets_and_prefixes_are_rejected_with_a_reason(url):
    rules = IntakeRules(presign_s3=s3_link_checker("uploads-bkt"))
    (row,) = read(to_csv([["r1", url, "https://a.example/a.wav", "Ada"]]), rules)
    assert isinstance(row, RowRejection)
    assert "s3://uploads-bkt/media/" in row.reason


def test_presigning_rewrites_only_s3_urls_and_keeps_other_lines_byte_identical():
    plain = b'{"request_id":"a","payload":{"input":[{"type":"video","url":"https://x/v.mp4"}]}}'
    s3 = json.dumps(
        {
            "request_id": "b",
            "payload": {"input": [{"type": "video", "url": "s3://bkt/media/v é.mp4"}]},
        },
        separators=(",", ":"),
    ).encode()
    calls = []

    def presign(bucket: str, key: str, expires: int) -> str:
        calls.append((bucket, key, expires))
        return f"https://{bucket}.s3.amazonaws.com/{key}?sig=1"

    out = presign_media_links(plain + b"\n" + s3 + b"\n", presign).splitlines()
    assert out[0] == plain
    assert (
        json.loads(out[1])["payload"]["input"][0]["url"]
        == "https://bkt.s3.amazonaws.com/media/v é.mp4?sig=1"
    )
    assert calls == [("bkt", "media/v é.mp4", 86400)]
    assert presign_media_links(plain + b"\n", presign) == plain + b"\n"
