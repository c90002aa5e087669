"""The `syncdrop` command: demo, local, validate, emulator, and upload/status/results on a stack."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# name -> (help, module): a command's module is imported only when that command runs, so
# `syncdrop validate` does not pay for moto.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("run the whole pipeline locally (moto + Sync emulator)", "syncdrop_local.demo"),
    "local": (
        "run the local stack (moto + Sync emulator) until Ctrl-C, like `sam local start-api`",
        "syncdrop_local.local_cmd",
    ),
    "validate": (
        "check a CSV/JSONL offline with the same code as the Lambda",
        "syncdrop_local.validate_cmd",
    ),
    "emulator": ("run the Sync Batch API emulator", "syncdrop_local.emulator.cli"),
    "upload": (
        "check a file as the stack will, then upload it to --stack",
        "syncdrop_local.stack_cli.upload_cmd",
    ),
    "status": (
        "the recent jobs of --stack, or one job and its chunks",
        "syncdrop_local.stack_cli.status_cmd",
    ),
    "results": (
        "download a finished job's results CSV from --stack",
        "syncdrop_local.stack_cli.results_cmd",
    ),
    "subscribe": (
        "email an address the files meant for it (or under --prefix) on --stack",
        "syncdrop_local.stack_cli.subscribe_cmd",
    ),
    "cancel": (
        "stop a job on --stack: queued chunks are never sent, open batches finish",
        "syncdrop_local.stack_cli.cancel_cmd",
    ),
    "retry": (
        "resubmit the rows Sync failed in a job (and fixed rejected rows) as a new file",
        "syncdrop_local.stack_cli.retry_cmd",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    words = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="syncdrop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {
        name: sub.add_parser(name, help=help_text, description=help_text)
        for name, (help_text, _module) in COMMANDS.items()
    }
    # The command is the first word that is not an option (`syncdrop` itself takes none but -h).
    chosen = next((word for word in words if not word.startswith("-")), None)
    module = None
    if chosen in COMMANDS:
        module = importlib.import_module(COMMANDS[chosen][1])
        module.add_arguments(commands[chosen])
    args = parser.parse_args(words)
    assert module is not None  # nosec B101 # argparse refused any other command above
    return int(module.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
