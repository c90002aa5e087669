"""The cold starts a test recorded (as the user property ``cold_starts``), printed at the end of
the run; with pytest-xdist the properties travel back with each test's report."""

from __future__ import annotations

from typing import Any

import pytest

COLD_STARTS = "cold_starts"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = []
    for kind in ("passed", "failed"):
        for report in terminalreporter.stats.get(kind, []):
            if not isinstance(report, pytest.TestReport) or report.when != "call":
                continue
            for name, value in report.user_properties:
                if name != COLD_STARTS or not isinstance(value, dict):
                    continue
                for function, times in sorted(value.items()):
                    lines.append(
                        f"{function:<24} init {times['init_ms']:7.0f} ms, "
                        f"first invocation {times['first_invocation_ms']:6.0f} ms"
                    )
    if lines:
        terminalreporter.section("cold starts of the built functions (python3.13, subprocess)")
        for line in lines:
            terminalreporter.write_line(line)
