"""The S3 metadata `syncdrop retry` puts on the file it drops: which job's rows it retries."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Sent as the header x-amz-meta-retry-of; S3 answers metadata keys lower-cased.
RETRY_OF_METADATA = "retry-of"
_JOB_ID = re.compile(r"job-[0-9a-f]{24}")


def retry_of_from(metadata: Mapping[str, str]) -> str:
    """The retried job's id, or "" when the upload names none (or something not a job id)."""
    value = str(metadata.get(RETRY_OF_METADATA, "")).strip()
    return value if _JOB_ID.fullmatch(value) else ""
