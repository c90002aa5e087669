"""The ``syncdrop emulator`` command: options and a real run stopped with Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from syncdrop_local.emulator import cli

REPO = Path(__file__).resolve().parents[2]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_options_configure_the_emulator() -> None:
    args = parse(
        "--port",
        "0",
        "--api-key",
        "k",
        "--webhook-secret",
        "whsec_s",
        "--batch-concurrency",
        "5",
        "--time-scale",
        "60",
        "--failure-rate",
        "0.25",
        "--seed",
        "9",
    )
    emulator = cli.build(args)
    assert emulator.settings.api_key == "k"
    assert emulator.settings.webhook_secret == "whsec_s"
    assert emulator.settings.batch_concurrency == 5
    assert emulator.settings.failure_rate == 0.25
    assert emulator.settings.seed == 9
    assert emulator.clock.time_scale == 60
    assert emulator.host == "127.0.0.1"
    assert not emulator.running


def test_run_prints_its_url_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "local"), str(REPO)])}
    process = subprocess.Popen(
        [sys.executable, "-m", "syncdrop_local.emulator", "--port", "0", "--api-key", "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("Sync emulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1]
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
        assert httpx.get(url + "/v2/batch", headers={"x-api-key": "k"}).json() == []
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out
