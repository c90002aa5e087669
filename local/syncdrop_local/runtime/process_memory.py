"""How much memory an environment's process has used, read from Linux's /proc."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb(pid: int) -> float | None:
    """The process's high-water resident set (VmHWM) in MB; None once the process is gone.

    The peak rather than the current size: an allocation made and freed between two looks
    would otherwise slip under the cap that Lambda enforces at every page.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # reported in kB
    return None  # a zombie has no memory left to report
