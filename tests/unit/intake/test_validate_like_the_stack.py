"""`syncdrop validate` refuses what the stack would refuse or ignore: s3:// links outside the
stack's bucket's media/ folder (when it knows the bucket), and names the bucket never picks up."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from syncdrop_local.validate_cmd import NO_BUCKET_NOTE, add_arguments, run
from tests.unit.intake.uploads import AUDIO, VIDEO

BUCKET = "drop-bucket"


def validate(path: Path, *options: str) -> int:
    parser = argparse.ArgumentParser(prog="syncdrop validate")
    add_arguments(parser)
    args = parser.parse_args([str(path), *options])
    args.command = "validate"
    return run(args)


def write_csv(tmp_path: Path, videos: list[str], name: str = "videos.csv") -> Path:
    path = tmp_path / name
    rows = "".join(f"c{i},{video},{AUDIO}\n" for i, video in enumerate(videos))
    path.write_text("request_id,video_url,audio_url\n" + rows)
    return path


def report(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


LINKS = [
    f"s3://{BUCKET}/media/ok.mp4",
    "s3://other-bucket/media/v.mp4",
    f"s3://{BUCKET}/notmedia/v.mp4",
]


def test_with_a_bucket_only_its_media_folder_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, LINKS + [VIDEO] * 20)

    code = validate(path, "--json", "--bucket", BUCKET)

    answer = report(capsys)
    assert code == 1
    assert (answer["valid"], answer["rejected"]) == (21, 2)
    errors = answer["errors"]
    assert isinstance(errors, list)
    assert [error["row"] for error in errors] == [3, 4]
    assert all(f"s3://{BUCKET}/media/" in error["reason"] for error in errors)
    assert answer["notes"] == []


def test_without_a_bucket_s3_links_pass_and_the_output_says_they_were_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, LINKS + [VIDEO] * 20)

    assert validate(path) == 0
    out = capsys.readouterr().out
    assert f"Note: {NO_BUCKET_NOTE}." in out
    assert NO_BUCKET_NOTE == "s3:// links not checked against a bucket: pass --stack or --bucket"

    assert validate(path, "--json") == 0
    assert report(capsys)["notes"] == [NO_BUCKET_NOTE]


def test_a_file_without_s3_links_needs_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validate(write_csv(tmp_path, [VIDEO] * 20)) == 0
    assert "Note:" not in capsys.readouterr().out


def test_stack_and_bucket_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, [VIDEO] * 20)
    assert validate(path, "--stack", "s", "--bucket", BUCKET) == 2
    assert "pass --stack or --bucket, not both" in capsys.readouterr().err


@pytest.fixture
def stack() -> Iterator[None]:
    """A stack as CloudFormation describes a syncdrop one: its bucket output, its parameters."""
    template = {
        "Parameters": {
            "SubmitMode": {"Type": "String"},
            "MaxUploadMegabytes": {"Type": "String"},
        },
        "Resources": {"Uploads": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}}},
        "Outputs": {"UploadsBucketName": {"Value": {"Ref": "Uploads"}}},
    }
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="syncdrop",
            TemplateBody=json.dumps(template),
            Parameters=[
                {"ParameterKey": "SubmitMode", "ParameterValue": "batch"},
                {"ParameterKey": "MaxUploadMegabytes", "ParameterValue": "1"},
            ],
        )
        yield


@pytest.mark.usefixtures("stack")
def test_with_a_stack_its_bucket_and_parameters_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, LINKS + [VIDEO] * 20)

    assert validate(path, "--json", "--stack", "syncdrop") == 1
    answer = report(capsys)
    assert (answer["valid"], answer["rejected"], answer["notes"]) == (21, 2, [])

    # SubmitMode batch from the stack: 3 rows cannot go as single generations.
    small = write_csv(tmp_path, [VIDEO] * 3, name="small.csv")
    assert validate(small, "--json", "--stack", "syncdrop") == 2
    assert "SubmitMode batch" in str(report(capsys)["file_error"])
    # A flag still overrides the stack's parameter.
    assert validate(small, "--json", "--stack", "syncdrop", "--submit-mode", "auto") == 0
    capsys.readouterr()

    # MaxUploadMegabytes 1 from the stack.
    big = write_csv(tmp_path, [VIDEO] * 25_000, name="big.csv")
    assert validate(big, "--json", "--stack", "syncdrop") == 2
    assert "more than this deployment accepts (1 MB)" in str(report(capsys)["file_error"])


@mock_aws
def test_an_unknown_stack_is_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, [VIDEO] * 20)
    assert validate(path, "--stack", "nope") == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("syncdrop validate: no stack named nope in ")
    assert captured.err.count("\n") == 1


def test_an_excel_unicode_text_export_is_refused_with_how_to_save_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "campaign.txt"
    lines = ["request_id\tvideo_url\taudio_url", *(f"c{i}\t{VIDEO}\t{AUDIO}" for i in range(20))]
    path.write_bytes("\r\n".join(lines).encode("utf-16"))

    code = validate(path)

    captured = capsys.readouterr()
    assert code == 2
    assert "campaign.txt: 20 rows, 20 valid, 0 rejected." in captured.out  # still read
    assert "it would ignore campaign.txt" in captured.err
    assert "File > Save As > CSV UTF-8" in captured.err


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("campaign.tsv", "rename it to end in .csv"),
        ("campaign.CSV", "rename it with a lower-case extension"),
        ("lines.ndjson", "rename it to end in .csv (or .jsonl"),
    ],
)
def test_names_the_bucket_never_picks_up_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fix: str
) -> None:
    path = write_csv(tmp_path, [VIDEO] * 20, name=name)
    assert validate(path, "--json") == 2
    assert fix in str(report(capsys)["file_error"])
