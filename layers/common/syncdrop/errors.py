"""syncdrop's own exceptions: adapters turn boto3 and httpx errors into these."""

from __future__ import annotations


class SyncdropError(Exception):
    """Base class for errors syncdrop raises on purpose."""


class TransientError(SyncdropError):
    """Worth retrying later (throttling, a 5xx, a timeout): the queue redelivers."""


class StorageError(TransientError):
    """An AWS call failed after the shared retry policy gave up."""


class SyncApiError(SyncdropError):
    """Sync answered with an error; ``status`` and ``error_code`` come from its body."""

    def __init__(self, message: str, *, status: int, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code


class SyncBackPressure(SyncApiError):
    """429 concurrency_limit_reached: wait for an open batch to finish, not an error."""


class SyncRateLimited(SyncApiError, TransientError):
    """429 rate_limit_exceeded (or any other 429): slow down and retry."""


class SyncRejected(SyncApiError):
    """4xx that retrying cannot fix: bad input (400), no Batch API on the plan (402), ..."""


class SyncAuthError(SyncRejected):
    """401: the API key is wrong or revoked."""


class SyncNotFound(SyncRejected):
    """404: no such batch."""


class SyncUnavailable(SyncApiError, TransientError):
    """5xx or a timeout on a request that is safe to repeat, after retries."""


class SyncOutcomeUnknown(SyncdropError):
    """A create request may or may not have made a batch (5xx or timeout after sending).

    Never retried blindly: the chunk stays SUBMITTING and the reconciler finds the batch
    by the job/chunk echoed in its webhookUrl, or puts the chunk back in the queue.
    ``generation_id`` is the generation Sync named in an unknown outcome, when it named one.
    """

    def __init__(self, message: str, *, generation_id: str | None = None) -> None:
        super().__init__(message)
        self.generation_id = generation_id


class SyncNotSent(TransientError):
    """The create request never reached Sync (connection refused, DNS): safe to retry."""


class UploadMissing(SyncdropError):
    """The uploaded object (that version) no longer exists: nothing to read, nothing to retry."""


class UploadRefused(UploadMissing):
    """S3 answered 403 AccessDenied for the upload: to a role without s3:ListBucket that is how
    a missing key or version looks; otherwise the object is one syncdrop may not read (say, an
    SSE-KMS key it cannot use). Retrying cannot help either way."""


class MediaNotReady(TransientError):
    """A media file is not a Sync asset yet: another worker is uploading it, or an upload
    step failed in a way a later try can get past. Leave the work queued."""


class MediaRefused(SyncdropError):
    """A media file cannot become a Sync asset: ``reason`` says why, for the person.

    ``refused`` holds every refused file of the same call (``uri`` is the first of them).
    """

    def __init__(self, uri: str, reason: str, refused: dict[str, str] | None = None) -> None:
        super().__init__(f"{uri}: {reason}")
        self.uri = uri
        self.reason = reason
        self.refused = refused if refused is not None else {uri: reason}
