"""A media file of the uploads bucket as S3 describes it: its size, type and which content."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MediaHead:
    """What a HeadObject of ``s3://bucket/key`` said. ``content_id`` names the bytes: the
    version id (a versioned bucket), else the ETag; a new write to the key changes it."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    content_type: str

    @property
    def content_id(self) -> str:
        return self.version_id or self.etag

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class MediaItem:
    """What syncdrop stored about one content of a media file: Sync asset ids by kind (VIDEO,
    AUDIO), its SHA-256 once known, and who holds the upload lease (if anyone)."""

    asset_ids: dict[str, str]
    sha256: str | None = None
    lease_token: str | None = None
