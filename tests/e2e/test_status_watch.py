"""`syncdrop status JOB --watch` against `syncdrop local`: it follows a job to its end, prints
only what moved in a pipe, and its exit code says how the job ended."""

from __future__ import annotations

import os
import re
import signal
import subprocess  # nosec B404 # the command under test, started from this interpreter
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from syncdrop.jobs import UploadRef
from syncdrop_local.runtime.local_runtime import REPO_ROOT
from tests.e2e import test_local_service
from tests.e2e.test_local_service import STACK, Service
from tests.support.csv_files import campaign_rows, to_csv

WATCH_WITHIN = 180  # seconds: 25 rows at the default time scale take about five
# moto, the emulator and the template deployed, on a machine busy with other suites.
READY_WITHIN = 180.0


def watch(env: dict[str, str], job_id: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "syncdrop_local.cli", "status", job_id, "--stack", STACK]
    return subprocess.Popen(  # nosec B603 # fixed argv, no shell
        [*argv, "--watch"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(test_local_service, "READY_WITHIN", READY_WITHIN)
    service = Service(tmp_path)
    try:
        ready = service.ready()
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": ready["aws_endpoint"],
            # moto enforces IAM: the keys the service printed, not moto's open test key.
            "AWS_ACCESS_KEY_ID": ready["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": ready["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": ready["region"],
        }
        env.pop("AWS_SESSION_TOKEN", None)
        s3 = boto3.client(
            "s3",
            endpoint_url=ready["aws_endpoint"],
            region_name=ready["region"],
            aws_access_key_id=ready["aws_access_key_id"],
            aws_secret_access_key=ready["aws_secret_access_key"],
        )

        def upload(name: str, body: bytes) -> str:
            """The file dropped under incoming/; its job id, as `syncdrop upload` derives it."""
            key = f"incoming/{name}"
            version = s3.put_object(Bucket=ready["bucket"], Key=key, Body=body)["VersionId"]
            return UploadRef(ready["bucket"], key, version).job_id

        yield env, upload
    finally:
        service.kill()


def test_watching_jobs_to_their_ends_gives_each_its_exit_code(stack: Any) -> None:
    env, upload = stack
    clean = upload("clean.csv", to_csv(campaign_rows(25)))
    bad_rows = [[f"bad{i}", f"http://media.example.com/{i}.mp4", "", ""] for i in range(2)]
    partly = upload("partly.csv", to_csv(campaign_rows(25) + bad_rows))
    refused = upload("refused.csv", b"name,email\nAda,ada@example.com\n")  # no video_url

    watching = {job: watch(env, job) for job in (clean, partly, refused)}
    ended = {
        job: (p.communicate(timeout=WATCH_WITHIN), p.returncode) for job, p in watching.items()
    }

    (out, err), code = ended[clean]
    assert (code, err) == (0, ""), out + err
    lines = out.splitlines()
    assert lines[-1] == "ended: completed, every row done"
    assert f"job {clean}  COMPLETED  25 rows in 1 batch; 0 rows rejected" in lines, out
    assert "\x1b[" not in out  # a pipe: lines, no cursor movement
    assert len(lines) == len(set(lines)) <= 15, out  # only what moved on
    final = r"chunk +1 .*COMPLETED +done 25 +failed 0 +videos copied 25 of 25$"
    assert any(re.search(final, line) for line in lines), out

    (out, err), code = ended[partly]
    assert (code, err) == (3, ""), out + err
    assert out.splitlines()[-1] == "ended: completed, some rows did not become videos"

    (out, err), code = ended[refused]
    assert (code, err) == (4, ""), out + err
    assert f"job {refused}  FAILED" in out
    assert out.splitlines()[-1] == "ended: the file could not be used"


def test_ctrl_c_stops_watching_with_130_and_the_job_goes_on(stack: Any) -> None:
    env, _ = stack
    not_yet = "job-000000000000000000000000"  # its file is never uploaded: waited for
    process = watch(env, not_yet)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first == f"job {not_yet} is not recorded yet: waiting for the stack to read its file\n"

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130
    assert err == f"stopped watching; job {not_yet} goes on.\n"
    assert "Traceback" not in out + err
