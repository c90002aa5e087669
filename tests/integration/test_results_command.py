"""`syncdrop results JOB --stack S` never overwrites a file that exists unless asked to."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import Job, JobStatus, UploadRef, results_key
from syncdrop_local.cli import main
from syncdrop_local.runtime.stack import LocalStack
from syncdrop_local.stack_cli.local_stack import register_stack

RESULTS = b"row,request_id,status\r\n2,r1,COMPLETED\r\n"
# moto creates no resource for the registered stack's WaitConditionHandle, and says so.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..CloudFormation..WaitCondition")


@pytest.fixture
def finished_job(moto_stack: LocalStack) -> str:
    """A COMPLETED job of a one-row file, its results CSV in the bucket; the stack registered
    in CloudFormation so that --stack finds it."""
    register_stack(
        SimpleNamespace(stack=moto_stack, front=SimpleNamespace(url="http://127.0.0.1:9"))
    )
    bucket = moto_stack.ref("UploadsBucket")
    upload = UploadRef(bucket, "incoming/campaign.csv", "v1")
    store = DynamoJobStore(moto_stack.client("dynamodb"), moto_stack.ref("JobTable"))
    at = datetime(2026, 11, 29, tzinfo=UTC)
    job = Job(
        job_id=upload.job_id, upload=upload, status=JobStatus.COMPLETED, created_at=at, rows=1
    )
    store.create_job(job)
    moto_stack.client("s3").put_object(Bucket=bucket, Key=results_key(upload.key), Body=RESULTS)
    return upload.job_id


def results(
    capsys: pytest.CaptureFixture[str], job_id: str, target: Path, *flags: str
) -> tuple[int, str, str]:
    code = main(["results", job_id, "--stack", "syncdrop-local", "--output", str(target), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_existing_file_is_kept_unless_forced(
    finished_job: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "campaign.results.csv"

    code, out, err = results(capsys, finished_job, target)
    assert (code, err) == (0, "")
    assert out.startswith(f"wrote {target}: ")
    assert target.read_bytes() == RESULTS

    target.write_text("my own notes\n")
    code, out, err = results(capsys, finished_job, target)
    assert (code, out) == (2, "")
    assert err == (
        f"syncdrop results: {target} exists already: pass --force (-f) to overwrite it, or "
        "--output to write the results somewhere else.\n"
    )
    assert target.read_text() == "my own notes\n"
    assert list(tmp_path.iterdir()) == [target]  # no partial download left behind

    for flag in ("--force", "-f"):
        target.write_text("my own notes\n")
        code, out, err = results(capsys, finished_job, target, flag)
        assert (code, err) == (0, "")
        assert target.read_bytes() == RESULTS
