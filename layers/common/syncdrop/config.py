"""Typed settings for every syncdrop function, read from the environment once at cold start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from syncdrop.jobs import SubmitMode
from syncdrop.recipients import PrefixRule, parse_prefix_rules

if TYPE_CHECKING:  # the domain imports config's neighbours, not the other way at import time
    from syncdrop.domain.generation_submit import GenerationLimits


class SettingsError(RuntimeError):
    """The function's environment is incomplete or wrong; the deployment must be fixed."""


# Plain http reaches only this machine (the local Sync emulator): the API key never crosses a
# network in the clear.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def checked_base_url(url: str) -> str:
    """Sync's base URL: ``https://host[:port]``, nothing else; ``http`` for loopback hosts.

    No user (``https://api.sync.so@evil.example`` is a request to evil.example), no path,
    query or fragment: the client appends its own routes.
    """
    wanted = "must be https://<host>[:<port>] (http only for 127.0.0.1, localhost or [::1])"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{wanted}; {exc}") from None
    host = parts.hostname or ""
    if any(c.isspace() for c in url) or parts.scheme not in ("https", "http"):
        raise ValueError(wanted)
    if "@" in parts.netloc:
        raise ValueError(f"{wanted}; a user or password before the host is refused")
    if parts.path not in ("", "/") or parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ValueError(f"{wanted}; no path, query or fragment")
    if not (_HOST.fullmatch(host) or host == "::1"):
        raise ValueError(f"{wanted}; {host!r} is not a host name")
    if port == 0:
        raise ValueError(f"{wanted}; port 0 is not a port")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError(f"{wanted}; plain http to {host} would send the API key in the clear")
    return url


def _checked_rules(text: str) -> str:
    parse_prefix_rules(text)  # its ValueError names the wrong rule
    return text


class Settings(BaseModel):
    """What every function needs: where the state lives and how to reach Sync."""

    # Built on first use: each function validates one of these classes, not all five.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    job_table: str = Field(min_length=1)
    results_table: str = Field(min_length=1)
    uploads_bucket: str = Field(min_length=1)
    sync_api_base_url: Annotated[str, AfterValidator(checked_base_url)]
    sync_api_key_secret_arn: str = Field(min_length=1)
    batch_concurrency: int = Field(ge=1, le=1000)
    # Single generations open at once (Sync's per-plan limit: Hobbyist 1, Creator 3, Growth 6,
    # Scale 15) and POST /v2/generate per minute (Sync documents 60 or 100: the lower).
    generation_concurrency: int = Field(default=3, ge=1, le=1000)
    generate_requests_per_minute: int = Field(default=60, ge=1, le=6000)
    # auto, batch or generate (the SubmitMode parameter)
    submit_mode: SubmitMode = SubmitMode.AUTO
    # Sync's webhook posts here; empty means "no webhook" and the reconciler carries completion.
    webhook_url: str = ""

    @property
    def generation_limits(self) -> GenerationLimits:
        from syncdrop.domain.generation_submit import GenerationLimits

        return GenerationLimits(
            concurrency=self.generation_concurrency, per_minute=self.generate_requests_per_minute
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        wanted: dict[str, Any] = {
            name: env[name.upper()] for name in cls.model_fields if name.upper() in env
        }
        try:
            return cls.model_validate(wanted)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors()
            )
            raise SettingsError(f"invalid {cls.__name__} environment: {problems}") from exc


class SubmitSettings(Settings):
    """submit_batch: intake limits and batch planning."""

    results_queue_url: str = Field(min_length=1)
    default_model: str = "lipsync-2"
    max_rows_per_file: int = Field(default=100_000, ge=1)
    max_upload_bytes: int = Field(default=200_000_000, ge=1)
    batch_min_lines: int = Field(default=20, ge=1)
    batch_max_lines: int = Field(default=500, ge=1)
    batch_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # JobDeadlineHours: then the reconciler finishes the job with what is known.
    job_deadline_hours: float = Field(default=48, gt=0)
    # The intake queue's maxReceiveCount: on that receive an unreadable file ends the job.
    intake_attempts: int = Field(default=5, ge=1)
    # NotifyPrefixRules, "incoming/a/=x@y.com;incoming/b/=p@q.com": checked here, at cold start,
    # so a typo stops the function with the rule named rather than mailing nobody.
    notify_prefix_rules: Annotated[str, AfterValidator(_checked_rules)] = ""

    @property
    def prefix_rules(self) -> tuple[PrefixRule, ...]:
        return parse_prefix_rules(self.notify_prefix_rules)


class WebhookSettings(Settings):
    """receive_webhook: the signing secret and where terminal batches go."""

    results_queue_url: str = Field(min_length=1)
    # Empty: no secret configured; every webhook is refused and the reconciler finishes jobs.
    webhook_secret_arn: str = ""
    signature_tolerance_seconds: int = Field(default=300, ge=1, le=3600)


class CompletionSettings(Settings):
    """fan_out_results: the results queue, the email topic, where result files may come from."""

    results_queue_url: str = Field(min_length=1)
    notification_topic_arn: str = Field(min_length=1)
    # Extra hosts Sync's signed result URLs may redirect to (comma-separated suffixes).
    result_url_hosts: str = ""
    # A report worker silent this long is presumed dead (longer than the function timeout).
    report_lease_seconds: float = Field(default=960, gt=0)
    # Empty: CopyOutputs is off and the results point at Sync's own (expiring) links.
    outputs_queue_url: str = ""
    # A fan-out worker silent this long is presumed dead (longer than the function timeout).
    fan_out_lease_seconds: float = Field(default=360, gt=0)
    # Fan-outs of one chunk after Sync said it is over, before its rows fail with the reason.
    fan_out_attempts: int = Field(default=6, ge=1)


class ReconcileSettings(Settings):
    """reconcile: the results queue and how long to wait before asking Sync directly."""

    results_queue_url: str = Field(min_length=1)
    submitting_grace_minutes: float = Field(default=10, ge=0)
    poll_after_minutes: float = Field(default=30, ge=0)
    report_lease_seconds: float = Field(default=960, gt=0)


class CopySettings(Settings):
    """copy_outputs: where videos come from and how often a copy is tried."""

    results_queue_url: str = Field(min_length=1)
    # Where a finished slice queues the next slice of its chain.
    outputs_queue_url: str = Field(min_length=1)
    result_url_hosts: str = ""
    # Tries before a copy is given up and recorded as failed (below the DLQ's receive count).
    copy_attempts: int = Field(default=3, ge=1, le=4)
    # Videos of one slice copied at once (threads waiting on the network, one client each).
    copy_threads: int = Field(default=8, ge=1, le=32)
