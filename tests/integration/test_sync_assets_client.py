"""The Sync client's Assets calls against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from syncdrop.adapters.policy import RetryPolicy
from syncdrop.adapters.sync_api import SyncBatchApi
from syncdrop.errors import SyncNotFound, SyncRateLimited, SyncRejected, SyncUnavailable
from syncdrop.sync_models import Asset, AssetUpload
from syncdrop_local.emulator import SyncEmulator

API_KEY = "sk-test-assets"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, connect_timeout=1, read_timeout=2)
DATA = bytes(range(256)) * 64  # 16 KiB
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def emulator() -> Iterator[SyncEmulator]:
    with SyncEmulator(api_key=API_KEY, webhook_secret="whsec_t", time_scale=0) as emu:
        yield emu


@pytest.fixture
def client(emulator: SyncEmulator) -> Iterator[SyncBatchApi]:
    api = SyncBatchApi(base_url=emulator.url, api_key=lambda: API_KEY, policy=FAST)
    yield api
    api.close()


def pieces(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_upload_register_find_and_get(client: SyncBatchApi, emulator: SyncEmulator) -> None:
    assert client.find_uploaded_asset(DIGEST, "VIDEO") is None
    upload = client.create_asset_upload("talk.mp4", "video/mp4", len(DATA))
    assert isinstance(upload, AssetUpload)
    assert upload.expires_in == 3600
    client.put_asset_bytes(upload, "video/mp4", pieces(DATA), len(DATA))
    asset = client.register_asset(upload.url, "VIDEO", "talk.mp4")
    assert isinstance(asset, Asset)
    assert (asset.type, asset.size, asset.name) == ("VIDEO", len(DATA), "talk.mp4")
    found = client.find_uploaded_asset(DIGEST, "VIDEO")
    assert found is not None
    assert found.id == asset.id
    assert client.get_asset(asset.id) == asset
    (stored,) = emulator.assets()
    assert stored.sha256 == DIGEST
    put = [r for r in emulator.requests if r.method == "PUT"]
    assert len(put) == 1
    assert not put[0].api_key_present  # the key never goes to the upload URL


def test_a_missing_asset_is_not_found(client: SyncBatchApi) -> None:
    with pytest.raises(SyncNotFound):
        client.get_asset("no-such-asset")


def test_a_content_type_other_than_declared_is_refused(client: SyncBatchApi) -> None:
    upload = client.create_asset_upload("talk.mp4", "video/mp4", len(DATA))
    with pytest.raises(SyncRejected) as err:
        client.put_asset_bytes(upload, "video/webm", DATA, len(DATA))
    assert err.value.status == 403
    assert err.value.error_code == "SignatureDoesNotMatch"


def test_register_of_a_url_never_uploaded_is_rejected(client: SyncBatchApi) -> None:
    upload = client.create_asset_upload("talk.mp4", "video/mp4", len(DATA))
    with pytest.raises(SyncRejected) as err:
        client.register_asset(upload.url, "VIDEO", "talk.mp4")
    assert err.value.status == 422
    assert err.value.error_code == "asset_upload_not_found"


def test_put_failures_are_unavailable(client: SyncBatchApi, emulator: SyncEmulator) -> None:
    emulator.faults.configure(asset_put_fail_rate=1.0)
    upload = client.create_asset_upload("talk.mp4", "video/mp4", len(DATA))
    for _ in range(6):  # a 500 or a cut connection: both worth another try later
        with pytest.raises(SyncUnavailable):
            client.put_asset_bytes(upload, "video/mp4", pieces(DATA), len(DATA))
    assert emulator.asset_counts().puts == 0
    counts = emulator.faults.counts()
    assert counts["asset_put_error"] + counts["asset_put_cut"] == 6


def test_lookups_and_upload_urls_are_retried(client: SyncBatchApi, emulator: SyncEmulator) -> None:
    emulator.faults.configure(asset_lookup_5xx_rate=0.5, asset_upload_5xx_rate=0.5)
    answered = {"lookup": 0, "upload": 0}
    gave_up = {"lookup": 0, "upload": 0}
    calls = {
        "lookup": lambda: client.find_uploaded_asset(DIGEST, "VIDEO"),
        "upload": lambda: client.create_asset_upload("talk.mp4", "video/mp4", len(DATA)),
    }
    for _ in range(40):
        for name, call in calls.items():
            try:
                call()
                answered[name] += 1
            except SyncUnavailable:
                gave_up[name] += 1
    paths = {"lookup": "/v2/assets/uploaded", "upload": "/v2/assets/upload"}
    errors = emulator.faults.counts()
    injected = {"lookup": errors["asset_lookup_error"], "upload": errors["asset_upload_error"]}
    for name, path in paths.items():
        sent = sum(1 for r in emulator.requests if r.path == path)
        assert injected[name] > 0
        assert sent == answered[name] + injected[name]  # one request per 5xx, one per answer
        assert sent > 40  # so some calls were retried
        assert gave_up[name] * 3 <= injected[name]  # a call gives up after three 5xx only
    assert emulator.asset_counts().lookups == answered["lookup"]


def test_register_is_sent_once_even_when_its_answer_is_lost(
    client: SyncBatchApi, emulator: SyncEmulator
) -> None:
    upload = client.create_asset_upload("talk.mp4", "video/mp4", len(DATA))
    client.put_asset_bytes(upload, "video/mp4", DATA, len(DATA))
    emulator.faults.configure(asset_register_5xx_rate=1.0, asset_register_created_share=1.0)
    with pytest.raises(SyncUnavailable):
        client.register_asset(upload.url, "VIDEO", "talk.mp4")
    assert emulator.asset_counts().registrations == 1
    found = client.find_uploaded_asset(DIGEST, "VIDEO")
    assert found is not None
    assert [a.id for a in emulator.assets()] == [found.id]


def test_upload_rate_limit_is_rate_limited(client: SyncBatchApi, emulator: SyncEmulator) -> None:
    emulator.settings.asset_upload_rate_limit = 1
    client.create_asset_upload("talk.mp4", "video/mp4", len(DATA))
    with pytest.raises(SyncRateLimited) as err:
        client.create_asset_upload("talk.mp4", "video/mp4", len(DATA))
    assert err.value.error_code == "rate_limit_exceeded"
