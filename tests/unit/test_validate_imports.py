"""`syncdrop validate` starts at once: neither the CLI nor validate loads AWS, HTTP or moto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Top-level packages (and one local package) whose import would cost validate its start.
HEAVY = ("moto", "boto3", "httpx", "cfnlint", "syncdrop_local.runtime", "aws_lambda_powertools")

ROW = "video_url,audio_url\nhttps://cdn.example.com/v.mp4,https://cdn.example.com/a.wav\n"
PROBE = """
import json, sys
import syncdrop_local.cli as cli
after_cli = sorted(sys.modules)
try:
    code = cli.main(sys.argv[1:])
except SystemExit as stop:  # --help
    code = stop.code
print(json.dumps({"cli": after_cli, "validate": sorted(sys.modules), "code": code}))
"""


def loaded(*argv: str) -> dict[str, object]:
    answer = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300
    )
    result: dict[str, object] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


def heavy(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_cli_and_validate_load_nothing_heavy(tmp_path: Path) -> None:
    upload = tmp_path / "campaign.csv"
    upload.write_text(ROW)
    result = loaded("validate", str(upload))
    assert result["code"] == 0
    assert heavy(result["cli"]) == []
    assert heavy(result["validate"]) == []
    assert "syncdrop_local.validate_cmd" in result["validate"]  # it did run


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    # The same probe with --cost (Sync unreachable: nothing listens on port 9) loads httpx,
    # which proves the check above can fail.
    upload = tmp_path / "campaign.csv"
    upload.write_text(ROW)
    result = loaded(
        "validate", str(upload), "--cost", "--api-key", "k", "--sync-url", "http://127.0.0.1:9"
    )
    assert result["code"] == 3
    assert heavy(result["cli"]) == []
    assert "httpx" in heavy(result["validate"])
