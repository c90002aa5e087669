"""Sync's plans as the emulator plays them: generation concurrency and Batch API access.

Per-plan concurrent generations (PENDING + PROCESSING) are Hobbyist 1, Creator 3, Growth 6,
Scale 15 and Enterprise custom (sync-api.md §6.2); the Batch API is for Scale and Enterprise
only (§2.2, §2.8). Batch items do not count against the generation limit.
"""

from __future__ import annotations

PLANS: tuple[str, ...] = ("hobbyist", "creator", "growth", "scale", "enterprise")
DEFAULT_PLAN = "scale"
GENERATION_CONCURRENCY: dict[str, int] = {"hobbyist": 1, "creator": 3, "growth": 6, "scale": 15}
# Enterprise limits are set per contract; this stands in when no number is configured.
ENTERPRISE_GENERATION_CONCURRENCY = 50
BATCH_PLANS = frozenset({"scale", "enterprise"})


def check_plan(name: str) -> str:
    """``name`` if it is a known plan, else ``ValueError``."""
    if name not in PLANS:
        raise ValueError(f"unknown plan {name!r}; use one of: {', '.join(PLANS)}")
    return name


def generation_limit(plan: str, configured: int | None) -> int:
    """Concurrent generations allowed: the configured number when given, else the plan's."""
    if configured is not None:
        return configured
    return GENERATION_CONCURRENCY.get(check_plan(plan), ENTERPRISE_GENERATION_CONCURRENCY)


def plan_has_batch_access(plan: str) -> bool:
    return check_plan(plan) in BATCH_PLANS
