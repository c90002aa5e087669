"""`syncdrop validate FILE --cost` as a person runs it: a whole process against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncdrop_local.emulator import SyncEmulator

from .helpers import API_KEY

LIPSYNC_2_PER_SECOND = 0.05  # Sync's billing page; the emulator's media last 1 s
HEADER = "request_id,video_url,audio_url,model\n"


def syncdrop(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SYNC_API_KEY"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "syncdrop_local.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
        check=False,
    )


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.csv"
    path.write_text(
        HEADER
        + "a,https://cdn.example.com/one.mp4,https://cdn.example.com/one.wav,lipsync-2\n"
        + "b,https://cdn.example.com/one.mp4,https://cdn.example.com/one.wav,lipsync-2\n"
        + "c,https://cdn.example.com/two.mp4,https://cdn.example.com/two.wav,sync-3\n"
        + "d,,https://cdn.example.com/two.wav,lipsync-2\n"  # no video: rejected
    )
    return path


def cost_posts(emulator: SyncEmulator) -> list[int]:
    return [r.status for r in emulator.requests if r.path == "/v2/analyze/cost"]


def test_cost_asks_once_per_distinct_body(emulator: SyncEmulator, campaign: Path) -> None:
    answer = syncdrop(
        "validate", str(campaign), "--json", "--cost", "--sync-url", emulator.url,
        "--api-key", API_KEY,
    )  # fmt: skip
    assert answer.returncode == 1, answer.stderr  # one row rejected
    cost = json.loads(answer.stdout)["cost"]
    assert cost["rows"] == 3
    assert cost["requests"] == 2
    assert cost_posts(emulator) == [200, 200]
    assert cost["by_model"]["lipsync-2"]["rows"] == 2
    assert cost["by_model"]["lipsync-2"]["estimated_usd"] == pytest.approx(2 * LIPSYNC_2_PER_SECOND)
    assert cost["estimated_usd"] == pytest.approx(
        cost["by_model"]["lipsync-2"]["estimated_usd"] + cost["by_model"]["sync-3"]["estimated_usd"]
    )
    assert cost["estimated_frames"] == 3 * 25


def test_text_report_takes_the_key_from_the_environment(
    emulator: SyncEmulator, campaign: Path
) -> None:
    answer = syncdrop(
        "validate", str(campaign), "--cost", "--sync-url", emulator.url,
        env={"SYNC_API_KEY": API_KEY},
    )  # fmt: skip
    assert answer.returncode == 1, answer.stderr
    assert "Sync's estimate: $" in answer.stdout
    assert "for 3 generations (75 frames; 2 requests to POST /v2/analyze/cost)" in answer.stdout


def test_a_refused_key_is_said_and_exits_3(emulator: SyncEmulator, campaign: Path) -> None:
    answer = syncdrop(
        "validate", str(campaign), "--cost", "--sync-url", emulator.url, "--api-key", "wrong"
    )
    assert answer.returncode == 3
    assert "refused the API key" in answer.stderr
    assert "3 valid" in answer.stdout  # the file's own report is still printed


def test_without_a_key_nothing_is_sent(emulator: SyncEmulator, campaign: Path) -> None:
    answer = syncdrop("validate", str(campaign), "--cost", "--sync-url", emulator.url)
    assert answer.returncode == 3
    assert "needs Sync's API key" in answer.stderr
    assert cost_posts(emulator) == []


def test_without_cost_sync_is_not_asked(emulator: SyncEmulator, campaign: Path) -> None:
    answer = syncdrop("validate", str(campaign), "--sync-url", emulator.url, "--api-key", API_KEY)
    assert answer.returncode == 1
    assert "estimate" not in answer.stdout
    assert cost_posts(emulator) == []
