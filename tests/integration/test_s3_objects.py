"""The uploads bucket adapter against moto's S3 server: what AWS answers, as syncdrop errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from syncdrop.adapters import s3_objects
from syncdrop.adapters.s3_objects import S3ObjectStore
from syncdrop.errors import StorageError, UploadMissing, UploadRefused
from syncdrop.jobs import UploadRef
from syncdrop_local.runtime import moto_fidelity
from syncdrop_local.runtime.local_runtime import MotoServer

BUCKET = "drop-bucket"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    moto_fidelity.install()  # before the server builds its S3 routes
    server = MotoServer()
    yield server.start()
    server.stop()


@pytest.fixture
def s3(endpoint: str) -> Iterator[Any]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield client
    for version in client.list_object_versions(Bucket=BUCKET).get("Versions", []):
        client.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    client.delete_bucket(Bucket=BUCKET)


def deleted_upload(s3: Any) -> UploadRef:
    version = s3.put_object(Bucket=BUCKET, Key="incoming/a.csv", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key="incoming/a.csv", VersionId=version)
    return UploadRef(BUCKET, "incoming/a.csv", version)


@pytest.mark.parametrize("read", ["open_upload", "upload_size"])
def test_a_missing_upload_is_upload_missing_when_s3_answers_404(s3, read):
    store = S3ObjectStore(s3, BUCKET)
    with pytest.raises(UploadMissing) as caught:
        getattr(store, read)(deleted_upload(s3))
    assert not isinstance(caught.value, UploadRefused)


@pytest.mark.parametrize("read", ["open_upload", "upload_size"])
@pytest.mark.parametrize("versioned", [True, False], ids=["version", "key"])
def test_a_403_for_the_upload_is_a_file_error_never_a_retry(s3, read, versioned):
    """To a role without s3:ListBucket, AWS answers a missing key or version with 403."""
    store = S3ObjectStore(s3, BUCKET)
    upload = deleted_upload(s3)
    if not versioned:
        upload = UploadRef(BUCKET, "incoming/never-there.csv", None)
    with moto_fidelity.missing_objects_denied(), pytest.raises(UploadRefused) as caught:
        getattr(store, read)(upload)
    assert isinstance(caught.value, UploadMissing)
    assert not isinstance(caught.value, StorageError)


def test_other_s3_errors_stay_retryable(s3):
    store = S3ObjectStore(s3, "no-such-bucket-here")
    with pytest.raises(StorageError):
        store.open_upload(UploadRef("no-such-bucket-here", "incoming/a.csv", None))


def test_the_fidelity_switch_is_off_outside_its_block(s3):
    with moto_fidelity.missing_objects_denied():
        pass
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=BUCKET, Key="incoming/nothing.csv")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"


def test_writes_return_the_version_and_a_pinned_link_serves_it_after_an_overwrite(s3):
    store = S3ObjectStore(s3, BUCKET)
    first = store.put_file("results/b.results.csv", io.BytesIO(b"first job\n"), "text/csv")
    second = store.put_bytes("results/b.results.csv", b"second job\n", "text/csv")
    assert first
    assert second
    assert first != second
    pinned = store.presign_get(BUCKET, "results/b.results.csv", 600, version_id=first)
    latest = store.presign_get(BUCKET, "results/b.results.csv", 600)
    assert httpx.get(pinned).content == b"first job\n"
    assert httpx.get(latest).content == b"second job\n"


def test_put_file_streams_from_where_the_file_stands(s3):
    store = S3ObjectStore(s3, BUCKET)
    source = io.BytesIO(b"skip|keep")
    source.seek(5)
    version = store.put_file("results/c.csv", source, "text/csv")
    answer = s3.get_object(Bucket=BUCKET, Key="results/c.csv", VersionId=version)
    assert answer["Body"].read() == b"keep"
    assert answer["ContentType"] == "text/csv"


def test_a_file_past_the_single_put_limit_goes_up_in_parts_with_its_version(s3, monkeypatch):
    monkeypatch.setattr(s3_objects, "PUT_OBJECT_MAX", 1024)
    monkeypatch.setattr(s3_objects, "PART_SIZE", 5 * 1024 * 1024)  # S3's smallest part
    body = bytes(range(256)) * (6 * 1024 * 4)  # 6 MB: two parts
    store = S3ObjectStore(s3, BUCKET)
    version = store.put_file("results/big.csv", io.BytesIO(body), "text/csv")
    assert version
    answer = s3.get_object(Bucket=BUCKET, Key="results/big.csv", VersionId=version)
    assert answer["Body"].read() == body
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_an_unversioned_bucket_gives_no_version(endpoint):
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="plain-bucket")
    store = S3ObjectStore(client, "plain-bucket")
    assert store.put_bytes("results/x.csv", b"x", "text/csv") is None
    assert store.put_file("results/y.csv", io.BytesIO(b"y"), "text/csv") is None
    link = store.presign_get("plain-bucket", "results/x.csv", 600, version_id=None)
    assert "versionId" not in link
