"""One execution environment: a process running awslambdaric's loop against a Runtime API
server of its own, watched for its timeout, its memory and its death."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass

from syncdrop_local.runtime.function_config import FunctionConfig, lambda_variables
from syncdrop_local.runtime.function_log import FunctionLog
from syncdrop_local.runtime.invocation_errors import (
    ExitError,
    HandlerError,
    InitError,
    InvocationFailed,
    OutOfMemory,
    TaskTimedOut,
)
from syncdrop_local.runtime.lambda_child import EnvironmentSpec
from syncdrop_local.runtime.lambda_launchers import Launcher
from syncdrop_local.runtime.process_memory import peak_rss_mb
from syncdrop_local.runtime.runtime_api import Invocation, Outcome, RuntimeApiServer

INIT_TIMEOUT = 10.0  # Lambda's limit on an on-demand environment's init phase
WATCH_INTERVAL = 0.01  # how often a running invocation's process is looked at


@dataclass(frozen=True)
class PlannedKill:
    """Chaos: kill the environment this long after the handler starts (or as it answers, if
    it answers sooner), and report it as ``report_as``."""

    after: float
    report_as: type[TaskTimedOut] | type[OutOfMemory]


class ExecutionEnvironment:
    """Handles one invocation at a time; ``usable`` turns False for good once its process
    died, was killed, or its runtime failed to start."""

    def __init__(
        self,
        config: FunctionConfig,
        credentials: Mapping[str, str],
        launcher: Launcher,
        log: FunctionLog,
        *,
        extra_variables: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.usable = True
        self.api = RuntimeApiServer().start()
        variables = lambda_variables(
            config, credentials, runtime_api=self.api.address, runtime_dir=launcher.runtime_dir
        )
        self.variables = {**variables, **(extra_variables or {})}
        spec = EnvironmentSpec(
            handler=config.handler,
            task_root=str(config.code_dir.resolve()),
            layer_dirs=tuple(str(d.resolve()) for d in config.layer_dirs),
            environment=self.variables,
        )
        try:
            self.process = launcher.launch(spec)
        except BaseException:
            self.api.stop()
            raise
        self.started_at = time.monotonic()
        self._pumps = [
            log.follow(self.process.stdout_fd, logging.INFO),
            log.follow(self.process.stderr_fd, logging.WARNING),
        ]

    def run(self, invocation: Invocation, kill: PlannedKill | None = None) -> bytes:
        """The handler's answer (JSON bytes), or ``InvocationFailed`` saying why there is none."""
        self.api.post(invocation)
        try:
            outcome = self._watch(invocation, kill)
            return self._answer(invocation, outcome, kill)
        finally:
            for pump in self._pumps:
                pump.settle()  # what the invocation printed is in the log before it returns

    def _watch(self, invocation: Invocation, kill: PlannedKill | None) -> Outcome:
        # Lambda's deadline starts when the runtime takes the event; a cold environment may
        # first spend up to INIT_TIMEOUT loading the handler.
        undelivered_limit = time.monotonic() + INIT_TIMEOUT + invocation.timeout
        while True:
            outcome = invocation.wait(WATCH_INTERVAL)
            if outcome is not None:
                return outcome
            now = time.monotonic()
            status = self.process.exit_status()
            if status is not None:
                self.usable = False
                if invocation.outcome is not None:  # it answered (an init error) and exited
                    return invocation.outcome
                raise self._failure(ExitError, invocation, _exit_reason(status))
            # Memory first: a peak seen late (this thread starved) happened before this look.
            if self._over_memory():
                self._end(invocation, OutOfMemory, "Runtime exited with error: signal: killed")
            deadline = invocation.deadline or undelivered_limit
            if now >= deadline:
                self._end(invocation, TaskTimedOut, _timed_out(invocation.timeout))
            delivered = invocation.delivered_at
            if kill and delivered is not None and now >= delivered + kill.after:
                self._end(invocation, kill.report_as, _chaos_reason(kill, invocation))

    def _end(self, invocation: Invocation, error: type[InvocationFailed], reason: str) -> None:
        """Kill the process for ``reason`` unless the invocation ended just before."""
        failure = self._failure(error, invocation, reason)
        if invocation.finish(Outcome(error=failure.document())):
            self.kill()
            raise failure

    def _answer(self, invocation: Invocation, outcome: Outcome, kill: PlannedKill | None) -> bytes:
        if self._over_memory():  # a peak between two looks still went over the cap
            self.kill()
            raise self._failure(
                OutOfMemory, invocation, "Runtime exited with error: signal: killed"
            )
        if kill is not None:  # it answered before the planned moment: the answer is lost
            self.kill()
            raise self._failure(kill.report_as, invocation, _chaos_reason(kill, invocation))
        if outcome.error is not None:
            if self.api.init_error is not None:
                self.usable = False
                raise InitError.from_document(outcome.error, invocation.request_id)
            raise HandlerError.from_document(outcome.error, invocation.request_id)
        return outcome.response or b"null"

    def _over_memory(self) -> bool:
        peak = peak_rss_mb(self.process.pid)
        return peak is not None and peak > self.config.memory_mb

    def _failure(
        self, error: type[InvocationFailed], invocation: Invocation, reason: str
    ) -> InvocationFailed:
        return error(
            f"RequestId: {invocation.request_id} Error: {reason}",
            request_id=invocation.request_id,
        )

    def kill(self) -> None:
        """End the process and its Runtime API server; the environment is not used again."""
        self.usable = False
        self.process.kill()
        self.api.stop()

    def close(self, timeout: float = 5.0) -> None:
        """Kill, then wait for the last of its output to reach the log."""
        self.kill()
        for pump in self._pumps:
            pump.join(timeout)


def _timed_out(timeout: float) -> str:
    return f"Task timed out after {timeout:.2f} seconds"


def _chaos_reason(kill: PlannedKill, invocation: Invocation) -> str:
    if kill.report_as is TaskTimedOut:
        return _timed_out(invocation.timeout)
    return "Runtime exited with error: signal: killed"


def _exit_reason(status: int) -> str:
    """Lambda's wording: "exit status 1", "signal: killed"."""
    if status < 0:
        name = signal.strsignal(-status) or f"signal {-status}"
        return f"Runtime exited with error: signal: {name.lower()}"
    return f"Runtime exited with error: exit status {status}"
