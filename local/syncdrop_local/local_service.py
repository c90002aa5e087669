"""The local stack as one running thing: moto, the Sync emulator, the deployed template, a loop.

``syncdrop local`` runs it until Ctrl-C; ``syncdrop demo`` starts it, drops one file and waits
for that file's email. Its functions run as Lambda runs them (processes of their own, under
their roles, IAM enforced by moto) unless ``in_process`` is asked for.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncdrop_local.emulator import FaultPlan, SyncEmulator
from syncdrop_local.fault_options import aws_faults, set_aws_faults, sync_fault_plan
from syncdrop_local.output_folder import OutputFolder
from syncdrop_local.runtime.local_runtime import LocalRuntime, MotoServer
from syncdrop_local.runtime.moto_process import MotoProcess
from syncdrop_local.runtime.template import REGION
from syncdrop_local.server_errors import log_server_errors
from syncdrop_local.stack_cli.local_stack import register_stack

log = logging.getLogger("syncdrop.local")

DEFAULT_STACK = "syncdrop-local"
QUIET_FUNCTIONS = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
# What the functions' processes print arrives here, one record a line (runtime/function_log.py).
FUNCTION_LOGGER = "syncdrop.function"


@dataclass(frozen=True)
class ServiceOptions:
    """How to start the local stack; keys and secrets are random unless given."""

    api_key: str | None = None
    webhook_secret: str | None = None
    batch_concurrency: int = 3
    # The stack's SubmitMode, GenerationConcurrency and GenerateRequestsPerMinute, and the
    # Sync plan the emulator plays (below Scale it refuses batches with 402).
    submit_mode: str = "auto"
    generation_concurrency: int = 3
    generate_requests_per_minute: int = 60
    plan: str = "scale"
    time_scale: float = 60.0  # emulated Sync seconds per real second
    schedule_every: float = 5.0  # real seconds between runs of the scheduled functions
    seed: int = 0
    sync_faults: FaultPlan | None = None
    aws_faults: dict[str, Any] = field(default_factory=dict)
    stack_name: str = DEFAULT_STACK
    notification_email: str = "local@example.com"
    output: Path | None = None  # where emails and results CSVs are written, if anywhere
    verbose: bool = False  # the functions' JSON logs and metrics, on stdout as Lambda writes them
    function_log: Path | None = None  # without verbose: their lines go to this file instead
    # Handlers called in this process, moto open to any key: a debugger's breakpoints reach
    # them, but nothing checks their roles' grants.
    in_process: bool = False
    # Registered as a CloudFormation stack, so `--stack` finds it from another terminal (moto
    # imports its CloudFormation on the first call, about 2 s; the demo reaches nobody else).
    register: bool = True
    # moto's server in a process of its own (moto_process.py): the stack then uses both cores
    # (the demo); in this process, a test or debugger reaches moto's state directly.
    moto_process: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, **extra: Any) -> ServiceOptions:
        """The options `syncdrop local` and `syncdrop demo` share, from their arguments."""
        return cls(
            batch_concurrency=args.batch_concurrency,
            submit_mode=args.submit_mode,
            generation_concurrency=args.generation_concurrency,
            generate_requests_per_minute=args.generate_requests_per_minute,
            plan=args.plan,
            time_scale=args.time_scale,
            schedule_every=args.schedule_every,
            seed=args.seed,
            sync_faults=sync_fault_plan(args),
            aws_faults=aws_faults(args),
            verbose=args.verbose,
            in_process=args.in_process,
            **extra,
        )


class Every:
    """Calls ``action`` at most once per ``seconds`` of real time (EventBridge, locally)."""

    def __init__(self, seconds: float, action: Callable[[], Any]) -> None:
        self.seconds, self.action = seconds, action
        self._next = time.monotonic() + seconds

    def __call__(self) -> None:
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + self.seconds
            self.action()


class FunctionOutput:
    """Where the lines the functions' processes print go while the service runs: with
    ``verbose``, to stdout as they were written (Lambda's CloudWatch lines); else to
    ``log_file`` if given, with the service's own line on each failed invocation (the demo:
    no log line over its progress); otherwise nowhere (each function keeps its recent lines,
    and the service logs a failed invocation itself)."""

    def __init__(self, verbose: bool, log_file: Path | None = None) -> None:
        self._logger = logging.getLogger(FUNCTION_LOGGER)
        self._saved = (self._logger.level, self._logger.propagate)
        self._handler: logging.Handler | None = None
        self._logger.propagate = False
        self._undo_server_errors = log_server_errors()
        if verbose:
            self._handler = logging.StreamHandler(sys.stdout)
        elif log_file is not None:
            self._handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
            log.addHandler(self._handler)
            log.propagate = False
        if self._handler is not None:
            self._handler.setFormatter(logging.Formatter("%(message)s"))
            self._logger.addHandler(self._handler)
            self._logger.setLevel(logging.INFO)
        else:
            self._logger.setLevel(logging.CRITICAL)  # stdout lines are INFO, stderr WARNING

    def close(self) -> None:
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            if self._handler in log.handlers:
                log.removeHandler(self._handler)
                log.propagate = True
            self._handler.close()
        self._undo_server_errors()
        level, self._logger.propagate = self._saved
        self._logger.setLevel(level)  # setLevel, not the attribute: it clears children's caches


class LocalService:
    """The running local stack. ``start`` deploys it; ``run_in_background`` moves it along
    (queues pumped, schedules run, emails written out); ``stop`` stops it all."""

    def __init__(
        self,
        options: ServiceOptions,
        moto: MotoServer | MotoProcess,
        emulator: SyncEmulator,
        runtime: LocalRuntime,
    ) -> None:
        self.options = options
        self.moto, self.emulator, self.runtime = moto, emulator, runtime
        self.outputs = OutputFolder(options.output, runtime.stack) if options.output else None
        # (number, files written, the address it went to)
        self.on_email: Callable[[int, list[Path], str], None] | None = None
        self._schedule = Every(options.schedule_every, runtime.run_schedules)
        self._emails_seen = 0
        self._stopping = threading.Event()
        self._loop: threading.Thread | None = None
        self._pollers: list[threading.Thread] = []
        self._stopped = False
        self._function_output = FunctionOutput(options.verbose, options.function_log)

    @classmethod
    def start(cls, options: ServiceOptions) -> LocalService:
        """moto, then the emulator, then the stack on both; registered under its stack name."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        if options.in_process and not options.verbose:
            # Read at every flush, not only at cold start: this process prints no EMF lines.
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            # One line per client the functions create: "Found endpoint for s3 via...".
            logging.getLogger("botocore.configprovider").setLevel(logging.WARNING)
        api_key = options.api_key or "sk-local-" + secrets.token_hex(8)
        webhook_secret = options.webhook_secret or "whsec_" + secrets.token_hex(16)
        moto: MotoServer | MotoProcess
        if options.moto_process:
            moto = MotoProcess(options.aws_faults)  # it boots while the emulator starts
        else:
            moto = MotoServer()
            set_aws_faults(moto.world, options.aws_faults)
        emulator: SyncEmulator | None = None
        try:
            emulator = SyncEmulator(
                api_key=api_key,
                webhook_secret=webhook_secret,
                batch_concurrency=options.batch_concurrency,
                plan=options.plan,
                time_scale=options.time_scale,
                seed=options.seed,
                faults=options.sync_faults or FaultPlan(seed=options.seed),
            ).start()
            endpoint = moto.start()
            runtime = LocalRuntime.start(
                endpoint,
                {
                    "NotificationEmail": options.notification_email,
                    "SyncApiKey": api_key,
                    "SyncWebhookSecret": webhook_secret,
                    "SyncApiBaseUrl": emulator.url,
                    "BatchConcurrency": str(options.batch_concurrency),
                    "SubmitMode": options.submit_mode,
                    "GenerationConcurrency": str(options.generation_concurrency),
                    "GenerateRequestsPerMinute": str(options.generate_requests_per_minute),
                },
                extra_environment={} if options.verbose else dict(QUIET_FUNCTIONS),
                lambda_processes=not options.in_process,
                enforce_iam=not options.in_process,
                controls=moto.controls if isinstance(moto, MotoProcess) else None,
            )
        except BaseException:
            if emulator is not None:
                emulator.stop()
            moto.stop()
            raise
        service = cls(options, moto, emulator, runtime)
        if not options.register:
            return service
        try:
            with warnings.catch_warnings():
                # moto creates nothing for the registered stack's one placeholder resource.
                warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation")
                register_stack(runtime, options.stack_name)
        except BaseException:
            service.stop()
            raise
        return service

    @property
    def bucket(self) -> str:
        return self.runtime.stack.ref("UploadsBucket")

    def connection(self) -> dict[str, str]:
        """What a user needs to reach the stack: endpoints, names and the keys of the
        administrator that deployed it (moto decides every call by IAM)."""
        keys = self.runtime.stack.credentials()
        return {
            "aws_endpoint": self.moto.url,
            "region": REGION,
            "aws_access_key_id": keys["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": keys["AWS_SECRET_ACCESS_KEY"],
            "bucket": self.bucket,
            "webhook_url": self.runtime.webhook_url,
            "emulator_url": self.emulator.url,
            "stack": self.options.stack_name,
        }

    def step(self) -> int:
        """One round: a batch from each queue, the schedule if due, new emails written out.

        Returns how many messages were delivered.
        """
        delivered = self.runtime.pump()
        self._housekeeping()
        return delivered

    def _housekeeping(self) -> None:
        """The schedule if due, and new emails written out."""
        self._schedule()
        emails = self.runtime.collect_emails()
        while self._emails_seen < len(emails):
            self._emails_seen += 1
            written = (
                self.outputs.email_sent(self._emails_seen, emails[self._emails_seen - 1])
                if self.outputs
                else []
            )
            if self.on_email is not None:
                recipient = emails[self._emails_seen - 1].recipient
                self.on_email(self._emails_seen, written, recipient)

    def run_in_background(self, pause: float = 0.05) -> None:
        """Move the stack along on threads of its own until ``stop_loop``: each queue's pollers
        on theirs (as Lambda polls each mapping on its own, a queue's slow batches never hold
        another queue), the schedule and the emails on one more. A failed round is logged, and
        the next one runs (the functions' own failures already went back to their queues)."""
        self._stopping.clear()

        def loop() -> None:
            while not self._stopping.is_set():
                try:
                    self._housekeeping()
                except Exception:
                    log.exception("the local stack's loop failed a round")
                self._stopping.wait(pause)

        self._pollers = [
            thread
            for source in self.runtime.sqs_sources
            for thread in source.run(self._stopping, pause=pause)
        ]
        self._loop = threading.Thread(target=loop, name="syncdrop-local-loop", daemon=True)
        self._loop.start()

    def stop_loop(self) -> None:
        self._stopping.set()
        for source in self.runtime.sqs_sources:
            source.stop()
        for thread in self._pollers:
            thread.join()
        self._pollers = []
        if self._loop is not None:
            self._loop.join()
            self._loop = None

    def stop(self) -> None:
        """The loop, then the stack's HTTP front, the emulator and moto; once."""
        if self._stopped:
            return
        self._stopped = True
        self.stop_loop()
        self.runtime.stop()
        self.emulator.stop()
        self.moto.stop()
        self._function_output.close()
