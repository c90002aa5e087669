"""`syncdrop local`: the local stack as a service, running until Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path
from types import FrameType
from typing import TextIO

from syncdrop_local.fault_options import add_fault_options
from syncdrop_local.local_service import DEFAULT_STACK, LocalService, ServiceOptions
from syncdrop_local.stack_options import add_stack_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON line, logs to stderr")
    parser.add_argument("--port-file", type=Path, help="also write that JSON here once ready")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("local-output"),
        help="emails go to OUTPUT/emails/, results CSVs to OUTPUT/results/ (default local-output)",
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, help="the stack name --stack finds")
    parser.add_argument("--api-key", help="the Sync API key (default: a random one)")
    parser.add_argument("--webhook-secret", help="Sync's webhook secret (default: a random one)")
    add_stack_options(parser)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=60.0,
        help="emulated Sync seconds per real second (default 60: a 25-line batch takes ~3 s)",
    )
    parser.add_argument(
        "--schedule-every",
        type=float,
        default=5.0,
        help="run the scheduled reconciler every this many real seconds",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the emulator's random faults")
    parser.add_argument("--verbose", action="store_true", help="show the functions' JSON logs")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="call the handlers in this process (a debugger reaches them) with IAM not enforced",
    )
    add_fault_options(parser)


def run(args: argparse.Namespace) -> int:
    stopped = threading.Event()
    with (
        _until_signalled(stopped),
        _stdout_on_stderr() if args.json else nullcontext(sys.stdout) as out,
    ):
        service = LocalService.start(
            ServiceOptions.from_args(
                args,
                api_key=args.api_key,
                webhook_secret=args.webhook_secret,
                stack_name=args.stack,
                output=args.output,
            )
        )
        try:
            ready = {**service.connection(), "output": str(args.output.resolve())}
            print(json.dumps(ready) if args.json else _summary(ready, args), file=out, flush=True)
            service.on_email = _report_email
            service.run_in_background()
            if args.port_file:
                _write_port_file(args.port_file, ready)
            while not stopped.wait(0.5):
                pass
        finally:
            service.stop()
    print(f"syncdrop local: stack {args.stack} stopped", file=sys.stderr)
    return 0


def _report_email(number: int, written: list[Path], recipient: str) -> None:
    # On stdout under the summary; with --json, stdout is stderr by then.
    to = f" to {recipient}" if recipient else ""
    print(f"email {number} sent{to}: {', '.join(str(path) for path in written)}", flush=True)


def _summary(ready: dict[str, str], args: argparse.Namespace) -> str:
    endpoint, bucket = ready["aws_endpoint"], ready["bucket"]
    credentials = (
        f"AWS_ACCESS_KEY_ID={ready['aws_access_key_id']} "
        f"AWS_SECRET_ACCESS_KEY={ready['aws_secret_access_key']} "
        f"AWS_DEFAULT_REGION={ready['region']}"
    )
    return "\n".join(
        [
            f"syncdrop's stack {ready['stack']} runs locally; Ctrl-C stops it.",
            f"AWS (moto)        {endpoint}   region {ready['region']}",
            f"Sync (emulator)   {ready['emulator_url']}   batch concurrency "
            f"{args.batch_concurrency}, {args.time_scale:g}x real time",
            f"webhook endpoint  {ready['webhook_url']}",
            f"uploads bucket    {bucket}",
            f"emails, results   {args.output / 'emails'}/, {args.output / 'results'}/",
            "",
            "Drop a file from another shell:",
            f"  export {credentials}",
            f"  aws --endpoint-url {endpoint} s3 cp campaign.csv s3://{bucket}/incoming/campaign.csv",
            f"  AWS_ENDPOINT_URL={endpoint} syncdrop status --stack {ready['stack']}",
        ]
    )


def _write_port_file(path: Path, ready: dict[str, str]) -> None:
    # Whoever waits for the file never reads half of it: written aside, then renamed.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(ready) + "\n", encoding="utf-8")
    partial.replace(path)


@contextmanager
def _until_signalled(stopped: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stopped`` (no KeyboardInterrupt, so no traceback mid-stop)."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _stdout_on_stderr() -> Iterator[TextIO]:
    """Whatever writes to stdout meanwhile (the functions' logs, even through a handler that
    holds the stdout file itself) goes to stderr; yields the real stdout, for the JSON line."""
    real = sys.stdout
    real.flush()
    try:
        fd = real.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1  # a replaced sys.stdout (a test's capture) has no descriptor of its own
    if fd < 0:
        with redirect_stdout(sys.stderr):
            yield real
        return
    saved = os.dup(fd)
    os.dup2(sys.stderr.fileno(), fd)
    try:
        with (
            open(saved, "w", encoding="utf-8", closefd=False) as out,
            redirect_stdout(sys.stderr),
        ):
            yield out
    finally:
        real.flush()
        os.dup2(saved, fd)
        os.close(saved)
