"""`syncdrop validate FILE`: checks an upload offline with the same intake code the stack runs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from syncdrop.domain.media_links import s3_link_checker
from syncdrop.domain.routes import Route, choose_route
from syncdrop.intake import (
    KNOWN_MODELS,
    AcceptedRow,
    FileRejected,
    IntakeRules,
    PlanImpossible,
    UploadReader,
    plan_chunks,
)
from syncdrop.intake.chunk_plan import FIVE_MB
from syncdrop.jobs import SubmitMode
from syncdrop.report.wording import plural
from syncdrop_local import cost_estimate
from syncdrop_local.stack_cli.stack import add_stack_arguments
from syncdrop_local.upload_names import ignored_name_reason

_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_CSV_SUFFIXES = (".csv", ".tsv")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the CSV (or JSONL) file you would upload")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a text report"
    )
    # None: the stack's parameter with --stack, else the template's default.
    parser.add_argument(
        "--model",
        choices=sorted(KNOWN_MODELS),
        help=f"the model for rows that name none (default: {IntakeRules().default_model})",
    )
    parser.add_argument(
        "--submit-mode",
        choices=[mode.value for mode in SubmitMode],
        help="the stack's SubmitMode: which way rows go to Sync (default: auto)",
    )
    parser.add_argument(
        "--batch-min-lines",
        type=int,
        metavar="N",
        help="the stack's BatchMinLines: fewest rows in a Sync batch (default: 20)",
    )
    parser.add_argument(
        "--bucket",
        help="the stack's uploads bucket: s3:// links must point into its media/ folder",
    )
    add_stack_arguments(
        parser,
        required=False,
        stack_help="check against this stack: its bucket, limits and SubmitMode, as upload does",
    )
    cost_estimate.add_arguments(parser)  # --cost: Sync's estimate (imports httpx only then)


@dataclass
class _AnyBucket:
    """Without a bucket every s3:// link passes; ``seen`` says whether the file had any."""

    seen: bool = False

    def __call__(self, bucket: str, key: str) -> str:
        self.seen = True
        # Offline there is nothing to sign with; the address stands in for the presigned link.
        return f"https://{bucket}.s3.amazonaws.com/{quote(key)}"


def upload_kind(path: Path) -> Literal["csv", "jsonl"]:
    """CSV or JSONL from the file name, else from the first character of the text."""
    suffix = path.suffix.lower()
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    with path.open("rb") as stream:
        head = stream.read(4096)
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    return "jsonl" if head.lstrip()[:1] == b"{" else "csv"


@dataclass
class FileCheck:
    """What intake makes of a file: row counts, rejected rows, the batch plan or why it fails."""

    noun: str = "row"  # "line" for JSONL
    rows: int = 0
    valid: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    file_error: str | None = None
    route: Route | None = None  # which way the valid rows would go to Sync, and why


def check_file(
    path: Path,
    rules: IntakeRules,
    *,
    kind: Literal["csv", "jsonl"] | None = None,
    min_lines: int = 20,
    max_lines: int = 500,
    max_bytes: int = FIVE_MB,
    mode: SubmitMode = SubmitMode.AUTO,
) -> FileCheck:
    """Read ``path`` as intake would (``kind`` from its name or text when not given)."""
    check = FileCheck()
    sizes: list[int] = []
    try:
        kind = kind or upload_kind(path)
        check.noun = "line" if kind == "jsonl" else "row"
        with path.open("rb") as stream:
            for outcome in UploadReader(stream, kind=kind, rules=rules):
                check.rows += 1
                if isinstance(outcome, AcceptedRow):
                    check.valid += 1
                    sizes.append(len(outcome.line))
                else:
                    check.errors.append(
                        {
                            "row": outcome.row_number,
                            "request_id": outcome.request_id,
                            "reason": outcome.reason,
                        }
                    )
        if check.valid == 0:
            check.file_error = f"No {check.noun} is valid, so nothing would be sent to Sync."
            return check
        check.route = choose_route(mode, check.valid, min_lines)
        if check.route.by_generate:
            return check  # one POST /v2/generate per row: no batch plan
        plan = plan_chunks(sizes, min_lines=min_lines, max_lines=max_lines, max_bytes=max_bytes)
        check.batches = [len(chunk) for chunk in plan]
    except OSError as error:
        check.file_error = f"Cannot read {path}: {error.strerror or error}."
    except (FileRejected, PlanImpossible) as error:
        check.file_error = error.message
        if isinstance(error, PlanImpossible) and check.valid < min_lines:
            check.file_error += (
                " The stack sends rows in batches only (SubmitMode batch); with SubmitMode auto "
                "a small file goes as single generations."
            )
    return check


NO_BUCKET_NOTE = "s3:// links not checked against a bucket: pass --stack or --bucket"


@dataclass
class _Settings:
    """What the file is checked against: a stack's (--stack), or the defaults and flags."""

    rules: IntakeRules
    min_lines: int = 20
    max_lines: int = 500
    max_bytes: int = FIVE_MB
    mode: SubmitMode = SubmitMode.AUTO
    max_upload_bytes: int | None = None  # known from a stack only


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every row is valid, 1 when some are rejected, 2 when the file is unusable."""
    if args.stack:
        if args.bucket:
            print("syncdrop validate: pass --stack or --bucket, not both.", file=sys.stderr)
            return 2
        from syncdrop_local.stack_cli.stack import run_on_stack  # boto3 only when needed

        return run_on_stack(args, lambda _aws, stack: _validate(args, _stack_settings(args, stack)))
    any_bucket = _AnyBucket()
    presign = s3_link_checker(args.bucket) if args.bucket else any_bucket
    rules = IntakeRules(default_model=args.model or IntakeRules().default_model, presign_s3=presign)
    settings = _Settings(
        rules=rules,
        min_lines=args.batch_min_lines or 20,
        mode=SubmitMode(args.submit_mode or SubmitMode.AUTO.value),
    )
    return _validate(args, settings, unchecked_links=any_bucket)


def _stack_settings(args: argparse.Namespace, stack: Any) -> _Settings:
    from syncdrop_local.stack_cli.limits import intake_limits

    limits = intake_limits(stack)
    rules = limits.rules
    if args.model:
        rules = replace(rules, default_model=args.model)
    return _Settings(
        rules=rules,
        min_lines=args.batch_min_lines or limits.min_lines,
        max_lines=limits.max_lines,
        max_bytes=limits.max_bytes,
        mode=SubmitMode(args.submit_mode) if args.submit_mode else limits.mode,
        max_upload_bytes=limits.max_upload_bytes,
    )


def _validate(
    args: argparse.Namespace, settings: _Settings, *, unchecked_links: _AnyBucket | None = None
) -> int:
    path: Path = args.file
    check = check_file(
        path,
        settings.rules,
        min_lines=settings.min_lines,
        max_lines=settings.max_lines,
        max_bytes=settings.max_bytes,
        mode=settings.mode,
    )
    rows, valid, errors, batches = check.rows, check.valid, check.errors, check.batches
    # A name the bucket's notification skips, or a size it refuses: the rows are still listed.
    file_error = ignored_name_reason(path.name) or _too_big(path, settings) or check.file_error
    route = check.route
    notes = [NO_BUCKET_NOTE] if unchecked_links is not None and unchecked_links.seen else []
    cost = cost_estimate.requested(args, path, settings.rules) if file_error is None else None

    if args.json:
        report = {
            "rows": rows,
            "valid": valid,
            "rejected": len(errors),
            "batches": batches,
            "path": route.path if route else None,
            "path_reason": route.reason if route else None,
            "errors": errors,
            "file_error": file_error,
            "notes": notes,
        }
        if cost is not None:
            report["cost"] = cost.as_dict()
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_text(path, check.noun, rows, valid, errors, batches, file_error)
        if route is not None and file_error is None:
            print(_route_line(route, valid, check.noun))
        for note in notes:
            print(f"Note: {note}.")
        for line in cost.lines() if cost is not None else []:
            print(line)

    if file_error is not None:
        return 2
    if cost is not None and cost.error is not None:
        return cost_estimate.EXIT_NO_ESTIMATE
    return 1 if errors else 0


def _too_big(path: Path, settings: _Settings) -> str | None:
    try:
        size = path.stat().st_size
    except OSError:
        return None  # check_file says why it cannot be read
    limit = settings.max_upload_bytes
    if limit is None or size <= limit:
        return None
    # Here, not at the top: syncdrop.domain.intake loads Powertools, ~0.2 s of validate's start.
    from syncdrop.domain.intake import too_big

    return too_big(size, limit)


def _route_line(route: Route, valid: int, noun: str) -> str:
    if route.by_generate:
        how = f"as {valid:,} single generation{'s' if valid != 1 else ''} (POST /v2/generate)"
    else:
        how = "in Sync batches (POST /v2/batch)"
    return f"Path: {how}. {route.reason}"


def _print_text(
    path: Path,
    noun: str,
    rows: int,
    valid: int,
    errors: list[dict[str, object]],
    batches: list[int],
    file_error: str | None,
) -> None:
    for error in errors:
        who = f" (request_id {error['request_id']})" if error["request_id"] else ""
        print(f"{noun} {error['row']}{who}: {error['reason']}")
    print(f"{path.name}: {plural(rows, noun)}, {valid:,} valid, {len(errors):,} rejected.")
    if file_error is not None:
        print(f"The file cannot be used: {file_error}", file=sys.stderr)
    elif batches:
        sizes = ", ".join(f"{size:,}" for size in batches)
        count = len(batches)
        print(f"{count} Sync batch{'es' if count > 1 else ''} of {sizes} {noun}s.")
