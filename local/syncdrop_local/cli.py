"""The `syncdrop` command: demo, validate, emulator."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from types import ModuleType


def _commands() -> dict[str, tuple[str, ModuleType]]:
    # Imported lazily so `syncdrop validate` does not pay for moto.
    from syncdrop_local import demo, validate_cmd
    from syncdrop_local.emulator import cli as emulator_cli

    return {
        "demo": ("run the whole pipeline locally (moto + Sync emulator)", demo),
        "validate": ("check a CSV/JSONL offline with the same code as the Lambda", validate_cmd),
        "emulator": ("run the Sync Batch API emulator", emulator_cli),
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
