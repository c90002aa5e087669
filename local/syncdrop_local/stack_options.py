"""The stack parameters `syncdrop local` and `syncdrop demo` share: how rows go to Sync, and
which Sync plan the emulator plays."""

from __future__ import annotations

import argparse

SUBMIT_MODES = ("auto", "batch", "generate")
PLANS = ("hobbyist", "creator", "growth", "scale", "enterprise")


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-concurrency", type=int, default=3)
    parser.add_argument(
        "--submit-mode",
        choices=SUBMIT_MODES,
        default="auto",
        help="the stack's SubmitMode: batches, single generations, or by file size (default)",
    )
    parser.add_argument(
        "--generation-concurrency",
        type=int,
        default=3,
        metavar="N",
        help="the stack's GenerationConcurrency: single generations open at once (default 3)",
    )
    parser.add_argument(
        "--generate-requests-per-minute",
        type=int,
        default=60,
        metavar="N",
        help="the stack's GenerateRequestsPerMinute (default 60)",
    )
    parser.add_argument(
        "--plan",
        choices=PLANS,
        default="scale",
        help="the Sync plan the emulator plays; below scale it refuses batches (402)",
    )
