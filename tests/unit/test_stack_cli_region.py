"""The stack commands find the region as the AWS CLI v2 does: --region, AWS_REGION, then
AWS_DEFAULT_REGION, then the profile's."""

from __future__ import annotations

from pathlib import Path

import pytest
from moto import mock_aws

from syncdrop_local.cli import main

REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


@pytest.fixture
def no_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No region anywhere: no variables, and a config file without a profile."""
    for name in REGION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    return monkeypatch


@pytest.mark.parametrize(
    ("environment", "flag", "region"),
    [
        ({"AWS_REGION": "eu-west-1"}, None, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "ap-south-1"}, None, "ap-south-1"),
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "ap-south-1"}, None, "eu-west-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "ap-south-1"}, None, "ap-south-1"),
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "ap-south-1"}, "us-west-2", "us-west-2"),
    ],
)
def test_the_stack_is_looked_up_in_the_region_the_environment_names(
    no_region: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str],
    flag: str | None,
    region: str,
) -> None:
    for name, value in environment.items():
        no_region.setenv(name, value)
    arguments = ["status", "--stack", "missing"] + (["--region", flag] if flag else [])

    with mock_aws():
        code = main(arguments)

    # moto answers DescribeStacks in whichever region the session has; the error names it.
    assert code == 2
    assert f"no stack named missing in {region}:" in capsys.readouterr().err


def test_a_region_from_the_profile_is_used_when_no_variable_is_set(
    no_region: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ca-central-1\n")
    no_region.setenv("AWS_CONFIG_FILE", str(config))

    with mock_aws():
        code = main(["status", "--stack", "missing"])

    assert code == 2
    assert "no stack named missing in ca-central-1:" in capsys.readouterr().err


def test_no_region_anywhere_is_one_line_naming_both_fixes(
    no_region: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_aws():
        code = main(["status", "--stack", "missing"])

    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == "syncdrop status: no AWS region: pass --region or set AWS_REGION.\n"
