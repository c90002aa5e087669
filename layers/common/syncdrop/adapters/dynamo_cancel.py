"""The cancel request on a job item: one conditional write that no later claim gets past."""

from __future__ import annotations

from syncdrop.adapters.dynamo_table import DynamoTable
from syncdrop.jobs import JobStatus
from syncdrop.keys import job_key


class CancelRequests(DynamoTable):
    def request_cancel(self, job_id: str, who: str) -> bool:
        """Set cancel_requested (the first request's words are kept: cancelling twice is
        fine) on a job still being read or run whose report has not begun."""
        return self.update_if(
            job_key(job_id),
            UpdateExpression="SET cancel_requested = if_not_exists(cancel_requested, :who)",
            ConditionExpression=(
                "attribute_exists(pk) AND attribute_not_exists(notified_at) "
                "AND attribute_not_exists(report_claim) AND #s IN (:received, :running)"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":who": {"S": who},
                ":received": {"S": JobStatus.RECEIVED.value},
                ":running": {"S": JobStatus.RUNNING.value},
            },
        )
