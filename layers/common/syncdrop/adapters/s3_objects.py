"""The uploads bucket: read an upload version as a stream, write and read chunk files."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from botocore.exceptions import BotoCoreError, ClientError

from syncdrop.errors import StorageError, UploadMissing, UploadRefused
from syncdrop.jobs import UploadRef
from syncdrop.media_files import MediaHead

# boto3's multipart threshold: below it, one PutObject does the same job.
SINGLE_PUT_LIMIT = 8 * 1024 * 1024
# Media files are read in pieces of this size: memory stays flat whatever the file's size.
MEDIA_CHUNK = 1024 * 1024
# S3's largest single PutObject; a larger file goes up in parts of PART_SIZE.
PUT_OBJECT_MAX = 5 * 1024**3
PART_SIZE = 512 * 1024 * 1024


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


def _version_of(answer: dict[str, Any]) -> str | None:
    # An unversioned bucket answers no VersionId (or "null", after versioning was suspended).
    version = answer.get("VersionId")
    return version if version and version != "null" else None


class S3ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def _fail(self, what: str, exc: ClientError) -> Exception:
        """An upload read's error: missing and refused end the job; the rest are retried."""
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
            return UploadMissing(f"{what}: {code}")
        # A HEAD's 403 has no body, so no code but the status.
        if code in ("AccessDenied", "403", "Forbidden"):
            message = exc.response.get("Error", {}).get("Message", "")
            return UploadRefused(f"{what}: {code}" + (f" ({message})" if message else ""))
        return StorageError(f"S3 {what} failed: {exc}")

    def upload_size(self, upload: UploadRef) -> int:
        try:
            head = self._s3.head_object(Bucket=upload.bucket, Key=upload.key, **_version(upload))
        except ClientError as exc:
            raise self._fail(f"head s3://{upload.bucket}/{upload.key}", exc) from exc
        return int(head["ContentLength"])

    def open_upload(self, upload: UploadRef) -> BinaryIO:
        return self.open_upload_with_metadata(upload)[0]

    def open_upload_with_metadata(self, upload: UploadRef) -> tuple[BinaryIO, dict[str, str]]:
        try:
            answer = self._s3.get_object(Bucket=upload.bucket, Key=upload.key, **_version(upload))
        except ClientError as exc:
            raise self._fail(f"get s3://{upload.bucket}/{upload.key}", exc) from exc
        return cast(BinaryIO, answer["Body"]), dict(answer.get("Metadata") or {})

    def upload_metadata(self, upload: UploadRef) -> dict[str, str]:
        try:
            head = self._s3.head_object(Bucket=upload.bucket, Key=upload.key, **_version(upload))
        except ClientError as exc:
            raise self._fail(f"head s3://{upload.bucket}/{upload.key}", exc) from exc
        return dict(head.get("Metadata") or {})

    def put_bytes(self, key: str, data: bytes, content_type: str) -> str | None:
        try:
            answer = self._s3.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=content_type
            )
        except ClientError as exc:
            raise StorageError(f"S3 put s3://{self._bucket}/{key} failed: {exc}") from exc
        return _version_of(answer)

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> str | None:
        """Upload a seekable local file without reading it into memory; its VersionId.

        One PutObject streams the file (boto3's transfer manager would not say which version
        it wrote); only a file past PutObject's 5 GB limit goes up in parts.
        """
        start = source.tell()
        size = source.seek(0, io.SEEK_END) - start
        source.seek(start)
        try:
            if size <= PUT_OBJECT_MAX:
                answer = self._s3.put_object(
                    Bucket=self._bucket, Key=key, Body=source, ContentType=content_type
                )
            else:
                answer = self._put_parts(key, source, content_type)
        except ClientError as exc:
            raise StorageError(f"S3 upload s3://{self._bucket}/{key} failed: {exc}") from exc
        return _version_of(answer)

    def _put_parts(self, key: str, source: BinaryIO, content_type: str) -> dict[str, Any]:
        upload = self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=key, ContentType=content_type
        )["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            while piece := source.read(PART_SIZE):
                number = len(parts) + 1
                etag = self._s3.upload_part(
                    Bucket=self._bucket, Key=key, UploadId=upload, PartNumber=number, Body=piece
                )["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            return cast(
                dict[str, Any],
                self._s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload,
                    MultipartUpload={"Parts": parts},
                ),
            )
        except BaseException:
            # No orphaned parts (the bucket's lifecycle rule would abort them days later).
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload)
            raise

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

    def presign_get(
        self, bucket: str, key: str, expires_in: int, version_id: str | None = None
    ) -> str:
        params = {"Bucket": bucket, "Key": key}
        if version_id:  # that version, whatever is written to the key afterwards
            params["VersionId"] = version_id
        return cast(
            str,
            self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in),
        )

    def media_head(self, bucket: str, key: str) -> MediaHead:
        """Size, ETag, version and type of a media file (UploadMissing/UploadRefused if it
        cannot be read)."""
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise self._fail(f"head s3://{bucket}/{key}", exc) from exc
        return MediaHead(
            bucket=bucket,
            key=key,
            size=int(head["ContentLength"]),
            etag=str(head.get("ETag", "")).strip('"'),
            version_id=_version_of(head),
            content_type=str(head.get("ContentType") or ""),
        )

    def media_stream(self, head: MediaHead, *, chunk_size: int = MEDIA_CHUNK) -> Iterator[bytes]:
        """The bytes of the content ``head`` saw: that version, or (unversioned) only while the
        ETag still matches, so a file rewritten in between is never half one and half the
        other."""
        where = f"s3://{head.bucket}/{head.key}"
        pinned = (
            {"VersionId": head.version_id} if head.version_id else {"IfMatch": f'"{head.etag}"'}
        )
        try:
            answer = self._s3.get_object(Bucket=head.bucket, Key=head.key, **pinned)
        except ClientError as exc:
            raise self._fail(f"get {where}", exc) from exc
        body = answer["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        except (BotoCoreError, OSError) as exc:
            raise StorageError(f"S3 read of {where} broke off: {exc}") from exc
        finally:
            body.close()
