"""`syncdrop demo` on a Sync plan without batches: its summary.json tells the run's story."""

from __future__ import annotations

import json
import subprocess  # nosec B404 # the demo under test, started from this interpreter
import sys
from pathlib import Path

from syncdrop_local.runtime.local_runtime import REPO_ROOT


def test_the_demo_on_the_creator_plan_writes_what_sync_saw(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "syncdrop_local.cli", "demo", "--rows", "25", "--plan"]
    done = subprocess.run(  # nosec B603 # fixed argv, no shell
        [*argv, "creator", "--generate-requests-per-minute", "6000", "--output", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "COMPLETED"
    assert summary["path"] == "generate"
    assert "HTTP 402" in summary["path_reason"]
    assert summary["emails"] == 1
    rows = summary["rows"]
    assert rows["total"] == 25
    assert sum(n for status, n in rows.items() if status != "total") == 25
    valid = 25 - rows.get("REJECTED", 0)
    requests = summary["sync_requests"]
    assert requests["POST /v2/batch"] == 1  # refused with 402, then never again
    assert requests["POST /v2/generate"] == summary["distinct_idempotency_keys"] == valid
    assert summary["most_generations_open_at_sync"] <= 3  # the Creator plan's cap
    assert summary["most_batches_open_at_sync"] == 0
    assert "How the rows were sent:" in (tmp_path / "email.txt").read_text()
