"""Every call a function makes is held against its role, and every grant its role has is used.

One local stack, each function in its own processes under its own role and moto deciding IAM,
runs what each function does: a file with valid, rejected and Sync-failed rows whose videos
are copied into the bucket, rows pointing at media/, a batch Sync refuses, a dry run delivered
twice, signed and forged webhooks, the reconciler polling batches whose webhooks were lost and
submitting a queued chunk, and a job closed at its deadline. moto_iam's recorder holds every
decision; each is then held against the grants SAM's expansion of template.yaml gives the
caller's role. A grant no call used fails the test unless NOT_EXERCISED says why it is there,
so an unused permission cannot creep into template.yaml.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from syncdrop_local.emulator import signature_header_value
from syncdrop_local.runtime import moto_iam
from syncdrop_local.runtime.sqs_source import DeliveryFaults
from syncdrop_local.runtime.stack import LocalStack
from tests.infra.iam import as_list, managed_statements, role_statements
from tests.infra.test_least_privilege import resource_name
from tests.reliability.test_scenarios import csv_rows, pass_the_deadline
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import WEBHOOK_SECRET, LocalSystem, run_to_the_end
from tests.support.report_pages import video_links

pytestmark = pytest.mark.timeout(240)

# AWSLambdaBasicExecutionRole: Lambda itself writes the function's log with these, never its code.
WRITTEN_BY_LAMBDA = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}

# Grants ("action Resource", as tests/infra/test_least_privilege.py names them) that this run
# does not use, and why each is granted all the same.
POLLER_CHECKS = (
    "Lambda's poller reads the queue's attributes when the event source mapping is created; "
    "the local poller only receives and deletes"
)
# Submitted by fan-out or the reconciler, a chunk reads a media file's bytes only when it is the
# first to send that file to Sync; in this run intake's submission always comes first.
MEDIA_UPLOADED_EARLIER = (
    "a media file's bytes are read (by version: GetObjectVersion) only by the first "
    "submission that sends it to Sync as an asset; here submit_batch's always was"
)
NOT_EXERCISED: dict[str, dict[str, str]] = {
    "SubmitBatchFunction": {
        "sqs:GetQueueAttributes IntakeQueue": POLLER_CHECKS,
        "s3:GetObject UploadsBucket/incoming/*": (
            "the upload is read (and, for an event without its size, HEAD) as GetObject only "
            "when the event names no version; the bucket is versioned, so S3's events do"
        ),
        "s3:ListBucket UploadsBucket": (
            "no call lists; S3 consults it only when a read finds no such upload version, to "
            "answer 404 rather than 403 (tests/e2e/test_upload_edge_cases.py deletes one)"
        ),
    },
    "FanOutResultsFunction": {
        "sqs:GetQueueAttributes ResultsQueue": POLLER_CHECKS,
        "s3:GetObjectVersion UploadsBucket/media/*": MEDIA_UPLOADED_EARLIER,
        "s3:AbortMultipartUpload UploadsBucket/results/*": (
            "a results CSV goes up in parts only past PutObject's 5 GB"
        ),
        "s3:GetObject UploadsBucket/results/*": (
            "the email's link is presigned for the version written; GetObject only where S3 "
            "answered no version (versioning suspended)"
        ),
    },
    "ReconcileFunction": {
        "s3:GetObjectVersion UploadsBucket/media/*": MEDIA_UPLOADED_EARLIER,
    },
    "CopyOutputsFunction": {
        "sqs:GetQueueAttributes OutputsQueue": POLLER_CHECKS,
        "s3:AbortMultipartUpload UploadsBucket/outputs/*": (
            "a video goes up in parts only past 8 MB; the emulator's are a few hundred bytes"
        ),
        "sqs:SendMessage OutputsQueue": (
            "a finished slice queues the next of its chain only in a chunk of more than 150 "
            "rows (3 chains of 50); tests/e2e/test_copy_fairness.py's 400-row file does, "
            "under this role"
        ),
        "dynamodb:Query ResultsTable": (
            "only a one-row copy task of the format queued before slices counts its chunk's "
            "pending rows; every task here is a slice"
        ),
        "dynamodb:GetItem JobTable": (
            "the chunk and the job are read only for a one-row task of the earlier format or "
            "a task without its prefix; every task here is a slice with its prefix"
        ),
    },
}


@dataclass(frozen=True)
class Grant:
    """One action on one resource pattern of one Allow statement of a role."""

    name: str  # "s3:GetObject UploadsBucket/work/*"
    action: str
    resource: str  # the ARN pattern, intrinsics resolved


def iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcards: ``*`` any characters (a newline too), ``?`` one; actions ignore case."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.DOTALL) is not None


def covers(grant: Grant, decision: moto_iam.Decision) -> bool:
    return iam_match(grant.action.lower(), decision.action.lower()) and iam_match(
        grant.resource, decision.resource
    )


def grants_of(stack: LocalStack, function: str) -> list[Grant]:
    """Every Allow a function's role has in SAM's expansion: inline statements and managed
    policies, conditions resolved with this stack's parameters."""
    role_id = stack.functions[function].role_logical_id
    assert role_id is not None, f"{function} runs as a role outside the template"
    statements = role_statements(stack.template, role_id, stack.resolver.parameters)
    for arn in stack.template["Resources"][role_id]["Properties"].get("ManagedPolicyArns", []):
        statements += managed_statements(arn)
    found = []
    for statement in statements:
        assert statement["Effect"] == "Allow", statement
        assert "NotAction" not in statement, statement
        assert "NotResource" not in statement, statement
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                found.append(
                    Grant(
                        name=f"{action} {resource_name(resource)}",
                        action=action,
                        resource=str(stack.resolver.resolve(resource)),
                    )
                )
    return found


def role_name(stack: LocalStack, function: str) -> str:
    return stack.functions[function].role_arn.rsplit("/", 1)[1]


# --- the run ----------------------------------------------------------------------------------
def media_sent_as_assets(system: LocalSystem) -> None:
    """Rows' media/ file went to Sync once, as the asset their batch lines name; no link to
    the bucket left the account."""
    inputs = [
        item
        for batch in system.emulator.batches
        for line in batch.lines
        for item in line["payload"]["input"]
    ]
    assert [i for i in inputs if system.bucket in str(i.get("url", ""))] == []
    (asset,) = system.emulator.assets()
    assert any(item.get("assetId") == asset.id for item in inputs)


def download_link(body: str, intro: str = "Download it here") -> str:
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(intro))
    return lines[start + 1].strip()


def job_of(system: LocalSystem, key: str) -> dict[str, Any]:
    (job,) = [j for j in system.jobs() if j["key"] == key]
    return system.snapshot(job["job_id"])


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    header = signature_header_value(WEBHOOK_SECRET, int(time.time()), raw)
    return raw, {"Content-Type": "application/json", "Sync-Signature": header}


def drive(system: LocalSystem) -> None:
    """Each step is driven by hand where the function that acts must be a given one."""
    s3 = system.runtime.stack.client("s3")
    s3.put_object(Bucket=system.bucket, Key="media/clip.mp4", Body=b"\0\0\0\x18ftypmp42")
    clip = f"s3://{system.bucket}/media/clip.mp4"

    # 1. Valid, rejected and Sync-failed rows, a media/ row in each chunk of 20, three chunks
    #    through one batch slot; intake submits the first. A dry run beside it, its S3 event
    #    delivered twice (the second intake finds the job already recorded).
    rows = campaign_rows(61, fail={4, 30})
    rows[1][1] = "ftp://not-https.example/v.mp4"  # rejected
    for first in (0, 21, 41):
        rows[first][1] = clip
    system.drop("incoming/campaign.csv", to_csv(rows))
    system.settle()
    intake_queue = system.runtime.stack.ref("IntakeQueue")
    (intake,) = [s for s in system.runtime.sqs_sources if s.queue_url == intake_queue]
    intake.faults = DeliveryFaults(duplicate_rate=1.0)
    system.drop("incoming/dry-run/check.csv", to_csv(campaign_rows(20)))
    system.settle()
    intake.faults = DeliveryFaults()
    # 2. Fan-out of the first chunk submits the others: Sync refuses the second (its rows go
    #    back as a results message) and the third's key is refused until the reconciler's run.
    system.emulator.faults.fail_next_creates(1, status=400)
    system.emulator.faults.fail_next_creates(20, status=401)
    system.finish_batches()
    system.settle()
    assert [c["status"] for c in job_of(system, "incoming/campaign.csv")["chunks"]][2] == "QUEUED"
    system.emulator.faults.clear()
    system.runtime.run_schedules()
    run_to_the_end(system, files=2, timeout=60)
    media_sent_as_assets(system)
    (report,) = [
        e for e in system.runtime.collect_emails() if e.attributes.get("status") != "DRY_RUN"
    ]
    assert httpx.get(download_link(report.body), timeout=10).status_code == 200
    # The report page, and a copied video it plays from a link the report's role signed.
    page = httpx.get(download_link(report.body, "See every row"), timeout=10)
    assert page.status_code == 200
    copied = [u for u in video_links(page.text).values() if "/outputs/campaign/" in u]
    assert httpx.get(copied[0], timeout=10).status_code == 200

    # 3. Webhooks: a forged one (refused before any call) and a signed one naming a batch its
    #    chunk does not hold (the chunk is read to find that out).
    genuine = next(d for d in system.emulator.webhook_deliveries if d.status_code == 200)
    forged = {"Sync-Signature": f"t={int(time.time())},v1=" + "ab" * 32}
    refused = httpx.post(genuine.url, content=genuine.body, headers=forged, timeout=10)
    assert refused.status_code == 401
    other = next(b.id for b in system.emulator.batches if b.id != genuine.batch_id)
    body, headers = signed({**genuine.json(), "id": other})
    unknown = httpx.post(genuine.url, content=body, headers=headers, timeout=10)
    assert unknown.status_code == 404, unknown.text

    # 4. Webhooks lost: the reconciler polls the quiet batch (POLL_AFTER_MINUTES=0) and hands
    #    it on; its fan-out submits the file's second chunk.
    system.emulator.faults.drop_webhooks = True
    quiet = campaign_rows(40, start=500)
    quiet[20][1] = clip
    system.drop("incoming/quiet.csv", to_csv(quiet))
    system.settle()
    system.finish_batches()
    system.runtime.run_schedules()
    system.settle()
    run_to_the_end(system, files=3, timeout=60)
    media_sent_as_assets(system)

    # 5. A batch Sync never finishes: the job is closed at its deadline, its rows TIMED_OUT.
    system.emulator.settings.processing_seconds_per_line = 10_000_000
    system.drop("incoming/late.csv", to_csv(campaign_rows(20, start=900)))
    system.settle()
    pass_the_deadline(system, keys={"incoming/late.csv"})
    run_to_the_end(system, files=4, timeout=60)
    late = system.runtime.collect_emails()[-1]
    assert "timed out" in late.subject, late.subject


def test_every_call_is_held_against_its_role_and_every_grant_is_used(local_system):
    system: LocalSystem = local_system(
        batch_concurrency=1,
        parameters={"CopyOutputs": "true", "BatchMaxLines": "20"},
        environment={"POLL_AFTER_MINUTES": "0", "SUBMITTING_GRACE_MINUTES": "0"},
    )
    drive(system)
    rows = csv_rows(system, "results/campaign.results.csv")
    statuses = Counter(r["status"] for r in rows)
    # r2 rejected; r4 failed by Sync; the refused second chunk's 20 rows failed.
    assert statuses == {"COMPLETED": 39, "FAILED": 21, "REJECTED": 1}, statuses
    copied = [r for r in rows if r["output_url"].startswith(f"s3://{system.bucket}/outputs/")]
    assert len(copied) == 39
    hold_calls_against_roles(system)


def hold_calls_against_roles(system: LocalSystem) -> None:
    """No call of a function was denied or falls outside its role's grants, and every grant
    was used by some call or has its reason in NOT_EXERCISED."""
    stack = system.runtime.stack
    functions = sorted(stack.functions)
    roles = {role_name(stack, f): f for f in functions}
    decisions: dict[str, list[moto_iam.Decision]] = defaultdict(list)
    for decision in moto_iam.recorder.decisions:
        if decision.role_name in roles:
            decisions[roles[decision.role_name]].append(decision)

    denied = [d for found in decisions.values() for d in found if not d.allowed]
    assert denied == [], "denied:\n" + "\n".join(
        f"{roles[str(d.role_name)]}: {d.action} on {d.resource}" for d in denied
    )

    uncovered: list[str] = []
    unused: list[str] = []
    for function in functions:
        grants = grants_of(stack, function)
        used: set[str] = set()
        for decision in decisions[function]:
            matching = [g for g in grants if covers(g, decision)]
            if not matching:
                uncovered.append(f"{function}: {decision.action} on {decision.resource}")
            used.update(g.name for g in matching)
        excused = NOT_EXERCISED.get(function, {})
        unknown = set(excused) - {g.name for g in grants}
        assert not unknown, f"{function}: NOT_EXERCISED names grants it does not have: {unknown}"
        for grant in grants:
            if (
                grant.name not in used
                and grant.name not in excused
                and grant.action not in WRITTEN_BY_LAMBDA
            ):
                unused.append(f"{function}: {grant.name} ({grant.resource})")
    assert uncovered == [], "calls no grant covers:\n" + "\n".join(sorted(set(uncovered)))
    assert unused == [], (
        "granted but never used (remove it from template.yaml, or say why in NOT_EXERCISED):\n"
        + "\n".join(unused)
    )
    # Every function was seen at work under its own role.
    assert set(decisions) == set(functions), set(functions) - set(decisions)
