"""The arithmetic of bench/cost.py: a file's AWS bill from its counts, and Sync's charge."""

from __future__ import annotations

import pytest

from bench.cost import (
    PRICES,
    FileCounts,
    Function,
    bill,
    functions_from_template,
    monthly_fixed,
    per_row_line,
    sync_charge,
)

FUNCTIONS = {"Small": Function(memory_mb=256, arm64=True), "Big": Function(1024, arm64=False)}


def test_each_line_of_the_bill() -> None:
    counts = FileCounts(
        rows=1_000,
        requests={
            "dynamodb:BatchWriteItem": 40,
            "dynamodb:UpdateItem": 10,
            "dynamodb:Query": 8,
            "s3:PutObject": 3,
            "s3:GetObject": 5,
            "sqs:SendMessage": 7,
            "sns:Publish": 1,
            "secretsmanager:GetSecretValue": 2,
        },
        invocations={"Small": 4, "Big": 6},
        seconds={"Small": 8.0, "Big": 2.0},
        webhooks=2,
        emails=1,
        log_bytes=2_000_000_000,
    )
    lines = bill(counts, FUNCTIONS)
    # 8 s at 0.25 GB on arm64, 2 s at 1 GB on x86.
    assert lines["Lambda compute (GB-s)"] == pytest.approx(2 * 0.0000133334 + 2 * 0.0000166667)
    assert lines["Lambda requests"] == pytest.approx(10 * 0.20 / 1e6)
    # A BatchWriteItem is one request of 25 items: 25 write units.
    assert lines["DynamoDB writes"] == pytest.approx((40 * 25 + 10) * 0.625 / 1e6)
    assert lines["DynamoDB reads"] == pytest.approx(8 * 0.125 / 1e6)
    assert lines["S3 requests"] == pytest.approx(3 * 0.005 / 1e3 + 5 * 0.0004 / 1e3)
    assert lines["SQS requests"] == pytest.approx(7 * 0.40 / 1e6)
    assert lines["SNS (publish + email)"] == pytest.approx(0.50 / 1e6 + 2.00 / 1e5)
    assert lines["HTTP API (webhooks)"] == pytest.approx(2 / 1e6)
    assert lines["Secrets Manager calls"] == pytest.approx(2 * 0.05 / 1e4)
    assert lines["CloudWatch Logs ingest"] == pytest.approx(2 * 0.50)


def test_an_empty_file_costs_nothing() -> None:
    assert sum(bill(FileCounts(rows=0), FUNCTIONS).values()) == 0


def test_counts_follow_the_line_through_two_sizes() -> None:
    small = FileCounts(
        rows=500, requests={"sqs:SendMessage": 12}, invocations={"Small": 3}, seconds={"Small": 9}
    )
    large = FileCounts(
        rows=1_000, requests={"sqs:SendMessage": 22}, invocations={"Small": 5}, seconds={"Small": 4}
    )
    at = per_row_line(small, large, 100_000)
    # 2 fixed + 0.02 per row; 1 invocation fixed + 0.004 per row.
    assert at.requests == {"sqs:SendMessage": pytest.approx(2 + 0.02 * 100_000)}
    assert at.invocations == {"Small": pytest.approx(1 + 0.004 * 100_000)}
    # Seconds per invocation from the larger run (4 s / 5), times the invocations.
    assert at.seconds == {"Small": pytest.approx((1 + 0.004 * 100_000) * 0.8)}
    assert per_row_line(small, large, 500).requests == small.requests


def test_sync_charge_is_rows_times_seconds_times_rate() -> None:
    assert sync_charge(1_000, "lipsync-2", 30) == pytest.approx(1_000 * 30 * 0.05)
    assert sync_charge(10, "sync-3", 12.5) == pytest.approx(10 * 12.5 * 0.133)


def test_functions_come_from_the_template() -> None:
    functions = functions_from_template()
    assert {"SubmitBatchFunction", "ReceiveWebhookFunction", "FanOutResultsFunction"} <= set(
        functions
    )
    assert all(fn.memory_mb >= 128 for fn in functions.values())
    assert PRICES["lambda_gb_second_arm64"] < PRICES["lambda_gb_second_x86"]


def test_monthly_fixed_part() -> None:
    counts = FileCounts(rows=1_000, reconcile_runs=10, reconcile_seconds=5.0)
    functions = {"ReconcileFunction": Function(memory_mb=512, arm64=True)}
    lines = monthly_fixed(counts, functions, interval_minutes=10)
    runs = 30 * 24 * 6  # every 10 minutes for 30 days
    assert lines["Secrets Manager, 2 secrets"] == pytest.approx(0.80)
    assert lines["Reconcile every 10 min (compute)"] == pytest.approx(
        runs * 0.5 * 0.5 * 0.0000133334
    )
    assert lines["Reconcile every 10 min (requests)"] == pytest.approx(runs * 0.20 / 1e6)
