"""Handlers for tests of functions run in processes of their own (one module, many entries)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    print(f"echo {event.get('say', '')}")
    print(f"on stderr {event.get('say', '')}", file=sys.stderr)
    return {
        "event": event,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def fail(event: dict[str, Any], context: Any) -> None:
    raise ValueError(f"no video at row {event['row']}")


def sleep(event: dict[str, Any], context: Any) -> dict[str, int]:
    time.sleep(event["seconds"])
    return {"pid": os.getpid()}


def rendezvous(event: dict[str, Any], context: Any) -> int:
    """Answer only once ``parties`` invocations are inside this handler at the same time."""
    meeting = Path(event["dir"])
    (meeting / str(os.getpid())).touch()
    while len(list(meeting.iterdir())) < event["parties"]:
        if context.get_remaining_time_in_millis() < 500:
            raise TimeoutError(f"met {len(list(meeting.iterdir()))} of {event['parties']}")
        time.sleep(0.005)
    return os.getpid()


def allocate(event: dict[str, Any], context: Any) -> int:
    """Touch ``mb`` megabytes (each page written, so it is resident), keep them ``hold``
    seconds, then let them go."""
    block = bytearray(event["mb"] * 1024 * 1024)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    time.sleep(event.get("hold", 0))
    return len(block)


def environment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "variables": dict(os.environ),
        "sys_path": sys.path,
        "cwd": os.getcwd(),
        "syncdrop_loaded": [name for name in sys.modules if name.split(".")[0] == "syncdrop"],
    }


def credentials(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    import boto3

    found = boto3.Session().get_credentials()
    frozen = found.get_frozen_credentials()
    identity = None
    if event.get("ask_sts"):
        identity = boto3.client("sts").get_caller_identity()["Arn"]
    return {"access_key": frozen.access_key, "token": frozen.token, "identity": identity}


def crash_point(event: dict[str, Any], context: Any) -> str:
    from syncdrop import crash_points

    print("before the crash point")
    crash_points.reached(event["point"])
    return "passed"


def exit_now(event: dict[str, Any], context: Any) -> None:
    os._exit(3)
