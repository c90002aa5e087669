"""A measured figure with its baseline and target, and the table they are printed in."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    label: str
    value: float
    baseline: float
    unit: str
    baseline_label: str = "baseline"
    target: str = ""  # what the figure must satisfy, in words; empty: reported only
    met: bool | None = None  # None when there is no target

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": self.ratio}


def machine() -> dict[str, str]:
    """What the figures were measured on: CPUs, CPU model, Python."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": str(cpus),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _amount(value: float, unit: str) -> str:
    if unit in ("calls", "rows/s", "chunks"):
        return f"{value:,.0f} {unit}"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit in ("ms", "µs"):
        return f"{value:,.2f} {unit}"
    return f"{value:,.3f} {unit}"


def table(figures: Iterable[Figure]) -> str:
    """One line per figure: value, baseline, ratio, target and whether it is met."""
    lines = [
        f"{'figure':<46} {'syncdrop':>15} {'baseline':>15} {'ratio':>7}  target",
    ]
    for figure in figures:
        verdict = {None: "", True: "ok", False: "MISSED"}[figure.met]
        target = f"{figure.target}  {verdict}".strip()
        lines.append(
            f"{figure.label:<46} {_amount(figure.value, figure.unit):>15} "
            f"{_amount(figure.baseline, figure.unit):>15} {figure.ratio:>7.2f}  {target}"
        )
        if figure.baseline_label != "baseline":
            lines.append(f"{'':<46}   baseline: {figure.baseline_label}")
    return "\n".join(lines)
