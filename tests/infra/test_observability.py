"""template.yaml watches what syncdrop needs watched, with the metric names the code emits.

Every dead-letter queue and every function has an alarm, every alarm tells the operations
topic and a person what it means, the dashboard is valid JSON naming real metrics and
resources, and the open-batch alarm reads the metric the reconciler emits.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from syncdrop.domain.services import Services
from syncdrop.jobs import Chunk, ChunkStatus, Job, JobStatus, UploadRef
from syncdrop.observability import NAMESPACE, SERVICE, Metric, Observed, metrics
from syncdrop.report import Email
from syncdrop_local.runtime.local_runtime import REPO_ROOT
from syncdrop_local.runtime.template import load_template

CUSTOM_DIMENSIONS = [{"Name": "service", "Value": SERVICE}]
PLACEHOLDER = re.compile(r"\$\{([^}!]+)\}")
OPERATIONS_DOC = REPO_ROOT / "docs" / "operations.md"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources_of(template, "AWS::CloudWatch::Alarm").items()}


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """Queues that another queue's redrive policy sends its failed messages to."""
    found = set()
    for queue in resources_of(template, "AWS::SQS::Queue").values():
        target = queue.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if target is not None:
            found.add(target["Fn::GetAtt"][0])
    return found


def dimension(alarm: dict[str, Any], name: str) -> Any:
    values = [d["Value"] for d in alarm.get("Dimensions", []) if d["Name"] == name]
    return values[0] if len(values) == 1 else None


def test_every_dead_letter_queue_has_a_depth_alarm(template):
    dlqs = dead_letter_queues(template)
    assert {"IntakeDeadLetterQueue", "ResultsDeadLetterQueue"} <= dlqs
    for dlq in dlqs:
        watching = [
            a
            for a in alarms(template).values()
            if a["Namespace"] == "AWS/SQS"
            and a["MetricName"] == "ApproximateNumberOfMessagesVisible"
            and dimension(a, "QueueName") == {"Fn::GetAtt": [dlq, "QueueName"]}
        ]
        assert len(watching) == 1, f"{dlq} has no depth alarm"
        (alarm,) = watching
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == 0
        assert alarm["Statistic"] == "Maximum"
        # An empty, idle queue publishes no datapoints: that is not an alarm.
        assert alarm["TreatMissingData"] == "notBreaching"


def test_every_function_has_an_errors_alarm(template):
    functions = resources_of(template, "AWS::Serverless::Function")
    assert len(functions) >= 4
    for name in functions:
        watching = [
            a
            for a in alarms(template).values()
            if a["Namespace"] == "AWS/Lambda"
            and a["MetricName"] == "Errors"
            and dimension(a, "FunctionName") == {"Ref": name}
        ]
        assert len(watching) == 1, f"{name} has no errors alarm"
        (alarm,) = watching
        assert_needs_two_in_five_minutes(alarm)


def assert_needs_two_in_five_minutes(alarm: dict[str, Any]) -> None:
    """One forged or unlucky call pages nobody: 2 or more in one 5-minute period."""
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (300, 1)
    assert alarm.get("DatapointsToAlarm", 1) == 1
    assert alarm["Statistic"] == "Sum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 1)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_webhook_api_server_errors_are_alarmed(template):
    (alarm,) = [
        a
        for a in alarms(template).values()
        if a["Namespace"] == "AWS/ApiGateway" and a["MetricName"] == "5xx"
    ]
    assert dimension(alarm, "ApiId") == {"Ref": "WebhookApi"}
    assert_needs_two_in_five_minutes(alarm)


def test_every_alarm_tells_the_operations_topic_and_a_person(template):
    found = alarms(template)
    assert len(found) >= 8
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": "OperationsTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "OperationsTopic"}], name
        assert alarm["TreatMissingData"] in ("notBreaching", "breaching"), name
        description = alarm["AlarmDescription"]
        text = description if isinstance(description, str) else description["Fn::Sub"]
        # What it means and what to do first, in words, within CloudWatch's 1024 characters.
        assert len(text.split()) >= 40, name
        assert len(text) <= 1024, name
        assert "First:" in text, name


def test_custom_metric_alarms_read_what_the_code_emits(template):
    names = {m.value for m in Metric}
    custom = [a for a in alarms(template).values() if a["Namespace"] == NAMESPACE]
    assert custom
    for alarm in custom:
        assert alarm["MetricName"] in names
        assert alarm["Dimensions"] == CUSTOM_DIMENSIONS


def test_the_template_and_the_code_agree_on_the_namespace(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
    assert variables["POWERTOOLS_SERVICE_NAME"] == SERVICE


def test_open_batch_alarm_uses_the_reconcile_metric_and_its_parameter(template):
    (alarm,) = [
        a
        for a in alarms(template).values()
        if a.get("MetricName") == Metric.OLDEST_OPEN_BATCH_HOURS
    ]
    assert alarm["Namespace"] == NAMESPACE
    assert alarm["Statistic"] == "Maximum"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == {"Ref": "OpenBatchAlarmHours"}
    assert template["Parameters"]["OpenBatchAlarmHours"]["Default"] == 26
    reconcile = (REPO_ROOT / "functions" / "reconcile" / "app.py").read_text(encoding="utf-8")
    assert "Metric.OLDEST_OPEN_BATCH_HOURS" in reconcile


def test_reconcile_measures_the_oldest_batch_by_submission_not_poll_order():
    from functions.reconcile.app import record_open_batches

    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def chunk(number: int, submitted_hours_ago: float) -> Chunk:
        return Chunk(
            job_id="job-1",
            number=number,
            status=ChunkStatus.SUBMITTED,
            rows=20,
            input_key="work/a.jsonl",
            manifest_key="work/a.rows.jsonl",
            batch_id=f"batch-{number}",
            submitted_at=now - timedelta(hours=submitted_hours_ago),
        )

    asked: list[tuple[ChunkStatus, dict[str, Any]]] = []

    def open_chunks(status: ChunkStatus, **kwargs: Any) -> list[Chunk]:
        asked.append((status, kwargs))
        # Poll order: the long-open batch was polled a moment ago, so it comes last.
        return [chunk(2, 1.0), chunk(1, 30.5)]

    services = SimpleNamespace(clock=lambda: now, jobs=SimpleNamespace(open_chunks=open_chunks))
    metrics.clear_metrics()
    try:
        record_open_batches(services)  # type: ignore[arg-type]
        emitted = {name: m["Value"] for name, m in metrics.metric_set.items()}
    finally:
        metrics.clear_metrics()
    assert asked == [(ChunkStatus.SUBMITTED, {"limit": 100})]  # one Query, no scan
    assert emitted == {Metric.OPEN_BATCHES: [2], Metric.OLDEST_OPEN_BATCH_HOURS: [30.5]}


def dashboard_body(template: dict[str, Any]) -> str:
    (dashboard,) = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str)
    return body


def substituted(template: dict[str, Any], body: str) -> dict[str, Any]:
    """The body as CloudFormation would render it: numbers for Number parameters, and
    ``@Name@`` for every other placeholder, each checked to name something real."""
    resources, parameters = template["Resources"], template["Parameters"]

    def value(match: re.Match[str]) -> str:
        name = match[1]
        logical_id = name.split(".", 1)[0]
        if name in parameters:
            return "1" if parameters[name]["Type"] == "Number" else f"@{name}@"
        assert name.startswith("AWS::") or logical_id in resources, f"${{{name}}} is unknown"
        return f"@{name}@"

    parsed: dict[str, Any] = json.loads(PLACEHOLDER.sub(value, body))
    return parsed


def dashboard_metrics(body: dict[str, Any]) -> list[list[Any]]:
    found = []
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            for metric in widget["properties"]["metrics"]:
                assert metric[0] != ".", "write every metric in full: the test reads them"
                found.append([m for m in metric if not isinstance(m, dict)])
    return found


def test_dashboard_body_is_json_and_names_real_metrics_and_resources(template):
    body = substituted(template, dashboard_body(template))
    custom_names = {m.value for m in Metric}
    functions = set(resources_of(template, "AWS::Serverless::Function"))
    dlqs = dead_letter_queues(template)
    shown: dict[str, set[str]] = {}
    for namespace, name, *dimensions in dashboard_metrics(body):
        dims = dict(zip(dimensions[::2], dimensions[1::2], strict=True))
        shown.setdefault(name, set()).update(dims.values())
        if namespace == NAMESPACE:
            assert name in custom_names, f"the dashboard shows {name}, which nothing emits"
            assert dims == {"service": SERVICE}
        elif namespace == "AWS/SQS":
            assert dims["QueueName"].strip("@").removesuffix(".QueueName") in dlqs
        elif namespace == "AWS/Lambda":
            assert dims["FunctionName"].strip("@") in functions
        else:
            assert (namespace, dims) == ("AWS/ApiGateway", {"ApiId": "@WebhookApi@"})
    wanted = {
        Metric.ROWS_ACCEPTED,
        Metric.ROWS_REJECTED,
        Metric.GENERATIONS_COMPLETED,
        Metric.GENERATIONS_FAILED,
        Metric.CHUNKS_SUBMITTED,
        Metric.CHUNKS_QUEUED,
        Metric.WEBHOOKS_ACCEPTED,
        Metric.WEBHOOKS_REJECTED,
        Metric.UPLOAD_TO_EMAIL_SECONDS,
        Metric.EMAILS_SENT,
        Metric.OPEN_BATCHES,
        Metric.OLDEST_OPEN_BATCH_HOURS,
    }
    assert wanted <= set(shown)
    assert {f"@{q}.QueueName@" for q in dlqs} <= shown["ApproximateNumberOfMessagesVisible"]
    assert {f"@{f}@" for f in functions} <= shown["Errors"]
    assert {f"@{f}@" for f in functions} <= shown["Duration"]


def test_dashboard_lists_every_alarm_and_queries_every_function_log(template):
    body = substituted(template, dashboard_body(template))
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert set(alarm_widget["properties"]["alarms"]) == {f"@{a}.Arn@" for a in alarms(template)}
    (log_widget,) = [w for w in body["widgets"] if w["type"] == "log"]
    for function in resources_of(template, "AWS::Serverless::Function").values():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert f"SOURCE '@{group}@'" in log_widget["properties"]["query"]


def test_outputs_lead_to_the_dashboard_and_the_topic(template):
    outputs = template["Outputs"]
    assert "${OperationsDashboard}" in outputs["OperationsDashboardUrl"]["Value"]["Fn::Sub"]
    assert outputs["OperationsTopicArn"]["Value"] == {"Ref": "OperationsTopic"}


def test_operations_topic_accepts_alarms_over_tls_and_emails_only_when_asked(template):
    topic = template["Resources"]["OperationsTopic"]["Properties"]
    # CloudWatch cannot use the AWS managed key aws/sns: alarms to such a topic never arrive.
    assert topic.get("KmsMasterKeyId") != "alias/aws/sns"
    assert "Subscription" not in topic
    (policy,) = [
        p["Properties"]
        for p in resources_of(template, "AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": "OperationsTopic"}]
    ]
    statements = policy["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny"
        and s["Action"] == "sns:Publish"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert "aws:SourceArn" in allow["Condition"]["ArnLike"]
    (subscription,) = [
        s
        for s in resources_of(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": "OperationsTopic"}
    ]
    assert subscription["Condition"] == "HasOperationsEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "OperationsTopic"}
    assert template["Parameters"]["OperationsEmail"]["Default"] == ""


def handler_trees() -> dict[str, ast.Module]:
    return {
        path.parent.name: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted((REPO_ROOT / "functions").glob("*/app.py"))
    }


def test_metric_names_live_in_one_place():
    """Handlers name metrics through syncdrop.observability.Metric, never as bare strings."""
    names = {m.value for m in Metric}
    emitting = set()
    for function, tree in handler_trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                emitting.add(function)
                assert not isinstance(node.args[0], ast.Constant | ast.JoinedStr), (
                    f"{function}: {ast.unparse(node.args[0])} is a metric name outside Metric"
                )
            if isinstance(node, ast.Constant) and node.value in names:
                pytest.fail(f"{function}: {node.value!r} is spelled out; use Metric")
    assert {"submit_batch", "receive_webhook", "fan_out_results", "reconcile"} <= emitting


def test_operations_doc_explains_every_metric_and_alarm(template):
    doc = OPERATIONS_DOC.read_text(encoding="utf-8")
    missing = [m.value for m in Metric if f"`{m.value}`" not in doc]
    assert not missing, f"docs/operations.md does not explain {missing}"
    for name, alarm in alarms(template).items():
        suffix = alarm["AlarmName"]["Fn::Sub"].removeprefix("${AWS::StackName}-")
        assert f"-{suffix}`" in doc, f"docs/operations.md does not explain {name} ({suffix})"


class _Jobs:
    """Just the JobStore calls the fan-out metrics come from; the first close wins."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.closed: set[int] = set()

    def get_job(self, job_id: str) -> Job | None:
        return self.job if job_id == self.job.job_id else None

    def close_chunk(self, chunk: Chunk, to: ChunkStatus, **kwargs: Any) -> bool:
        if chunk.number in self.closed:
            return False
        self.closed.add(chunk.number)
        return True

    def mark_submitted(self, chunk: Chunk, batch_id: str, *, now: datetime) -> bool:
        return True

    def job_chunks(self, job_id: str) -> list[Chunk]:
        return []


def test_fan_out_metrics_count_each_thing_once_as_it_happens():
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    job = Job("job-1", UploadRef("b", "incoming/a.csv", "v1"), JobStatus.RUNNING, created_at=t0)
    jobs, published = _Jobs(job), []
    now = t0 + timedelta(hours=2, seconds=1.5)
    notifier = SimpleNamespace(publish=lambda email: published.append(email) or "message-id")
    services = Services(
        jobs=jobs,  # type: ignore[arg-type]
        results=None,  # type: ignore[arg-type]
        objects=None,  # type: ignore[arg-type]
        sync=None,  # type: ignore[arg-type]
        clock=lambda: now,
        notifier=notifier,  # type: ignore[arg-type]
    )
    chunk = Chunk("job-1", 1, ChunkStatus.SUBMITTED, 3, "in", "rows")

    def one_message(observed: Observed) -> None:
        """What fan_out_results does through the ports for a job's last chunk."""
        seen = observed.around(services)
        assert seen.jobs.job_chunks("job-1") == []  # everything else passes through
        if seen.jobs.close_chunk(chunk, ChunkStatus.COMPLETED, completed=2, failed=1, now=now):
            seen.jobs.mark_submitted(chunk, "batch-2", now=now)
            seen.jobs.get_job("job-1")
            seen.email().publish(Email("s", "b", {"job_id": "job-1", "status": "COMPLETED"}))

    first, again = Observed(), Observed()
    one_message(first)
    one_message(again)  # a redelivered message loses the conditional write: nothing twice

    assert (first.generations_completed, first.generations_failed, first.chunks_closed) == (2, 1, 1)
    assert (first.chunks_submitted, first.emails_sent) == (1, 1)
    assert first.upload_to_email_seconds == [7201.5]
    assert again == Observed()
    assert len(published) == 1
    metrics.clear_metrics()
    try:
        first.record()
        again.record()
        emitted = {name: m["Value"] for name, m in metrics.metric_set.items()}
    finally:
        metrics.clear_metrics()
    assert emitted == {
        Metric.GENERATIONS_COMPLETED: [2],
        Metric.GENERATIONS_FAILED: [1],
        Metric.CHUNKS_SUBMITTED: [1],
        Metric.EMAILS_SENT: [1],
        Metric.UPLOAD_TO_EMAIL_SECONDS: [7201.5],
    }


def test_refused_files_and_dry_runs_are_emailed_but_not_timed():
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    job = Job("job-2", UploadRef("b", "incoming/a.csv", "v1"), JobStatus.FAILED, created_at=t0)
    notifier = SimpleNamespace(publish=lambda email: "message-id")
    services = Services(
        jobs=_Jobs(job),  # type: ignore[arg-type]
        results=None,  # type: ignore[arg-type]
        objects=None,  # type: ignore[arg-type]
        sync=None,  # type: ignore[arg-type]
        clock=lambda: t0 + timedelta(seconds=5),
        notifier=notifier,  # type: ignore[arg-type]
    )
    observed = Observed()
    seen = observed.around(services)
    seen.jobs.get_job("job-2")
    seen.email().publish(Email("s", "b", {"job_id": "job-2", "status": "FAILED"}))
    assert (observed.emails_sent, observed.upload_to_email_seconds) == (1, [])
