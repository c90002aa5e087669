"""Bounded memory: the intake path's peak RSS for 10k, 100k and 1M rows, each in a fresh process."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from bench.figures import Figure
from bench.files import write_campaign

SIZES = (10_000, 100_000, 1_000_000)
RATIO_TARGET = 1.2
CEILING_MB = 256


def peak_rss_kb() -> int:
    """VmHWM from /proc (the peak resident set), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: str) -> None:
    """Runs in the fresh process: the intake path over the file, streamed from disk."""
    from bench.intake import intake_rules, syncdrop_intake

    after_imports = peak_rss_kb()
    with open(path, "rb") as stream:
        rows, _valid, _chunks = syncdrop_intake(stream, intake_rules(max(SIZES)))
    print(json.dumps({"peak_kb": peak_rss_kb(), "imports_kb": after_imports, "rows": rows}))


def measure(path: Path) -> dict[str, int]:
    answer = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, int] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


def run(workdir: Path) -> list[Figure]:
    peaks: dict[int, dict[str, int]] = {}
    for rows in SIZES:
        path = write_campaign(workdir / f"memory-{rows}.csv", rows)
        peaks[rows] = measure(path)
        path.unlink()
        assert peaks[rows]["rows"] == rows, peaks[rows]
    small = peaks[SIZES[0]]["peak_kb"] / 1024
    figures = []
    for rows in SIZES[1:]:
        peak = peaks[rows]["peak_kb"] / 1024
        last = rows == SIZES[-1]
        figures.append(
            Figure(
                f"2 memory: peak RSS, {rows:,} rows",
                peak,
                small,
                "MB",
                baseline_label=f"the same path with {SIZES[0]:,} rows",
                target=f"ratio <= {RATIO_TARGET} and < {CEILING_MB} MB" if last else "",
                met=(peak <= RATIO_TARGET * small and peak < CEILING_MB) if last else None,
            )
        )
    imports = peaks[SIZES[-1]]["imports_kb"] / 1024
    figures.append(
        Figure(
            "  of which Python and imports",
            imports,
            small,
            "MB",
            baseline_label=f"peak with {SIZES[0]:,} rows",
        )
    )
    return figures


if __name__ == "__main__":
    child(sys.argv[1])
