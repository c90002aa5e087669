"""`syncdrop validate` as a whole process: a 100,000-row file against csv.DictReader + json.dumps,
and a 30-row file against `python -c pass` (wall time and peak RSS)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.figures import Figure

REPO = Path(__file__).resolve().parents[1]
BIG_ROWS = 100_000
SMALL_ROWS = 30
RUNS = 7
TARGET = 1.5
# The least any program that reads every row of the file must do, as a whole process.
BASELINE = (
    "import csv, json, sys\n"
    "with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:\n"
    "    for row in csv.DictReader(f):\n"
    "        json.dumps(row)\n"
)


def write_file(path: Path, rows: int) -> Path:
    from syncdrop_local.sample import campaign_csv

    path.write_bytes(campaign_csv(rows))
    return path


# A child's own peak RSS, written at exit: rusage's ru_maxrss would also count the pages of
# this (large) process the child was forked from before it exec'd.
PEAK_RSS = (
    "import atexit, os, sys\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as status:\n"
    "        kb = next(l.split()[1] for l in status if l.startswith('VmHWM'))\n"
    "    with open(os.environ['BENCH_PEAK_RSS'], 'w') as out:\n"
    "        out.write(kb)\n"
    "atexit.register(_peak)\n"
    "code = sys.argv.pop(1)\n"
    "exec(compile(code, '<bench>', 'exec'))\n"
)


def timed(argv: list[str]) -> float:
    """Wall seconds of one whole process, its output thrown away."""
    started = time.perf_counter()
    answer = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, check=False
    )
    seconds = time.perf_counter() - started
    # validate exits 1 when rows are rejected (the campaign file has some on purpose).
    if answer.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv)} exited {answer.returncode}")
    return seconds


def peak_rss(code: str, *args: str, scratch: Path) -> float:
    """Peak RSS (MB) of a process that runs ``code`` with ``args`` in sys.argv[1:]."""
    out = scratch / "peak-rss"
    env = {**os.environ, "BENCH_PEAK_RSS": str(out)}
    argv = [sys.executable, "-c", PEAK_RSS, code, *args]
    subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env, check=False
    )
    return int(out.read_text()) / 1024


def validate(path: Path) -> list[str]:
    return [sys.executable, "-m", "syncdrop_local.cli", "validate", str(path)]


def alternated(first: list[str], second: list[str]) -> tuple[list[float], list[float]]:
    """RUNS rounds of each, alternated after one unmeasured run of each (bytecode, page cache);
    the wall times of each."""
    timed(first)
    timed(second)
    mine: list[float] = []
    base: list[float] = []
    for _ in range(RUNS):
        mine.append(timed(first))
        base.append(timed(second))
    return mine, base


def run(workdir: Path) -> list[Figure]:
    big = write_file(workdir / "validate-100k.csv", BIG_ROWS)
    small = write_file(workdir / "validate-30.csv", SMALL_ROWS)
    mine, base = alternated(validate(big), [sys.executable, "-c", BASELINE, str(big)])
    ratios = [m / b for m, b in zip(mine, base, strict=True)]
    ratio = statistics.median(ratios)
    small_runs, empty_runs = alternated(validate(small), [sys.executable, "-c", "pass"])
    run_cli = "import runpy; runpy.run_module('syncdrop_local.cli', run_name='__main__')"
    small_peak = max(peak_rss(run_cli, "validate", str(small), scratch=workdir) for _ in range(3))
    empty_peak = max(peak_rss("pass", scratch=workdir) for _ in range(3))
    load = os.getloadavg()[0]
    return [
        Figure(
            "8 validate, 100,000 rows: whole process",
            ratio,
            1.0,
            "x",
            baseline_label=(
                "a process doing csv.DictReader + json.dumps per row; the median of "
                f"{RUNS} alternated pairs' ratios (load average {load:.1f})"
            ),
            target=f"ratio <= {TARGET}",
            met=ratio <= TARGET,
        ),
        Figure(
            "  wall time, medians",
            statistics.median(mine),
            statistics.median(base),
            "s",
            baseline_label="csv.DictReader + json.dumps per row, as a process",
        ),
        Figure(
            "8 validate, 30 rows: wall time",
            statistics.median(small_runs) * 1e3,
            statistics.median(empty_runs) * 1e3,
            "ms",
            baseline_label="python -c pass",
        ),
        Figure(
            "8 validate, 30 rows: peak RSS",
            small_peak,
            empty_peak,
            "MB",
            baseline_label="python -c pass (VmHWM at exit, largest of 3)",
        ),
    ]
