"""What an upload is checked against: the models Sync knows, the limits of a file and of a line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KNOWN_MODELS: frozenset[str] = frozenset(
    {"sync-3", "lipsync-2", "lipsync-2-pro", "lipsync-1.9.0-beta", "react-1"}
)

# A batch holds at least 20 lines in at most 5 MiB, so a longer line can never be sent.
MAX_LINE_BYTES = 5 * 1024 * 1024 // 20


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """How strict intake is; the defaults follow Sync's published batch limits."""

    default_model: str = "lipsync-2"
    allowed_models: frozenset[str] = KNOWN_MODELS
    max_rows: int = 100_000
    # Counted with the line's newline, as the chunk planner counts it.
    max_line_bytes: int = MAX_LINE_BYTES
    # (bucket, key) -> the URL to put in the line (an https link, or the s3:// link to be
    # presigned when the batch is sent); ValueError refuses it with a reason; None refuses all.
    presign_s3: Callable[[str, str], str] | None = None

    def __post_init__(self) -> None:
        if self.default_model not in self.allowed_models:
            raise ValueError(
                f"default model {self.default_model!r} is not among the allowed models "
                f"{sorted(self.allowed_models)}"
            )
        if self.max_rows < 1 or self.max_line_bytes < 1:
            raise ValueError("max_rows and max_line_bytes must be positive")
