"""The job table as the domain's JobStore: jobs, chunks and the batch-capacity set, every
transition a conditional write."""

from __future__ import annotations

from syncdrop.adapters.dynamo_account import SyncAccount
from syncdrop.adapters.dynamo_cancel import CancelRequests
from syncdrop.adapters.dynamo_capacity import BatchCapacity
from syncdrop.adapters.dynamo_chunk_progress import ChunkProgress
from syncdrop.adapters.dynamo_chunks import ChunkItems
from syncdrop.adapters.dynamo_job_items import JobItems


class DynamoJobStore(
    JobItems, ChunkItems, ChunkProgress, BatchCapacity, SyncAccount, CancelRequests
):
    """Each aggregate is a base class; all share one table, its client and its one conditional
    update (``DynamoTable.update_if``)."""
