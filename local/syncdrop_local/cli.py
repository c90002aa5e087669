"""The `syncdrop` command: demo, validate, emulator, and upload/status/results on a stack."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from types import ModuleType


def _commands() -> dict[str, tuple[str, ModuleType]]:
    # Imported lazily so `syncdrop validate` does not pay for moto.
    from syncdrop_local import demo, validate_cmd
    from syncdrop_local.emulator import cli as emulator_cli
    from syncdrop_local.stack_cli import results_cmd, status_cmd, upload_cmd

    return {
        "demo": ("run the whole pipeline locally (moto + Sync emulator)", demo),
        "validate": ("check a CSV/JSONL offline with the same code as the Lambda", validate_cmd),
        "emulator": ("run the Sync Batch API emulator", emulator_cli),
        "upload": ("check a file as the stack will, then upload it to --stack", upload_cmd),
        "status": ("the recent jobs of --stack, or one job and its chunks", status_cmd),
        "results": ("download a finished job's results CSV from --stack", results_cmd),
    }


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="syncdrop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    runners: dict[str, Callable[[argparse.Namespace], int]] = {}
    for name, (help_text, module) in _commands().items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        runners[name] = module.run
    args = parser.parse_args(argv)
    return runners[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
