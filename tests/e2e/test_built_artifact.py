"""The deployable artifact runs: each function of an x86_64 `sam build` output, cold-started
under a bare python3.13 holding only what the Lambda runtime provides (awslambdaric, boto3),
with the built layer as its only layer, against template.yaml's resources on moto."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.runtime import moto_fidelity
from syncdrop_local.runtime.built_artifact import BuiltFunction, built_config, built_functions
from syncdrop_local.runtime.http_front import HttpFront, http_api_event
from syncdrop_local.runtime.invocation_errors import InitError
from syncdrop_local.runtime.lambda_launchers import SubprocessLauncher
from syncdrop_local.runtime.lambda_process import ProcessFunction
from syncdrop_local.runtime.local_runtime import REPO_ROOT, MotoServer
from syncdrop_local.runtime.sqs_source import sqs_record
from syncdrop_local.runtime.stack import FunctionSpec, LocalStack, deploy
from syncdrop_local.runtime.template import REGION
from syncdrop_local.state_view import job_snapshot
from tests.support.cold_start_report import COLD_STARTS
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.sam_build import lambda_python, x86_64_build_for_session

API_KEY = "sk-built-artifact"
WEBHOOK_SECRET = "whsec_built_artifact"
NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}


@dataclass
class ColdStart:
    """A first invocation: until the runtime took the event (process start, awslambdaric,
    the handler's import), then the handler's own run."""

    init_ms: float
    first_invocation_ms: float


@dataclass
class BuiltStack:
    """template.yaml deployed on moto, its functions running from the build output."""

    stack: LocalStack
    emulator: SyncEmulator
    endpoint_url: str  # moto's
    functions: dict[str, ProcessFunction] = field(default_factory=dict)
    cold_starts: dict[str, ColdStart] = field(default_factory=dict)

    def invoke(self, logical_id: str, event: Any) -> Any:
        function = self.functions[logical_id]
        cold = function.cold_starts == 0
        asked = time.monotonic()
        answer = function.invoke(event)
        if cold:
            taken, answered = function.spans[-1]
            self.cold_starts[logical_id] = ColdStart(
                init_ms=(taken - asked) * 1000, first_invocation_ms=(answered - taken) * 1000
            )
        return answer

    def drain(self, queue: str, logical_id: str) -> int:
        """Deliver the queue's messages to the function as its event source mapping would;
        how many were handled."""
        sqs = self.stack.client("sqs")
        url = self.stack.ref(queue)
        arn = self.stack.attribute(queue, "Arn")
        handled = 0
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", []):
            answer = self.invoke(logical_id, {"Records": [sqs_record(m, arn) for m in messages]})
            assert answer == NO_FAILURES, f"{logical_id} failed {answer}"
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            handled += len(messages)
        return handled


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return x86_64_build_for_session(tmp_path_factory)


def role_credentials(endpoint_url: str, role_arn: str) -> dict[str, str]:
    """The role's temporary keys from moto's STS, as Lambda gives each environment."""
    sts = boto3.client("sts", endpoint_url=endpoint_url, region_name=REGION)
    keys = sts.assume_role(RoleArn=role_arn, RoleSessionName="built-artifact")["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
        "AWS_SESSION_TOKEN": keys["SessionToken"],
    }


def process_function(
    spec: FunctionSpec, built: BuiltFunction, endpoint_url: str
) -> ProcessFunction:
    return ProcessFunction(
        built_config(spec, built),
        lambda: role_credentials(endpoint_url, spec.role_arn),
        launcher=SubprocessLauncher(interpreter=lambda_python(), pythonpath=()),
        max_environments=2,
    )


@pytest.fixture(scope="module")
def built_stack(build_dir: Path) -> Iterator[BuiltStack]:
    moto_fidelity.install()
    moto = MotoServer()
    moto.start()
    emulator = SyncEmulator(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        time_scale=0.0,
        pending_seconds=5,
        processing_seconds_per_line=1,
    ).start()
    front = HttpFront({}).start()  # API Gateway: Sync's webhooks reach the built function
    functions: list[ProcessFunction] = []
    try:
        stack = deploy(
            REPO_ROOT,
            moto.url,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": API_KEY,
                "SyncWebhookSecret": WEBHOOK_SECRET,
                "SyncApiBaseUrl": emulator.url,
            },
            extra_environment={"AWS_ENDPOINT_URL": moto.url},
            api_base_url=front.url,
        )
        world = BuiltStack(stack=stack, emulator=emulator, endpoint_url=moto.url)
        built = built_functions(build_dir)
        assert set(built) == set(stack.functions), "the build and the template disagree"
        for logical_id, artifact in built.items():
            assert artifact.architectures == ("x86_64",)
            world.functions[logical_id] = process_function(
                stack.functions[logical_id], artifact, moto.url
            )
            functions.append(world.functions[logical_id])
            for source in stack.functions[logical_id].events.values():
                if source.kind == "HttpApi":
                    route = (str(source.properties["Method"]), str(source.properties["Path"]))
                    # ProcessFunction has LocalFunction's surface (invoke) but not its type.
                    front.routes[route] = world.functions[logical_id]  # type: ignore[assignment]
        yield world
    finally:
        for function in functions:
            function.stop()
        front.stop()
        emulator.stop()
        moto.stop()


def harmless_event(spec: FunctionSpec) -> tuple[Any, Any]:
    """An event of the function's own trigger that does no work, and its answer."""
    kinds = {source.kind for source in spec.events.values()}
    if "Schedule" in kinds:
        return {"source": "aws.scheduler"}, None  # the summary is checked on its own
    if "SQS" in kinds:
        return {"Records": []}, NO_FAILURES
    if "HttpApi" in kinds:
        unsigned = http_api_event(
            "POST",
            "/sync/webhook",
            {"host": "127.0.0.1", "content-type": "application/json"},
            b'{"id":"batch_x","status":"COMPLETED"}',
            "127.0.0.1",
        )
        return unsigned, 401
    raise AssertionError(f"{spec.logical_id} has no trigger this test knows: {kinds}")


def test_every_built_function_cold_starts_and_answers(built_stack, record_property):
    failures = []
    for logical_id, spec in built_stack.stack.functions.items():
        event, expected = harmless_event(spec)
        try:
            answer = built_stack.invoke(logical_id, event)
        except InitError as error:  # Runtime.ImportModuleError: the layer lacks a module
            failures.append(f"{logical_id}: {error.kind}: {error.error_message}")
            continue
        if expected == 401:
            answer = answer["statusCode"]
        if expected is not None and answer != expected:
            failures.append(f"{logical_id}: answered {answer!r}, not {expected!r}")

    record_property(COLD_STARTS, {k: vars(v) for k, v in built_stack.cold_starts.items()})
    assert not failures, "\n".join(failures)
    assert set(built_stack.cold_starts) == set(built_stack.stack.functions)


def test_the_built_reconciler_answers_its_schedule(built_stack):
    summary = built_stack.invoke("ReconcileFunction", {"source": "aws.scheduler"})

    assert set(summary) >= {"adopted", "requeued", "polled", "enqueued", "submitted"}
    assert all(isinstance(count, int) for count in summary.values())


def test_a_dropped_csv_runs_through_the_built_functions_to_its_results(built_stack):
    stack = built_stack.stack
    s3 = stack.client("s3")
    bucket = stack.ref("UploadsBucket")
    sqs = stack.client("sqs")
    inbox = sqs.create_queue(QueueName="built-artifact-inbox")["QueueUrl"]  # the email's
    topic = stack.ref("NotificationTopic")
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stack.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    rows = campaign_rows(25)

    s3.put_object(Bucket=bucket, Key="incoming/built.csv", Body=to_csv(rows))
    # S3 -> SQS -> submit_batch; the queue also holds S3's TestEvent from the deploy.
    assert built_stack.drain("IntakeQueue", "SubmitBatchFunction") >= 1
    (batch,) = built_stack.emulator.batches
    built_stack.emulator.advance(10_000)  # Sync finishes; its webhook reaches the built function
    deliveries = built_stack.emulator.webhook_deliveries
    assert [d.status_code for d in deliveries] == [200], deliveries
    # fan_out_results records the rows and queues the copies; the last copy queues the job's end.
    while built_stack.drain("ResultsQueue", "FanOutResultsFunction") + built_stack.drain(
        "OutputsQueue", "CopyOutputsFunction"
    ):
        pass

    snapshot = job_snapshot(stack)
    assert snapshot is not None
    assert snapshot["status"] == "COMPLETED", snapshot
    assert [c["batch_id"] for c in snapshot["chunks"]] == [batch.id]
    results = s3.get_object(Bucket=bucket, Key="results/built.results.csv")["Body"].read()
    table = list(csv.DictReader(io.StringIO(results.decode("utf-8-sig"))))
    assert [r["request_id"] for r in table] == [r[0] for r in rows]
    assert {r["status"] for r in table} == {"COMPLETED"}, table[0]
    emails = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    assert len(emails) == 1
    assert "built.csv" in json.loads(emails[0]["Body"])["Subject"]
    copies = s3.list_objects_v2(Bucket=bucket, Prefix="outputs/built/").get("Contents", [])
    assert len(copies) == len(rows)


def test_a_layer_without_syncdrop_fails_each_cold_start_with_import_module_error(
    build_dir, built_stack, tmp_path
):
    broken = tmp_path / "build"
    shutil.copytree(build_dir, broken, symlinks=True)
    shutil.rmtree(broken / "CommonLayer" / "python" / "syncdrop")
    for logical_id, built in built_functions(broken).items():
        spec = built_stack.stack.functions[logical_id]
        function = process_function(spec, built, built_stack.endpoint_url)
        try:
            with pytest.raises(InitError) as raised:
                function.invoke(harmless_event(spec)[0])
        finally:
            function.stop()
        assert raised.value.kind == "Runtime.ImportModuleError", logical_id
        assert "syncdrop" in raised.value.error_message, raised.value.error_message


def test_a_handler_path_of_the_source_tree_fails_the_cold_start(build_dir, built_stack):
    built = built_functions(build_dir)["ReconcileFunction"]
    moved = replace(built, handler="reconcile.app.lambda_handler")  # not how the build lays it out
    function = process_function(
        built_stack.stack.functions["ReconcileFunction"], moved, built_stack.endpoint_url
    )
    try:
        with pytest.raises(InitError) as raised:
            function.invoke({"source": "aws.scheduler"})
    finally:
        function.stop()

    assert raised.value.kind == "Runtime.ImportModuleError"
    assert "reconcile" in raised.value.error_message
