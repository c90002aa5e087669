"""`syncdrop retry` and `syncdrop cancel` against the local stack, as docs/cli.md shows them."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from syncdrop.jobs import job_id_for
from syncdrop_local.cli import main
from syncdrop_local.stack_cli.local_stack import register_stack
from syncdrop_local.state_view import table_items
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.invariants import FINAL_CHUNK, TERMINAL_ROW
from tests.support.local_system import LocalSystem, run_to_the_end

STACK = "syncdrop-local"
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..CloudFormation..WaitCondition")
HEADER = ("request_id", "video_url", "audio_url", "first_name")
AUDIO = "https://media.example.com/fixed.wav"


def _start(local_system: Any, monkeypatch: pytest.MonkeyPatch, **options: Any) -> LocalSystem:
    started: LocalSystem = local_system(**options)
    assert register_stack(started.runtime) == STACK
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(started.runtime.stack.endpoint_url))
    for name, value in started.runtime.stack.credentials().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return started


@pytest.fixture(autouse=True)
def _quiet_moto(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="werkzeug")


def syncdrop(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def uploaded_job(out: str) -> str:
    found = re.search(r"^job\s+(job-[0-9a-f]{24})$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


def job_item(system: LocalSystem, job_id: str) -> dict[str, Any]:
    (item,) = [j for j in system.jobs() if j["job_id"] == job_id]
    return item


def rows_of(system: LocalSystem, job_id: str) -> list[dict[str, Any]]:
    return [r for r in system.results() if r["job_id"] == job_id]


def emails_of(system: LocalSystem, job_id: str) -> list[Any]:
    return [e for e in system.runtime.collect_emails() if e.attributes.get("job_id") == job_id]


def batch_lines_of(system: LocalSystem, job_id: str) -> list[dict[str, Any]]:
    return [
        line
        for batch in system.emulator.batches
        if batch.webhook_url and f"job={job_id}" in batch.webhook_url
        for line in batch.lines
    ]


def test_retry_resubmits_exactly_the_failed_rows_and_the_fixed_ones(
    local_system: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    system = _start(local_system, monkeypatch, parameters={"BatchMaxLines": "25"})
    failing = set(range(2, 45, 2))  # 22 of 44 rows: the retry is one batch of its own
    rows = campaign_rows(44, fail=failing)
    rows += [[f"bad{i}", f"http://media.example.com/b{i}.mp4", "", f"Bad {i}"] for i in (1, 2)]
    original = tmp_path / "campaign.csv"
    original.write_bytes(to_csv(rows))
    code, out, err = syncdrop(capsys, "upload", str(original), "--stack", STACK)
    assert (code, err) == (0, "")
    first = uploaded_job(out)
    system.runtime.drain()  # intake and submission; Sync's batches stay open

    code, out, err = syncdrop(capsys, "retry", first, "--stack", STACK)
    assert (code, out) == (2, "")
    assert f"syncdrop retry: job {first} is still running" in err

    run_to_the_end(system, files=1)
    failed = {r["request_id"]: r for r in rows_of(system, first) if r["status"] == "FAILED"}
    assert set(failed) == {f"r{i}" for i in failing}

    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(
        to_csv([[f"bad{i}", f"https://media.example.com/b{i}.mp4", AUDIO, "Fixed"] for i in (1, 2)])
    )
    before = len(system.emulator.batches)
    code, out, err = syncdrop(
        capsys, "retry", first, "--stack", STACK, "--include-rejected", str(fixed)
    )
    assert (code, err) == (0, "")
    assert f"retry of {first}: 22 failed rows, 2 fixed rows" in out
    key = "incoming/campaign.retry-1.csv"
    assert f"uploaded  s3://{system.bucket}/{key}" in out
    second = uploaded_job(out)
    s3 = system.runtime.stack.client("s3")
    head = s3.head_object(Bucket=system.bucket, Key=key)
    assert head["Metadata"] == {"retry-of": first}
    assert second == job_id_for(system.bucket, key, head["VersionId"])

    # The new file holds the person's own columns of exactly those rows.
    text = s3.get_object(Bucket=system.bucket, Key=key)["Body"].read().decode()
    header, *lines = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == HEADER
    expected = [r for r in rows if r[0] in failed] + [
        [f"bad{i}", f"https://media.example.com/b{i}.mp4", AUDIO, "Fixed"] for i in (1, 2)
    ]
    assert lines == expected

    run_to_the_end(system, files=2)
    # What reached Sync for the retry: one batch, the failed rows and the fixed ones, each once,
    # with the request_ids and media of the original rows.
    assert len(system.emulator.batches) == before + 1
    sent = batch_lines_of(system, second)
    assert sorted(line["request_id"] for line in sent) == sorted([*failed, "bad1", "bad2"])
    by_id = {r[0]: r for r in rows}
    for line in sent:
        media = {i["type"]: i.get("url") for i in line["payload"]["input"]}
        if line["request_id"] in failed:
            assert media["video"] == by_id[line["request_id"]][1]
    assert job_item(system, second)["retry_of"] == first
    (email,) = emails_of(system, second)
    assert f"This file retries the failed rows of job {first}." in email.body
    assert email.attributes["retry_of"] == first
    code, out, _ = syncdrop(capsys, "status", second, "--stack", STACK)
    assert f"retry of  {first}" in out

    # The retried rows fail again (their media asks the emulator to): a second retry is
    # retry-2, and its rows are the retry's failed ones, with their request_ids unchanged.
    code, out, err = syncdrop(capsys, "retry", second, "--stack", STACK)
    assert (code, err) == (0, "")
    assert "uploaded  s3://" + system.bucket + "/incoming/campaign.retry-2.csv" in out


def test_retry_of_a_job_without_failed_rows_drops_nothing(
    local_system: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    system = _start(local_system, monkeypatch)
    path = tmp_path / "clean.csv"
    path.write_bytes(to_csv(campaign_rows(3)))
    code, out, _ = syncdrop(capsys, "upload", str(path), "--stack", STACK)
    job_id = uploaded_job(out)
    run_to_the_end(system, files=1)

    code, out, err = syncdrop(capsys, "retry", job_id, "--stack", STACK)

    assert (code, out) == (2, "")
    assert err.startswith(f"syncdrop retry: job {job_id} has no rows that Sync failed")
    listing = system.runtime.stack.client("s3").list_objects_v2(
        Bucket=system.bucket, Prefix="incoming/"
    )
    assert [o["Key"] for o in listing["Contents"]] == ["incoming/clean.csv"]


def _wait_for_open(system: LocalSystem, count: int, *, generations: bool = False) -> None:
    def opened() -> int:
        found = system.emulator.generations() if generations else system.emulator.batches
        return len(found)

    for _ in range(200):
        system.runtime.pump()
        if opened() >= count:
            return
    raise AssertionError(f"{opened()} of {count} opened at Sync")


def _cancelled_and_reported(
    system: LocalSystem, job_id: str, capsys: pytest.CaptureFixture[str]
) -> tuple[list[dict[str, Any]], Any]:
    run_to_the_end(system, files=1)
    for _ in range(3):  # later messages and schedules send nothing more
        system.runtime.pump()
        system.runtime.run_schedules()
    (email,) = emails_of(system, job_id)
    job = job_item(system, job_id)
    assert job["status"] == "CANCELLED"
    assert job["cancel_requested"].startswith("arn:aws:")
    rows = rows_of(system, job_id)
    assert {r["status"] for r in rows} <= TERMINAL_ROW
    chunks = [c for c in table_items(system.runtime.stack, "JobTable") if c.get("job_id") == job_id]
    assert all(c["status"] in FINAL_CHUNK for c in chunks if c.get("type") == "chunk")

    code, out, err = syncdrop(capsys, "cancel", job_id, "--stack", STACK)
    assert (code, out) == (2, "")
    assert err == (
        f"syncdrop cancel: job {job_id} is finished (CANCELLED): there is nothing to cancel.\n"
    )
    return rows, email


def test_cancel_sends_no_queued_batch_and_one_email(
    local_system: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    system = _start(
        local_system, monkeypatch, batch_concurrency=1, parameters={"BatchMaxLines": "25"}
    )
    path = tmp_path / "campaign.csv"
    path.write_bytes(to_csv(campaign_rows(100)))  # 4 batches of 25; one open at a time
    code, out, _ = syncdrop(capsys, "upload", str(path), "--stack", STACK)
    job_id = uploaded_job(out)
    _wait_for_open(system, 1)

    code, out, err = syncdrop(capsys, "cancel", job_id, "--stack", STACK)
    assert (code, err) == (0, "")
    assert "at Sync   1 chunk: they finish and are collected" in out
    assert "queued    3 chunks: never sent (rows CANCELLED)" in out
    code, out, err = syncdrop(capsys, "cancel", job_id, "--stack", STACK)  # twice is fine
    assert (code, err) == (0, "")

    rows, email = _cancelled_and_reported(system, job_id, capsys)

    sent = batch_lines_of(system, job_id)
    assert len(system.emulator.batches) == 1
    assert sorted(line["request_id"] for line in sent) == sorted(f"r{i}" for i in range(1, 26))
    by_status = {
        s: sorted(r["request_id"] for r in rows if r["status"] == s)
        for s in ("COMPLETED", "CANCELLED")
    }
    assert by_status["COMPLETED"] == sorted(line["request_id"] for line in sent)
    assert len(by_status["CANCELLED"]) == 75
    who = job_item(system, job_id)["cancel_requested"]
    reasons = {r["error_message"] for r in rows if r["status"] == "CANCELLED"}
    assert reasons == {f"Never sent to Sync: cancelled by {who}."}
    assert email.subject == "syncdrop: cancelled: campaign.csv — 25 done, 75 not sent"
    assert email.attributes["status"] == "CANCELLED"
    assert email.attributes["cancelled"] == "75"
    assert f"This job was cancelled by {who.split(' at ')[0]}" in " ".join(email.body.split())

    results = system.results_csv("results/campaign.results.csv")
    header = results[0]
    cancelled = [r for r in results[1:] if r[header.index("status")] == "CANCELLED"]
    assert len(cancelled) == 75
    assert {r[header.index("error_message")] for r in cancelled} == reasons


def test_cancel_of_single_generations_sends_no_queued_row(
    local_system: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    system = _start(
        local_system,
        monkeypatch,
        parameters={"SubmitMode": "generate", "GenerationConcurrency": "2"},
    )
    path = tmp_path / "few.csv"
    path.write_bytes(to_csv(campaign_rows(6)))
    code, out, _ = syncdrop(capsys, "upload", str(path), "--stack", STACK)
    job_id = uploaded_job(out)
    _wait_for_open(system, 2, generations=True)

    code, out, err = syncdrop(capsys, "cancel", job_id, "--stack", STACK)
    assert (code, err) == (0, "")

    rows, email = _cancelled_and_reported(system, job_id, capsys)

    assert len(system.emulator.generations()) == 2
    statuses = sorted(r["status"] for r in rows)
    assert statuses == ["CANCELLED"] * 4 + ["COMPLETED"] * 2
    assert json.loads(email.attributes["cancelled"]) == 4
