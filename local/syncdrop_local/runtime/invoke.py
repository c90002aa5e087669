"""Invoke a function's handler in-process, the way Lambda would: its env, a context, one event."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from syncdrop_local.runtime.stack import FunctionSpec
from syncdrop_local.runtime.template import ACCOUNT, REGION

Handler = Callable[[dict[str, Any], Any], Any]


class SharedEnvironment:
    """The process environment, lent to cold starts (handlers read their settings once, during
    their first invocation).

    Cold starts whose variables agree (two environments of one function; functions of one
    stack, which differ only in variables of their own) run at the same time; one that would
    change a variable another is using waits until that one is done.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._users: Counter[str] = Counter()
        self._values: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    def _agrees(self, variables: dict[str, str]) -> bool:
        return all(self._values.get(key, value) == value for key, value in variables.items())

    @contextmanager
    def lent(self, variables: dict[str, str]) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._agrees(variables))
            for key, value in variables.items():
                if not self._users[key]:
                    self._saved[key] = os.environ.get(key)
                    self._values[key] = os.environ[key] = value
                self._users[key] += 1
        try:
            yield
        finally:
            with self._changed:
                for key in variables:
                    self._users[key] -= 1
                    if self._users[key]:
                        continue
                    del self._users[key], self._values[key]
                    saved = self._saved.pop(key)
                    if saved is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = saved
                self._changed.notify_all()


_environment = SharedEnvironment()


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


def function_environment(spec: FunctionSpec) -> AbstractContextManager[None]:
    """The function's environment variables for the length of a cold start."""
    return _environment.lent(spec.environment)


class LocalFunction:
    """One function of the template with its execution environments.

    Like Lambda, an environment handles one invocation at a time; a concurrent invocation
    gets an environment of its own (a cold start: the handler module loaded afresh), and
    idle environments are reused warm. Invocations on several threads run at the same time.
    ``spans`` keeps when recent invocations ran their handler (``time.monotonic()`` start and
    end), so tests can see that two really overlapped.
    """

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.invocations = 0
        self.cold_starts = 0
        self.spans: deque[tuple[float, float]] = deque(maxlen=256)
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
                with function_environment(self.spec):
                    with self._lock:
                        self.cold_starts += 1
                    handler = self._load()
                    return self._run(handler, event, context)  # the cold one reads its env
            return self._run(handler, event, context)
        finally:
            if handler is not None:
                with self._lock:
                    self._idle.append(handler)

    def _run(self, handler: Handler, event: dict[str, Any], context: LambdaContext) -> Any:
        started = time.monotonic()
        try:
            return handler(event, context)
        finally:
            self.spans.append((started, time.monotonic()))
