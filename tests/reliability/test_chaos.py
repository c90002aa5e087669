"""Every fault at once, at a fixed seed: small in `make test`, 25,000 rows in `make soak`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncdrop import crash_points
from tests.reliability.chaos import run_chaos


def test_every_fault_at_once_small(local_system):
    figures, report = run_chaos(
        local_system,
        files=3,
        rows=360,
        batch_concurrency=2,
        seed=11,
        timeout=150,
        batch_max_lines=60,
    )
    report.assert_holds()
    assert figures.rows_lost == figures.duplicate_submissions == figures.duplicate_emails == 0
    assert figures.iam_denials == 0
    assert figures.emails == 3
    assert sum(figures.faults_injected.values()) > 0
    # Stale reads were on: no read of the tables went without ConsistentRead (the index's
    # lagging reads, which cannot be consistent, are counted apart and only reported).
    assert "eventually_consistent_reads" not in figures.aws_faults
    assert set(figures.crashes) == {
        crash_points.AFTER_CREATE_BEFORE_RECORD,
        crash_points.FAN_OUT_AFTER_ROWS_WRITTEN,
        crash_points.AFTER_RESULTS_CSV_BEFORE_EMAIL,
        crash_points.INTAKE_AFTER_JOB_RECORDED,
    }


def test_every_fault_at_once_single_generations_and_assets(local_system):
    # A plan without batches (402): the two big files' batches become single generations;
    # the small files go that way from the start; a row in five uses one of three s3:// videos.
    figures, report = run_chaos(
        local_system,
        files=2,
        rows=60,
        batch_concurrency=2,
        seed=13,
        timeout=150,
        small_files=2,
        media_every=5,
        plan="creator",
        generation_concurrency=3,
    )
    report.assert_holds()
    assert figures.rows_lost == figures.duplicate_submissions == figures.duplicate_emails == 0
    assert figures.iam_denials == 0
    assert figures.emails == 4
    assert figures.batches_created == 0
    assert figures.max_open_generations <= 3
    # Every valid row made one generation, whatever was asked twice.
    valid = figures.rows - figures.rows_by_status.get("REJECTED", 0)
    assert figures.generations_created == figures.idempotency_keys == valid
    assert figures.generate_posts > figures.generations_created  # faults made it ask again
    assert figures.assets_uploaded == 3


MEDIA_FAULTS = ("media_refused", "media_reset", "media_truncated")


def test_every_fault_at_once_with_videos_copied(local_system):
    # A tenth of the videos refused, reset or truncated on every fetch: their copies are given
    # up with a reason, the rows stay COMPLETED with Sync's link, and each file gets its email.
    figures, report = run_chaos(
        local_system,
        files=2,
        rows=120,
        batch_concurrency=2,
        seed=5,
        timeout=150,
        batch_max_lines=30,
        copy_outputs=True,
        knobs={f"{kind}_rate": 0.04 for kind in MEDIA_FAULTS},
    )
    report.assert_holds()
    assert figures.rows_lost == figures.duplicate_submissions == figures.duplicate_emails == 0
    assert figures.iam_denials == 0
    assert figures.emails == 2
    assert all(figures.faults_injected.get(kind, 0) > 0 for kind in MEDIA_FAULTS), figures
    assert figures.copies_failed > 0
    assert crash_points.COPY_AFTER_RECORDED in figures.crashes


@pytest.mark.soak
@pytest.mark.timeout(2400)  # the run's own SOAK_TIMEOUT bounds it; pytest's default would not
def test_soak_25000_rows_20_files_every_fault(local_system):
    figures, report = run_chaos(
        local_system,
        files=int(os.environ.get("SOAK_FILES", "20")),
        rows=int(os.environ.get("SOAK_ROWS", "25000")),
        batch_concurrency=3,
        seed=int(os.environ.get("SOAK_SEED", "7")),
        timeout=float(os.environ.get("SOAK_TIMEOUT", "1800")),
        # Batches and single generations side by side: small files beside the big ones.
        small_files=int(os.environ.get("SOAK_SMALL_FILES", "10")),
        media_every=50,
    )
    out = Path(os.environ.get("SOAK_REPORT", "soak-report.json"))
    out.write_text(figures.to_json() + "\n")
    print("\nsoak figures:\n" + figures.to_json())
    report.assert_holds()
    assert figures.rows_lost == figures.duplicate_submissions == figures.duplicate_emails == 0
    assert figures.iam_denials == 0


@pytest.mark.soak
@pytest.mark.timeout(2400)
def test_soak_single_generations_and_assets_every_fault(local_system):
    # Sync's Growth plan (no batches, 6 generations at once): big files switch to single
    # generations at the 402, small files go that way at once, media rows share 3 videos.
    figures, report = run_chaos(
        local_system,
        files=int(os.environ.get("SOAK_GENERATE_FILES", "6")),
        rows=int(os.environ.get("SOAK_GENERATE_ROWS", "600")),
        batch_concurrency=3,
        seed=int(os.environ.get("SOAK_SEED", "7")),
        timeout=float(os.environ.get("SOAK_TIMEOUT", "1800")),
        small_files=int(os.environ.get("SOAK_SMALL_FILES", "10")),
        media_every=10,
        plan="growth",
        generation_concurrency=6,
    )
    out = Path(os.environ.get("SOAK_GENERATE_REPORT", "soak-generate-report.json"))
    out.write_text(figures.to_json() + "\n")
    print("\nsoak figures (single generations):\n" + figures.to_json())
    report.assert_holds()
    assert figures.rows_lost == figures.duplicate_submissions == figures.duplicate_emails == 0
    assert figures.iam_denials == 0
    assert figures.emails == figures.files
    assert figures.max_open_generations <= 6
    assert figures.assets_uploaded == 3


@pytest.mark.soak
@pytest.mark.timeout(2400)
def test_soak_with_videos_copied_every_fault(local_system):
    # Copies cost ~7 requests to moto per row: this part of the soak is smaller.
    figures, report = run_chaos(
        local_system,
        files=int(os.environ.get("SOAK_COPY_FILES", "5")),
        rows=int(os.environ.get("SOAK_COPY_ROWS", "1000")),
        batch_concurrency=3,
        seed=int(os.environ.get("SOAK_SEED", "7")),
        timeout=float(os.environ.get("SOAK_TIMEOUT", "1800")),
        batch_max_lines=100,
        copy_outputs=True,
    )
    out = Path(os.environ.get("SOAK_COPY_REPORT", "soak-copies-report.json"))
    out.write_text(figures.to_json() + "\n")
    print("\nsoak figures (videos copied):\n" + figures.to_json())
    report.assert_holds()
    assert figures.rows_lost == figures.duplicate_submissions == figures.duplicate_emails == 0
    assert figures.iam_denials == 0
    assert figures.emails == figures.files
