"""`syncdrop validate FILE --cost`: Sync's own estimate of what the file's valid rows will cost.

Each distinct generation body (model, input, options) among the valid rows is sent once to
Sync's ``POST /v2/analyze/cost``; rows with the same body share its estimate. Nothing here is
imported by `syncdrop validate` without ``--cost``: httpx, boto3 and the Sync client load only
when an estimate is asked for, so the offline check stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from syncdrop.intake import AcceptedRow, IntakeRules, UploadReader

DEFAULT_SYNC_URL = "https://api.sync.so"
API_KEY_ENV = "SYNC_API_KEY"
EXIT_NO_ESTIMATE = 3  # 0/1/2 keep their meaning for the file itself


class CostUnavailable(Exception):
    """No estimate: no API key, Sync refused or could not be reached. The text is for a person."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "cost estimate", "ask Sync (POST /v2/analyze/cost) what the valid rows will cost"
    )
    group.add_argument("--cost", action="store_true", help="ask Sync for its estimate")
    group.add_argument(
        "--api-key", help=f"Sync's API key (default: {API_KEY_ENV}, then --stack's secret)"
    )
    group.add_argument(
        "--sync-url",
        help=f"Sync's base URL, e.g. the emulator's (default: --stack's, else {DEFAULT_SYNC_URL})",
    )
    # --stack may already be there (another option group of validate): add only what is not.
    taken = set(parser._option_string_actions)  # argparse has no public lookup
    for flag, text in (
        ("--stack", "read the API key from this syncdrop stack's secret"),
        ("--region", "the stack's AWS region"),
        ("--profile", "the AWS profile to use"),
        ("--endpoint-url", "another AWS endpoint, e.g. moto's for the local stack"),
    ):
        if flag not in taken:
            group.add_argument(flag, help=text)


@dataclass
class CostReport:
    """Sync's estimate for the valid rows, in total and by model."""

    rows: int = 0
    frames: float = 0.0
    usd: float = 0.0
    requests: int = 0  # POSTs to Sync: one per distinct generation body
    by_model: dict[str, tuple[int, float]] = field(default_factory=dict)  # rows, USD
    error: str | None = None  # why there is no estimate (already told on stderr)

    def as_dict(self) -> dict[str, object]:
        if self.error is not None:
            return {"error": self.error}
        return {
            "rows": self.rows,
            "estimated_frames": self.frames,
            "estimated_usd": round(self.usd, 6),
            "requests": self.requests,
            "by_model": {
                model: {"rows": rows, "estimated_usd": round(usd, 6)}
                for model, (rows, usd) in sorted(self.by_model.items())
            },
        }

    def lines(self) -> list[str]:
        if self.error is not None:
            return []
        noun = "generation" if self.rows == 1 else "generations"
        asked = f"{self.requests:,} request{'s' if self.requests != 1 else ''}"
        out = [
            f"Sync's estimate: ${self.usd:,.2f} for {self.rows:,} {noun} "
            f"({self.frames:,.0f} frames; {asked} to POST /v2/analyze/cost)."
        ]
        if len(self.by_model) > 1:
            out.extend(
                f"  {model}: {rows:,} row{'s' if rows != 1 else ''}, ${usd:,.2f}"
                for model, (rows, usd) in sorted(self.by_model.items())
            )
        return out


def distinct_payloads(rows: Iterable[AcceptedRow]) -> Counter[str]:
    """Each valid row's generation body (canonical JSON) and how many rows share it."""
    counts: Counter[str] = Counter()
    for row in rows:
        payload = json.loads(row.line)["payload"]
        payload.pop("webhookUrl", None)  # never part of the price
        counts[json.dumps(payload, sort_keys=True, separators=(",", ":"))] += 1
    return counts


def accepted_rows(
    path: Path, rules: IntakeRules, kind: Literal["csv", "jsonl"]
) -> Iterable[AcceptedRow]:
    with path.open("rb") as stream:
        for outcome in UploadReader(stream, kind=kind, rules=rules):
            if isinstance(outcome, AcceptedRow):
                yield outcome


def estimate_rows(payloads: Counter[str], estimate: Callable[[dict[str, Any]], Any]) -> CostReport:
    """Ask ``estimate`` once per distinct body and weigh each answer by its rows."""
    report = CostReport()
    for body, rows in payloads.items():
        payload = json.loads(body)
        answer = estimate(payload)
        report.requests += 1
        report.rows += rows
        report.frames += answer.frames * rows
        report.usd += answer.usd * rows
        model = str(payload.get("model"))
        had_rows, had_usd = report.by_model.get(model, (0, 0.0))
        report.by_model[model] = (had_rows + rows, had_usd + answer.usd * rows)
    return report


def _stack_key_and_url(args: argparse.Namespace) -> tuple[str, str | None]:
    """The API key from the stack's SyncApiKeySecret (named by its SyncApiKeySecretArn output),
    and its SyncApiBaseUrl parameter."""
    from syncdrop_local.stack_cli.stack import Aws, find_stack

    aws = Aws.from_args(args)
    stack = find_stack(aws, args.stack)
    arn = stack.outputs.get("SyncApiKeySecretArn")
    if arn is None:  # a stack deployed before the output existed
        resource = aws.client("cloudformation").describe_stack_resource(
            StackName=stack.name, LogicalResourceId="SyncApiKeySecret"
        )
        arn = resource["StackResourceDetail"]["PhysicalResourceId"]
    key = aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    return key, stack.parameters.get("SyncApiBaseUrl") or None


def credentials(args: argparse.Namespace) -> tuple[str, str]:
    """The API key and Sync's URL: --api-key, SYNC_API_KEY, then the stack's secret."""
    key = args.api_key or os.environ.get(API_KEY_ENV)
    url = args.sync_url
    if not key and getattr(args, "stack", None):
        from botocore.exceptions import BotoCoreError, ClientError

        from syncdrop_local.stack_cli.errors import StackCliError

        try:
            key, stack_url = _stack_key_and_url(args)
        except (BotoCoreError, ClientError, StackCliError) as error:
            raise CostUnavailable(
                f"cannot read the API key of stack {args.stack}: {error}"
            ) from None
        url = url or stack_url
    if not key:
        raise CostUnavailable(
            f"--cost needs Sync's API key: give --api-key, set {API_KEY_ENV}, or name the "
            "stack whose secret holds it with --stack."
        )
    return key, (url or DEFAULT_SYNC_URL)


def cost_for(args: argparse.Namespace, path: Path, rules: IntakeRules) -> CostReport:
    """Sync's estimate for the valid rows of ``path``, read with validate's ``rules``."""
    from syncdrop.adapters.sync_cost import SyncCostApi
    from syncdrop.errors import SyncApiError, SyncAuthError
    from syncdrop_local.validate_cmd import upload_kind

    key, url = credentials(args)
    payloads = distinct_payloads(accepted_rows(path, rules, upload_kind(path)))
    try:
        with SyncCostApi(base_url=url, api_key=lambda: key) as sync:
            return estimate_rows(payloads, sync.estimate)
    except SyncAuthError:
        raise CostUnavailable(
            f"Sync ({url}) refused the API key: check --api-key, {API_KEY_ENV} or the stack's "
            "SyncApiKey secret."
        ) from None
    except SyncApiError as error:
        raise CostUnavailable(f"Sync gave no estimate ({url}): {error.message}") from None


def requested(args: argparse.Namespace, path: Path, rules: IntakeRules) -> CostReport | None:
    """The estimate when --cost asks for one (``None`` without it); when Sync gives none, a
    report that says why, told on stderr too."""
    if not getattr(args, "cost", False):
        return None
    try:
        return cost_for(args, path, rules)
    except CostUnavailable as error:
        print(f"syncdrop validate --cost: {error}", file=sys.stderr)
        return CostReport(error=str(error))
