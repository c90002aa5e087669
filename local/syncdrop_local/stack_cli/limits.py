"""The intake limits a deployed stack applies, read from its CloudFormation parameters."""

from __future__ import annotations

from syncdrop.domain.intake import IntakeLimits
from syncdrop.intake import IntakeRules
from syncdrop.intake.chunk_plan import FIVE_MB
from syncdrop.jobs import SubmitMode
from syncdrop_local.stack_cli.stack import Stack


def _number(stack: Stack, name: str, default: int) -> int:
    value = stack.parameters.get(name, "")
    return int(value) if value.strip().isdigit() else default


def intake_limits(stack: Stack) -> IntakeLimits:
    """What submit_batch checks an upload against in this stack (as functions/submit_batch builds
    them from the same parameters; template defaults for any the stack does not show)."""
    return IntakeLimits.for_deployment(
        uploads_bucket=stack.uploads_bucket,
        default_model=stack.parameters.get("DefaultModel") or IntakeRules().default_model,
        max_rows=_number(stack, "MaxRowsPerFile", IntakeRules().max_rows),
        max_upload_bytes=_number(stack, "MaxUploadMegabytes", 200) * 1_000_000,
        min_lines=_number(stack, "BatchMinLines", 20),
        max_lines=_number(stack, "BatchMaxLines", 500),
        max_bytes=_number(stack, "BatchMaxBytes", FIVE_MB),
        mode=SubmitMode(stack.parameters.get("SubmitMode") or SubmitMode.AUTO.value),
    )
