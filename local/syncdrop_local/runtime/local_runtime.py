"""The whole stack on one machine: moto's server, template.yaml's resources, its functions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from syncdrop_local.runtime.invoke import LocalFunction
from syncdrop_local.runtime.sqs_source import SqsEventSource
from syncdrop_local.runtime.stack import LocalStack, deploy
from syncdrop_local.runtime.template import REGION

log = logging.getLogger("syncdrop.local")

REPO_ROOT = Path(__file__).resolve().parents[3]
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


class MotoServer:
    """moto's AWS server on 127.0.0.1, on a free port."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


@dataclass
class LocalRuntime:
    stack: LocalStack
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    sqs_sources: list[SqsEventSource] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        endpoint_url: str | None,
        parameters: dict[str, str],
        *,
        root: Path = REPO_ROOT,
        extra_environment: dict[str, str] | None = None,
    ) -> LocalRuntime:
        """Deploy on moto's server at ``endpoint_url``, or in-process under mock_aws (None)."""
        environment = dict(AWS_TEST_ENV)
        if endpoint_url:
            environment["AWS_ENDPOINT_URL"] = endpoint_url
        environment.update(extra_environment or {})
        stack = deploy(root, endpoint_url, parameters, extra_environment=environment)
        runtime = cls(stack=stack)
        sqs = stack.client("sqs")
        for logical_id, spec in stack.functions.items():
            function = LocalFunction(spec)
            runtime.functions[logical_id] = function
            for source in spec.events.values():
                if source.kind == "SQS":
                    arn = str(source.properties["Queue"])
                    runtime.sqs_sources.append(
                        SqsEventSource(
                            function=function,
                            sqs=sqs,
                            queue_url=stack.queue_url_for_arn(arn),
                            queue_arn=arn,
                            batch_size=int(source.properties.get("BatchSize", 10)),
                            report_failures="ReportBatchItemFailures"
                            in source.properties.get("FunctionResponseTypes", []),
                        )
                    )
        return runtime

    def pump(self) -> int:
        """Deliver one round of messages from every queue; return how many were delivered."""
        return sum(source.poll_once() for source in self.sqs_sources)

    def drain(self, *, idle_rounds: int = 2, timeout: float = 60.0, pause: float = 0.05) -> None:
        """Pump until every queue stays empty for ``idle_rounds`` rounds in a row."""
        deadline = time.monotonic() + timeout
        idle = 0
        while idle < idle_rounds:
            if time.monotonic() > deadline:
                raise TimeoutError("queues did not drain in time")
            if self.pump():
                idle = 0
            else:
                idle += 1
                time.sleep(pause)

    def run_until(
        self,
        done: Callable[[], bool],
        *,
        timeout: float = 60.0,
        pause: float = 0.05,
        on_round: Callable[[], Any] | None = None,
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("the local stack did not reach the expected state in time")
            if not self.pump():
                time.sleep(pause)
            if on_round is not None:
                on_round()
