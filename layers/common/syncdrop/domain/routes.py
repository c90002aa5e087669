"""Which way a file's rows go to Sync, and why: shared by intake and `syncdrop validate`."""

from __future__ import annotations

from dataclasses import dataclass

from syncdrop.jobs import SubmitMode


def _rows(number: int) -> str:
    # Kept here (not report.wording): `syncdrop validate` imports this module and no more.
    return f"{number:,} valid row{'' if number == 1 else 's'}"


def no_batch_access_note(reason: str) -> str:
    return (
        "Sync refused to create batches for this account (HTTP 402), so each row goes to "
        f"Sync as a single generation instead. Sync said: {reason.rstrip('.')}."
    )


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # "batch" or "generate"
    reason: str  # one sentence for the email and for `syncdrop validate`

    @property
    def by_generate(self) -> bool:
        return self.path == "generate"


def choose_route(
    mode: SubmitMode, valid: int, min_lines: int, batch_refusal: str | None = None
) -> Route:
    """``batch_refusal``: why Sync lately refused this account batches (402), if it did."""
    if mode is SubmitMode.GENERATE:
        return Route(
            "generate",
            "This deployment sends every row as a single generation (SubmitMode generate).",
        )
    if mode is SubmitMode.BATCH:
        return Route("batch", "This deployment sends rows in batches only (SubmitMode batch).")
    if batch_refusal:
        return Route("generate", no_batch_access_note(batch_refusal))
    if valid < min_lines:
        return Route(
            "generate",
            f"{_rows(valid)} {'is' if valid == 1 else 'are'} fewer than the "
            f"{min_lines} a Sync batch needs, so each row goes to Sync as a single generation.",
        )
    return Route("batch", f"{_rows(valid)}: enough for Sync batches (at least {min_lines}).")
