"""Media files as Sync assets, in the job table: one item per file content, with a lease.

Item ``pk = ASSET#<bucket>/<key>``, ``sk = <version id or ETag>``: ``asset_id_<KIND>`` (the
Sync asset of that kind), ``sha256``, ``media_size``, ``media_uri``, and while someone uploads it
``upload_token``/``upload_at``. A lease older than the caller's ``stale_before`` may be taken
over: its holder crashed or stalled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncdrop import keys
from syncdrop.adapters.dynamo_items import _plain
from syncdrop.adapters.dynamo_leases import Lease, Leases
from syncdrop.media_files import MediaHead, MediaItem

ASSET_ID_PREFIX = "asset_id_"
KINDS = frozenset({"VIDEO", "AUDIO", "IMAGE"})


def _key(head: MediaHead) -> dict[str, Any]:
    return keys.asset_key(head.bucket, head.key, head.content_id)


def _attribute(kind: str) -> str:
    if kind not in KINDS:  # the name goes into an expression: only the known kinds
        raise ValueError(f"unknown asset kind {kind!r}")
    return f"{ASSET_ID_PREFIX}{kind}"


def _upload_lease(kind: str) -> Lease:
    """The upload lease, to be taken only while no asset of ``kind`` is stored."""
    return Lease(
        claim="upload_token", stamp="upload_at", only_if=f"attribute_not_exists({_attribute(kind)})"
    )


_HOLDER = Lease(claim="upload_token", stamp="upload_at", only_if="")  # to give the lease back


class DynamoMediaAssets(Leases):
    def media_item(self, head: MediaHead) -> MediaItem | None:
        answer = self._call("get_item", Key=_key(head), ConsistentRead=True)
        item = answer.get("Item")
        if not item:
            return None
        stored = _plain(item)
        return MediaItem(
            asset_ids={
                name.removeprefix(ASSET_ID_PREFIX): str(value)
                for name, value in stored.items()
                if name.startswith(ASSET_ID_PREFIX)
            },
            sha256=stored.get("sha256"),
            lease_token=stored.get("upload_token"),
        )

    def claim_upload(
        self, head: MediaHead, kind: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        taken = self._take_lease(
            _key(head),
            _upload_lease(kind),
            token,
            now=now,
            stale_before=stale_before,
            also_set=", media_uri = :uri, media_size = :size",
            values={":uri": {"S": head.uri}, ":size": {"N": str(head.size)}},
        )
        return taken is not None

    def record_digest(self, head: MediaHead, token: str, sha256: str) -> None:
        self.update_if(
            _key(head),
            UpdateExpression="SET sha256 = :sha",
            ConditionExpression="upload_token = :token",
            ExpressionAttributeValues={":sha": {"S": sha256}, ":token": {"S": token}},
        )

    def record_asset(
        self, head: MediaHead, kind: str, token: str, *, asset_id: str, sha256: str
    ) -> str:
        # Unconditional: the asset is real whoever holds the lease now; the first id stays.
        attribute = _attribute(kind)
        answer = self._call(
            "update_item",
            Key=_key(head),
            UpdateExpression=(
                f"SET {attribute} = if_not_exists({attribute}, :id), sha256 = :sha, "
                "media_size = :size, media_uri = :uri"
            ),
            ExpressionAttributeValues={
                ":id": {"S": asset_id},
                ":sha": {"S": sha256},
                ":size": {"N": str(head.size)},
                ":uri": {"S": head.uri},
            },
            ReturnValues="ALL_NEW",
        )
        self._end_lease(_key(head), _HOLDER, token)
        return str(answer["Attributes"][attribute]["S"])

    def release_upload(self, head: MediaHead, token: str) -> None:
        self._end_lease(_key(head), _HOLDER, token)
