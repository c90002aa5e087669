"""Neither the API key, the webhook secret nor a webhook signature ever reaches a log line.

The whole flow runs at DEBUG (intake, submission, signed and forged webhooks, fan-out, the
report, the reconciler), each function in processes of its own as Lambda runs it, while every
line those processes write (what CloudWatch would get), every byte written to this process's
file descriptors 1 and 2 and every stdlib log record is captured; the capture must contain
syncdrop's own log lines (so the test cannot pass on an empty capture) and none of the
secrets.
"""

from __future__ import annotations

import json
import logging
import re
import time

import httpx

from syncdrop_local.emulator.signing import signature_header_value
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import API_KEY, WEBHOOK_SECRET

SIGNATURE = re.compile(r"v1=([0-9a-fA-F]{16,})")
# botocore's wire logs print every request's parameters and every answer's body, a
# GetSecretValue answer included. They are emitted only when the root logger is at DEBUG,
# which the template never sets (LogLevel reaches syncdrop's own logger alone); see
# docs/security.md. Every other record, at every level, is checked.
AWS_SDK_WIRE_LOGGERS = {"botocore.endpoint", "botocore.parsers"}


def forged_signatures(body: bytes) -> list[str]:
    """Sync-Signature values an attacker could send: each one must be refused, and not logged."""
    now = int(time.time())
    return [
        "t=1700000000,v1=" + "0" * 64,
        signature_header_value("whsec_not_the_secret", now, body),  # fresh, wrong secret
        signature_header_value(WEBHOOK_SECRET, now - 3600, body),  # right secret, stale
        f"t={now},v1=" + "ab" * 32 + ",v1=" + "cd" * 32,  # two candidates, neither valid
    ]


def run_the_whole_flow(system) -> list[str]:
    """Intake, submission, refused forgeries, signed webhooks, fan-out, report, reconciler.

    Returns every ``Sync-Signature`` value sent to the webhook (forged and genuine)."""
    system.drop("incoming/campaign.csv", to_csv(campaign_rows(600, fail={3})))
    system.settle()
    snap = system.snapshot()
    assert [c["status"] for c in snap["chunks"]] == ["SUBMITTED", "QUEUED"]

    sent: list[str] = []
    url = f"{system.runtime.webhook_url}?job={snap['job_id']}&chunk=1"
    body = json.dumps({"id": snap["chunks"][0]["batch_id"], "status": "COMPLETED"}).encode()
    for value in [*forged_signatures(body), "garbage", None]:
        headers = {"content-type": "application/json"}
        if value is not None:
            headers["Sync-Signature"] = value
            sent.append(value)
        assert httpx.post(url, content=body, headers=headers).status_code == 401

    for _ in range(2):  # the first batch, then the queued chunk's batch
        system.finish_batches()
        system.settle()
    system.runtime.run_schedules()
    system.settle()
    assert system.snapshot()["status"] == "COMPLETED"
    assert len(system.runtime.collect_emails()) == 1

    deliveries = system.emulator.webhook_deliveries
    assert len(deliveries) == 2, "Sync's signed webhooks did not all arrive"
    assert [d.status_code for d in deliveries] == [200, 200]
    return sent + [d.headers["Sync-Signature"] for d in deliveries]


def test_a_full_run_at_debug_logs_no_key_secret_or_signature(local_system, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    system = local_system(
        batch_concurrency=1,
        parameters={"LogLevel": "DEBUG"},
        environment={"POLL_AFTER_MINUTES": "0"},
    )
    sent = run_the_whole_flow(system)
    out, err = capfd.readouterr()
    # What each function's processes wrote: their CloudWatch log streams.
    written = [line for f in system.runtime.functions.values() for line in f.log_lines()]
    records = "\n".join(
        f"{r.name} {r.getMessage()} {json.dumps(r.__dict__, default=str)}"
        for r in caplog.records
        if r.name not in AWS_SDK_WIRE_LOGGERS
    )
    captured = "\n".join([out, err, records, *written])

    # The capture saw syncdrop's own JSON lines from every function, and DEBUG ones.
    lines = [json.loads(line) for line in written if line.startswith("{")]
    messages = {line.get("message") for line in lines if line.get("service") == "syncdrop"}
    assert {"batch submitted", "webhook refused", "results message handled"} <= messages, messages
    # Every function ran at DEBUG; this process's loggers too.
    levels = {f.spec.environment["POWERTOOLS_LOG_LEVEL"] for f in system.runtime.functions.values()}
    assert levels == {"DEBUG"}
    assert any(r.levelno == logging.DEBUG for r in caplog.records)

    assert API_KEY not in captured
    assert WEBHOOK_SECRET not in captured
    signatures = {m.group(1).lower() for value in sent for m in SIGNATURE.finditer(value)}
    assert len(signatures) >= 7
    lowered = captured.lower()
    leaked = sorted(s for s in signatures if s in lowered)
    assert not leaked, f"webhook signatures in the logs: {leaked}"
    assert not re.search(r"x-api-key['\"]?\s*[:=]\s*['\"]?[^\s'\",}]", captured, re.IGNORECASE)
