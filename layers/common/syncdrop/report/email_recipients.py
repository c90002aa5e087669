"""Who an email is for, as SNS message attributes subscription filter policies match on."""

from __future__ import annotations

import json
from dataclasses import replace

from syncdrop.jobs import Job
from syncdrop.report.email import Email
from syncdrop.s3_events import printable_key

# Every address the job tells, as SNS's String.Array (a JSON array): a subscription with
# FilterPolicy {"notify": ["a@b.com"]} gets the files for a@b.com; {"notify": [{"exists":
# false}]} gets the files that name nobody.
NOTIFY_ATTRIBUTE = "notify"
# The upload's key: a subscription with {"upload_key": [{"prefix": "incoming/team-a/"}]} gets
# every file under that folder, whoever else is told.
UPLOAD_KEY_ATTRIBUTE = "upload_key"
# Attributes published as String.Array rather than String.
ARRAY_ATTRIBUTES = frozenset({NOTIFY_ATTRIBUTE})


def addressed(email: Email, job: Job) -> Email:
    """The email with its recipients and upload key as attributes, and a note for any address
    in the upload's metadata that could not be used."""
    attributes = {**email.attributes, UPLOAD_KEY_ATTRIBUTE: printable_key(job.upload.key, 1024)}
    if job.notify:
        attributes[NOTIFY_ATTRIBUTE] = json.dumps(job.notify)
    body = email.body
    if job.notify_note:
        body = body.rstrip("\n") + "\n\nWho was told:\n  " + job.notify_note + "\n"
    return replace(email, body=body, attributes=attributes)
