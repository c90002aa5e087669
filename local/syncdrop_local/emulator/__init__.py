"""A local emulator of sync.so's Batch API for syncdrop's demo and tests (see docs/emulator.md)."""

from .batches import BATCH_STATUSES, OPEN_STATUSES, TERMINAL_STATUSES, Timing
from .clock import Clock
from .emulator import SyncEmulator
from .fault_knobs import FaultKnobs, everything_knobs
from .faults import BatchFaults, CreateFault, FaultPlan, WebhookFaults
from .generations import GENERATION_STATUSES, GenerationSnapshot
from .media import tiny_mp4
from .outcomes import line_outcome
from .plans import PLANS
from .records import (
    FAULT_KINDS,
    BatchSnapshot,
    CreateCounts,
    GenerateCounts,
    RequestRecord,
    WebhookDelivery,
)
from .settings import EmulatorSettings
from .signing import signature_header_value, verify_signature_header, webhook_signature
from .validation import SUPPORTED_MODELS, BatchInputError, Limits

__all__ = [
    "BATCH_STATUSES",
    "FAULT_KINDS",
    "GENERATION_STATUSES",
    "OPEN_STATUSES",
    "PLANS",
    "SUPPORTED_MODELS",
    "TERMINAL_STATUSES",
    "BatchFaults",
    "BatchInputError",
    "BatchSnapshot",
    "Clock",
    "CreateCounts",
    "CreateFault",
    "EmulatorSettings",
    "FaultKnobs",
    "FaultPlan",
    "GenerateCounts",
    "GenerationSnapshot",
    "Limits",
    "RequestRecord",
    "SyncEmulator",
    "Timing",
    "WebhookDelivery",
    "WebhookFaults",
    "everything_knobs",
    "line_outcome",
    "signature_header_value",
    "tiny_mp4",
    "verify_signature_header",
    "webhook_signature",
]
