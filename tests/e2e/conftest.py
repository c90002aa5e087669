"""The local stack as a user runs it: moto's server, the Sync emulator, the local runtime."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.runtime.local_runtime import LocalRuntime, MotoServer
from syncdrop_local.state_view import job_snapshot, table_items

API_KEY = "sk-e2e-key"


@dataclass
class LocalSystem:
    runtime: LocalRuntime
    emulator: SyncEmulator

    @property
    def bucket(self) -> str:
        return self.runtime.stack.ref("UploadsBucket")

    def drop(self, key: str, body: bytes) -> None:
        self.runtime.stack.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)

    def jobs(self) -> list[dict[str, Any]]:
        return [i for i in table_items(self.runtime.stack, "JobTable") if i.get("type") == "job"]

    def snapshot(self, job_id: str | None = None) -> dict[str, Any]:
        snap = job_snapshot(self.runtime.stack, job_id)
        assert snap is not None
        return snap


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = MotoServer()
    yield server.start()
    server.stop()


@pytest.fixture
def local_system(moto_endpoint: str) -> Iterator[Any]:
    emulators: list[SyncEmulator] = []

    def make(batch_concurrency: int = 2, **emulator_options: Any) -> LocalSystem:
        emulator = SyncEmulator(
            api_key=API_KEY,
            webhook_secret="whsec_e2e",
            batch_concurrency=batch_concurrency,
            **emulator_options,
        ).start()
        emulators.append(emulator)
        runtime = LocalRuntime.start(
            moto_endpoint,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": API_KEY,
                "SyncApiBaseUrl": emulator.url,
                "BatchConcurrency": str(batch_concurrency),
            },
        )
        return LocalSystem(runtime=runtime, emulator=emulator)

    yield make
    for emulator in emulators:
        emulator.stop()
