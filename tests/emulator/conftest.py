"""Fixtures that run a Sync emulator (and a webhook receiver) on 127.0.0.1 per test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncdrop_local.emulator import SyncEmulator

from .helpers import API_KEY, SECRET, WebhookReceiver


@pytest.fixture
def emulator() -> Iterator[SyncEmulator]:
    # Short, frozen timings: 10 s pending, 1 s per line; the clock moves only when a test says.
    emu = SyncEmulator(
        api_key=API_KEY,
        webhook_secret=SECRET,
        time_scale=0.0,
        pending_seconds=10.0,
        processing_seconds_per_line=1.0,
    ).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def client(emulator: SyncEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers={"x-api-key": API_KEY}, timeout=10.0) as http:
        yield http


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    try:
        yield hook
    finally:
        hook.stop()
