"""The email goes to the right person: on the local stack, two files told by different means
reach two different subscribers only; NotificationEmail gets everything or only the rest."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import pytest

from syncdrop_local.cli import main
from syncdrop_local.output_folder import OutputFolder
from syncdrop_local.stack_cli.local_stack import register_stack
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import LocalSystem, run_to_the_end

STACK = "syncdrop-local"
OPERATOR = "person@example.com"  # the NotificationEmail parameter in tests.support.local_system
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..CloudFormation..WaitCondition")


def stack_with(
    local_system, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, gets_all: str
) -> LocalSystem:
    caplog.set_level(logging.ERROR, logger="werkzeug")
    started: LocalSystem = local_system(
        parameters={
            "NotificationEmailGetsAll": gets_all,
            "NotifyPrefixRules": "incoming/team-b/=B@Team-B.example",
        }
    )
    assert register_stack(started.runtime) == STACK
    monkeypatch.setenv("AWS_ENDPOINT_URL", str(started.runtime.stack.endpoint_url))
    for name, value in started.runtime.stack.credentials().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return started


def syncdrop(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def job_of(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("job ")]
    return line.split()[1]


@pytest.mark.parametrize("gets_all", ["true", "false"])
def test_each_file_reaches_its_own_people_only(
    local_system,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    gets_all: str,
) -> None:
    system = stack_with(local_system, monkeypatch, caplog, gets_all)
    refuses_wrong_addresses(capsys, tmp_path)
    for who in ("Alice@A.example", "b@team-b.example"):
        code, out, err = syncdrop(capsys, "subscribe", who, "--stack", STACK)
        assert (code, err) == (0, ""), err
        assert f'filter      {{"notify": ["{who.lower()}"]}}' in out
        assert "confirmed" in out  # the local stack's email endpoint confirms at once
    code, out, _ = syncdrop(
        capsys, "subscribe", "watcher@c.example", "--prefix", "team-b", "--stack", STACK
    )
    assert code == 0
    assert 'filter      {"upload_key": [{"prefix": "incoming/team-b/"}]}' in out

    files = {}
    for name in ("by-metadata.csv", "by-prefix.csv", "by-nobody.csv"):
        (tmp_path / name).write_bytes(to_csv(campaign_rows(3)))
    code, out, err = syncdrop(
        capsys,
        "upload",
        str(tmp_path / "by-metadata.csv"),
        "--notify",
        "alice@a.example",
        "--stack",
        STACK,
    )
    assert (code, err) == (0, "")
    assert "notify    alice@a.example" in out
    files["metadata"] = job_of(out)
    # Under team-b/: NotifyPrefixRules names b@team-b.example.
    code, out, _ = syncdrop(
        capsys,
        "upload",
        str(tmp_path / "by-prefix.csv"),
        "--key-prefix",
        "team-b",
        "--stack",
        STACK,
    )
    files["prefix"] = job_of(out)
    code, out, _ = syncdrop(capsys, "upload", str(tmp_path / "by-nobody.csv"), "--stack", STACK)
    files["nobody"] = job_of(out)

    run_to_the_end(system, files=3)

    received: dict[str, list[str]] = defaultdict(list)
    emails = system.runtime.collect_emails()
    for email in emails:
        received[email.recipient].append(email.attributes["job_id"])
    expected = {
        "alice@a.example": [files["metadata"]],
        "b@team-b.example": [files["prefix"]],
        "watcher@c.example": [files["prefix"]],
        # false: only the file that names nobody; true: every file.
        OPERATOR: sorted(files.values()) if gets_all == "true" else [files["nobody"]],
    }
    assert {who: sorted(jobs) for who, jobs in received.items()} == expected

    # What `syncdrop local` writes: one file per email and person it reached.
    folder = OutputFolder(tmp_path / "out", system.runtime.stack)
    for number, email in enumerate(emails, start=1):
        (written, *_results) = folder.email_sent(number, email)
        assert written.name.endswith(f"-to-{email.recipient}.txt")
        assert written.read_text().startswith(f"To: {email.recipient}\nSubject: syncdrop: ")


def refuses_wrong_addresses(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A wrong address stops the command before anything is uploaded or subscribed."""
    path = tmp_path / "wrong.csv"
    path.write_bytes(to_csv(campaign_rows(3)))
    code, out, err = syncdrop(capsys, "upload", str(path), "--notify", "bob", "--stack", STACK)
    assert code == 2
    assert "--notify: 'bob' is not an email address; nothing was uploaded." in err
    assert "uploaded" not in out
    code, _, err = syncdrop(capsys, "subscribe", "bob", "--stack", STACK)
    assert code == 2
    assert "'bob' is not an email address." in err
    code, _, err = syncdrop(capsys, "subscribe", "a@b.example", "--prefix", "/", "--stack", STACK)
    assert code == 2
    assert "--prefix names no folder under incoming/" in err
