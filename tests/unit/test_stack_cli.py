"""The stack commands' pieces: one-line AWS errors, bucket keys, limits from parameters, results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)
from moto import mock_aws

from syncdrop.errors import StorageError
from syncdrop_local.cli import main
from syncdrop_local.stack_cli.bucket import newest_version_before, open_results, upload_key
from syncdrop_local.stack_cli.errors import StackCliError, explain
from syncdrop_local.stack_cli.limits import intake_limits
from syncdrop_local.stack_cli.stack import Stack

LOGIN = "run `aws sso login` or `aws configure`, or pass --profile"


def client_error(code: str, operation: str, status: int = 400, message: str = "") -> ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            client_error("ExpiredToken", "DescribeStacks", 403),
            f"the AWS credentials have expired (ExpiredToken): {LOGIN}.",
        ),
        (
            client_error("ExpiredTokenException", "GetItem"),
            f"the AWS credentials have expired (ExpiredTokenException): {LOGIN}.",
        ),
        (
            client_error("InvalidClientTokenId", "DescribeStacks", 403),
            f"AWS does not accept these credentials (InvalidClientTokenId): {LOGIN}.",
        ),
        (
            client_error("AccessDenied", "PutObject", 403),
            "access denied: PutObject needs s3:PutObject for this identity "
            "(docs/cli.md lists what each command needs).",
        ),
        (
            client_error("AccessDeniedException", "Query"),
            "access denied: Query needs dynamodb:Query for this identity "
            "(docs/cli.md lists what each command needs).",
        ),
        (
            client_error("403", "HeadObject", 403, "Forbidden"),
            "access denied: HeadObject needs s3:GetObject for this identity "
            "(docs/cli.md lists what each command needs).",
        ),
        (
            client_error("ThrottlingException", "GetItem", 400, "Rate exceeded"),
            "AWS GetItem failed (ThrottlingException): Rate exceeded",
        ),
        (NoCredentialsError(), f"no usable AWS credentials: {LOGIN}."),
        (
            ProfileNotFound(profile="ops"),
            "The config profile (ops) could not be found (the profiles are in ~/.aws/config).",
        ),
        (NoRegionError(), "no AWS region: pass --region or set AWS_REGION."),
        (StackCliError("said plainly."), "said plainly."),
    ],
)
def test_aws_failures_become_one_line(error: BaseException, line: str) -> None:
    assert explain(error) == line


def test_an_error_wrapped_by_an_adapter_is_explained_by_its_cause() -> None:
    wrapped = StorageError("DynamoDB get_item on jobs failed")
    wrapped.__cause__ = client_error("AccessDeniedException", "GetItem")
    assert explain(wrapped) == (
        "access denied: GetItem needs dynamodb:GetItem for this identity "
        "(docs/cli.md lists what each command needs)."
    )


def test_an_unreachable_endpoint_is_one_line_and_a_defect_is_not_hidden() -> None:
    line = explain(EndpointConnectionError(endpoint_url="https://cloudformation.example"))
    assert line is not None
    assert line.startswith("cannot reach AWS (")
    assert "\n" not in line
    assert explain(KeyError("bug")) is None


def test_no_credentials_exit_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    code = main(["status", "--stack", "syncdrop"])

    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == f"syncdrop status: no usable AWS credentials: {LOGIN}.\n"


@pytest.mark.parametrize(
    ("dry_run", "prefix", "key"),
    [
        (False, "", "incoming/campaign.csv"),
        (True, "", "incoming/dry-run/campaign.csv"),
        (False, "/campaigns//june/", "incoming/campaigns/june/campaign.csv"),
        (True, "june", "incoming/dry-run/june/campaign.csv"),
    ],
)
def test_upload_keys(dry_run: bool, prefix: str, key: str) -> None:
    assert upload_key("campaign.csv", dry_run=dry_run, prefix=prefix) == key


def stack(**parameters: str) -> Stack:
    return Stack(
        name="s",
        status="CREATE_COMPLETE",
        outputs={"UploadsBucketName": "uploads"},
        parameters=parameters,
    )


def test_intake_limits_follow_the_stack_parameters() -> None:
    limits = intake_limits(
        stack(
            DefaultModel="sync-3",
            MaxRowsPerFile="1000",
            MaxUploadMegabytes="5",
            BatchMinLines="10",
            BatchMaxLines="25",
            BatchMaxBytes="100000",
        )
    )
    assert (limits.min_lines, limits.max_lines, limits.max_bytes) == (10, 25, 100_000)
    assert limits.max_upload_bytes == 5_000_000
    assert (limits.rules.default_model, limits.rules.max_rows) == ("sync-3", 1000)
    assert limits.rules.max_line_bytes == 10_000
    assert limits.rules.presign_s3 is not None
    with pytest.raises(ValueError, match=r"s3://uploads/media/"):
        limits.rules.presign_s3("elsewhere", "media/v.mp4")


def test_intake_limits_default_to_the_templates() -> None:
    limits = intake_limits(stack())
    assert (limits.min_lines, limits.max_lines, limits.max_bytes) == (20, 500, 5 * 1024 * 1024)
    assert limits.max_upload_bytes == 200_000_000
    assert (limits.rules.default_model, limits.rules.max_rows) == ("lipsync-2", 100_000)


def test_a_missing_output_names_the_stack_and_its_status() -> None:
    with pytest.raises(StackCliError, match=r"^stack s \(CREATE_COMPLETE\) has no output Job"):
        _ = stack().job_table


def test_the_results_version_is_the_newest_written_before_the_email() -> None:
    t0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    versions = [
        {"Key": "results/a.results.csv", "VersionId": "v1", "LastModified": t0},
        {"Key": "results/a.results.csv", "VersionId": "v2", "LastModified": t0 + timedelta(1)},
        {"Key": "results/a.results.csv.bak", "VersionId": "x", "LastModified": t0},
        {"Key": "results/a.results.csv", "VersionId": "v3", "LastModified": t0 + timedelta(3)},
    ]
    key = "results/a.results.csv"
    assert newest_version_before(versions, key, t0 + timedelta(2)) == "v2"
    assert newest_version_before(versions, key, t0) == "v1"
    assert newest_version_before(versions, key, t0 - timedelta(1)) is None


def test_results_replaced_and_gone_or_never_written_are_explained() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="uploads-bucket")
        s3.put_bucket_versioning(
            Bucket="uploads-bucket", VersioningConfiguration={"Status": "Enabled"}
        )
        s3.put_object(Bucket="uploads-bucket", Key="results/a.results.csv", Body=b"new")
        long_ago = datetime.now(UTC) - timedelta(days=1)

        with pytest.raises(StackCliError, match="replaced by a later upload of the same name"):
            open_results(s3, "uploads-bucket", "results/a.results.csv", written_by=long_ago)
        with pytest.raises(StackCliError, match=r"^no results CSV at s3://uploads-bucket/"):
            open_results(s3, "uploads-bucket", "results/b.results.csv", written_by=None)
        body = open_results(s3, "uploads-bucket", "results/a.results.csv", written_by=None)
        assert body.read() == b"new"
