"""A function run as Lambda runs it: each execution environment a process of its own under
awslambdaric, with Lambda's variables, the role's credentials, its Timeout and MemorySize."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from functools import cache
from typing import Any

from syncdrop.crash_points import CRASH_POINTS_URL
from syncdrop_local.runtime.crash_point_relay import CrashPointRelay
from syncdrop_local.runtime.execution_environment import ExecutionEnvironment, PlannedKill
from syncdrop_local.runtime.function_config import CredentialsProvider, FunctionConfig
from syncdrop_local.runtime.function_log import FunctionLog
from syncdrop_local.runtime.invocation_errors import OutOfMemory, TaskTimedOut
from syncdrop_local.runtime.lambda_launchers import ForkserverLauncher, Launcher
from syncdrop_local.runtime.runtime_api import Invocation


@cache
def fork_launcher() -> ForkserverLauncher:
    """One per test process, as multiprocessing's forkserver is."""
    return ForkserverLauncher()


class ProcessFunction:
    """One function with its execution environments; the same surface as ``LocalFunction``.

    Like Lambda, an environment handles one invocation at a time: a concurrent invocation
    gets an environment of its own (a cold start) up to ``max_environments`` (beyond that it
    waits for one to be free, where Lambda would throttle), and idle environments are reused
    warm. ``spans`` keeps when recent invocations ran their handler (``time.monotonic()`` from
    the runtime taking the event to its answer).

    ``MemorySize`` is enforced on the process's peak resident set (VmHWM), looked at every
    few milliseconds and once more at the answer. It approximates Lambda's limit on the
    whole sandbox: it counts shared pages in full (a forked environment's preloaded packages,
    which Lambda's process would have imported itself), misses memory of child processes, and
    an allocation can overshoot for a moment before the kill.

    ``kill_rate`` is chaos: that share of invocations (drawn with ``seed``) is killed at a
    random moment within ``kill_window`` seconds of the handler starting (or as it answers,
    if sooner), reported as a timeout or as running out of memory.
    """

    def __init__(
        self,
        config: FunctionConfig,
        credentials: CredentialsProvider,
        *,
        launcher: Launcher | None = None,
        max_environments: int = 10,
        kill_rate: float = 0.0,
        kill_window: float = 0.25,
        seed: int = 0,
        log_lines: int = 2000,
    ) -> None:
        if not 0.0 <= kill_rate <= 1.0:
            raise ValueError(f"kill_rate must be within 0..1, not {kill_rate}")
        self.config = config
        self.invocations = 0
        self.cold_starts = 0
        self.spans: deque[tuple[float, float]] = deque(maxlen=256)
        self.log = FunctionLog(config.name, max_lines=log_lines)
        self.kill_rate = kill_rate
        self.kill_window = kill_window
        self.kills_planned = 0  # invocations the chaos knob chose to kill
        self._credentials = credentials
        self._launcher = launcher or fork_launcher()
        self._max_environments = max_environments
        self._dice = random.Random(seed)  # nosec B311 # chaos dice, not secrets
        self._idle: list[ExecutionEnvironment] = []
        self._live: set[ExecutionEnvironment] = set()
        self._starting = 0  # cold starts under way, counted against max_environments
        self._changed = threading.Condition()
        self._stopped = False
        self._relay = CrashPointRelay().start()

    @property
    def environments(self) -> int:
        """How many environments are alive (busy or idle)."""
        with self._changed:
            return len(self._live)

    def log_lines(self) -> list[str]:
        return self.log.lines()

    def invoke(self, event: Any) -> Any:
        """The handler's answer, or ``InvocationFailed`` (its subclasses say why)."""
        with self._changed:
            self.invocations += 1
            kill = self._planned_kill()
        environment = self._take_environment()
        invocation = Invocation(
            payload=json.dumps(event).encode("utf-8"),
            function_arn=self.config.arn,
            timeout=self.config.timeout,
        )
        try:
            answer = environment.run(invocation, kill)
        finally:
            if invocation.delivered_at is not None:
                self.spans.append(
                    (invocation.delivered_at, invocation.ended_at or time.monotonic())
                )
            self._give_back(environment)
        return json.loads(answer)

    def stop(self) -> None:
        """Kill every environment; invocations still running fail with Runtime.ExitError."""
        with self._changed:
            self._stopped = True
            environments = list(self._live)
            self._changed.notify_all()
        for environment in environments:
            environment.close()
        self._relay.stop()

    def _planned_kill(self) -> PlannedKill | None:
        if not self.kill_rate or self._dice.random() >= self.kill_rate:
            return None
        report_as = self._dice.choice((TaskTimedOut, OutOfMemory))
        self.kills_planned += 1
        return PlannedKill(after=self._dice.uniform(0, self.kill_window), report_as=report_as)

    def _take_environment(self) -> ExecutionEnvironment:
        dead: list[ExecutionEnvironment] = []
        try:
            with self._changed:
                while True:
                    if self._stopped:
                        raise RuntimeError(f"{self.config.name} is stopped")
                    while self._idle:
                        environment = self._idle.pop()
                        if environment.usable and environment.process.exit_status() is None:
                            return environment
                        self._live.discard(environment)  # died while idle
                        dead.append(environment)
                    if len(self._live) + self._starting < self._max_environments:
                        self._starting += 1
                        self.cold_starts += 1
                        break
                    self._changed.wait()
        finally:
            for environment in dead:
                environment.close()
        return self._start_environment()

    def _start_environment(self) -> ExecutionEnvironment:
        environment: ExecutionEnvironment | None = None
        try:
            environment = ExecutionEnvironment(
                self.config,
                self._credentials(),
                self._launcher,
                self.log,
                extra_variables={CRASH_POINTS_URL: self._relay.url},
            )
            return environment
        finally:
            with self._changed:
                self._starting -= 1
                if environment is not None:
                    self._live.add(environment)
                self._changed.notify_all()

    def _give_back(self, environment: ExecutionEnvironment) -> None:
        with self._changed:
            keep = environment.usable and not self._stopped
            if keep:
                self._idle.append(environment)
            else:
                self._live.discard(environment)
            self._changed.notify_all()
        if not keep:
            environment.close()
