"""Intake: an uploaded CSV or JSONL becomes Sync batch lines, reasons for bad rows, a chunk plan."""

from syncdrop.intake.chunk_plan import PlanImpossible, plan_chunks
from syncdrop.intake.jsonl_upload import JSONL_COLUMNS
from syncdrop.intake.outcomes import AcceptedRow, FileRejected, RowRejection
from syncdrop.intake.rules import KNOWN_MODELS, IntakeRules
from syncdrop.intake.upload_reader import UploadReader

__all__ = [
    "JSONL_COLUMNS",
    "KNOWN_MODELS",
    "AcceptedRow",
    "FileRejected",
    "IntakeRules",
    "PlanImpossible",
    "RowRejection",
    "UploadReader",
    "plan_chunks",
]
