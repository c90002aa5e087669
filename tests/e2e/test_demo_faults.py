"""`syncdrop demo --fault ...`: the whole local pipeline, with Sync's video links refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from syncdrop_local import cli
from syncdrop_local.emulator import FaultPlan

ROWS = 60  # one batch (ordinal 1) of the sample file: rq-00001 .. rq-00060


def test_demo_with_video_downloads_refused_for_a_tenth_of_rows_ends_in_one_email(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # the demo sets it; undone after
    argv = ["demo", "--rows", str(ROWS), "--output", str(tmp_path), "--timeout", "120"]
    argv += ["--schedule-every", "1", "--seed", "3", "--fault", "media_refused_rate=0.1"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "1 email(s) sent; job COMPLETED" in printed

    plan = FaultPlan(seed=3).configure(media_refused_rate=0.1)
    refused = {f"rq-{n:05d}" for n in range(1, ROWS + 1) if plan.media_fault_kind(1, f"rq-{n:05d}")}
    assert 2 <= len(refused) <= 12  # about a tenth
    assert "faults injected   media_refused " in printed

    assert sorted(p.name for p in tmp_path.glob("email*.txt")) == ["email.txt"]
    with (tmp_path / "campaign.results.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == ROWS
    copy_failed = {row["request_id"]: row for row in rows if row["error_code"] == "COPY_FAILED"}
    assert set(copy_failed) == refused
    for row in copy_failed.values():
        assert row["status"] == "COMPLETED"  # Sync made the video; only the copy failed
        assert "403" in row["error_message"]
        assert row["output_url"].endswith(".mp4")  # Sync's own link stays in the report
    for row in rows:
        if row["request_id"] not in refused:
            assert row["output_url"].startswith("s3://"), row
