"""The fault plan's switches, seeded rates and delays, with the ``everything`` soak-run preset.

Every field is off by default. Rates are probabilities in ``[0, 1]``; ``*_seconds`` are real
seconds; ``*_status`` an HTTP status; ``*_rows`` a set of request ids (``row-1,row-7`` on a
command line). ``docs/emulator.md`` describes what each one simulates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, Self

ENDPOINT_FAMILIES: tuple[str, ...] = ("create", "get", "list", "result", "generate")
DEFAULT_SLOW_SECONDS = 5.0
MEDIA_FAULTS: tuple[str, ...] = ("refused", "reset", "truncated")

KnobValue = bool | int | float | frozenset[str]


@dataclass(eq=False)
class FaultKnobs:
    """Plain knobs read on every request, tick or batch creation (change them at any time)."""

    # Switches: the fault hits every time.
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    corrupt_webhook_signatures: bool = False
    expire_result_links: bool = False
    reorder_webhooks: bool = False
    # Random 5xx answers.
    create_error_rate: float = 0.0
    get_error_rate: float = 0.0
    list_error_rate: float = 0.0
    result_error_rate: float = 0.0
    # Slow answers: the request takes effect, the answer comes ``*_slow_seconds`` late.
    create_slow_rate: float = 0.0
    create_slow_seconds: float = DEFAULT_SLOW_SECONDS
    get_slow_rate: float = 0.0
    get_slow_seconds: float = DEFAULT_SLOW_SECONDS
    list_slow_rate: float = 0.0
    list_slow_seconds: float = DEFAULT_SLOW_SECONDS
    result_slow_rate: float = 0.0
    result_slow_seconds: float = DEFAULT_SLOW_SECONDS
    generate_slow_rate: float = 0.0
    generate_slow_seconds: float = DEFAULT_SLOW_SECONDS
    # Random 429s.
    concurrency_429_rate: float = 0.0
    rate_limit_rate: float = 0.0
    generation_concurrency_429_rate: float = 0.0
    # POST /v2/generate: 500/503 before creating; after creating, a lost first answer per
    # idempotency key, or 503 IDEMPOTENCY_OUTCOME_UNKNOWN (half of them naming the generation).
    generate_5xx_rate: float = 0.0
    generate_lose_first_answer: bool = False
    idempotency_unknown_rate: float = 0.0
    # Webhooks.
    webhook_drop_rate: float = 0.0
    duplicate_webhook_rate: float = 0.0
    corrupt_signature_rate: float = 0.0
    webhook_delay_seconds: float = 0.0
    webhook_delay_rate: float = 1.0
    premature_webhook_rate: float = 0.0
    # Result files and whole batches.
    expired_link_rate: float = 0.0
    malformed_result_line_rate: float = 0.0
    missing_result_line_rate: float = 0.0
    batch_failure_rate: float = 0.0
    invalid_result_files: bool = False
    invalid_result_file_rate: float = 0.0
    # Output videos (``/media/...``): a seeded fraction of rows, or the rows named by request id;
    # a row picked once is picked on every fetch (its first ``media_fault_fetches`` if not 0).
    media_refused_rate: float = 0.0
    media_refused_rows: frozenset[str] = frozenset()
    media_refused_status: int = 403
    media_reset_rate: float = 0.0
    media_reset_rows: frozenset[str] = frozenset()
    media_truncated_rate: float = 0.0
    media_truncated_rows: frozenset[str] = frozenset()
    media_fault_fetches: int = 0
    # Assets API: 5xx answers to upload-URL requests, registrations and lookups; failed PUTs
    # (a 500 or a cut connection). Of the register 5xx answers, ``asset_register_created_share``
    # come after the asset was created (the answer is lost, the asset exists).
    asset_upload_5xx_rate: float = 0.0
    asset_put_fail_rate: float = 0.0
    asset_register_5xx_rate: float = 0.0
    asset_register_created_share: float = 0.5
    asset_lookup_5xx_rate: float = 0.0

    def knobs(self) -> dict[str, KnobValue]:
        """Every knob's current value, by name."""
        return {item.name: getattr(self, item.name) for item in fields(FaultKnobs)}

    def reset_knobs(self) -> None:
        """Put every knob back to its default (off)."""
        for item in fields(FaultKnobs):
            setattr(self, item.name, item.default)

    def configure(self, **knobs: Any) -> Self:
        """Set several knobs at once after checking names, types and ranges; returns ``self``."""
        checked = {name: check_knob(name, value) for name, value in knobs.items()}
        for name, value in checked.items():
            setattr(self, name, value)
        return self


_KNOB_TYPES: dict[str, type] = {item.name: type(item.default) for item in fields(FaultKnobs)}
KNOB_NAMES: tuple[str, ...] = tuple(_KNOB_TYPES)


def _check_rows(name: str, value: object) -> frozenset[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Iterable):
        raise ValueError(f"{name} must be request ids (a set, or comma-separated text)")
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"{name} must hold request ids as text")
    return frozenset(item.strip() for item in items if item.strip())


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be a whole number")
    number = int(value)
    if name.endswith("_status") and not 400 <= number <= 599:
        raise ValueError(f"{name} must be an HTTP error status (400-599)")
    if number < 0:
        raise ValueError(f"{name} must be >= 0")
    return number


def check_knob(name: str, value: object) -> KnobValue:
    """The value to store for knob ``name``; raises ``ValueError`` for a bad name or value."""
    kind = _KNOB_TYPES.get(name)
    if kind is None:
        raise ValueError(f"unknown fault knob {name!r}; known: {', '.join(KNOB_NAMES)}")
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a bool")
        return value
    if kind is frozenset:
        return _check_rows(name, value)
    if kind is int:
        return _check_int(name, value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    number = float(value)
    if name.endswith("_rate") and not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    if number < 0:
        raise ValueError(f"{name} must be >= 0")
    return number


def parse_knob(assignment: str) -> tuple[str, KnobValue]:
    """Parse ``NAME=VALUE`` (``true``/``false`` for switches, request ids for ``*_rows``, a
    number otherwise)."""
    name, sep, text = assignment.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        raise ValueError(f"expected NAME=VALUE, got {assignment!r}")
    value: object
    if _KNOB_TYPES.get(name) is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError(f"{name} must be true or false")
        value = lowered in ("true", "1", "yes", "on")
    elif _KNOB_TYPES.get(name) is frozenset:
        value = text
    else:
        try:
            value = float(text)
        except ValueError:
            value = text
    return name, check_knob(name, value)


def everything_knobs(intensity: float = 1.0) -> dict[str, KnobValue]:
    """Every random fault on at a moderate rate, for soak runs that must still finish.

    At ``intensity=1`` each rate is 2-10 % and every delay at most 2 s; ``intensity`` scales the
    rates (capped at 1), ``0`` turns them all off. The always-on switches stay off, except
    ``reorder_webhooks``. Output-video faults hit 2 % of rows each, on every fetch, so a careful
    client reports those copies as failed; every other row's video downloads.
    """
    if intensity < 0:
        raise ValueError("intensity must be >= 0")

    def rate(base: float) -> float:
        return min(1.0, base * intensity)

    return {
        "create_error_rate": rate(0.05),
        "get_error_rate": rate(0.05),
        "list_error_rate": rate(0.05),
        "result_error_rate": rate(0.05),
        "create_slow_rate": rate(0.05),
        "create_slow_seconds": 2.0,
        "get_slow_rate": rate(0.05),
        "get_slow_seconds": 1.0,
        "list_slow_rate": rate(0.05),
        "list_slow_seconds": 1.0,
        "result_slow_rate": rate(0.05),
        "result_slow_seconds": 1.0,
        "generate_slow_rate": rate(0.05),
        "generate_slow_seconds": 2.0,
        "concurrency_429_rate": rate(0.05),
        "rate_limit_rate": rate(0.05),
        "generation_concurrency_429_rate": rate(0.05),
        "generate_5xx_rate": rate(0.05),
        "idempotency_unknown_rate": rate(0.05),
        "webhook_drop_rate": rate(0.05),
        "duplicate_webhook_rate": rate(0.1),
        "corrupt_signature_rate": rate(0.05),
        "webhook_delay_seconds": 2.0,
        "webhook_delay_rate": rate(0.1),
        "reorder_webhooks": intensity > 0,
        "premature_webhook_rate": rate(0.1),
        "expired_link_rate": rate(0.1),
        "malformed_result_line_rate": rate(0.05),
        "missing_result_line_rate": rate(0.05),
        "batch_failure_rate": rate(0.05),
        "invalid_result_file_rate": rate(0.02),
        "media_refused_rate": rate(0.02),
        "media_reset_rate": rate(0.02),
        "media_truncated_rate": rate(0.02),
        "asset_upload_5xx_rate": rate(0.05),
        "asset_put_fail_rate": rate(0.05),
        "asset_register_5xx_rate": rate(0.05),
        "asset_lookup_5xx_rate": rate(0.05),
    }
