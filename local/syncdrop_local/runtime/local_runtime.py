"""The whole stack on one machine: moto's server, template.yaml's resources, its functions."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from syncdrop.crash_points import SimulatedCrash
from syncdrop_local.runtime import iam_roles, moto_iam
from syncdrop_local.runtime.function_kind import Invocable
from syncdrop_local.runtime.http_front import HttpFront
from syncdrop_local.runtime.invoke import LocalFunction
from syncdrop_local.runtime.lambda_launchers import Launcher
from syncdrop_local.runtime.moto_controls import InProcessControls, MotoControls
from syncdrop_local.runtime.moto_world import DynamoFaults, MotoWorld, MotoWorldServer
from syncdrop_local.runtime.sqs_source import SqsEventSource, mapping_concurrency
from syncdrop_local.runtime.stack import FunctionSpec, LocalStack, deploy
from syncdrop_local.runtime.stack_functions import role_credentials, stack_functions
from syncdrop_local.runtime.template import REGION

log = logging.getLogger("syncdrop.local")

REPO_ROOT = Path(__file__).resolve().parents[3]
# Execution environments a function without a concurrency setting may have at once.
LOCAL_ENVIRONMENTS = 10
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
        iam_roles.load_aws_managed_policies()  # before moto's IAM backend exists
        self.world = MotoWorld(faults or DynamoFaults())
        self._server = MotoWorldServer(self.world)
        self.url = ""  # set by start()

    def start(self) -> str:
        self.url = self._server.start()
        return self.url

    def stop(self) -> None:
        self._server.stop()


def _administrator(endpoint_url: str, controls: MotoControls) -> Any:
    """A boto3 session of an IAM user allowed everything, created while moto is still open."""
    admin = moto_iam.admin_credentials(
        endpoint_url,
        user_name=f"syncdrop-local-admin-{secrets.token_hex(4)}",
        region=REGION,
        act_as=controls.act_as_service,
    )
    return boto3.session.Session(
        aws_access_key_id=admin.access_key_id,
        aws_secret_access_key=admin.secret_access_key,
        region_name=REGION,
    )


def _environments(stack: LocalStack) -> dict[str, int]:
    """How many execution environments each function may have at once: its queue mapping's
    concurrency, else its reserved concurrency, else a local default."""
    caps: dict[str, int] = {}
    for logical_id, spec in stack.functions.items():
        cap = spec.reserved_concurrency or LOCAL_ENVIRONMENTS
        for source in spec.events.values():
            if source.kind == "SQS":
                cap = mapping_concurrency(source.properties, spec.reserved_concurrency)
        caps[logical_id] = cap
    return caps


def _poller_client(stack: LocalStack, spec: FunctionSpec) -> Any:
    """An SQS client holding the function's role's credentials, as Lambda's poller does."""
    provide = role_credentials(stack.client("sts"), spec.role_arn, f"poller-{spec.logical_id}")
    credentials = provide()
    return boto3.client(
        "sqs",
        endpoint_url=stack.endpoint_url,
        region_name=REGION,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )


@dataclass(frozen=True)
class CapturedEmail:
    """What one email subscriber of the stack's topics would have received."""

    subject: str
    body: str
    attributes: dict[str, str]
    # The subscribed address it went to (one email per subscriber, as SNS sends them).
    recipient: str = ""


@dataclass
class LocalRuntime:
    stack: LocalStack
    front: HttpFront
    functions: dict[str, Invocable] = field(default_factory=dict)
    sqs_sources: list[SqsEventSource] = field(default_factory=list)
    schedules: list[Invocable] = field(default_factory=list)
    email_queue_url: str | None = None
    emails: list[CapturedEmail] = field(default_factory=list)
    enforcing: str | None = None  # the moto server whose IAM this stack switched on
    controls: MotoControls | None = None  # what moto is asked beyond AWS's API

    @classmethod
    def start(
        cls,
        endpoint_url: str | None,
        parameters: dict[str, str],
        *,
        root: Path = REPO_ROOT,
        extra_environment: dict[str, str] | None = None,
        lambda_processes: bool = False,
        enforce_iam: bool = False,
        launcher: Launcher | None = None,
        controls: MotoControls | None = None,
    ) -> LocalRuntime:
        """Deploy on moto's server at ``endpoint_url``, or in-process under mock_aws (None).

        ``lambda_processes``: each function runs as Lambda runs it (processes of its own under
        awslambdaric, its role's credentials, Timeout and MemorySize); otherwise handlers are
        called in this process. ``enforce_iam``: moto decides every call by the caller's IAM
        policies (the harness deploys and looks as an administrator; functions and their
        queue pollers act as their roles). ``controls``: how to reach moto's own state when it
        runs in another process (moto_process.py); moto in this process by default.
        """
        moto_here = controls is None
        controls = controls or InProcessControls()
        if (lambda_processes or enforce_iam) and not endpoint_url:
            raise ValueError("functions in processes and IAM need moto's server, not mock_aws")
        if enforce_iam and not lambda_processes:
            raise ValueError("IAM is decided per role: functions must run in processes")
        environment = dict(AWS_TEST_ENV)
        if endpoint_url:
            environment["AWS_ENDPOINT_URL"] = endpoint_url
        environment.update(extra_environment or {})
        session = _administrator(endpoint_url, controls) if enforce_iam and endpoint_url else None
        front = HttpFront({}).start()
        stack = deploy(
            root,
            endpoint_url,
            parameters,
            extra_environment=environment,
            api_base_url=front.url,
            session=session,
            moto_here=moto_here,
        )
        runtime = cls(stack=stack, front=front, controls=controls)
        functions: dict[str, Invocable]
        if lambda_processes:
            functions = dict(
                stack_functions(
                    stack, variables={}, concurrency=_environments(stack), launcher=launcher
                )
            )
        else:
            functions = {lid: LocalFunction(spec) for lid, spec in stack.functions.items()}
        runtime.functions = functions
        arrivals = controls.arrivals
        for logical_id, spec in stack.functions.items():
            function = functions[logical_id]
            for source in spec.events.values():
                props = source.properties
                if source.kind == "SQS":
                    arn = str(props["EventSourceArn"])
                    runtime.sqs_sources.append(
                        SqsEventSource(
                            function=function,
                            # Lambda polls with the function's role: its grants must allow it.
                            sqs=_poller_client(stack, spec) if enforce_iam else stack.client("sqs"),
                            queue_url=stack.queue_url_for_arn(arn),
                            queue_arn=arn,
                            batch_size=int(props.get("BatchSize", 10)),
                            report_failures="ReportBatchItemFailures"
                            in props.get("FunctionResponseTypes", []),
                            concurrency=mapping_concurrency(props, spec.reserved_concurrency),
                            visibility_sqs=stack.client("sqs"),
                            arrivals=arrivals,
                        )
                    )
                elif source.kind == "HttpApi":
                    front.routes[(str(props["Method"]).upper(), str(props["Path"]))] = function
                elif source.kind == "Schedule":
                    runtime.schedules.append(function)
        runtime.email_queue_url = runtime._capture_email(controls)
        if enforce_iam and endpoint_url:
            controls.enable_iam(endpoint_url)
            runtime.enforcing = endpoint_url
        return runtime

    def stop(self) -> None:
        self.front.stop()
        for function in self.functions.values():
            stop = getattr(function, "stop", None)  # processes to end; in-process: nothing
            if stop is not None:
                stop()
        if self.enforcing and self.controls is not None:
            self.controls.disable_iam(self.enforcing)
            self.enforcing = None

    @property
    def webhook_url(self) -> str:
        return f"{self.front.url}/sync/webhook"

    def _capture_email(self, controls: MotoControls) -> str | None:
        """One queue stands in for every inbox: each email subscription of the stack's topics
        (the template's and any added later, e.g. by `syncdrop subscribe`) delivers into it
        what SNS would mail that address, its filter policy applied."""
        topics = [
            self.stack.ref(name)
            for name, resource in self.stack.template["Resources"].items()
            if resource["Type"] == "AWS::SNS::Topic" and name in self.stack.resolver.refs
        ]
        if not topics:
            return None
        sqs = self.stack.client("sqs")
        url = sqs.create_queue(QueueName=f"{self.stack.resolver.stack_name}-email-inbox")[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for topic in topics:
            controls.deliver_email_to(topic, arn)
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
                        subject=envelope["subject"],
                        body=envelope["message"],
                        attributes=envelope["attributes"],
                        recipient=envelope["recipient"],
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

        Each queue's batches run side by side, up to its mapping's concurrency (moto's server
        takes them safely behind its ``MotoWorld``); every invocation is over on return.
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
