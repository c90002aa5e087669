"""Command-line glue for ``syncdrop emulator``: parse options, run the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from .emulator import SyncEmulator
from .fault_knobs import KnobValue, everything_knobs, parse_knob
from .faults import FaultPlan
from .plans import DEFAULT_PLAN, PLANS


def _knob(text: str) -> tuple[str, KnobValue]:
    try:
        return parse_knob(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_fault_arguments(
    parser: argparse.ArgumentParser,
    *,
    parse_fault: Callable[[str], tuple[str, Any]] = _knob,
) -> None:
    """``--faults-everything``, ``--fault-intensity`` and ``--fault KNOB=VALUE``: shared by
    ``syncdrop emulator``, ``syncdrop demo`` and ``syncdrop local`` (whose ``parse_fault`` also
    takes the AWS-side knobs)."""
    parser.add_argument(
        "--faults-everything",
        action="store_true",
        help="turn every random fault on at moderate rates (a soak run; see docs/emulator.md)",
    )
    parser.add_argument(
        "--fault-intensity",
        type=float,
        default=1.0,
        help="scale of the --faults-everything rates (default 1.0: 2-10%% each)",
    )
    parser.add_argument(
        "--fault",
        type=parse_fault,
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="set one fault knob, e.g. get_slow_rate=0.1, reorder_webhooks=true or "
        "media_refused_rows=row-3,row-9 (repeatable; after --faults-everything)",
    )


def apply_faults(faults: FaultPlan, args: argparse.Namespace) -> FaultPlan:
    """Arm ``faults`` as the options of :func:`add_fault_arguments` say; returns ``faults``."""
    if args.faults_everything:
        faults.configure(**everything_knobs(args.fault_intensity))
    return faults.configure(**dict(args.fault))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``syncdrop emulator``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to bind (0 picks a free one)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("SYNC_API_KEY"),
        help="the x-api-key clients must send (default $SYNC_API_KEY)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=None,
        help="webhook signing secret, used verbatim (e.g. whsec_...); omit to send unsigned",
    )
    parser.add_argument("--batch-concurrency", type=int, default=3, help="open batches allowed")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="emulated seconds per real second"
    )
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="chance that a line fails (seeded)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for random failures")
    parser.add_argument("--pending-seconds", type=float, default=30.0)
    parser.add_argument("--processing-seconds-per-line", type=float, default=6.0)
    parser.add_argument("--min-lines", type=int, default=20)
    parser.add_argument("--max-lines", type=int, default=500)
    parser.add_argument("--signature-header", default="Sync-Signature")
    parser.add_argument(
        "--public-url", default=None, help="base URL used in outputUrl and media links"
    )
    parser.add_argument("--signed-base", default=None, help="base URL of signed result downloads")
    parser.add_argument(
        "--no-batch-access", action="store_true", help="answer 402 to every batch create"
    )
    parser.add_argument(
        "--plan",
        choices=PLANS,
        default=DEFAULT_PLAN,
        help="Sync plan: generation concurrency and Batch API access (default scale)",
    )
    parser.add_argument(
        "--generation-concurrency",
        type=int,
        default=None,
        help="open generations allowed (default: the plan's; enterprise 50)",
    )
    parser.add_argument(
        "--generate-rate-limit",
        type=int,
        default=60,
        help="POST /v2/generate allowed per sliding minute (0: no limit; default 60)",
    )
    parser.add_argument("--generation-pending-seconds", type=float, default=5.0)
    parser.add_argument("--generation-seconds", type=float, default=20.0)
    parser.add_argument("--verbose", action="store_true", help="log every request and webhook")
    add_fault_arguments(parser)


def build(args: argparse.Namespace) -> SyncEmulator:
    """An emulator configured from parsed options (not started)."""
    if not args.api_key:
        raise SystemExit("syncdrop emulator: --api-key (or SYNC_API_KEY) is required")

    def log(line: str) -> None:
        print(f"[sync-emulator] {line}", file=sys.stderr, flush=True)

    emulator = SyncEmulator(
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        batch_concurrency=args.batch_concurrency,
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        pending_seconds=args.pending_seconds,
        processing_seconds_per_line=args.processing_seconds_per_line,
        failure_rate=args.failure_rate,
        seed=args.seed,
        min_lines=args.min_lines,
        max_lines=args.max_lines,
        batch_access=False if args.no_batch_access else None,
        plan=args.plan,
        generation_concurrency=args.generation_concurrency,
        generate_rate_limit=args.generate_rate_limit,
        generation_pending_seconds=args.generation_pending_seconds,
        generation_seconds=args.generation_seconds,
        signature_header=args.signature_header,
        public_url=args.public_url,
        signed_base=args.signed_base,
        log=log if args.verbose else None,
    )
    apply_faults(emulator.faults, args)
    return emulator


def run(args: argparse.Namespace) -> int:
    """Start the emulator, print its URL and serve until Ctrl-C (SIGINT) or SIGTERM."""
    emulator = build(args)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    emulator.start()
    try:
        print(f"Sync emulator listening on {emulator.url}", flush=True)
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        signal.signal(signal.SIGTERM, previous)
    print("Sync emulator stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="syncdrop emulator", description="Run a local Sync Batch API emulator."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
