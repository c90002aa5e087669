"""`syncdrop upload/status/results --stack` against the local stack, as docs/cli.md shows them."""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import pytest

from syncdrop.jobs import UploadRef
from syncdrop_local.cli import main
from syncdrop_local.stack_cli.local_stack import register_stack
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import LocalSystem, run_to_the_end

STACK = "syncdrop-local"
# moto creates no resource for the registered stack's WaitConditionHandle, and says so.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..CloudFormation..WaitCondition")


@pytest.fixture
def system(
    local_system,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> LocalSystem:
    """The local stack with BatchMaxLines=25, so 40 valid rows make 2 batches of 20."""
    caplog.set_level(logging.ERROR, logger="werkzeug")  # moto's request log is not our stderr
    started: LocalSystem = local_system(parameters={"BatchMaxLines": "25"})
    assert register_stack(started.runtime) == STACK
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(started.runtime.stack.endpoint_url))
    # The stack enforces IAM: the operator's keys, not moto's open test key.
    for name, value in started.runtime.stack.credentials().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return started


def syncdrop(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what the local stack's functions logged until now
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def campaign(tmp_path: Path, *, valid: int = 40, bad: int = 2, name: str = "campaign.csv") -> Path:
    rows = campaign_rows(valid)
    rows += [[f"bad{i}", f"http://media.example.com/{i}.mp4", "", ""] for i in range(bad)]
    path = tmp_path / name
    path.write_bytes(to_csv(rows))
    return path


def uploaded_job(out: str) -> str:
    found = re.search(r"^job\s+(job-[0-9a-f]{24})$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


def incoming(system: LocalSystem) -> list[str]:
    s3 = system.runtime.stack.client("s3")
    listing = s3.list_objects_v2(Bucket=system.bucket, Prefix="incoming/")
    return [o["Key"] for o in listing.get("Contents", [])]


def test_upload_status_results_of_a_finished_job(
    system: LocalSystem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = campaign(tmp_path)

    code, out, err = syncdrop(
        capsys, "upload", str(path), "--stack", STACK, "--key-prefix", "campaigns/june"
    )

    assert (code, err) == (0, "")
    assert "campaign.csv: 42 rows, 40 valid, 2 rejected." in out
    assert "row 42 (request_id bad0): video_url 'http://" in out  # row 1 is the header
    assert "planned: 2 Sync batches of 20, 20 rows." in out
    key = "incoming/campaigns/june/campaign.csv"
    assert f"uploaded  s3://{system.bucket}/{key}" in out
    version = system.runtime.stack.client("s3").head_object(Bucket=system.bucket, Key=key)
    job_id = uploaded_job(out)
    assert job_id == UploadRef(system.bucket, key, version["VersionId"]).job_id
    assert f"version   {version['VersionId']}" in out

    run_to_the_end(system, files=1)

    code, out, err = syncdrop(capsys, "status", job_id, "--stack", STACK)
    assert (code, err) == (0, "")
    assert f"job       {job_id}  COMPLETED" in out
    assert "rows      42: 40 valid, 2 rejected" in out
    assert "chunks    2 of 2 done" in out
    chunk_lines = [line.split() for line in out.splitlines() if re.match(r"^\s+[12]\s", line)]
    assert [line[:3] for line in chunk_lines] == [
        ["1", "20", "COMPLETED"],
        ["2", "20", "COMPLETED"],
    ]
    assert all(line[3] != "-" and line[4] == "COMPLETED" for line in chunk_lines)
    assert f"results   s3://{system.bucket}/results/campaigns/june/campaign.results.csv" in out

    code, out, err = syncdrop(capsys, "status", "--stack", STACK, "--region", "us-east-1")
    assert (code, err) == (0, "")
    (line,) = [line for line in out.splitlines() if line.startswith(job_id)]
    assert line.split() == [job_id, "COMPLETED", "42", "40", "2", "2/2", *line.split()[6:9], key]

    target = tmp_path / "out" / "june.results.csv"
    target.parent.mkdir()
    code, out, err = syncdrop(capsys, "results", job_id, "--stack", STACK, "--output", str(target))
    assert (code, err) == (0, "")
    assert f"wrote {target}: 42 rows" in out
    with target.open(encoding="utf-8-sig", newline="") as stream:
        header, *rows = list(csv.reader(stream))
    assert len(rows) == 42
    assert [r[header.index("request_id")] for r in rows] == [f"r{i}" for i in range(1, 41)] + [
        "bad0",
        "bad1",
    ]


def test_a_dry_run_is_checked_by_the_stack_and_has_no_results_csv(
    system: LocalSystem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = syncdrop(
        capsys, "upload", str(campaign(tmp_path)), "--stack", STACK, "--dry-run"
    )
    assert code == 0
    assert f"uploaded  s3://{system.bucket}/incoming/dry-run/campaign.csv" in out
    job_id = uploaded_job(out)

    run_to_the_end(system, files=1)

    code, out, _ = syncdrop(capsys, "status", job_id, "--stack", STACK)
    assert code == 0
    assert f"job       {job_id}  VALIDATED" in out
    assert "chunks    none: a dry run creates no batch" in out
    code, out, _ = syncdrop(capsys, "status", "--stack", STACK)
    assert re.search(rf"^{job_id}\s+VALIDATED\s+42\s+40\s+2\s+-\s", out, re.MULTILINE), out

    code, out, err = syncdrop(capsys, "results", job_id, "--stack", STACK)
    assert (code, out) == (2, "")
    assert err == (
        f"syncdrop results: job {job_id} was a dry run, which writes no results CSV. "
        "Its verdict: batch 1 (20 rows): VALIDATED; batch 2 (20 rows): VALIDATED\n"
    )
    assert system.emulator.create_counts.accepted == 0


def test_a_job_in_progress_has_no_results_yet(
    system: LocalSystem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = syncdrop(capsys, "upload", str(campaign(tmp_path)), "--stack", STACK)
    assert code == 0
    job_id = uploaded_job(out)
    notes = campaign(tmp_path, name="notes.csv")
    assert syncdrop(capsys, "upload", str(notes), "--stack", STACK, "--key-prefix", "x")[0] == 0

    code, out, _ = syncdrop(capsys, "status", "--stack", STACK)
    assert code == 0
    assert re.search(rf"^{job_id}\s+WAITING\s+\d{{4}}-", out, re.MULTILINE), out
    assert len(out.splitlines()) == 3  # the header and the two uploads
    code, out, _ = syncdrop(capsys, "status", "--stack", STACK, "--limit", "1")
    assert code == 0
    assert len(out.splitlines()) == 2

    system.runtime.drain()  # intake and submission; Sync's batches stay open
    code, out, _ = syncdrop(capsys, "status", job_id, "--stack", STACK)
    assert code == 0
    assert f"job       {job_id}  RUNNING" in out
    assert "chunks    0 of 2 done" in out

    code, out, err = syncdrop(capsys, "results", job_id, "--stack", STACK)
    assert (code, out) == (2, "")
    assert err == (
        f"syncdrop results: job {job_id} is not finished yet (RUNNING, 0 of 2 chunks done): its "
        "results CSV is written when every chunk is over. "
        f"`syncdrop status {job_id} --stack {STACK}` follows it.\n"
    )


def test_an_unusable_file_is_refused_before_upload(
    system: LocalSystem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    too_few = campaign(tmp_path, valid=0, bad=3)

    code, out, err = syncdrop(capsys, "upload", str(too_few), "--stack", STACK)

    assert code == 2
    assert "campaign.csv: 3 rows, 0 valid, 3 rejected." in out
    assert err.startswith("syncdrop upload: campaign.csv was not uploaded: ")
    assert "No row is valid" in err
    assert err.count("\n") == 1

    notes = tmp_path / "campaign.txt"
    notes.write_bytes(too_few.read_bytes())
    code, out, err = syncdrop(capsys, "upload", str(notes), "--stack", STACK)
    assert (code, out) == (2, "")
    assert err == (
        "syncdrop upload: campaign.txt was not uploaded: the stack picks up only files named "
        "*.csv or *.jsonl, so it would ignore campaign.txt: rename it to end in .csv (or .jsonl "
        "for Sync batch lines). From Excel, use File > Save As > CSV UTF-8 (Comma delimited) "
        "(*.csv); Excel's 'Unicode Text' (*.txt) export is not picked up.\n"
    )
    assert incoming(system) == []


def test_an_unknown_stack_or_job_is_one_line_with_exit_code_2(
    system: LocalSystem, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = syncdrop(capsys, "upload", str(campaign(tmp_path)), "--stack", "nope")
    assert (code, out) == (2, "")
    assert err == (
        "syncdrop upload: no stack named nope in us-east-1: check --stack and --region "
        "(`aws cloudformation list-stacks` lists them).\n"
    )
    assert incoming(system) == []

    unknown = "job-000000000000000000000000"
    for command in ("status", "results"):
        code, out, err = syncdrop(capsys, command, unknown, "--stack", STACK)
        assert (code, out) == (2, "")
        assert err == (
            f"syncdrop {command}: no job {unknown} in stack {STACK}; "
            f"`syncdrop status --stack {STACK}` lists the recent ones.\n"
        )


def test_a_named_profile_is_used(
    system: LocalSystem,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "aws-config"
    keys = system.runtime.stack.credentials()
    config.write_text(
        "[profile operator]\nregion = us-east-1\n"
        f"aws_access_key_id = {keys['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {keys['AWS_SECRET_ACCESS_KEY']}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    code, out, err = syncdrop(capsys, "status", "--stack", STACK, "--profile", "operator")
    assert (code, err) == (0, "")
    assert out == f"no uploads under s3://{system.bucket}/incoming/ yet.\n"

    code, out, err = syncdrop(capsys, "status", "--stack", STACK, "--profile", "someone")
    assert (code, out) == (2, "")
    assert err.startswith("syncdrop status: The config profile (someone) could not be found")
