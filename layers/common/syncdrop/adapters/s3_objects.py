"""The uploads bucket: read an upload version as a stream, write and read chunk files."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from botocore.exceptions import ClientError

from syncdrop.errors import StorageError, UploadMissing
from syncdrop.jobs import UploadRef

# boto3's multipart threshold: below it, one PutObject does the same job.
SINGLE_PUT_LIMIT = 8 * 1024 * 1024


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks, for boto3's upload_fileobj."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            piece = next(self._chunks, None)
            if piece is None:
                return 0
            self._pending = piece
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _version(upload: UploadRef) -> dict[str, str]:
    return {"VersionId": upload.version_id} if upload.version_id else {}


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def _fail(self, what: str, exc: ClientError) -> Exception:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
            return UploadMissing(f"{what}: {code}")
        return StorageError(f"S3 {what} failed: {exc}")

    def upload_size(self, upload: UploadRef) -> int:
        try:
            head = self._s3.head_object(Bucket=upload.bucket, Key=upload.key, **_version(upload))
        except ClientError as exc:
            raise self._fail(f"head s3://{upload.bucket}/{upload.key}", exc) from exc
        return int(head["ContentLength"])

    def open_upload(self, upload: UploadRef) -> BinaryIO:
        try:
            answer = self._s3.get_object(Bucket=upload.bucket, Key=upload.key, **_version(upload))
        except ClientError as exc:
            raise self._fail(f"get s3://{upload.bucket}/{upload.key}", exc) from exc
        return cast(BinaryIO, answer["Body"])

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)
        except ClientError as exc:
            raise StorageError(f"S3 put s3://{self._bucket}/{key} failed: {exc}") from exc

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Upload a local file (multipart when large) without reading it into memory."""
        try:
            self._s3.upload_fileobj(
                source, self._bucket, key, ExtraArgs={"ContentType": content_type}
            )
        except ClientError as exc:
            raise StorageError(f"S3 upload s3://{self._bucket}/{key} failed: {exc}") from exc

    def put_stream(self, key: str, chunks: Iterator[bytes], content_type: str) -> None:
        """Upload bytes as they arrive (multipart above 8 MB): never the whole file in memory.

        A file that fits in one part goes up in one PutObject, without the transfer
        manager's threads.
        """
        head = bytearray()
        for piece in chunks:
            head += piece
            if len(head) >= SINGLE_PUT_LIMIT:
                break
        else:
            self.put_bytes(key, bytes(head), content_type)
            return
        rest = itertools.chain([bytes(head)], chunks)
        try:
            self._s3.upload_fileobj(
                ChunkReader(rest), self._bucket, key, ExtraArgs={"ContentType": content_type}
            )
        except ClientError as exc:
            raise StorageError(f"S3 upload s3://{self._bucket}/{key} failed: {exc}") from exc

    def get_bytes(self, key: str) -> bytes:
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=key)
            return cast(bytes, answer["Body"].read())
        except ClientError as exc:
            raise StorageError(f"S3 get s3://{self._bucket}/{key} failed: {exc}") from exc

    def presign_get(self, bucket: str, key: str, expires_in: int) -> str:
        return cast(
            str,
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
            ),
        )
