"""One behaviour suite for the ObjectStore fake and the S3 adapter (on moto), so they agree."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from syncdrop.adapters.s3_objects import S3ObjectStore
from syncdrop.errors import UploadMissing, UploadRefused
from syncdrop.jobs import UploadRef
from syncdrop_local.runtime import moto_fidelity
from tests.fakes.stores import FakeObjectStore

BUCKET = "contract-bucket"


class S3World:
    """S3ObjectStore on a versioned moto bucket; ``refuse`` makes S3 answer 403."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.store = S3ObjectStore(self.s3, BUCKET)

    def upload(self, key: str, body: bytes) -> UploadRef:
        version = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
        return UploadRef(BUCKET, key, version)

    def read(self, key: str, version_id: str | None) -> bytes:
        extra = {"VersionId": version_id} if version_id else {}
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read())

    def missing(self) -> UploadRef:
        return UploadRef(BUCKET, "incoming/never-uploaded.csv", None)

    def refused(self) -> Any:
        return moto_fidelity.missing_objects_denied()


class FakeWorld:
    def __init__(self) -> None:
        self.store = FakeObjectStore(bucket=BUCKET)

    def upload(self, key: str, body: bytes) -> UploadRef:
        self.store.uploads[(BUCKET, key)] = body
        return UploadRef(BUCKET, key, "v1")

    def read(self, key: str, version_id: str | None) -> bytes:
        return self.store.version(key, version_id) if version_id else self.store.objects[key]

    def missing(self) -> UploadRef:
        return UploadRef(BUCKET, "incoming/never-uploaded.csv", None)

    def refused(self) -> Any:
        self.store.refused.add((BUCKET, "incoming/never-uploaded.csv"))
        return _Nothing()


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture(params=["fake", "s3"])
def world(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeWorld()
        return
    moto_fidelity.install()
    with mock_aws():
        yield S3World()


def test_an_upload_reads_back_with_its_size(world):
    upload = world.upload("incoming/a.csv", b"a,b\n1,2\n")
    assert world.store.upload_size(upload) == 8
    assert world.store.open_upload(upload).read() == b"a,b\n1,2\n"


def test_a_missing_upload_is_upload_missing_and_a_refused_one_upload_refused(world):
    with pytest.raises(UploadMissing) as missing:
        world.store.open_upload(world.missing())
    assert not isinstance(missing.value, UploadRefused)
    with world.refused():
        for read in (world.store.open_upload, world.store.upload_size):
            with pytest.raises(UploadRefused):
                read(world.missing())


def test_each_write_names_a_new_version_that_stays_readable(world):
    first = world.store.put_bytes("results/b.results.csv", b"one", "text/csv")
    second = world.store.put_file("results/b.results.csv", io.BytesIO(b"two"), "text/csv")
    assert first
    assert second
    assert first != second
    assert world.read("results/b.results.csv", first) == b"one"
    assert world.read("results/b.results.csv", second) == b"two"
    assert world.read("results/b.results.csv", None) == b"two"
    assert world.store.get_bytes("results/b.results.csv") == b"two"


def test_a_presigned_link_names_the_version_only_when_asked(world):
    version = world.store.put_bytes("results/c.csv", b"x", "text/csv")
    pinned = world.store.presign_get(BUCKET, "results/c.csv", 600, version_id=version)
    plain = world.store.presign_get(BUCKET, "results/c.csv", 600)
    assert f"versionId={version}" in pinned
    assert "versionId" not in plain
