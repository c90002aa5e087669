"""IAM as a deploy decides it: a statement missing from template.yaml fails the run with
AccessDenied for its action, and the template as it is passes with no denial at all.

Each case deploys a copy of template.yaml with one statement taken out of one function's
policy, runs a file through the local stack (functions in their own processes under their
roles, moto enforcing IAM) and finds the denial where a deploy would show it: in the function's
log, naming the action.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

from syncdrop_local.runtime import moto_iam
from syncdrop_local.runtime.local_runtime import REPO_ROOT
from syncdrop_local.sample import campaign_csv
from tests.support.local_system import LocalSystem, run_to_the_end

pytestmark = pytest.mark.timeout(240)


def without_statement(template: dict[str, Any], function: str, grant: str) -> list[str]:
    """Take the statement granting ``grant`` (an action, and a piece of its resource when
    several statements grant the action) out of ``function``'s role (its own AWS::IAM::Role,
    or the inline statements of its SAM ``Policies``); return its actions."""
    action, _, resource = grant.partition(" ")
    resources = template["Resources"]
    role = resources.get(f"{function}Role")
    documents = (
        [p["PolicyDocument"] for p in role["Properties"]["Policies"]]
        if role
        else [p for p in resources[function]["Properties"]["Policies"] if "Statement" in p]
    )
    removed = [
        s
        for d in documents
        for s in d["Statement"]
        if action in _actions(s) and resource in json.dumps(s.get("Resource"))
    ]
    assert len(removed) == 1, f"{function} has {len(removed)} statements granting {action}"
    for document in documents:
        document["Statement"] = [s for s in document["Statement"] if s not in removed]
    return _actions(removed[0])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def project_copy(tmp_path: Path, template: dict[str, Any]) -> Path:
    """A project root holding the code and the changed template (JSON is YAML too)."""
    for name in ("functions", "layers"):
        (tmp_path / name).symlink_to(REPO_ROOT / name)
    (tmp_path / "template.yaml").write_text(json.dumps(template))
    return tmp_path


@pytest.fixture
def stack_from(local_system: Any, tmp_path: Path) -> Any:
    def start(template: dict[str, Any]) -> LocalSystem:
        system: LocalSystem = local_system(root=project_copy(tmp_path, template))
        return system

    return start


def role_name(system: LocalSystem, function: str) -> str:
    return system.runtime.stack.functions[function].role_arn.rsplit("/", 1)[1]


def denials(system: LocalSystem, function: str) -> list[moto_iam.Decision]:
    role = role_name(system, function)
    return [d for d in moto_iam.recorder.for_role(role) if not d.allowed]


def drive_until_denied(system: LocalSystem, function: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not denials(system, function):
        assert time.monotonic() < deadline, f"{function} was never denied anything"
        if not system.runtime.pump():
            system.emulator.advance(60)
            system.runtime.run_schedules()
            time.sleep(0.05)


def template() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    return parsed


def test_the_template_as_it_is_runs_a_file_without_one_denial(stack_from):
    system = stack_from(template())
    system.drop("incoming/campaign.csv", campaign_csv(25))
    run_to_the_end(system, files=1)
    (email,) = system.runtime.collect_emails()
    assert "25 done" in email.subject
    for function in system.runtime.stack.functions:
        assert denials(system, function) == [], function
    # Every function's calls were decided under its own role, not an open key.
    roles = {d.role_name for d in moto_iam.recorder.decisions}
    for function in ("SubmitBatchFunction", "ReceiveWebhookFunction", "FanOutResultsFunction"):
        assert role_name(system, function) in roles


@pytest.mark.parametrize(
    ("function", "removed"),
    [
        # S3: intake cannot read the upload it was told about.
        ("SubmitBatchFunction", "s3:GetObjectVersion /incoming/"),
        # DynamoDB: intake cannot record the job.
        ("SubmitBatchFunction", "dynamodb:PutItem"),
        # Secrets Manager: submission cannot read Sync's API key.
        ("SubmitBatchFunction", "secretsmanager:GetSecretValue"),
        # SQS: a finished batch cannot be handed to fan-out.
        ("ReceiveWebhookFunction", "sqs:SendMessage"),
    ],
)
def test_a_statement_missing_from_the_template_fails_the_run_with_access_denied(
    stack_from, function, removed
):
    changed = template()
    granted = without_statement(changed, function, removed)
    system = stack_from(changed)
    system.drop("incoming/campaign.csv", campaign_csv(25))
    drive_until_denied(system, function)
    first = denials(system, function)[0]
    # The first call the missing statement covered is the one refused.
    assert first.action in granted
    logged = "\n".join(system.runtime.functions[function].log_lines())
    assert "AccessDenied" in logged
    assert f"not authorized to perform: {first.action}" in logged
