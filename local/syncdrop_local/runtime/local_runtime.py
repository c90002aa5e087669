"""The whole stack on one machine: moto's server, template.yaml's resources, its functions."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncdrop.crash_points import SimulatedCrash
from syncdrop_local.runtime import moto_fidelity
from syncdrop_local.runtime.http_front import HttpFront
from syncdrop_local.runtime.invoke import LocalFunction
from syncdrop_local.runtime.moto_world import DynamoFaults, MotoWorld, MotoWorldServer
from syncdrop_local.runtime.sqs_source import SqsEventSource
from syncdrop_local.runtime.stack import LocalStack, deploy
from syncdrop_local.runtime.template import REGION

log = logging.getLogger("syncdrop.local")

REPO_ROOT = Path(__file__).resolve().parents[3]
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105 # moto accepts any key
    "AWS_SESSION_TOKEN": "testing",  # nosec B105 # moto accepts any key
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


class MotoServer:
    """moto's AWS server on 127.0.0.1, on a free port, behind a ``MotoWorld``: one request in
    moto at a time, overlapping DynamoDB transactions on one item cancelled as AWS cancels
    them, and ``faults`` (throttling, conflicts at a rate; change ``world.faults`` any time)."""

    def __init__(self, faults: DynamoFaults | None = None) -> None:
        self.world = MotoWorld(faults or DynamoFaults())
        self._server = MotoWorldServer(self.world)
        self.url = ""  # set by start()

    def start(self) -> str:
        self.url = self._server.start()
        return self.url

    def stop(self) -> None:
        self._server.stop()


@dataclass(frozen=True)
class CapturedEmail:
    """What the NotificationEmail subscriber would have received."""

    subject: str
    body: str
    attributes: dict[str, str]


@dataclass
class LocalRuntime:
    stack: LocalStack
    front: HttpFront
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    sqs_sources: list[SqsEventSource] = field(default_factory=list)
    schedules: list[LocalFunction] = field(default_factory=list)
    email_queue_url: str | None = None
    emails: list[CapturedEmail] = field(default_factory=list)

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
        moto_fidelity.install()
        environment = dict(AWS_TEST_ENV)
        if endpoint_url:
            environment["AWS_ENDPOINT_URL"] = endpoint_url
        environment.update(extra_environment or {})
        front = HttpFront({}).start()
        stack = deploy(
            root, endpoint_url, parameters, extra_environment=environment, api_base_url=front.url
        )
        runtime = cls(stack=stack, front=front)
        sqs = stack.client("sqs")
        for logical_id, spec in stack.functions.items():
            function = LocalFunction(spec)
            runtime.functions[logical_id] = function
            for source in spec.events.values():
                props = source.properties
                if source.kind == "SQS":
                    arn = str(props["Queue"])
                    runtime.sqs_sources.append(
                        SqsEventSource(
                            function=function,
                            sqs=sqs,
                            queue_url=stack.queue_url_for_arn(arn),
                            queue_arn=arn,
                            batch_size=int(props.get("BatchSize", 10)),
                            report_failures="ReportBatchItemFailures"
                            in props.get("FunctionResponseTypes", []),
                        )
                    )
                elif source.kind == "HttpApi":
                    front.routes[(str(props["Method"]).upper(), str(props["Path"]))] = function
                elif source.kind in ("Schedule", "ScheduleV2"):
                    runtime.schedules.append(function)
        runtime.email_queue_url = runtime._capture_email()
        return runtime

    def stop(self) -> None:
        self.front.stop()

    @property
    def webhook_url(self) -> str:
        return f"{self.front.url}/sync/webhook"

    def _capture_email(self) -> str | None:
        """An SQS subscription on each topic with an email subscriber stands in for the inbox."""
        topics = [
            self.stack.ref(name)
            for name, resource in self.stack.template["Resources"].items()
            if resource["Type"] == "AWS::SNS::Topic"
            and any(
                s.get("Protocol") == "email"
                for s in resource.get("Properties", {}).get("Subscription", [])
            )
        ]
        if not topics:
            return None
        sqs, sns = self.stack.client("sqs"), self.stack.client("sns")
        url = sqs.create_queue(QueueName=f"{self.stack.resolver.stack_name}-email-inbox")[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for topic in topics:
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return str(url)

    def collect_emails(self) -> list[CapturedEmail]:
        """Move delivered emails from the inbox queue into ``emails``; return all so far."""
        if self.email_queue_url is None:
            return self.emails
        sqs = self.stack.client("sqs")
        while messages := sqs.receive_message(
            QueueUrl=self.email_queue_url, MaxNumberOfMessages=10
        ).get("Messages"):
            for message in messages:
                envelope = json.loads(message["Body"])
                self.emails.append(
                    CapturedEmail(
                        subject=envelope.get("Subject", ""),
                        body=envelope.get("Message", ""),
                        attributes={
                            k: v.get("Value", "")
                            for k, v in envelope.get("MessageAttributes", {}).items()
                        },
                    )
                )
                sqs.delete_message(
                    QueueUrl=self.email_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return self.emails

    def run_schedules(self) -> list[Any]:
        """What EventBridge Scheduler would do at the next tick: invoke scheduled functions.

        A failed or crashed run is logged and left for the next tick (the template gives the
        schedule no retries).
        """
        answers: list[Any] = []
        for function in self.schedules:
            try:
                answers.append(function.invoke({}))
            except (Exception, SimulatedCrash) as exc:
                log.warning("%s failed: %s", function.spec.logical_id, exc)
                answers.append(exc)
        return answers

    def pump(self) -> int:
        """Deliver one round of messages from every queue; return how many were delivered.

        One invocation at a time, as a steady trickle; concurrent invocations are the race
        tests' business (moto's server takes them safely behind its ``MotoWorld``).
        """
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
