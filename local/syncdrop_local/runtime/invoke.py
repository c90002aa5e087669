"""Invoke a function's handler in-process, the way Lambda would: its env, a context, one event."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from syncdrop_local.runtime.stack import FunctionSpec
from syncdrop_local.runtime.template import ACCOUNT, REGION

_env_lock = threading.RLock()


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
    """The function's environment variables for the length of one invocation."""
    with _env_lock:
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
    """One function of the template, its module loaded once (a warm execution environment)."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._module: ModuleType | None = None
        self.invocations = 0

    def _handler(self) -> Callable[[dict[str, Any], Any], Any]:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        if self._module is None:
            path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
            name = f"syncdrop_fn_{self.spec.logical_id}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            with function_environment(self.spec):
                spec.loader.exec_module(module)  # the cold start
            self._module = module
        handler: Callable[[dict[str, Any], Any], Any] = getattr(self._module, attribute)
        return handler

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._handler()
        self.invocations += 1
        with function_environment(self.spec):
            return handler(event, LambdaContext(self.spec.logical_id, self.spec.timeout))
