"""`syncdrop demo` in a pipe (CI, `| tee`): no log lines, a few progress lines, then the
summary; the functions' own lines go to a file in --output."""

from __future__ import annotations

import re
import subprocess  # nosec B404 # the demo under test, started from this interpreter
import sys
from pathlib import Path

from syncdrop_local.runtime.local_runtime import REPO_ROOT

ROWS = 60  # one batch of the sample file, some of its rows rejected or failed
# What a log line of the functions, the runtime or botocore starts with or holds.
LOG_MARKS = re.compile(
    r'^\{|"_aws"|^\[(INFO|WARNING|ERROR|DEBUG)\]|^(INFO|WARNING|ERROR|DEBUG) |botocore|Found '
    r"credentials|No application metrics|START RequestId|END RequestId|REPORT RequestId"
)


def test_a_piped_demo_prints_no_logs_and_a_few_progress_lines_then_the_summary(
    tmp_path: Path,
) -> None:
    argv = [sys.executable, "-m", "syncdrop_local.cli", "demo", "--rows", str(ROWS)]
    done = subprocess.run(  # nosec B603 # fixed argv, no shell
        [*argv, "--schedule-every", "1", "--output", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert not [line for line in lines if LOG_MARKS.search(line)], done.stdout
    assert done.stderr == ""
    assert "\x1b[" not in done.stdout  # no cursor movement in a pipe
    progress = [line for line in lines if line.startswith(("job ", "  chunk", "  total"))]
    # Each line says something new: no block printed again and again.
    assert len(progress) == len(set(progress)) <= 15, done.stdout
    job_lines = [line for line in progress if line.startswith("job ")]
    assert job_lines[-1].split()[2] == "COMPLETED", job_lines
    last_chunk = [line for line in progress if line.startswith("  chunk")][-1]
    assert re.search(r"COMPLETED +done \d+ +failed \d+", last_chunk), last_chunk

    # Then the summary, and the run ends with it.
    summary = lines[lines.index(progress[-1]) + 1 :]
    assert "1 email(s) sent; job COMPLETED" in summary
    assert summary[-1].startswith("done in ")
    assert any(line.startswith("email ") and "syncdrop: campaign.csv" in line for line in summary)
    log = tmp_path / "functions.log"
    assert f"function logs     {log} (--verbose shows them here)" in lines
    assert log.stat().st_size > 0  # what the functions printed is there instead
