"""Job items: intake's record of an upload, the report and rewrite leases, and the deadline."""

from __future__ import annotations

import json
from datetime import datetime

from syncdrop.adapters.dynamo_items import _iso, _job_from, _plain
from syncdrop.adapters.dynamo_leases import Lease, Leases
from syncdrop.adapters.dynamo_table import OPEN_INDEX
from syncdrop.errors import StorageError
from syncdrop.jobs import Job, JobStatus
from syncdrop.keys import job_key

REPORTING = "REPORTING"  # open_status of a job whose report is being written
DEADLINE = "DEADLINE"  # open_status of a job not yet reported; open_since is its deadline
# The one worker writing the report and sending the email; open_since (its place in the open
# index) is its stamp. attribute_exists(pk): never create a job item out of a claim.
REPORT_LEASE = Lease(
    "report_claim", "open_since", "attribute_exists(pk) AND attribute_not_exists(notified_at)"
)
# The one worker rewriting a report that was already emailed.
REWRITE_LEASE = Lease("rewrite_claim", "rewrite_at", "attribute_exists(notified_at)")


class JobItems(Leases):
    def create_job(self, job: Job) -> Job:
        item = {
            **job_key(job.job_id),
            "type": {"S": "job"},
            "job_id": {"S": job.job_id},
            "bucket": {"S": job.upload.bucket},
            "key": {"S": job.upload.key},
            "status": {"S": job.status.value},
            "created_at": {"S": _iso(job.created_at)},
        }
        if job.upload.version_id:
            item["version_id"] = {"S": job.upload.version_id}
        if job.upload.size is not None:
            item["size"] = {"N": str(job.upload.size)}
        if job.deadline is not None:
            # In the OpenChunks index until reported: the reconciler finds it once it is due.
            item["deadline"] = {"S": _iso(job.deadline)}
            item["open_status"] = {"S": DEADLINE}
            item["open_since"] = {"S": _iso(job.deadline)}
        if self.put_new(item):
            return job
        existing = self.get_job(job.job_id)
        if existing is None:  # deleted between the two calls: nothing sane to do but retry
            raise StorageError(f"job {job.job_id} vanished while being created")
        return existing

    def get_job(self, job_id: str) -> Job | None:
        answer = self._call("get_item", Key=job_key(job_id), ConsistentRead=True)
        item = answer.get("Item")
        return _job_from(item) if item else None

    def finish_intake(self, job: Job) -> bool:
        return self.update_if(
            job_key(job.job_id),
            UpdateExpression=(
                "SET #s = :s, #rows = :rows, #valid = :valid, #rej = :rej, "
                "#chunks = :chunks, #cols = :cols, #msg = :msg, #plan = :plan, "
                "route = :route, route_note = :note, "
                "chunks_closed = if_not_exists(chunks_closed, :zero), counts_closed = :yes, "
                "retry_of = :retry_of, notify = :notify, notify_note = :notify_note"
            ),
            ConditionExpression="#s = :received",
            ExpressionAttributeNames={
                "#s": "status",
                "#rows": "rows",
                "#valid": "valid",
                "#rej": "rejected",
                "#chunks": "chunk_count",
                "#cols": "columns",
                "#msg": "message",
                "#plan": "plan",
            },
            ExpressionAttributeValues={
                ":s": {"S": job.status.value},
                ":rows": {"N": str(job.rows)},
                ":valid": {"N": str(job.valid)},
                ":rej": {"N": str(job.rejected)},
                ":chunks": {"N": str(job.chunk_count)},
                ":cols": {"S": json.dumps(job.columns)},
                ":msg": {"S": job.message},
                ":plan": {"S": json.dumps(job.plan)},
                ":route": {"S": job.route},
                ":note": {"S": job.route_note},
                ":zero": {"N": "0"},
                ":yes": {"BOOL": True},
                ":received": {"S": JobStatus.RECEIVED.value},
                ":retry_of": {"S": job.retry_of},
                ":notify": {"S": json.dumps(job.notify)},
                ":notify_note": {"S": job.notify_note},
            },
        )

    # --- the one email ------------------------------------------------------------------------
    def claim_report(
        self, job_id: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Become the one worker that writes the report and sends the email (a lease)."""
        taken = self._take_lease(
            job_key(job_id),
            REPORT_LEASE,
            token,
            now=now,
            stale_before=stale_before,
            also_set=", open_status = :reporting",
            values={":reporting": {"S": REPORTING}},
        )
        return taken is not None

    def finish_report(self, job_id: str, token: str, status: JobStatus, *, now: datetime) -> bool:
        """The email went out: record it, so no retry ever sends another."""
        return self.update_if(
            job_key(job_id),
            UpdateExpression=(
                "SET #s = :status, notified_at = :now REMOVE report_claim, open_status, open_since"
            ),
            ConditionExpression="report_claim = :token",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":status": {"S": status.value},
                ":now": {"S": _iso(now)},
                ":token": {"S": token},
            },
        )

    def stale_reports(self, *, before: datetime, limit: int = 50) -> list[str]:
        """Jobs whose report worker stopped before sending the email."""
        return self._open_jobs(REPORTING, before=before, limit=limit)

    # --- the deadline and the rewrite lease ---------------------------------------------------
    def jobs_past_deadline(self, *, now: datetime, limit: int = 50) -> list[str]:
        return self._open_jobs(DEADLINE, before=now, limit=limit)

    def _open_jobs(self, open_status: str, *, before: datetime, limit: int) -> list[str]:
        """Ids of jobs in the open index with ``open_status`` since before ``before``."""
        page = self._call(
            "query",
            IndexName=OPEN_INDEX,
            KeyConditionExpression="open_status = :s AND open_since < :before",
            ExpressionAttributeValues={":s": {"S": open_status}, ":before": {"S": _iso(before)}},
            Limit=limit,
        )
        return [_plain(i)["job_id"] for i in page.get("Items", [])]

    def claim_rewrite(
        self, job_id: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        taken = self._take_lease(
            job_key(job_id), REWRITE_LEASE, token, now=now, stale_before=stale_before
        )
        return taken is not None

    def finish_rewrite(self, job_id: str, token: str) -> bool:
        return self._end_lease(job_key(job_id), REWRITE_LEASE, token)
