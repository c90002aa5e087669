"""`syncdrop demo` stopped by Ctrl-C in the middle of its run."""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404 # the demo under test, started from this interpreter
import sys
import time
from pathlib import Path

from syncdrop_local.runtime.local_runtime import REPO_ROOT


def live_processes_of_session(session_id: int) -> list[str]:
    """'pid name' of each process of the session that has not ended (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
        state, _ppid, _pgrp, session = rest.split()[:4]
        if int(session) == session_id and state != "Z":
            found.append(f"{entry.name} {name}")
    return found


def test_ctrl_c_mid_run_stops_the_demo_and_every_function_process_quietly(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "syncdrop_local.cli", "demo", "--rows", "200", "--verbose"]
    demo = subprocess.Popen(  # nosec B603 # fixed argv, no shell
        [*argv, "--output", str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a shell's job
    )
    assert demo.stdout is not None
    deadline = time.monotonic() + 90
    seen = ""
    while "SUBMITTED" not in seen:  # the stack is up and functions have run
        assert time.monotonic() < deadline, seen
        line = demo.stdout.readline().decode()
        assert line, f"the demo ended early: {seen}"
        seen += line
    assert len(live_processes_of_session(demo.pid)) > 3  # the forkserver and environments

    os.killpg(demo.pid, signal.SIGINT)  # a terminal's Ctrl-C
    out, err = demo.communicate(timeout=60)

    assert demo.returncode == 130
    stdout, stderr = out.decode(), err.decode()
    # Neither the demo's nor its functions' (--verbose: their lines on stdout; a JSON error
    # log carries its traceback inside one line).
    printed = (seen + stdout + stderr).splitlines()
    assert not [line for line in printed if line.startswith("Traceback")], stdout + stderr
    assert stderr.endswith("syncdrop demo: interrupted; the local stack is stopped\n"), stderr
    deadline = time.monotonic() + 10  # the forkserver ends once it sees its parent gone
    while live_processes_of_session(demo.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_processes_of_session(demo.pid) == []
