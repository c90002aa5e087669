"""s3:// media links: only the deployment's media/ prefix, kept as s3:// for submission."""

from __future__ import annotations

import io
import json

import pytest

from syncdrop.domain.media_links import s3_link_checker
from syncdrop.intake import AcceptedRow, IntakeRules, RowRejection, UploadReader
from tests.support.csv_files import to_csv


def read(body: bytes, rules: IntakeRules) -> list[AcceptedRow | RowRejection]:
    return list(UploadReader(io.BytesIO(body), kind="csv", rules=rules))


def test_links_into_the_media_prefix_are_kept_for_submission():
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
