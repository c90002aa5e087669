"""`--fault KNOB=VALUE` for the whole local stack: the Sync emulator's knobs and moto's AWS ones.

The AWS-side knobs are the fields of the fault dataclasses a ``MotoWorld`` holds (today
``DynamoFaults``: ``throttle_rate``, ``conflict_rate``...), read from the dataclasses themselves
so a knob added there is a knob here.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, is_dataclass
from typing import Any

from syncdrop_local.emulator import FaultPlan
from syncdrop_local.emulator.cli import add_fault_arguments, apply_faults
from syncdrop_local.emulator.fault_knobs import KNOB_NAMES, parse_knob
from syncdrop_local.runtime.moto_world import MotoWorld

# Not a knob: the emulator's dice follow --seed; the AWS side's follow request timing anyway.
_NOT_KNOBS = frozenset({"seed"})
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def fault_groups(world: MotoWorld) -> list[Any]:
    """The fault dataclasses ``world`` reads on every request (change them at any time)."""
    groups = (getattr(world, item.name) for item in fields(world))
    return [group for group in groups if is_dataclass(group) and not isinstance(group, type)]


def aws_knobs() -> dict[str, Any]:
    """Every AWS-side knob with its default value, by name."""
    return {
        item.name: getattr(group, item.name)
        for group in fault_groups(MotoWorld())
        for item in fields(group)
        if item.name not in _NOT_KNOBS
    }


def _aws_value(name: str, default: Any, text: str) -> Any:
    text = text.strip()
    if isinstance(default, bool):
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(f"{name} must be true or false")
        return text.lower() in _TRUE
    if isinstance(default, str):
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number") from None
    if name.endswith("_rate") and not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    if number < 0:
        raise ValueError(f"{name} must be >= 0")
    if isinstance(default, int):
        if not number.is_integer():
            raise ValueError(f"{name} must be a whole number")
        return int(number)
    return number


def parse_fault(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` for a Sync emulator knob or an AWS-side knob (Sync's first)."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    try:
        if name in KNOB_NAMES:
            return parse_knob(text)
        known_aws = aws_knobs()
        if not sep:
            raise ValueError(f"expected NAME=VALUE, got {text!r}")
        if name in known_aws:
            return name, _aws_value(name, known_aws[name], value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    raise argparse.ArgumentTypeError(
        f"unknown fault knob {name!r}. Sync emulator knobs: {', '.join(KNOB_NAMES)}. "
        f"AWS knobs: {', '.join(known_aws)}."
    )


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """The emulator's fault options, with ``--fault`` taking the AWS-side knobs too."""
    add_fault_arguments(parser, parse_fault=parse_fault)


def sync_fault_plan(args: argparse.Namespace) -> FaultPlan:
    """The emulator's fault plan as the options say (the AWS knobs left out)."""
    sync_only = [(name, value) for name, value in args.fault if name in KNOB_NAMES]
    return apply_faults(
        FaultPlan(seed=args.seed), argparse.Namespace(**{**vars(args), "fault": sync_only})
    )


def aws_faults(args: argparse.Namespace) -> dict[str, Any]:
    """The AWS-side knobs the options set, by name."""
    return {name: value for name, value in args.fault if name not in KNOB_NAMES}


def set_aws_faults(world: MotoWorld, knobs: dict[str, Any]) -> None:
    """Set each knob on the fault dataclass of ``world`` that has it."""
    for name, value in knobs.items():
        for group in fault_groups(world):
            if name in {item.name for item in fields(group)}:
                setattr(group, name, value)
