"""`syncdrop validate FILE`: checks an upload offline with the same intake code the stack runs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

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

_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_CSV_SUFFIXES = (".csv", ".tsv")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the CSV (or JSONL) file you would upload")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a text report"
    )
    parser.add_argument(
        "--model",
        choices=sorted(KNOWN_MODELS),
        default=IntakeRules().default_model,
        help="the model for rows that name none (default: %(default)s)",
    )
    parser.add_argument(
        "--submit-mode",
        choices=[mode.value for mode in SubmitMode],
        default=SubmitMode.AUTO.value,
        help="the stack's SubmitMode: which way rows go to Sync (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-min-lines",
        type=int,
        default=20,
        metavar="N",
        help="the stack's BatchMinLines: fewest rows in a Sync batch (default: %(default)s)",
    )


def _offline_presign(bucket: str, key: str) -> str:
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


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every row is valid, 1 when some are rejected, 2 when the file is unusable."""
    path: Path = args.file
    check = check_file(
        path,
        IntakeRules(default_model=args.model, presign_s3=_offline_presign),
        min_lines=args.batch_min_lines,
        mode=SubmitMode(args.submit_mode),
    )
    rows, valid, errors, batches = check.rows, check.valid, check.errors, check.batches
    file_error = check.file_error
    route = check.route

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
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_text(path, check.noun, rows, valid, errors, batches, file_error)
        if route is not None and file_error is None:
            print(_route_line(route, valid, check.noun))

    if file_error is not None:
        return 2
    return 1 if errors else 0


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
    print(f"{path.name}: {rows:,} {noun}s, {valid:,} valid, {len(errors):,} rejected.")
    if file_error is not None:
        print(f"The file cannot be used: {file_error}", file=sys.stderr)
    elif batches:
        sizes = ", ".join(f"{size:,}" for size in batches)
        count = len(batches)
        print(f"{count} Sync batch{'es' if count > 1 else ''} of {sizes} {noun}s.")
