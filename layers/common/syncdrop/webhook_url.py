"""The webhook URL syncdrop gives Sync for each chunk, and the job and chunk read back from it.

Sync echoes the URL in ``webhookUrl`` (in the signed webhook body and on Get/List), so it is
how a batch names the chunk it was made for. One module builds and parses it, so the two
cannot drift apart.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

JOB_PARAMETER = "job"
CHUNK_PARAMETER = "chunk"
# What syncdrop itself writes there (job ids are "job-<hex>", chunk numbers small integers);
# anything else is not one of ours, whoever signed it.
_JOB_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_CHUNK_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


def webhook_url_for(base: str, job_id: str, chunk_number: int) -> str | None:
    """``base`` with ``job`` and ``chunk`` added to its query; ``None`` without a base."""
    if not base:
        return None
    parts = urlsplit(base)
    query = urlencode({JOB_PARAMETER: job_id, CHUNK_PARAMETER: str(chunk_number)})
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def owner_of(url: str | None, base: str) -> tuple[str, int] | None:
    """The job and chunk in ``url`` when it is exactly what :func:`webhook_url_for` made from
    ``base``; ``None`` for anything else, such as another deployment's URL (every app of a
    Sync organisation shares one signing secret, so a signature alone does not make it ours).
    """
    if not url or not base:
        return None
    try:
        parts, ours = urlsplit(url), urlsplit(base)
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:  # an unparsable URL or query: not one syncdrop wrote
        return None
    if _origin(parts.scheme, parts.netloc, parts.path) != _origin(
        ours.scheme, ours.netloc, ours.path
    ):
        return None
    named = [(k, v) for k, v in pairs if k in (JOB_PARAMETER, CHUNK_PARAMETER)]
    rest = [(k, v) for k, v in pairs if k not in (JOB_PARAMETER, CHUNK_PARAMETER)]
    if rest != parse_qsl(ours.query, keep_blank_values=True):
        return None
    values = dict(named)
    if len(named) != 2 or len(values) != 2:  # each exactly once
        return None
    return chunk_named_by(values[JOB_PARAMETER], values[CHUNK_PARAMETER])


def chunk_named_by(job: str | None, chunk: str | None) -> tuple[str, int] | None:
    """``(job, chunk number)`` when both are written as :func:`webhook_url_for` writes them."""
    if job is None or chunk is None:
        return None
    if not _JOB_ID.fullmatch(job) or not _CHUNK_NUMBER.fullmatch(chunk):
        return None
    return job, int(chunk)


def _origin(scheme: str, netloc: str, path: str) -> tuple[str, str, str]:
    # Scheme and host are case-insensitive; the path is compared as written.
    return scheme.lower(), netloc.lower(), path
