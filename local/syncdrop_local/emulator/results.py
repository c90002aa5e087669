"""Result-file routes of the Sync emulator: the ``outputUrl`` redirect, signed download and media.

- ``GET /v2/batches/{id}/result`` — 302 to ``<signed base>/signed/{id}/result.jsonl?expires=&
  signature=`` (``expires`` ``result_url_ttl`` emulated seconds ahead, or already past when the
  fault plan expires the link).
- ``GET /signed/{id}/result.jsonl`` — the JSONL file, or an S3-like XML 403/404/5xx. The file
  served may have lines replaced by truncated JSON or left out (the batch's planned result-line
  faults), or every line malformed (an invalid result file);
  :meth:`.batches.Batch.result_lines` always stays true.
- ``GET /media/{generation id}.mp4`` — a tiny real MP4 for every completed generation, unless
  an output-video fault refuses it (S3-like XML), resets the connection or truncates it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape  # nosec B406 # escapes XML it writes; parses none

from . import errors
from .batches import BatchStore
from .clock import Clock
from .faults import MALFORMED, MISSING, FaultPlan, MediaFault
from .media import tiny_mp4
from .server import Request, Response
from .settings import EmulatorSettings
from .signing import UrlSigner

NDJSON = "application/x-ndjson"
EXPIRED_LINK_AGE = 60  # seconds in the past an expired link's ``expires`` lies
# S3's code and message for a refused object, by status (any other status: InternalError).
_REFUSALS: dict[int, tuple[str, str]] = {
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def s3_error(status: int, code: str, message: str, **extra: str) -> Response:
    fields = "".join(f"<{key}>{escape(value)}</{key}>" for key, value in extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{fields}"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return Response(status, body.encode(), "application/xml")


def served_lines(
    lines: list[dict[str, Any]], faults: Mapping[str, str]
) -> tuple[bytes, dict[str, str]]:
    """The file body with ``faults`` applied, and the faults that hit a line of this file.

    A malformed line is the first half of the line's compact JSON (never valid JSON, but it
    still shows its ``request_id``); a missing line is left out.
    """
    out: list[str] = []
    applied: dict[str, str] = {}
    for line in lines:
        request_id = str(line.get("request_id"))
        text = compact(line)
        kind = faults.get(request_id)
        if kind == MISSING:
            applied[request_id] = kind
            continue
        if kind == MALFORMED:
            applied[request_id] = kind
            text = text[: max(1, len(text) // 2)]
        out.append(text + "\n")
    return "".join(out).encode(), applied


class ResultFiles:
    """Answers the result redirect, the signed download and media requests."""

    def __init__(
        self,
        *,
        settings: EmulatorSettings,
        store: BatchStore,
        faults: FaultPlan,
        clock: Clock,
        signer: UrlSigner,
        public_url: Callable[[], str],
        signed_base: Callable[[], str],
    ) -> None:
        self.settings = settings
        self.store = store
        self.faults = faults
        self.clock = clock
        self.signer = signer
        self.public_url = public_url
        self.signed_base = signed_base

    def redirect(self, batch_id: str) -> Response:
        batch = self.store.get(batch_id)
        if batch is None:
            return Response.json(404, errors.not_found())
        now = self.clock.now()
        if not batch.is_terminal(now):
            return Response.json(404, errors.not_found("Batch results are not available yet"))
        if self.faults.take_expired_link(batch_id):
            expires = int(now) - EXPIRED_LINK_AGE
        else:
            expires = int(now + self.settings.result_url_ttl)
        signature = self.signer.sign(batch_id, expires)
        location = (
            f"{self.signed_base()}/signed/{batch_id}/result.jsonl"
            f"?expires={expires}&signature={signature}"
        )
        return Response(302, b"", None, {"Location": location, "Cache-Control": "no-store"})

    def download(self, batch_id: str, request: Request) -> Response:
        fault = self.faults.take_download_fault()
        if fault is not None:
            return s3_error(fault, "InternalError", "We encountered an internal error.")
        query = request.query
        expires_raw = query.get("expires", [""])[0]
        signature = query.get("signature", [""])[0]
        if not expires_raw or not signature:
            return s3_error(
                403,
                "AccessDenied",
                "Query-string authentication requires the signature and expires parameters",
            )
        try:
            expires = int(expires_raw)
        except ValueError:
            return s3_error(403, "AccessDenied", "Invalid date (should be seconds since epoch)")
        if not self.signer.verify(batch_id, expires, signature):
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        now = self.clock.now()
        if now > expires:
            return s3_error(
                403,
                "AccessDenied",
                "Request has expired",
                Expires=str(expires),
                ServerTime=str(int(now)),
            )
        batch = self.store.get(batch_id)
        if batch is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        truth = batch.result_lines(self.public_url())
        invalid = self.faults.invalid_result_file(batch.ordinal)
        faults = {str(line["request_id"]): MALFORMED for line in truth} if invalid else None
        body, applied = served_lines(truth, faults or batch.result_faults)
        self.faults.record_served(batch_id, applied, whole_file=invalid)
        return Response(200, body, NDJSON, {"Content-Disposition": "inline; filename=result.jsonl"})

    def media(self, generation_id: str) -> Response:
        found = self.store.ready_generation(generation_id)
        if found is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        batch, line = found
        fault = self.faults.take_media_fault(batch.ordinal, line.request_id)
        return media_response(tiny_mp4(), fault)


def media_response(video: bytes, fault: MediaFault | None) -> Response:
    """The video, or what an output-video fault makes of it (half the body when cut)."""
    if fault is None:
        return Response(200, video, "video/mp4")
    if fault.kind == "refused":
        code, message = _REFUSALS.get(fault.status, _REFUSALS[500])
        return s3_error(fault.status, code, message)
    return Response(200, video, "video/mp4", cut_after=len(video) // 2, reset=fault.kind == "reset")
