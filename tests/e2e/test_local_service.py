"""`syncdrop local` as a user runs it: a process that serves the local stack until Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess  # nosec B404 # the service under test, started from this interpreter
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from syncdrop_local.cli import main
from syncdrop_local.runtime.local_runtime import REPO_ROOT
from tests.support.csv_files import campaign_rows, to_csv

STACK = "syncdrop-service"
READY_WITHIN = 60.0  # seconds: moto, the emulator and the whole template deployed
EMAIL_WITHIN = 60.0  # seconds: 25 rows at the default time scale take about five


class Service:
    """One `syncdrop local --json` process, leading a session of its own as a shell's job
    leads its process group; stdout is a pipe, stderr a file to show on failure."""

    def __init__(self, tmp_path: Path, *options: str) -> None:
        self.port_file = tmp_path / "service.json"
        self.output = tmp_path / "out"
        self.stderr_path = tmp_path / "stderr.txt"
        argv = [sys.executable, "-m", "syncdrop_local.cli", "local", "--json", "--stack", STACK]
        argv += ["--port-file", str(self.port_file), "--output", str(self.output), *options]
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(  # nosec B603 # fixed argv, no shell
                argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def crashed(self) -> bool:
        """A Python traceback of its own on stderr (the functions' JSON error logs carry theirs
        inside one line, escaped)."""
        return any(line.startswith("Traceback") for line in self.stderr.splitlines())

    def ready(self) -> dict[str, Any]:
        """The port file's JSON, once written; the stdout line must say the same."""
        wait_for(self.port_file.exists, READY_WITHIN, self, "the port file")
        written = json.loads(self.port_file.read_text(encoding="utf-8"))
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # printed before the port file was written
        assert json.loads(line) == written
        return dict(written)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, bytes]:
        """Signal it, wait for its exit; the exit code and the rest of its stdout."""
        self.process.send_signal(signum)
        rest, _ = self.process.communicate(timeout=30)
        return self.process.returncode, rest

    def ctrl_c(self) -> tuple[int, bytes]:
        """SIGINT to its whole process group, as a terminal's Ctrl-C sends it."""
        os.killpg(self.process.pid, signal.SIGINT)
        rest, _ = self.process.communicate(timeout=30)
        return self.process.returncode, rest

    def processes(self) -> list[str]:
        """The live processes of its session but itself (its functions' execution
        environments, multiprocessing's forkserver): "pid name" each."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.process.pid:
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            name, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
            state, _ppid, _pgrp, session = rest.split()[:4]
            if int(session) == self.process.pid and state != "Z":
                found.append(f"{entry.name} {name}")
        return found

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)


def wait_for(condition: Any, seconds: float, service: Service, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if service.process.poll() is not None:
            pytest.fail(f"syncdrop local exited ({service.process.returncode}):\n{service.stderr}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {seconds:.0f} s; stderr:\n{service.stderr}")
        time.sleep(0.1)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Any]:
    started: list[Service] = []

    def start(*options: str) -> Service:
        service = Service(tmp_path, *options)
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()


def files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def test_a_dropped_file_ends_in_one_email_and_its_results_csv_then_ctrl_c_stops_it(
    start_service: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = start_service()
    ready = service.ready()
    assert ready["stack"] == STACK
    assert ready["region"] == "us-east-1"
    for url in ("aws_endpoint", "webhook_url", "emulator_url"):
        assert ready[url].startswith("http://127.0.0.1:"), ready

    s3 = boto3.client(
        "s3",
        endpoint_url=ready["aws_endpoint"],
        region_name=ready["region"],
        aws_access_key_id=ready["aws_access_key_id"],
        aws_secret_access_key=ready["aws_secret_access_key"],
    )
    s3.put_object(
        Bucket=ready["bucket"], Key="incoming/june/campaign.csv", Body=to_csv(campaign_rows(25))
    )

    emails, results = service.output / "emails", service.output / "results"
    wait_for(lambda: files(results, "*.csv"), EMAIL_WITHIN, service, "results CSV")
    [email] = files(emails, "*.txt")
    # <n>-<job id>-to-<address>.txt: the one subscriber, NotificationEmail
    job_id, to = email.stem.split("-", 1)[1].split("-to-")
    assert to == "local@example.com"
    text = email.read_text(encoding="utf-8")
    assert text.startswith("To: local@example.com\nSubject: syncdrop: campaign.csv")
    assert f"job_id: {job_id}\n" in text
    assert "status: COMPLETED\n" in text
    [copied] = files(results, "*.csv")
    assert copied.name == "1-campaign.results.csv"
    with copied.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 25
    assert {row["status"] for row in rows} == {"COMPLETED"}

    monkeypatch.setenv("AWS_ENDPOINT_URL", ready["aws_endpoint"])
    # moto enforces IAM: the keys the service printed, not moto's open test key.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ready["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ready["aws_secret_access_key"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    capsys.readouterr()
    assert main(["status", job_id, "--stack", STACK]) == 0
    status = capsys.readouterr().out
    assert f"job       {job_id}  COMPLETED" in status
    assert "chunks    1 of 1 done" in status

    code, rest = service.stop(signal.SIGINT)
    assert (code, rest) == (0, b""), service.stderr  # one JSON line on stdout, nothing after
    assert not service.crashed(), service.stderr
    assert f"stack {STACK} stopped" in service.stderr
    assert files(emails, "*.txt") == [email]  # no second email, nothing half-written
    assert not files(service.output, "**/.*.part")


def test_ctrl_c_ends_every_function_process_without_a_traceback(start_service: Any) -> None:
    service = start_service("--verbose")
    ready = service.ready()
    s3 = boto3.client(
        "s3",
        endpoint_url=ready["aws_endpoint"],
        region_name=ready["region"],
        aws_access_key_id=ready["aws_access_key_id"],
        aws_secret_access_key=ready["aws_secret_access_key"],
    )
    s3.put_object(
        Bucket=ready["bucket"], Key="incoming/campaign.csv", Body=to_csv(campaign_rows(25))
    )
    wait_for(lambda: files(service.output / "results", "*.csv"), EMAIL_WITHIN, service, "results")
    running = service.processes()
    # The forkserver, its resource tracker and an environment of each function that ran.
    assert len(running) >= 5, running
    # --verbose: the functions' JSON lines, as Lambda writes them (on stderr with --json).
    logged = [json.loads(line) for line in service.stderr.splitlines() if line.startswith("{")]
    assert any(line.get("message") == "job planned" for line in logged), service.stderr

    code, rest = service.ctrl_c()

    assert (code, rest) == (0, b""), service.stderr
    assert not service.crashed(), service.stderr
    assert f"stack {STACK} stopped" in service.stderr
    deadline = time.monotonic() + 10  # the forkserver ends once it sees its parent gone
    while service.processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.processes() == []


def test_in_process_its_handlers_run_here_and_moto_takes_its_open_key(start_service: Any) -> None:
    service = start_service("--in-process")
    ready = service.ready()
    assert (ready["aws_access_key_id"], ready["aws_secret_access_key"]) == ("testing", "testing")
    s3 = boto3.client(
        "s3",
        endpoint_url=ready["aws_endpoint"],
        region_name=ready["region"],
        aws_access_key_id="someone",
        aws_secret_access_key="anything",
    )
    s3.put_object(
        Bucket=ready["bucket"], Key="incoming/campaign.csv", Body=to_csv(campaign_rows(25))
    )
    wait_for(lambda: files(service.output / "results", "*.csv"), EMAIL_WITHIN, service, "results")
    assert service.processes() == []  # no execution environment: the handlers run in it

    code, rest = service.ctrl_c()

    assert (code, rest) == (0, b""), service.stderr
    assert not service.crashed(), service.stderr


def test_sigterm_stops_it_cleanly(start_service: Any) -> None:
    service = start_service("--fault", "throttle_rate=0.05", "--fault", "get_error_rate=0.1")
    ready = service.ready()

    code, rest = service.stop(signal.SIGTERM)

    assert (code, rest) == (0, b""), service.stderr
    assert not service.crashed(), service.stderr
    host, port = ready["aws_endpoint"].removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError):  # moto's server went with it
        socket.create_connection((host, int(port)), timeout=2).close()


def test_an_unknown_fault_knob_is_refused_with_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["local", "--fault", "throttle_rate=0.1", "--fault", "thrott1e_rate=0.1"])

    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unknown fault knob 'thrott1e_rate'" in err
    assert "throttle_rate" in err.split("AWS knobs:")[1]  # moto's DynamoDB knobs
    assert "media_refused_rate" in err.split("Sync emulator knobs:")[1]


@pytest.mark.parametrize(
    ("knob", "reason"),
    [("throttle_rate=1.5", "between 0 and 1"), ("conflict_rate=often", "must be a number")],
)
def test_a_bad_aws_knob_value_is_refused(
    knob: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["local", "--fault", knob])
    assert reason in capsys.readouterr().err


def test_help_lists_every_command_and_validate_imports_no_moto() -> None:
    listing = subprocess.run(  # nosec B603 # fixed argv, no shell
        [sys.executable, "-m", "syncdrop_local.cli", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},  # one line per command
    ).stdout
    commands = [line.split(None, 1) for line in listing.splitlines() if line.startswith("    ")]
    shown = {name: help_text.strip() for name, help_text in commands}
    assert shown == {
        "demo": "run the whole pipeline locally (moto + Sync emulator)",
        "local": "run the local stack (moto + Sync emulator) until Ctrl-C, "
        "like `sam local start-api`",
        "validate": "check a CSV/JSONL offline with the same code as the Lambda",
        "emulator": "run the Sync Batch API emulator",
        "upload": "check a file as the stack will, then upload it to --stack",
        "status": "the recent jobs of --stack, or one job and its chunks",
        "results": "download a finished job's results CSV from --stack",
        "subscribe": "email an address the files meant for it (or under --prefix) on --stack",
        "cancel": "stop a job on --stack: queued chunks are never sent, open batches finish",
        "retry": "resubmit the rows Sync failed in a job (and fixed rejected rows) as a new file",
    }, listing

    probe = (
        "import sys\n"
        "from syncdrop_local.cli import main\n"
        "try:\n    main(['validate', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('moto', 'syncdrop_local.local_service') if m in sys.modules))"
    )
    loaded = subprocess.run(  # nosec B603 # fixed argv, no shell
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ).stdout
    assert loaded.strip().splitlines()[-1] == "[]"
