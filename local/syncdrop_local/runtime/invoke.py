"""Invoke a function's handler in-process, the way Lambda would: its env, a context, one event."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from syncdrop_local.runtime.stack import FunctionSpec
from syncdrop_local.runtime.template import ACCOUNT, REGION

Handler = Callable[[dict[str, Any], Any], Any]

# The process environment is shared by every function; a cold start holds this lock while
# its function's variables are in place (handlers read their settings once, at cold start).
_cold_start_lock = threading.RLock()


@dataclass
class LambdaContext:
    """The attributes Powertools and handlers read from Lambda's context object."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextmanager
def function_environment(spec: FunctionSpec) -> Iterator[None]:
    """The function's environment variables for the length of a cold start."""
    saved = {k: os.environ.get(k) for k in spec.environment}
    os.environ.update(spec.environment)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LocalFunction:
    """One function of the template with its execution environments.

    Like Lambda, an environment handles one invocation at a time; a concurrent invocation
    gets an environment of its own (a cold start: the handler module loaded afresh), and
    idle environments are reused warm.
    """

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.invocations = 0
        self.cold_starts = 0
        self._idle: list[Handler] = []
        self._lock = threading.Lock()
        self._names = itertools.count()

    def _load(self) -> Handler:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
        name = f"syncdrop_fn_{self.spec.logical_id}_{next(self._names)}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        handler: Handler = getattr(module, attribute)
        return handler

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            self.invocations += 1
            handler = self._idle.pop() if self._idle else None
        context = LambdaContext(self.spec.logical_id, self.spec.timeout)
        try:
            if handler is None:
                with _cold_start_lock, function_environment(self.spec):
                    self.cold_starts += 1
                    handler = self._load()
                    return handler(event, context)  # the cold invocation reads its env
            return handler(event, context)
        finally:
            if handler is not None:
                with self._lock:
                    self._idle.append(handler)
