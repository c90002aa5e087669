"""Every fault at once, at a fixed seed: small in `make test`, 25,000 rows in `make soak`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
    assert figures.emails == 3
    assert sum(figures.faults_injected.values()) > 0


@pytest.mark.soak
def test_soak_25000_rows_20_files_every_fault(local_system):
    figures, report = run_chaos(
        local_system,
        files=int(os.environ.get("SOAK_FILES", "20")),
        rows=int(os.environ.get("SOAK_ROWS", "25000")),
        batch_concurrency=3,
        seed=int(os.environ.get("SOAK_SEED", "7")),
        timeout=float(os.environ.get("SOAK_TIMEOUT", "1800")),
    )
    out = Path(os.environ.get("SOAK_REPORT", "soak-report.json"))
    out.write_text(figures.to_json() + "\n")
    print("\nsoak figures:\n" + figures.to_json())
    report.assert_holds()
    assert figures.rows_lost == figures.duplicate_submissions == figures.duplicate_emails == 0
